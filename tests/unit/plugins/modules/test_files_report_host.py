# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files module's report_host (the pre-deployment host checks' read), run
for real in check mode: the listener of a port this test holds, free disk and
MemAvailable, in the same execution that reads the files; nothing applied."""

import grp
import os
import pwd
import socket

import pytest

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def files(run_module_file):
    def _run(entries, check=False, **args):
        return run_module_file("files", dict(args, files=entries, _ansible_check_mode=check))
    return _run


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_report_host_in_check_mode_reads_the_listener_disk_and_memory_and_applies_nothing(files, tmp_path, listener):
    target = tmp_path / "new.conf"
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    free_port = free.getsockname()[1]
    free.close()
    rc, result = files([dict(path=str(target), content="x\n", owner=USER, group=GROUP, mode="0644", key="k")],
                       check=True, report_host=dict(ports=[listener, free_port],
                                                    paths=[str(tmp_path / "not" / "yet"), str(tmp_path)]))
    assert rc == 0, result
    assert result["changed"] is True and result["changed_keys"] == ["k"] and not target.exists()
    holders = result["host"]["listeners"][str(listener)]
    assert [h["pid"] for h in holders] == [os.getpid()], holders
    assert holders[0]["address"] == "127.0.0.1" and holders[0]["command"]
    assert result["host"]["listeners"][str(free_port)] == []
    paths = result["host"]["paths"]
    assert paths[str(tmp_path / "not" / "yet")]["checked"] == str(tmp_path)
    assert paths[str(tmp_path)]["free_mb"] > 0
    assert result["host"]["mem_available_mb"] > 0


def test_without_report_host_no_host_result(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "f"), content="x\n", owner=USER, group=GROUP, mode="0644")],
                       check=True)
    assert rc == 0, result
    assert "host" not in result


def test_report_host_rejects_a_port_that_is_not_a_number(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "f"), content="x\n")], check=True,
                       report_host=dict(ports=["http"]))
    assert rc != 0 and "ports" in result["msg"], result


def test_report_host_sizes_what_the_files_that_change_need_by_path_and_key(files, tmp_path):
    """Check mode, as the platform plan runs it: each path of report_host gets the bytes the entries that
    would change write below it (content's length, a block per directory), by key; nothing is written."""
    install, data, elsewhere = tmp_path / "opt", tmp_path / "opt" / "data", tmp_path / "etc"
    for directory in (install, data, elsewhere):
        directory.mkdir(exist_ok=True)
    (install / "same.conf").write_text("same\n")
    (install / "old.conf").write_text("old\n")
    (install / "mode.conf").write_text("mode\n")
    os.chmod(str(install / "mode.conf"), 0o600)
    os.symlink("releases/0.9", str(install / "current"))
    common = dict(owner=USER, group=GROUP)
    entries = [
        dict(path=str(install / "releases" / "1.0"), state="directory", mode="0755", key="svc", **common),
        dict(path=str(install / "releases" / "1.0" / "app.py"), content="a" * 3000, mode="0644", key="svc",
             **common),
        dict(path=str(install / "old.conf"), content="n" * 700, mode="0644", key="svc", **common),    # updated
        dict(path=str(install / "same.conf"), content="same\n", mode="0644", key="svc", **common),   # unchanged
        dict(path=str(install / "mode.conf"), content="mode\n", mode="0644", key="svc", **common),   # mode only
        dict(path=str(install / "current"), state="link", target="releases/1.0", key="svc", **common),
        dict(path=str(data / "registry.json"), content="r" * 50, mode="0644", **common),            # no key
        dict(path=str(elsewhere / "svc.env"), content="e" * 40, mode="0644", key="svc", **common),  # no path
    ]
    rc, result = files(entries, check=True, report_host=dict(paths=[str(install), str(data)]))
    assert rc == 0, result
    paths = result["host"]["paths"]
    assert paths[str(install)]["needed_by_key"] == {"svc": 4096 + 3000 + 700}
    assert paths[str(install)]["needed_bytes"] == 4096 + 3000 + 700
    assert paths[str(data)]["needed_by_key"] == {"": 50} and paths[str(data)]["needed_bytes"] == 50
    assert paths[str(install)]["device"] == os.stat(str(install)).st_dev
    assert not (install / "releases").exists() and (install / "old.conf").read_text() == "old\n"

    # Nothing changes: nothing needed.
    rc, result = files(entries[3:4], check=True, report_host=dict(paths=[str(install)]))
    assert rc == 0 and result["host"]["paths"][str(install)]["needed_bytes"] == 0, result
