# -*- coding: utf-8 -*-
"""The network_state probe's plain functions, against a fake /proc/sys and a fake runner."""

import os

from ansible_collections.alicia.platform.plugins.module_utils import _netstate


def proc(tmp_path, values):
    """A fake /proc/sys tree: {dotted key: value}."""
    root = tmp_path / "sys"
    for key, value in values.items():
        path = root / key.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    return str(root)


class Runner(object):
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.answers.get(argv[0], (127, ""))


def test_norm_collapses_whitespace_and_booleans():
    assert _netstate.norm("4096\t87380   6291456\n") == "4096 87380 6291456"
    assert _netstate.norm(True) == "1" and _netstate.norm(False) == "0"
    assert _netstate.norm(1) == "1"


def test_writable_key_reports_drift_only_when_the_live_value_differs(tmp_path):
    root = proc(tmp_path, {"net.ipv4.tcp_syncookies": "1\n", "net.ipv4.conf.all.rp_filter": "0\n"})
    assert _netstate.sysctl_state("net.ipv4.tcp_syncookies", 1, root) == {"status": "ok", "live": "1", "drift": False}
    assert _netstate.sysctl_state("net.ipv4.conf.all.rp_filter", 1, root) == {"status": "ok", "live": "0",
                                                                               "drift": True}


def test_missing_key(tmp_path):
    root = proc(tmp_path, {})
    assert _netstate.sysctl_state("net.ipv6.conf.all.forwarding", 0, root) == {"status": "missing", "live": None,
                                                                                "drift": False}


def test_unwritable_key_is_denied_and_never_drifts(tmp_path, monkeypatch):
    root = proc(tmp_path, {"kernel.kptr_restrict": "0\n"})

    class ReadWrite(object):
        f_flag = 0
    monkeypatch.setattr(_netstate.os, "access", lambda path, mode: False)
    monkeypatch.setattr(_netstate.os, "statvfs", lambda path: ReadWrite())
    assert _netstate.sysctl_state("kernel.kptr_restrict", 2, root) == {"status": "denied", "live": "0", "drift": False}


def test_unwritable_key_on_a_read_only_mount_is_readonly(tmp_path, monkeypatch):
    root = proc(tmp_path, {"kernel.kptr_restrict": "0\n"})

    class ReadOnly(object):
        f_flag = os.ST_RDONLY
    monkeypatch.setattr(_netstate.os, "access", lambda path, mode: False)
    monkeypatch.setattr(_netstate.os, "statvfs", lambda path: ReadOnly())
    assert _netstate.sysctl_state("kernel.kptr_restrict", 2, root) == {"status": "readonly", "live": "0",
                                                                       "drift": False}


def test_table_and_unit_from_one_call_each():
    run = Runner({"nft": (0, "table inet alicia {\n}\n"),
                  "systemctl": (0, "ActiveState=active\nUnitFileState=enabled\n")})
    state = _netstate.network_state(run, table="alicia", unit="nftables.service", proc_root="/nonexistent")
    assert state == {"sysctl": {}, "table": True, "unit": {"active": True, "enabled": True}}
    assert run.calls == [["nft", "list", "table", "inet", "alicia"],
                         ["systemctl", "show", "--property=ActiveState,UnitFileState", "nftables.service"]]


def test_a_flushed_ruleset_and_a_stopped_unit():
    run = Runner({"nft": (1, ""), "systemctl": (0, "ActiveState=inactive\nUnitFileState=disabled\n")})
    state = _netstate.network_state(run, table="alicia", unit="nftables.service")
    assert state["table"] is False and state["unit"] == {"active": False, "enabled": False}


def test_nothing_asked_runs_nothing():
    run = Runner({})
    assert _netstate.network_state(run) == {"sysctl": {}, "table": None, "unit": None}
    assert run.calls == []
