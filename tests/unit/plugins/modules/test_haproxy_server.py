# -*- coding: utf-8 -*-
"""The haproxy_server module run for real (a fresh Python per run) against
a fake HAProxy runtime API socket (tests/unit/plugins/fake_haproxy.py)."""

import pytest

from ansible_collections.alicia.platform.tests.unit.plugins.fake_haproxy import FakeHAProxy, server


@pytest.fixture
def fake():
    haproxy = FakeHAProxy([server("tts_service", "tts_service-1", 8031),
                           server("tts_service", "tts_service-2", 8032),
                           server("tts_service", "tts_service-3", 8033, admin=0x05, op=0)])
    yield haproxy
    haproxy.close()


def test_canary_weights_then_idempotent(fake, run_module_file):
    ops = [{"service": "tts_service", "server": "tts_service-1", "state": "ready", "weight": 90},
           {"backend": "tts_service", "server": "tts_service-3", "state": "ready", "weight": 10}]
    rc, result = run_module_file("haproxy_server", {"socket": fake.path, "servers": ops, "_ansible_diff": True})
    assert rc == 0, result
    assert result["changed"] is True
    assert result["commands"] == ["set weight tts_service/tts_service-1 90", "set weight tts_service/tts_service-3 10",
                                  "set server tts_service/tts_service-3 state ready"]
    assert result["diff"]["after"] == ("tts_service/tts_service-1: state=ready weight=90\n"
                                       "tts_service/tts_service-3: state=ready weight=10\n")
    assert [s["after"]["weight"] for s in result["servers"]] == [90, 10]
    assert fake.state_of("tts_service", "tts_service-3") == (0x04, 10)

    rc, again = run_module_file("haproxy_server", {"socket": fake.path, "servers": ops})
    assert rc == 0, again
    assert again["changed"] is False and again["commands"] == []
    assert fake.log[-1] == "show servers state"


def test_check_mode_sends_nothing(fake, run_module_file):
    rc, result = run_module_file("haproxy_server", {
        "socket": fake.path, "_ansible_check_mode": True,
        "servers": [{"service": "tts_service", "server": "tts_service-2", "state": "drain"}]})
    assert rc == 0, result
    assert result["changed"] is True
    assert result["servers"][0]["commands"] == ["set server tts_service/tts_service-2 state drain"]
    assert result["servers"][0]["after"]["state"] == "drain"
    assert fake.log == ["show servers state"]
    assert fake.state_of("tts_service", "tts_service-2") == (0, 100)


def test_unknown_server_fails_naming_it(fake, run_module_file):
    rc, result = run_module_file("haproxy_server", {
        "socket": fake.path, "servers": [{"service": "tts_service", "server": "tts_service-9", "state": "drain"}]})
    assert rc != 0
    assert result["failed"] is True
    assert result["msg"] == ("haproxy_server: unknown server(s), nothing changed: backend 'tts_service' has no "
                             "server 'tts_service-9' (known: tts_service-1, tts_service-2, tts_service-3)")


def test_argument_checks(fake, run_module_file):
    rc, result = run_module_file("haproxy_server", {
        "socket": fake.path, "servers": [{"service": "tts_service", "server": "tts_service-1", "weight": 300}]})
    assert rc != 0
    assert "weight must be a whole number 0-256, got 300" in result["msg"]
    rc, result = run_module_file("haproxy_server", {
        "socket": fake.path, "servers": [{"service": "tts_service", "server": "tts_service-1", "state": "up"}]})
    assert rc != 0
    assert "value of state must be one of: ready, drain, maint" in result["msg"]
    assert fake.log == []


def test_no_socket(tmp_path, run_module_file):
    rc, result = run_module_file("haproxy_server", {
        "socket": str(tmp_path / "admin.sock"), "servers": [{"service": "a", "server": "b", "state": "ready"}]})
    assert rc != 0
    assert "cannot connect to the HAProxy runtime API at %s" % (tmp_path / "admin.sock") in result["msg"]
