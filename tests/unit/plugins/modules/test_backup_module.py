# -*- coding: utf-8 -*-
"""The backup module run by a fresh Python on real files under tmp_path: create, list, restore,
check mode, failures naming the service, and no file content in any result."""
import os

import pytest

SECRET = "SECRET=hunter2-backup-test"


@pytest.fixture
def tree(tmp_path):
    config, data = tmp_path / "etc", tmp_path / "data"
    (data / "svc").mkdir(parents=True)
    config.mkdir()
    (config / "svc.env").write_text(SECRET + "\n")
    (config / "multi.env").write_text("A=1\n")
    (config / "multi-1.json").write_text("{}\n")
    (data / "svc" / "state").write_text("v1")
    return {"dir": str(tmp_path / "backups"), "config_dir": str(config), "data_dir": str(data)}


@pytest.fixture
def backup(run_module_file, tree):
    def _run(check=False, **args):
        return run_module_file("backup", dict(tree, _ansible_check_mode=check, **args))
    return _run


def test_create_list_restore(backup, tree):
    rc, made = backup(services=["svc", "multi"], instances={"multi": ["multi-1"]}, id="20261207T004735Z")
    assert rc == 0 and made["changed"], made
    assert made["ids"] == {"svc": ["20261207T004735Z"], "multi": ["20261207T004735Z"]}
    assert [b["service"] for b in made["backups"]] == ["svc", "multi"]
    assert made["backups"][1]["files"] == [os.path.join(tree["config_dir"], "multi.env"),
                                           os.path.join(tree["config_dir"], "multi-1.json")]
    rc, listed = backup(action="list", services=["svc"])
    assert rc == 0 and not listed["changed"] and listed["ids"] == {"svc": ["20261207T004735Z"]}
    state = os.path.join(tree["data_dir"], "svc", "state")
    with open(state, "w") as handle:
        handle.write("v2")
    rc, restored = backup(action="restore", services=["svc"])
    assert rc == 0 and restored["changed"] and restored["restored"]["id"] == "20261207T004735Z", restored
    assert open(state).read() == "v1"
    for result in (made, listed, restored):
        assert "hunter2" not in repr(result)


def test_check_mode_changes_nothing(backup, tree):
    rc, result = backup(check=True, services=["svc"])
    assert rc == 0 and result["changed"] and "would be made" in result["msg"]
    assert not os.path.exists(tree["dir"])
    backup(services=["svc"], id="20261207T004735Z")
    with open(os.path.join(tree["data_dir"], "svc", "state"), "w") as handle:
        handle.write("v2")
    rc, result = backup(check=True, action="restore", services=["svc"])
    assert rc == 0 and result["changed"] and "would be restored" in result["msg"]
    assert open(os.path.join(tree["data_dir"], "svc", "state")).read() == "v2"


def test_unknown_backup_fails_naming_it(backup):
    backup(services=["svc"], id="20261207T004735Z")
    rc, result = backup(action="restore", services=["svc"], backup="20990101T000000Z")
    assert rc != 0 and result["failed"]
    assert "svc: unknown backup 20990101T000000Z; its backups are: 20261207T004735Z" in result["msg"]


def test_bad_arguments_fail_before_anything(backup, tree):
    rc, result = backup(action="restore", services=["svc", "multi"], keep=0)
    assert rc != 0 and "restore takes exactly one service" in result["msg"]
    assert not os.path.exists(tree["dir"])
