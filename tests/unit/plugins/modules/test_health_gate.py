# -*- coding: utf-8 -*-
"""health_gate against real HTTP servers on 127.0.0.1 (no network mocks)."""

import json
import os
import stat
import sys
import threading

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.modules import health_gate
from ansible_collections.alicia.platform.tests.unit.plugins.fake_clock import FakeClock


def ep(server_or_url, path=None, **extra):
    url = server_or_url.url(path) if path else server_or_url
    extra.setdefault("service", (path or url).strip("/").replace("/", "_") or "root")
    extra["url"] = url
    return extra


def by_service(summary):
    return dict((r["service"], r) for r in summary["results"])


# ---------------------------------------------------------------------------
# module_utils.health: one probe
# ---------------------------------------------------------------------------

def test_probe_healthy(http_server):
    ticks = iter([50.0, 50.25])  # the clock read before and after the request
    result = health.probe(health.normalize(ep(http_server, "/healthy")), clock=lambda: next(ticks))
    assert result["healthy"] is True
    assert result["status"] == 200
    assert result["error"] is None
    assert result["latency"] == 0.25


def test_probe_503_reports_status_and_body_excerpt(http_server):
    result = health.probe(health.normalize(ep(http_server, "/unhealthy")))
    assert result["healthy"] is False
    assert result["status"] == 503
    assert result["error"] == 'HTTP 503 (expected 200): {"status": "starting", "detail": "database not ready"}'


def test_probe_connection_refused(refused_port):
    result = health.probe(health.normalize(ep("http://127.0.0.1:%d/health" % refused_port)))
    assert (result["healthy"], result["status"], result["error"]) == (False, None, "connection refused")


def test_probe_timeout(http_server):
    # /slow answers 200 healthy after 2 s: a timeout error (not that answer)
    # shows the probe gave up at its own timeout.
    result = health.probe(health.normalize(ep(http_server, "/slow", timeout=0.3)))
    assert (result["healthy"], result["status"], result["error"]) == (False, None, "timeout after 0.3 s")


def test_probe_silent_server_times_out(silent_port):
    result = health.probe(health.normalize(ep("http://127.0.0.1:%d/health" % silent_port, timeout=0.2)))
    assert result["error"] == "timeout after 0.2 s"


def test_probe_not_json(http_server):
    result = health.probe(health.normalize(ep(http_server, "/notjson")))
    assert result["error"] == "response is not JSON: <html><body>It works</body></html>"
    assert result["status"] == 200


def test_probe_wrong_json_value(http_server):
    result = health.probe(health.normalize(ep(http_server, "/wrong")))
    assert result["error"] == 'JSON field \'status\' is "degraded", expected "healthy"'


def test_probe_missing_json_field(http_server):
    result = health.probe(health.normalize(ep(http_server, "/nested")))
    assert result["error"].startswith("JSON field 'status' missing: {\"checks\"")


def test_probe_dotted_field_bool_value_and_no_json_check(http_server):
    nested = health.normalize(ep(http_server, "/nested", json_field="checks.ready", json_value="true"))
    assert health.probe(nested)["healthy"] is True
    presence = health.normalize(ep(http_server, "/nested", json_field="checks.mqtt", json_value=None))
    assert health.probe(presence)["healthy"] is True
    for field in ("", None):
        plain = health.normalize(ep(http_server, "/notjson", json_field=field))
        assert health.probe(plain)["healthy"] is True


def test_probe_expected_status_list(http_server):
    assert health.probe(health.normalize(ep(http_server, "/created")))["error"].startswith("HTTP 201 (expected 200)")
    assert health.probe(health.normalize(ep(http_server, "/created", expect_status=[200, 201])))["healthy"]


def test_normalize_rejects_bad_endpoints():
    for bad, text in [({}, "has no url"), ({"url": "ftp://x/health"}, "must be http"),
                      ({"url": "http://x/h", "timeout": 0}, "timeout must be positive"),
                      ({"url": "http://x/h", "expect_status": ["ok"]}, "expect_status")]:
        with pytest.raises(health.EndpointError, match=text):
            health.normalize(bad)


# ---------------------------------------------------------------------------
# module_utils.health: the gate
# ---------------------------------------------------------------------------

def test_gate_all_healthy_concurrently(http_server):
    endpoints = [ep(http_server, "/healthy", service="svc%02d" % i) for i in range(23)]
    summary = health.gate(endpoints, timeout=5, interval=0.1)
    assert summary["healthy"] is True
    assert summary["unhealthy"] == []
    assert [r["service"] for r in summary["results"]] == ["svc%02d" % i for i in range(23)]
    assert all(r["attempts"] == 1 and r["time_to_healthy"] is not None for r in summary["results"])
    assert summary["msg"].startswith("health gate: all 23 endpoints healthy in ")


class FakeProbe(object):
    """probe_fn for the gate: per service, healthy from a time of the fake clock on (None: never).

    Each probe moves the clock by ``takes`` seconds; calls are logged per service.
    """

    def __init__(self, clock, healthy_at, error="connection refused", takes=0.0):
        self.clock, self.healthy_at, self.error, self.takes = clock, healthy_at, error, takes
        self.calls = {}
        self.lock = threading.Lock()

    def __call__(self, endpoint, timeout=None, **_kwargs):
        with self.lock:
            self.calls.setdefault(endpoint["service"], []).append(self.clock())
        self.clock.advance(self.takes)
        at = self.healthy_at.get(endpoint["service"])
        if at is not None and self.clock() >= at:
            return {"healthy": True, "status": 200, "latency": self.takes, "error": None}
        return {"healthy": False, "status": None, "latency": self.takes, "error": self.error}


def test_gate_returns_as_soon_as_the_service_is_healthy():
    clock = FakeClock(start=0.0)
    probe = FakeProbe(clock, {"late": 0.75, "ready": 0.0})
    summary = health.gate([{"service": "late", "url": "http://127.0.0.1:1/health"},
                           {"service": "ready", "url": "http://127.0.0.1:2/health"}],
                          timeout=5, interval=0.25, clock=clock, sleep=clock.sleep, probe_fn=probe)
    late = by_service(summary)["late"]
    assert summary["healthy"] is True
    assert probe.calls["late"] == [0.0, 0.25, 0.5, 0.75], "one probe per interval, none after the healthy one"
    assert (late["attempts"], late["time_to_healthy"]) == (4, 0.75)
    assert by_service(summary)["ready"]["attempts"] == 1
    assert clock.sleeps == [0.25, 0.25, 0.25] and summary["elapsed"] == 0.75, "no wait after the last healthy probe"


def test_gate_timeout_stops_polling():
    clock = FakeClock(start=0.0)
    probe = FakeProbe(clock, {})
    summary = health.gate([{"service": "down", "url": "http://127.0.0.1:1/health"}], timeout=1.0, interval=0.25,
                          clock=clock, sleep=clock.sleep, probe_fn=probe)
    assert summary["healthy"] is False and summary["unhealthy"] == ["down"]
    assert probe.calls["down"] == [0.0, 0.25, 0.5, 0.75], "no probe at or after the deadline"
    assert summary["elapsed"] == 1.0 and sum(clock.sleeps) == 1.0
    assert summary["msg"].startswith("health gate: 1 of 1 endpoints unhealthy after 1.0 s:")


def test_gate_slow_probe_is_cut_to_the_time_left():
    clock = FakeClock(start=0.0)
    seen = []

    def probe(endpoint, timeout=None, **_kwargs):
        seen.append(timeout)
        clock.advance(timeout)
        return {"healthy": False, "status": None, "latency": timeout, "error": "timeout after %.1f s" % timeout}

    summary = health.gate([{"service": "slow", "url": "http://127.0.0.1:1/health", "timeout": 5}], timeout=7,
                          interval=1, clock=clock, sleep=clock.sleep, probe_fn=probe)
    assert seen == [5, 1.0], "the second probe gets the 1 s left, not its own 5 s"
    assert summary["elapsed"] == 7.0


def test_gate_slow_endpoints_are_probed_in_parallel():
    """Five endpoints are probed at the same time: each probe waits until all five are in flight."""
    barrier = threading.Barrier(5, timeout=30)
    in_flight = []

    def probe(endpoint, timeout=None, **_kwargs):
        in_flight.append(endpoint["service"])
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return {"healthy": False, "status": None, "latency": 0, "error": "not probed in parallel"}
        return {"healthy": False, "status": None, "latency": 0, "error": "timeout after 0.5 s"}

    clock = FakeClock()
    endpoints = [{"service": "slow%d" % i, "url": "http://127.0.0.1:1/health"} for i in range(5)]
    summary = health.gate(endpoints, timeout=0.5, interval=1, clock=clock, sleep=clock.sleep, probe_fn=probe)
    assert sorted(in_flight) == ["slow%d" % i for i in range(5)]
    assert [r["error"] for r in summary["results"]] == ["timeout after 0.5 s"] * 5


def test_gate_max_workers_bounds_the_probes_in_flight():
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def probe(endpoint, timeout=None, **_kwargs):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        threading.Event().wait(0.01)  # let the other workers overlap
        with lock:
            state["now"] -= 1
        return {"healthy": True, "status": 200, "latency": 0, "error": None}

    clock = FakeClock()
    endpoints = [{"service": "s%d" % i, "url": "http://127.0.0.1:1/health"} for i in range(12)]
    summary = health.gate(endpoints, timeout=5, max_workers=3, clock=clock, sleep=clock.sleep, probe_fn=probe)
    assert summary["healthy"] and 1 <= state["most"] <= 3


def test_gate_failure_message_lists_every_unhealthy_service(http_server, refused_port):
    endpoints = [
        ep(http_server, "/healthy", service="ok_service", host="lab1"),
        ep(http_server, "/unhealthy", service="stt_service", host="lab1"),
        ep("http://127.0.0.1:%d/health" % refused_port, service="tts_service", host="lab2"),
        ep(http_server, "/slow", service="ai_service", timeout=0.2),
        ep(http_server, "/notjson", service="voice_router"),
        ep(http_server, "/wrong", service="sonos_service"),
    ]
    # One round: each probe has its own timeout (a polling gate caps the last
    # probe's at the time left, which on a loaded machine reads "0.1 s").
    summary = health.gate(endpoints, timeout=1.0, interval=0.2, single_round=True)
    assert summary["healthy"] is False
    assert summary["unhealthy"] == ["stt_service", "tts_service", "ai_service", "voice_router", "sonos_service"]
    lines = summary["msg"].splitlines()
    assert lines[0].startswith("health gate: 5 of 6 endpoints unhealthy after ")
    assert lines[1] == ("  - stt_service on lab1 (%s): HTTP 503 (expected 200): "
                        '{"status": "starting", "detail": "database not ready"}' % http_server.url("/unhealthy"))
    assert lines[2] == "  - tts_service on lab2 (http://127.0.0.1:%d/health): connection refused" % refused_port
    assert lines[3].endswith("): timeout after 0.2 s")
    assert lines[4].endswith("): response is not JSON: <html><body>It works</body></html>")
    assert lines[5].endswith("): JSON field 'status' is \"degraded\", expected \"healthy\"")
    results = by_service(summary)
    assert results["ok_service"]["healthy"] and results["ok_service"]["attempts"] == 1
    assert http_server.hits("/healthy") == 1


def test_gate_single_round_does_not_wait(http_server):
    clock = FakeClock()
    run = FakeSystemctl([{"a.service": ("activating", "auto-restart", 0, "exit-code", 1, 1)}])
    summary = health.gate([ep(http_server, "/delayed/5", unit="a.service"), ep(http_server, "/healthy")],
                          timeout=30, single_round=True, clock=clock, sleep=clock.sleep, run=run)
    assert clock.sleeps == [], "no pause"
    assert summary["unhealthy"] == ["delayed_5"]
    assert [r["attempts"] for r in summary["results"]] == [1, 1]
    assert run.calls == [] and summary["state_reads"] == 0, "one round reads no unit state"


def test_gate_accepts_catalogue_endpoints(http_server, shipped):
    from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
    endpoints = cat.health_endpoints(shipped, {"h": {"ansible_host": "127.0.0.1"}}, {"alicia_voice": ["h"]},
                                     services=["voice"])
    # Point them at the test server: same shape, only the URL differs.
    for item in endpoints:
        item["url"] = http_server.url("/healthy")
    summary = health.gate(endpoints, timeout=5, interval=0.1)
    assert summary["healthy"] and [r["service"] for r in summary["results"]] == [
        "stt_service", "ai_service", "tts_service", "voice_router"]


# ---------------------------------------------------------------------------
# module_utils.health: the gate reads what runs a crash-looping endpoint
# ---------------------------------------------------------------------------

class FakeSystemctl(object):
    """run(argv) answering `systemctl show` from a script of reads (the last one repeats).

    Each read maps unit -> (ActiveState, SubState, NRestarts, Result, ExecMainCode, ExecMainStatus[, MemoryMax]).
    """

    def __init__(self, reads, docker=None):
        self.reads, self.docker = list(reads), list(docker or [])
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[0] == "docker":
            doc = self.docker.pop(0) if len(self.docker) > 1 else self.docker[0]
            return 0, json.dumps(doc), ""
        read = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        blocks = []
        for unit in argv[4:]:
            active, sub, restarts, result, code, status = read[unit][:6]
            memory = read[unit][6] if len(read[unit]) > 6 else "infinity"
            blocks.append("Id=%s\nNRestarts=%d\nExecMainCode=%d\nExecMainStatus=%d\nMemoryMax=%s\nResult=%s\n"
                          "LoadState=loaded\nActiveState=%s\nSubState=%s" % (unit, restarts, code, status, memory,
                                                                               result, active, sub))
        return 0, "\n\n".join(blocks) + "\n", ""


RUNNING = ("active", "running", 0, "success", 0, 0)


def crash_loop(restarts, code=1, status=1, result="exit-code", memory="infinity"):
    """A unit between two starts: exited, restart pending."""
    return ("activating", "auto-restart", restarts, result, code, status, memory)


def test_gate_fails_a_crash_looping_unit_after_max_restarts_not_the_timeout():
    # systemd's RestartSec=5: the process exits at once, the unit waits in
    # auto-restart and is restarted at t=5, 10, ... (fake clock); the endpoint
    # answers "connection refused" throughout.
    clock = FakeClock(start=0.0)
    probe = FakeProbe(clock, {})
    script = []
    for t in range(90):
        restarts = t // 5
        script.append({"alicia-stt.service": crash_loop(restarts) if t % 5 else (
            "activating", "start", restarts, "success", 0, 0)})
    run = FakeSystemctl(script)
    summary = health.gate([{"service": "stt_service", "host": "lab1", "url": "http://127.0.0.1:8001/health",
                            "unit": "alicia-stt.service"}],
                          timeout=90, interval=1, clock=clock, sleep=clock.sleep, probe_fn=probe, run=run)
    result = summary["results"][0]
    assert summary["healthy"] is False and summary["unhealthy"] == ["stt_service"]
    assert result["attempts"] == 7, "failed at t=6: restarted at t=5, exited again, the second restart scheduled"
    assert summary["state_reads"] == 7 and summary["elapsed"] == 6.0
    assert result["error"] == ("unit alicia-stt.service keeps exiting, last exit status=1/FAILURE, "
                               "2 restarts since the gate started (the last one scheduled); "
                               "last probe: connection refused")
    assert result["process"] == {"kind": "unit", "name": "alicia-stt.service", "state": "auto-restart",
                                 "restarts": 2, "exits": 0, "last_exit": "status=1/FAILURE", "oom": False,
                                 "memory_limit": None, "reads": 7,
                                 "crash_loop": result["error"].split("; last probe")[0]}
    assert summary["msg"].splitlines()[1] == "  - stt_service on lab1 (http://127.0.0.1:8001/health): " + result["error"]
    assert all(call[:3] == ["systemctl", "show", "-p"] for call in run.calls)


def test_gate_max_restarts_is_the_number_of_restarts_tolerated_minus_one():
    clock = FakeClock(start=0.0)
    run = FakeSystemctl([{"a.service": ("activating", "start", n, "success", 0, 0)} for n in range(10)])
    summary = health.gate([{"service": "a", "url": "http://127.0.0.1:1/health", "unit": "a.service"}],
                          timeout=90, interval=1, max_restarts=4, clock=clock, sleep=clock.sleep,
                          probe_fn=FakeProbe(clock, {}), run=run)
    assert summary["results"][0]["process"]["restarts"] == 4 and summary["state_reads"] == 5


def test_gate_fails_an_oom_killed_unit_naming_memory_max_and_a_failed_unit_at_once():
    clock = FakeClock(start=0.0)
    run = FakeSystemctl([
        {"a.service": ("activating", "start", 0, "success", 0, 0, "67108864"), "b.service": RUNNING},
        {"a.service": crash_loop(0, code=2, status=9, result="oom-kill", memory="67108864"),
         "b.service": ("failed", "failed", 0, "exit-code", 1, 203)},
        {"a.service": ("activating", "start", 1, "success", 0, 0, "67108864")},
        {"a.service": crash_loop(1, code=2, status=9, result="oom-kill", memory="67108864")},
    ])
    summary = health.gate([{"service": "a", "url": "http://127.0.0.1:1/health", "unit": "a.service"},
                           {"service": "b", "url": "http://127.0.0.1:2/health", "unit": "b.service"}],
                          timeout=90, interval=1, clock=clock, sleep=clock.sleep, probe_fn=FakeProbe(clock, {}),
                          run=run)
    a, b = summary["results"]
    assert a["error"].startswith("unit a.service keeps exiting, killed by the out-of-memory killer at MemoryMax=64M, "
                                 "last exit signal=KILL, 2 restarts since the gate started (the last one scheduled)")
    assert b["error"].startswith("unit b.service failed (exit-code), last exit status=203/EXEC")
    assert summary["state_reads"] == 4
    assert run.calls[-1][4:] == ["a.service"], "a unit judged is not read again"


def test_gate_reads_every_unit_and_container_in_one_command_each_at_a_bounded_rate():
    clock = FakeClock(start=0.0)
    units = ["u%d.service" % i for i in range(3)]
    run = FakeSystemctl([dict((u, ("activating", "start", 0, "success", 0, 0)) for u in units)],
                        docker=[[{"Name": "/alicia_c", "RestartCount": 0, "State": {"Status": "running"},
                                  "HostConfig": {"Memory": 0}}]])
    endpoints = [{"service": u, "url": "http://127.0.0.1:1/health", "unit": u} for u in units]
    endpoints.append({"service": "c", "url": "http://127.0.0.1:1/health", "container": "alicia_c"})
    endpoints.append({"service": "plain", "url": "http://127.0.0.1:1/health"})
    summary = health.gate(endpoints, timeout=10, interval=0.25, clock=clock, sleep=clock.sleep,
                          probe_fn=FakeProbe(clock, {}), run=run)
    assert summary["healthy"] is False
    systemctl = [c for c in run.calls if c[0] == "systemctl"]
    docker = [c for c in run.calls if c[0] == "docker"]
    assert len(systemctl) == len(docker) == summary["state_reads"]
    assert all(c[4:] == units for c in systemctl) and all(c[4:] == ["alicia_c"] for c in docker)
    # Five threads each pausing 0.25 s move the shared fake clock 1.25 s a round: at
    # most one read per second of it, however many endpoints ask.
    assert summary["state_reads"] <= summary["elapsed"] + 1
    probes = sum(r["attempts"] for r in summary["results"] if r["service"] != "plain")
    assert probes >= 3 * summary["state_reads"], "the four endpoints that ask share each read"


def test_gate_a_service_that_restarted_once_and_became_healthy_passes():
    clock = FakeClock(start=0.0)
    run = FakeSystemctl([{"a.service": crash_loop(0)}, {"a.service": crash_loop(0)},
                         {"a.service": ("activating", "start", 1, "success", 0, 0)},
                         {"a.service": ("active", "running", 1, "success", 0, 0)}])
    summary = health.gate([{"service": "a", "url": "http://127.0.0.1:1/health", "unit": "a.service"}],
                          timeout=90, interval=1, clock=clock, sleep=clock.sleep,
                          probe_fn=FakeProbe(clock, {"a": 6.0}), run=run)
    assert summary["healthy"] is True
    assert summary["state_reads"] == 6, "read while not healthy, never after"
    assert summary["results"][0]["process"]["restarts"] == 1


def test_gate_without_a_runner_or_target_reads_nothing():
    clock = FakeClock(start=0.0)
    summary = health.gate([{"service": "a", "url": "http://127.0.0.1:1/health", "unit": "a.service"}], timeout=3,
                          interval=1, clock=clock, sleep=clock.sleep, probe_fn=FakeProbe(clock, {}))
    assert summary["state_reads"] == 0 and summary["results"][0]["process"] is None
    assert summary["results"][0]["attempts"] == 3


def test_normalize_rejects_a_target_that_is_not_a_name():
    for bad in ({"unit": "a b"}, {"container": "-x"}, {"program": 3}):
        with pytest.raises(health.EndpointError, match="must be a name"):
            health.normalize(dict(bad, url="http://x/h"))


# ---------------------------------------------------------------------------
# the module's main()
# ---------------------------------------------------------------------------

def run_main(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            health_gate.main()
    out = json.loads(capsys.readouterr().out)
    return info.value.code, out


def test_main_success(capsys, http_server):
    code, out = run_main(capsys, {"endpoints": [ep(http_server, "/healthy", service="stt_service")],
                                  "timeout": 5, "interval": 0.1})
    assert code == 0
    assert out["healthy"] is True and out["changed"] is False
    assert out["results"][0]["service"] == "stt_service"


def test_main_failure_message(capsys, http_server, refused_port):
    code, out = run_main(capsys, {"endpoints": [
        ep(http_server, "/unhealthy", service="stt_service"),
        ep("http://127.0.0.1:%d/health" % refused_port, service="tts_service")], "timeout": 0.5, "interval": 0.1})
    assert code == 1
    assert out["failed"] is True
    assert out["unhealthy"] == ["stt_service", "tts_service"]
    assert "stt_service on 127.0.0.1" in out["msg"] and "HTTP 503" in out["msg"]
    assert "tts_service on 127.0.0.1" in out["msg"] and "connection refused" in out["msg"]


def test_main_check_mode_probes_once_and_does_not_fail(run_module_file, http_server):
    # One attempt of an endpoint that stays unhealthy, with 30 s and a 1 s interval
    # allowed: the check run did not wait.
    code, out = run_module_file("health_gate", {"endpoints": [ep(http_server, "/unhealthy", service="stt_service")],
                                                "timeout": 30, "_ansible_check_mode": True})
    assert code == 0
    assert out["healthy"] is False and "failed" not in out
    assert out["results"][0]["attempts"] == 1
    warnings = json.dumps(out["warnings"])
    assert "check mode, one probe round" in warnings and "stt_service" in warnings


def test_main_reads_the_unit_with_systemctl_and_fails_at_once(capsys, refused_port, tmp_path, monkeypatch):
    """The module's runner: `systemctl show` on the PATH; a failed unit fails the first round."""
    log = tmp_path / "calls"
    fake = tmp_path / "systemctl"
    fake.write_text("#!/bin/sh\necho \"$*\" >> %s\nprintf 'Id=alicia-a.service\\nNRestarts=3\\n"
                    "ExecMainCode=1\\nExecMainStatus=1\\nMemoryMax=infinity\\nResult=exit-code\\n"
                    "LoadState=loaded\\nActiveState=failed\\nSubState=failed\\n'\n" % log)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    code, out = run_main(capsys, {"endpoints": [{"service": "a", "url": "http://127.0.0.1:%d/health" % refused_port,
                                                 "unit": "alicia-a.service"}], "timeout": 60, "interval": 1})
    assert code == 1 and out["unhealthy"] == ["a"]
    assert out["results"][0]["attempts"] == 1 and out["state_reads"] == 1
    assert "unit alicia-a.service failed (exit-code), last exit status=1/FAILURE" in out["msg"]
    assert "last probe: connection refused" in out["msg"]
    assert log.read_text().split()[:2] == ["show", "-p"]


def test_main_bad_parameters(capsys):
    code, out = run_main(capsys, {"endpoints": [{"url": "gopher://x/h"}]})
    assert code == 1 and "must be http:// or https://" in out["msg"]
    code, out = run_main(capsys, {"endpoints": [{"url": "http://x/h"}], "interval": 0})
    assert code == 1 and "must be positive" in out["msg"]
    code, out = run_main(capsys, {"endpoints": [{"url": "http://x/h"}], "max_restarts": 0})
    assert code == 1 and "max_restarts at least 1" in out["msg"]


# ---------------------------------------------------------------------------
# end to end: ansible-playbook runs the module (AnsiballZ) on localhost
# ---------------------------------------------------------------------------

PLAYBOOK = """
- name: health_gate end to end
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate the catalogue's voice phase, pointed at the test server
      alicia.platform.health_gate:
        endpoints: "{{ endpoints }}"
        timeout: 5
        interval: 0.1
      register: gate
    - name: Gate a down service
      alicia.platform.health_gate:
        endpoints:
          - service: tts_service
            url: "http://127.0.0.1:{{ refused }}/health"
        timeout: 0.3
        interval: 0.1
      register: down
      ignore_errors: true
    - name: Record
      ansible.builtin.copy:
        content: "{{ {'gate': gate, 'down': down} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_end_to_end_with_ansible_playbook(tmp_path, http_server, refused_port, run_playbook):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    endpoints = [{"service": name, "host": "localhost", "url": http_server.url("/healthy"), "expect_status": 200,
                  "json_field": "status", "json_value": "healthy", "timeout": 5}
                 for name in ("stt_service", "ai_service")]
    extra = json.dumps({"endpoints": endpoints, "refused": refused_port, "out": str(out)})
    proc = run_playbook(["-i", "localhost,", "-c", "local", "-e", extra, str(playbook)], python=sys.executable)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["gate"]["healthy"] is True and data["gate"]["changed"] is False
    assert [r["service"] for r in data["gate"]["results"]] == ["stt_service", "ai_service"]
    assert data["down"]["failed"] is True
    assert "tts_service on 127.0.0.1" in data["down"]["msg"] and "connection refused" in data["down"]["msg"]
    assert os.path.exists(str(out))
