# -*- coding: utf-8 -*-
"""The network probe: its shell command run by sh against a fake /proc/sys and fake tools, and its parser."""

import os
import subprocess

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.netstate import FilterModule as NetstateFilters
from ansible_collections.alicia.platform.plugins.module_utils import _netstate

FILTERS = NetstateFilters().filters()


def proc(tmp_path, values):
    """A fake /proc/sys tree: {dotted key: value}."""
    root = tmp_path / "sys"
    for key, value in values.items():
        path = root / key.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    return str(root)


def test_norm_collapses_whitespace_and_booleans():
    assert _netstate.norm("4096\t87380   6291456\n") == "4096 87380 6291456"
    assert _netstate.norm(True) == "1" and _netstate.norm(False) == "0"
    assert _netstate.norm(1) == "1"


# ---------------------------------------------------------------------------
# The shell command (ansible.builtin.raw) and its parser
# ---------------------------------------------------------------------------


def tools(tmp_path, nft_rc=0, unit="ActiveState=active\nUnitFileState=enabled\n", mount="rw,relatime"):
    """Fake nft, systemctl and findmnt first on PATH: (env, log of their argv)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / "calls"
    for name, body in (("nft", "exit %d" % nft_rc), ("systemctl", "printf '%%s' '%s'" % unit),
                       ("findmnt", "printf '%%s\\n' '%s'" % mount)):
        path = bindir / name
        path.write_text("#!/bin/sh\necho \"%s $*\" >> '%s'\n%s\n" % (name, log, body))
        path.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "/usr/bin:/bin")))
    return env, log


def run_probe(env, **request):
    proc = subprocess.run(["sh", "-c", _netstate.probe_command(**request)], capture_output=True, text=True,
                          env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_shell_probe_reads_sysctl_keys_the_table_and_the_unit(tmp_path):
    root = proc(tmp_path, {"net.ipv4.tcp_syncookies": "1\n", "net.ipv4.conf.all.rp_filter": "0\n",
                           "net.ipv4.tcp_rmem": "4096\t87380   6291456\n"})
    sysctl = {"net.ipv4.tcp_syncookies": 1, "net.ipv4.conf.all.rp_filter": 1, "net.ipv4.tcp_rmem": "4096 87380 6291456",
              "net.ipv6.conf.all.forwarding": 0, "it's.quoted": 1}
    env, log = tools(tmp_path, nft_rc=0)
    output = run_probe(env, sysctl=sysctl, table="alicia_filter", unit="nftables.service", proc_root=root)
    report = _netstate.parse_report(output, sysctl=sysctl, table="alicia_filter", unit="nftables.service")
    assert report["sysctl"]["net.ipv4.tcp_syncookies"] == {"status": "ok", "live": "1", "drift": False}
    assert report["sysctl"]["net.ipv6.conf.all.forwarding"] == {"status": "missing", "live": None, "drift": False}
    assert report["sysctl"]["net.ipv4.conf.all.rp_filter"] == {"status": "ok", "live": "0", "drift": True}
    assert report["sysctl"]["net.ipv4.tcp_rmem"] == {"status": "ok", "live": "4096 87380 6291456", "drift": False}
    assert report["sysctl"]["it's.quoted"]["status"] == "missing"
    assert (report["table"], report["unit"]) == (True, {"active": True, "enabled": True})
    calls = log.read_text().splitlines()
    assert calls == ["nft list table inet alicia_filter",
                     "systemctl show --property=ActiveState,UnitFileState -- nftables.service"], calls


@pytest.mark.parametrize("mount, status", [("ro,nosuid,nodev", "readonly"), ("rw,relatime", "denied")])
def test_shell_probe_tells_a_read_only_mount_from_a_denied_key(tmp_path, mount, status):
    # kernel.osrelease is 0444 in /proc/sys, which not even root may write: the probe then
    # asks findmnt (a fake here) whether the mount is read-only.
    with open("/proc/sys/kernel/osrelease") as handle:
        release = handle.read().strip()
    env, log = tools(tmp_path, mount=mount)
    output = run_probe(env, sysctl={"kernel.osrelease": "x"})
    assert _netstate.parse_report(output, sysctl={"kernel.osrelease": "x"})["sysctl"] == {
        "kernel.osrelease": {"status": status, "live": release, "drift": False}}
    assert log.read_text() == "findmnt -n -o OPTIONS -T /proc/sys/kernel/osrelease\n"


def test_shell_probe_table_absent_unit_stopped_and_nothing_asked(tmp_path):
    env, _log = tools(tmp_path, nft_rc=1, unit="ActiveState=inactive\nUnitFileState=disabled\n")
    output = run_probe(env, table="alicia_filter", unit="nftables.service")
    assert _netstate.parse_report(output, table="alicia_filter", unit="nftables.service") == {
        "sysctl": {}, "table": False, "unit": {"active": False, "enabled": False}}
    assert _netstate.probe_command() == "true"
    assert _netstate.parse_report("", {}, None, None) == {"sysctl": {}, "table": None, "unit": None}


def test_report_lines_survive_a_tty_and_unrelated_output():
    output = "Welcome!\r\nsysctl\tnet.a\tok\t1\t1 \r\ntable\tyes\r\nunit\tActiveState=active\r\nShared connection closed.\r\n"
    report = _netstate.parse_report(output, sysctl={"net.a": 1}, table="t", unit="u")
    assert report == {"sysctl": {"net.a": {"status": "ok", "live": "1", "drift": False}}, "table": True,
                      "unit": {"active": True, "enabled": False}}


def test_a_report_without_what_was_asked_fails_naming_it():
    with pytest.raises(_netstate.ReportError, match="nothing for sysctl key net.a"):
        _netstate.parse_report("table\tyes\n", sysctl={"net.a": 1})
    with pytest.raises(_netstate.ReportError, match="nothing for table alicia_filter"):
        _netstate.parse_report("", table="alicia_filter")
    with pytest.raises(_netstate.ReportError, match="unknown status 'weird'"):
        _netstate.parse_report("sysctl\tnet.a\tweird\t1\t1\n", sysctl={"net.a": 1})


def test_filters_wrap_the_functions_and_name_bad_requests():
    request = {"sysctl": {"net.a": 1}, "table": None, "unit": None}
    assert FILTERS["network_state_probe"](request) == _netstate.probe_command(sysctl={"net.a": 1})
    assert FILTERS["network_state_report"]("sysctl\tnet.a\tmissing\t0\t\n", request)["sysctl"]["net.a"]["status"] \
        == "missing"
    with pytest.raises(AnsibleFilterError, match="unknown key"):
        FILTERS["network_state_probe"]({"sysctls": {}})
    with pytest.raises(AnsibleFilterError, match="nothing for sysctl key net.a"):
        FILTERS["network_state_report"]("", request)
