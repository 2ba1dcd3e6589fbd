# -*- coding: utf-8 -*-
"""_backup: real archives of real files under tmp_path (run as root, as scripts/unit.sh does:
owners are checked with a uid and gid no account has)."""
import io
import os
import stat
import tarfile

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _backup

UID, GID = 4321, 4322
NOW = 1796604455.0  # 2026-12-07T00:47:35Z
PLENTY = lambda path: 10 ** 12  # noqa: E731


@pytest.fixture
def layout(tmp_path):
    """A service ``svc`` (env, settings, a data directory with a file, a subdirectory, a link)
    and ``multi`` with two instances."""
    config, data, backups = tmp_path / "etc", tmp_path / "data", tmp_path / "backups"
    config.mkdir()
    data.mkdir()
    (config / "svc.env").write_text("SECRET=hunter2\n")
    os.chmod(str(config / "svc.env"), 0o640)
    (config / "svc.json").write_text('{"a": 1}\n')
    (config / "multi.env").write_text("X=1\n")
    (config / "multi-1.env").write_text("I=1\n")
    (config / "multi-1.json").write_text("{}\n")
    (config / "other.env").write_text("OTHER=1\n")
    svc = data / "svc"
    (svc / "sub").mkdir(parents=True)
    (svc / "state.db").write_text("v1")
    (svc / "sub" / "note").write_text("note")
    os.symlink("sub/note", str(svc / "link"))
    os.chown(str(svc), UID, GID)
    os.chmod(str(svc), 0o750)
    os.chown(str(svc / "state.db"), UID, GID)
    os.chmod(str(svc / "state.db"), 0o604)
    return {"config": str(config), "data": str(data), "dir": str(backups), "svc": str(svc)}


def make(layout, services=("svc",), instances=None, **kwargs):
    kwargs.setdefault("free", PLENTY)
    return _backup.create(list(services), instances or {}, layout["dir"], kwargs.pop("keep", 5),
                          layout["config"], layout["data"], **kwargs)


def put_back(layout, name="svc", **kwargs):
    kwargs.setdefault("free", PLENTY)
    return _backup.restore(name, kwargs.pop("instances", []), layout["dir"], layout["config"], layout["data"], **kwargs)


def test_create_writes_one_private_archive_with_config_and_data(layout):
    result = make(layout, services=["svc", "multi"], instances={"multi": ["multi-1"]}, now=NOW)
    assert [r["id"] for r in result] == ["20261207T004735Z", "20261207T004735Z"]
    svc = result[0]
    assert svc["changed"] and svc["path"] == os.path.join(layout["dir"], "svc", "20261207T004735Z.tar.gz")
    assert svc["size"] == os.path.getsize(svc["path"]) > 0
    assert stat.S_IMODE(os.stat(svc["path"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(layout["dir"], "svc")).st_mode) == 0o700
    with tarfile.open(svc["path"]) as tar:
        names = tar.getnames()
        assert sorted(names) == sorted(["manifest.json", "config/svc.env", "config/svc.json", "data", "data/link",
                                        "data/state.db", "data/sub", "data/sub/note"])
        state = tar.getmember("data/state.db")
        assert (state.uid, state.gid, state.mode) == (UID, GID, 0o604)
        assert tar.getmember("data/link").issym()
    with tarfile.open(result[1]["path"]) as tar:
        assert sorted(n for n in tar.getnames() if n.startswith("config/")) == [
            "config/multi-1.env", "config/multi-1.json", "config/multi.env"]
    assert not [n for n in os.listdir(os.path.join(layout["dir"], "svc")) if n.endswith(".tmp")]


def test_result_never_holds_contents(layout):
    result = make(layout, now=NOW)
    assert "hunter2" not in repr(result)


def test_ids_in_the_same_second_get_a_sequence_and_list_newest_first(layout):
    for _ in range(3):
        make(layout, now=NOW)
    make(layout, now=NOW + 60)
    assert _backup.list_ids(layout["dir"], "svc") == [
        "20261207T004835Z", "20261207T004735Z-3", "20261207T004735Z-2", "20261207T004735Z"]
    listed = _backup.list_backups(["svc", "nothing"], layout["dir"])
    assert [b["id"] for b in listed["svc"]][0] == "20261207T004835Z" and listed["nothing"] == []


def test_retention_keeps_the_newest(layout):
    for minute in range(4):
        result = make(layout, now=NOW + 60 * minute, keep=2)
    assert result[0]["pruned"] == ["20261207T004835Z"]
    assert _backup.list_ids(layout["dir"], "svc") == ["20261207T005035Z", "20261207T004935Z"]


def test_given_id_is_used_and_never_overwritten(layout):
    make(layout, backup_id="20260101T000000Z", now=NOW)
    assert _backup.list_ids(layout["dir"], "svc") == ["20260101T000000Z"]
    first = os.stat(os.path.join(layout["dir"], "svc", "20260101T000000Z.tar.gz")).st_ino
    assert make(layout, backup_id="20260101T000000Z", now=NOW)[0]["id"] == "20260101T000000Z-2"
    assert make(layout, backup_id="20260101T000000Z", now=NOW)[0]["id"] == "20260101T000000Z-3"
    assert os.stat(os.path.join(layout["dir"], "svc", "20260101T000000Z.tar.gz")).st_ino == first


def test_check_mode_writes_nothing(layout):
    make(layout, now=NOW)
    result = make(layout, now=NOW + 1, keep=1, check_mode=True)
    assert result[0]["changed"] and result[0]["id"] == "20261207T004736Z"
    assert result[0]["pruned"] == ["20261207T004735Z"]
    assert _backup.list_ids(layout["dir"], "svc") == ["20261207T004735Z"]
    fresh = dict(layout, dir=layout["dir"] + "-none")
    make(fresh, now=NOW, check_mode=True)
    assert not os.path.exists(fresh["dir"])


def test_nothing_to_back_up_is_skipped(layout):
    result = make(layout, services=["ghost"], now=NOW)
    assert result[0]["changed"] is False and result[0]["id"] is None
    assert not os.path.exists(os.path.join(layout["dir"], "ghost"))


def test_not_enough_space_fails_naming_the_service_and_bytes_before_writing(layout):
    with pytest.raises(_backup.BackupError) as err:
        make(layout, services=["svc"], now=NOW, free=lambda path: 1000)
    assert "svc: not enough space" in err.value.msg and "1000 free" in err.value.msg
    assert "bytes needed" in err.value.msg
    assert not os.path.exists(layout["dir"])


def test_restore_puts_data_and_config_back_with_owners_and_modes(layout):
    make(layout, now=NOW)
    svc = layout["svc"]
    with open(os.path.join(svc, "state.db"), "w") as handle:
        handle.write("v2, broken")
    os.unlink(os.path.join(svc, "sub", "note"))
    with open(os.path.join(svc, "junk"), "w") as handle:
        handle.write("new")
    with open(os.path.join(layout["config"], "svc.env"), "w") as handle:
        handle.write("SECRET=changed\n")
    os.unlink(os.path.join(layout["config"], "svc.json"))
    result = put_back(layout)
    assert result["id"] == "20261207T004735Z" and "hunter2" not in repr(result)
    with open(os.path.join(svc, "state.db")) as handle:
        assert handle.read() == "v1"
    assert not os.path.exists(os.path.join(svc, "junk"))
    assert open(os.path.join(svc, "sub", "note")).read() == "note"
    assert os.readlink(os.path.join(svc, "link")) == "sub/note"
    st = os.stat(os.path.join(svc, "state.db"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o604)
    st = os.stat(svc)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o750)
    env = os.path.join(layout["config"], "svc.env")
    assert open(env).read() == "SECRET=hunter2\n" and stat.S_IMODE(os.stat(env).st_mode) == 0o640
    assert os.path.exists(os.path.join(layout["config"], "svc.json"))
    assert open(os.path.join(layout["config"], "other.env")).read() == "OTHER=1\n"
    assert sorted(os.listdir(layout["data"])) == ["svc"]  # no temporary directory left


def test_restore_removes_config_files_the_backup_does_not_hold(layout):
    os.unlink(os.path.join(layout["config"], "svc.json"))
    make(layout, now=NOW)
    with open(os.path.join(layout["config"], "svc.json"), "w") as handle:
        handle.write("{}")
    result = put_back(layout)
    assert result["removed"] == [os.path.join(layout["config"], "svc.json")]
    assert not os.path.exists(os.path.join(layout["config"], "svc.json"))


def test_restore_picks_the_asked_backup(layout):
    make(layout, now=NOW)
    with open(os.path.join(layout["svc"], "state.db"), "w") as handle:
        handle.write("v2")
    make(layout, now=NOW + 60)
    assert put_back(layout)["id"] == "20261207T004835Z"
    assert open(os.path.join(layout["svc"], "state.db")).read() == "v2"
    put_back(layout, backup_id="20261207T004735Z")
    assert open(os.path.join(layout["svc"], "state.db")).read() == "v1"


def test_restore_of_an_unknown_id_names_it_and_lists_the_ids(layout):
    make(layout, now=NOW)
    with pytest.raises(_backup.BackupError, match="svc: unknown backup 20990101T000000Z; its backups are: 20261207T004735Z"):
        put_back(layout, backup_id="20990101T000000Z")
    with pytest.raises(_backup.BackupError, match="ghost: no backup"):
        put_back(layout, name="ghost")


def test_restore_in_check_mode_changes_nothing(layout):
    make(layout, now=NOW)
    with open(os.path.join(layout["svc"], "state.db"), "w") as handle:
        handle.write("v2")
    result = put_back(layout, check_mode=True)
    assert result["changed"] and result["data_dir"] == layout["svc"]
    assert open(os.path.join(layout["svc"], "state.db")).read() == "v2"


def test_failed_restore_leaves_the_old_data(layout, monkeypatch):
    make(layout, now=NOW)
    with open(os.path.join(layout["svc"], "state.db"), "w") as handle:
        handle.write("v2")
    calls = []

    def failing(tar, member, dest):
        calls.append(member.name)
        if member.name == "data/sub/note":
            raise OSError(28, "No space left on device")
        return real(tar, member, dest)

    real = _backup._copy_member
    monkeypatch.setattr(_backup, "_copy_member", failing)
    with pytest.raises(_backup.BackupError, match="svc: restore of backup 20261207T004735Z failed, nothing changed"):
        put_back(layout)
    assert "data/sub/note" in calls
    assert open(os.path.join(layout["svc"], "state.db")).read() == "v2"
    assert open(os.path.join(layout["svc"], "sub", "note")).read() == "note"
    assert sorted(os.listdir(layout["data"])) == ["svc"]
    assert not [n for n in os.listdir(layout["config"]) if n.endswith(".tmp")]


def test_restore_fails_before_extracting_when_the_data_would_not_fit(layout):
    make(layout, now=NOW)
    with pytest.raises(_backup.BackupError, match=r"svc: not enough space in .* to restore backup 20261207T004735Z: \d+ bytes needed, 10 free"):
        put_back(layout, free=lambda path: 10)


def _evil_archive(layout, members):
    """A backup of ``svc`` holding ``members``: (TarInfo fields, content)."""
    directory = os.path.join(layout["dir"], "svc")
    os.makedirs(directory)
    path = os.path.join(directory, "20261207T004735Z.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for fields, content in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            data = content.encode() if content is not None else None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


DIR = {"type": tarfile.DIRTYPE, "mode": 0o755}


@pytest.mark.parametrize("members, problem", [
    ([({"name": "data", **DIR}, None), ({"name": "../escape"}, "x")], "absolute or outside"),
    ([({"name": "data", **DIR}, None), ({"name": "/etc/passwd"}, "x")], "absolute or outside"),
    ([({"name": "data", **DIR}, None), ({"name": "data/../../escape"}, "x")], "absolute or outside"),
    ([({"name": "data", **DIR}, None), ({"name": "config/other.env"}, "x")], "not a config file of this service"),
    ([({"name": "data", **DIR}, None), ({"name": "elsewhere"}, "x")], "neither a config file"),
    ([({"name": "data", **DIR}, None), ({"name": "data/l", "type": tarfile.SYMTYPE, "linkname": "/etc"}, None)],
     "absolute link"),
    ([({"name": "data", **DIR}, None), ({"name": "data/l", "type": tarfile.SYMTYPE, "linkname": "../../etc"}, None)],
     "outside the data directory"),
    ([({"name": "data", **DIR}, None), ({"name": "data/d", "type": tarfile.SYMTYPE, "linkname": "."}, None),
      ({"name": "data/l", "type": tarfile.SYMTYPE, "linkname": "d/.."}, None)], "through another link"),
    ([({"name": "data", **DIR}, None), ({"name": "data/l", "type": tarfile.SYMTYPE, "linkname": "sub"}, None),
      ({"name": "data/l/f"}, "x")], "below a symbolic link"),
    ([({"name": "data", **DIR}, None), ({"name": "data/h", "type": tarfile.LNKTYPE, "linkname": "config/svc.env"}, None)],
     "hard link"),
    ([({"name": "data", **DIR}, None), ({"name": "data/dev", "type": tarfile.CHRTYPE}, None)], "not a file"),
    ([({"name": "data", **DIR}, None), ({"name": "data/f"}, "x"), ({"name": "data/f"}, "y")], "twice"),
])
def test_unsafe_archives_are_refused_and_nothing_changes(layout, members, problem):
    _evil_archive(layout, members)
    before = sorted(os.listdir(layout["svc"]))
    with pytest.raises(_backup.BackupError) as err:
        put_back(layout)
    assert "svc: backup 20261207T004735Z refused, unsafe members" in err.value.msg
    assert problem in err.value.msg
    assert sorted(os.listdir(layout["svc"])) == before
    assert sorted(os.listdir(layout["data"])) == ["svc"]
    assert not os.path.exists(os.path.join(os.path.dirname(layout["data"]), "escape"))


def test_links_inside_the_data_directory_are_restored(layout):
    _evil_archive(layout, [({"name": "data", **DIR}, None), ({"name": "data/sub", **DIR}, None),
                           ({"name": "data/sub/f", "mode": 0o600}, "x"),
                           ({"name": "data/sub/up", "type": tarfile.SYMTYPE, "linkname": "../sub/f"}, None),
                           ({"name": "data/hard", "type": tarfile.LNKTYPE, "linkname": "data/sub/f"}, None)])
    put_back(layout)
    assert open(os.path.join(layout["svc"], "sub", "up")).read() == "x"
    assert os.stat(os.path.join(layout["svc"], "hard")).st_ino == os.stat(os.path.join(layout["svc"], "sub", "f")).st_ino


@pytest.mark.parametrize("params, message", [
    ({"services": []}, "services: at least one service"),
    ({"services": ["a", "a"]}, "services: a given twice"),
    ({"services": ["../x"]}, "is not a service name"),
    ({"services": ["a"], "keep": 0}, "keep: at least 1"),
    ({"services": ["a"], "id": "latest"}, "id: 'latest' is not a backup id"),
    ({"services": ["a"], "instances": {"b": ["b-1"]}}, "instances: b is not one of services"),
    ({"services": ["a", "b"], "action": "restore"}, "restore takes exactly one service"),
    ({"services": ["a"], "action": "restore", "backup": "../x"}, "backup: '../x' is not a backup id"),
    ({"services": ["a"], "dir": "relative"}, "dir: an absolute path expected"),
])
def test_bad_arguments_are_named(params, message):
    full = dict({"action": "create", "instances": {}, "keep": 5, "dir": "/b", "config_dir": "/c", "data_dir": "/d"},
                **params)
    assert any(message in error for error in _backup.check_args(full)), _backup.check_args(full)
