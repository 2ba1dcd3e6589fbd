# -*- coding: utf-8 -*-
"""plugins/module_utils/_haproxy.py: the runtime API client and the
reconciliation, in process, against a fake HAProxy socket
(tests/unit/plugins/fake_haproxy.py)."""

import re
import socket
import threading

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _haproxy as hx
from ansible_collections.alicia.platform.tests.unit.plugins.fake_haproxy import FakeHAProxy, server

# A real answer of haproxy 2.6.12 (Debian 12): demo-3 was `disabled` in the
# configuration and then set ready (CMAINT stays), demo-2 is drained at runtime.
REAL = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 demo 1 demo-1 127.0.0.1 2 0 50 100 8 15 3 3 6 0 0 0 - 18101 - 0 0 - - 0
3 demo 2 demo-2 127.0.0.1 2 8 100 100 0 15 3 3 6 0 0 0 - 18102 - 0 0 - - 0
3 demo 3 demo-3 ::1 0 4 100 100 0 1 0 2 6 0 0 0 - 18103 - 0 0 - - 0
4 other 1 o-1 10.0.0.5 0 5 100 100 8 1 0 0 14 0 0 0 - 9000 - 0 0 - - 0

"""


@pytest.fixture
def fake():
    haproxy = FakeHAProxy([
        server("tts", "tts-1", 18101),
        server("tts", "tts-2", 18102),
        server("tts", "tts-3", 18103, admin=0x05, op=0),   # `disabled` in the configuration
        server("stt", "stt-1", 18201, weight=0),           # drained by the configuration (weight 0)
    ])
    yield haproxy
    haproxy.close()


def api(fake):
    return hx.RuntimeAPI(fake.path, timeout=2)


def run(fake, servers, **kwargs):
    return hx.reconcile({"servers": servers}, api(fake), **kwargs)


# ---- parsing -------------------------------------------------------------------

def test_parse_a_real_answer_and_read_states():
    rows = hx.parse_servers_state(REAL)
    assert [(r["be_name"], r["srv_name"]) for r in rows] == [
        ("demo", "demo-1"), ("demo", "demo-2"), ("demo", "demo-3"), ("other", "o-1")]
    servers = hx.servers_by_name(rows)
    one = servers[("demo", "demo-1")]
    assert (one["state"], one["weight"], one["initial_weight"], one["effective"], one["operational"]) == (
        "ready", 50, 100, "ready", "up")
    assert (one["address"], one["port"]) == ("127.0.0.1", 18101)
    assert servers[("demo", "demo-2")]["state"] == "drain"
    assert servers[("demo", "demo-2")]["effective"] == "drain"
    # CMAINT alone (disabled in the configuration, then set ready) is not maintenance.
    assert servers[("demo", "demo-3")]["state"] == "ready"
    assert servers[("demo", "demo-3")]["operational"] == "down"
    # FMAINT | CMAINT: disabled in the configuration.
    assert servers[("other", "o-1")]["state"] == "maint"


@pytest.mark.parametrize("admin,weight,state,effective", [
    (0x00, 100, "ready", "ready"),
    (0x00, 0, "ready", "drain"),      # weight 0: no new requests
    (0x08, 100, "drain", "drain"),
    (0x10, 100, "ready", "drain"),    # inherited drain
    (0x01, 100, "maint", "maint"),
    (0x09, 100, "maint", "maint"),
    (0x02, 100, "ready", "maint"),    # inherited maintenance
    (0x20, 100, "ready", "maint"),    # DNS resolution failure
    (0x04, 100, "ready", "ready"),    # CMAINT alone
])
def test_state_and_effective_state_from_the_admin_flags(admin, weight, state, effective):
    got = hx.view({"srv_admin_state": str(admin), "srv_uweight": str(weight), "srv_op_state": "2"})
    assert (got["state"], got["effective"]) == (state, effective)


@pytest.mark.parametrize("text", ["", "Unknown command\n", "2\n# be_id\n", "1\n3 demo 1 demo-1\n"])
def test_unexpected_answers_are_errors(text):
    with pytest.raises(hx.HAProxyError, match="show servers state"):
        hx.parse_servers_state(text)


# ---- the socket ------------------------------------------------------------------

def test_one_command_per_connection(fake):
    client = api(fake)
    assert client.command("show servers state stt").splitlines()[2].split()[3] == "stt-1"
    assert client.command("set weight tts/tts-1 7") == "\n"
    assert fake.log == ["show servers state stt", "set weight tts/tts-1 7"]
    with pytest.raises(hx.HAProxyError, match="one command per call"):
        client.command("set weight tts/tts-1 7; shutdown sessions server tts/tts-1")
    assert len(fake.log) == 2


def test_a_missing_socket_is_a_clear_error(tmp_path):
    with pytest.raises(hx.HAProxyError, match="cannot connect to the HAProxy runtime API at .*nope.sock.*level admin"):
        hx.RuntimeAPI(str(tmp_path / "nope.sock")).command("show servers state")


def test_a_silent_haproxy_times_out(fake):
    fake.silent = True
    with pytest.raises(hx.HAProxyError, match="no complete answer .* within 0.3 s"):
        hx.RuntimeAPI(fake.path, timeout=0.3).command("show servers state")


def test_a_socket_that_is_not_haproxy(tmp_path):
    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        def serve():
            conn, _ = listener.accept()
            conn.recv(100)
            conn.sendall(b"HTTP/1.0 400 Bad request\r\n\r\n")
            conn.close()
        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(hx.HAProxyError, match="unexpected answer"):
            hx.reconcile({"servers": [{"service": "a", "server": "b", "state": "ready"}]},
                         hx.RuntimeAPI(path, timeout=2))
    finally:
        listener.close()


# ---- reconcile ---------------------------------------------------------------------

def test_drain_then_nothing_to_do(fake):
    result = run(fake, [{"service": "tts", "server": "tts-2", "state": "drain"}])
    assert result["changed"] is True
    assert result["commands"] == ["set server tts/tts-2 state drain"]
    entry = result["servers"][0]
    assert (entry["before"]["state"], entry["after"]["state"], entry["after"]["effective"]) == ("ready", "drain", "drain")
    assert fake.state_of("tts", "tts-2") == (0x08, 100)
    assert "1 of 1 servers changed: tts/tts-2: state=ready weight=100 -> state=drain weight=100" == result["msg"]
    # Read, send, read again: three connections.
    assert fake.log == ["show servers state", "set server tts/tts-2 state drain", "show servers state"]

    again = run(fake, [{"service": "tts", "server": "tts-2", "state": "drain"}])
    assert again["changed"] is False and again["commands"] == []
    assert fake.log[3:] == ["show servers state"]   # one read, nothing sent
    assert again["msg"] == "0 of 1 servers changed"


def test_only_what_differs_is_sent(fake):
    result = run(fake, [
        {"service": "tts", "server": "tts-1", "state": "ready", "weight": 100},   # as it is
        {"service": "tts", "server": "tts-2", "weight": 30},                      # weight only
        {"service": "tts", "server": "tts-3", "state": "ready", "weight": 50},    # back from maint: weight first
        {"service": "stt", "server": "stt-1", "state": "maint", "weight": 10},    # leaving: state first
    ])
    assert result["commands"] == [
        "set weight tts/tts-2 30",
        "set weight tts/tts-3 50", "set server tts/tts-3 state ready",
        "set server stt/stt-1 state maint", "set weight stt/stt-1 10",
    ]
    assert [e["changed"] for e in result["servers"]] == [False, True, True, True]
    assert fake.state_of("tts", "tts-3") == (0x04, 50)   # CMAINT stays, FMAINT cleared
    assert fake.state_of("stt", "stt-1") == (0x01, 10)
    assert result["servers"][2]["after"]["state"] == "ready"


def test_check_mode_reads_only_and_predicts(fake):
    result = run(fake, [{"service": "tts", "server": "tts-1", "state": "maint", "weight": 0}],
                 check_mode=True, want_diff=True)
    assert result["changed"] is True
    assert result["commands"] == []
    assert result["servers"][0]["commands"] == ["set server tts/tts-1 state maint", "set weight tts/tts-1 0"]
    assert result["servers"][0]["after"]["state"] == "maint"
    assert result["servers"][0]["after"]["effective"] == "maint"
    assert fake.log == ["show servers state"]
    assert fake.state_of("tts", "tts-1") == (0, 100)
    assert result["diff"]["before"] == "tts/tts-1: state=ready weight=100\n"
    assert result["diff"]["after"] == "tts/tts-1: state=maint weight=0\n"
    assert result["msg"].startswith("1 of 1 servers would change")


def test_diff_lists_only_changed_servers(fake):
    result = run(fake, [{"service": "tts", "server": "tts-1", "weight": 100},
                        {"service": "tts", "server": "tts-2", "weight": 60}], want_diff=True)
    assert result["diff"]["before"] == "tts/tts-2: state=ready weight=100\n"
    assert result["diff"]["after"] == "tts/tts-2: state=ready weight=60\n"


def test_unknown_backend_or_server_changes_nothing(fake):
    with pytest.raises(hx.HAProxyError) as info:
        run(fake, [{"service": "tts", "server": "tts-1", "weight": 1},
                   {"service": "nope", "server": "x", "state": "ready"},
                   {"service": "tts", "server": "tts-9", "state": "ready"}])
    assert info.value.msg == (
        "unknown server(s), nothing changed: no backend 'nope' (known: stt, tts); "
        "backend 'tts' has no server 'tts-9' (known: tts-1, tts-2, tts-3)")
    assert fake.log == ["show servers state"]
    assert fake.state_of("tts", "tts-1") == (0, 100)


@pytest.mark.parametrize("servers,message", [
    ([{"service": "tts", "server": "tts-1"}], "servers[0] (tts/tts-1): give a state, a weight or both"),
    ([{"service": "tts", "server": "tts-1", "weight": 257}], "weight must be a whole number 0-256, got 257"),
    ([{"service": "tts", "server": "tts-1", "weight": True}], "weight must be a whole number 0-256, got True"),
    ([{"service": "tts", "server": "tts-1", "state": "up"}], "state must be one of ready, drain, maint, got 'up'"),
    ([{"service": "tts", "server": "a/b", "state": "ready"}], "servers[0]: server must be a name without spaces"),
    ([{"service": "tts x", "server": "a", "state": "ready"}], "servers[0]: service must be a name without spaces"),
    ([{"service": "tts", "server": "tts-1", "state": "ready"}, {"service": "tts", "server": "tts-1", "weight": 3}],
     "tts/tts-1 is named more than once (servers[0], servers[1])"),
    (["tts-1"], "servers[0]: must be a mapping"),
])
def test_bad_requests_fail_before_the_socket_is_used(fake, servers, message):
    with pytest.raises(hx.HAProxyError, match=re.escape(message)):
        run(fake, servers)
    assert fake.log == []


def test_a_refused_command_stops_and_reports_what_was_sent(fake):
    fake.refuse["set server tts/tts-2"] = "Backend is using a static LB algorithm.\n"
    with pytest.raises(hx.HAProxyError) as info:
        run(fake, [{"service": "tts", "server": "tts-1", "weight": 20},
                   {"service": "tts", "server": "tts-2", "state": "drain"},
                   {"service": "tts", "server": "tts-3", "state": "ready"}])
    assert info.value.msg == ("HAProxy refused 'set server tts/tts-2 state drain': Backend is using a static LB "
                              "algorithm. (commands sent before it: set weight tts/tts-1 20)")
    assert info.value.result["commands"] == ["set weight tts/tts-1 20"]
    # Read again for the report; tts-3 untouched.
    assert info.value.result["servers"][0]["after"]["weight"] == 20
    assert fake.state_of("tts", "tts-3") == (0x05, 100)
    assert "set server tts/tts-3 state ready" not in fake.log


def test_a_change_haproxy_did_not_apply_fails(fake):
    fake.sticky_weight = True
    with pytest.raises(hx.HAProxyError, match=r"did not apply every change: tts/tts-1: state=ready weight=100 "
                                              r"\(wanted state=- weight=5\)"):
        run(fake, [{"service": "tts", "server": "tts-1", "weight": 5}])


def test_argument_spec_matches_the_choices():
    spec = hx.argument_spec()
    assert spec["servers"]["options"]["state"]["choices"] == ["ready", "drain", "maint"]
    assert spec["socket"]["default"] == "/run/haproxy/admin.sock"
