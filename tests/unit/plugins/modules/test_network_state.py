# -*- coding: utf-8 -*-
"""The network_state module run for real (a fresh Python) with a fake nft and systemctl on PATH."""

import os


def fake(directory, name, rc, out):
    path = directory / name
    path.write_text("#!/bin/sh\nprintf '%%s' '%s'\nexit %d\n" % (out, rc))
    path.chmod(0o755)


def test_module_reads_table_unit_and_sysctl_in_check_mode(tmp_path, monkeypatch, run_module_file):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake(bindir, "nft", 1, "")
    fake(bindir, "systemctl", 0, "ActiveState=active\nUnitFileState=enabled\n")
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    rc, result = run_module_file("network_state", {
        "sysctl": {"net.no_such_key_here": 1}, "table": "alicia", "unit": "nftables.service",
        "_ansible_check_mode": True})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["table"] is False
    assert result["unit"] == {"active": True, "enabled": True}
    assert result["sysctl"] == {"net.no_such_key_here": {"status": "missing", "live": None, "drift": False}}


def test_module_without_nft_reports_no_table(tmp_path, monkeypatch, run_module_file):
    monkeypatch.setenv("PATH", str(tmp_path))
    rc, result = run_module_file("network_state", {"table": "alicia"})
    assert rc == 0, result
    assert (result["table"], result["unit"], result["sysctl"]) == (False, None, {})
