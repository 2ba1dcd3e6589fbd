# -*- coding: utf-8 -*-
"""health_gate: consecutive healthy reads (fake clock) and the deployment history it records."""

import json
import threading

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.modules import health_gate
from ansible_collections.alicia.platform.tests.unit.plugins.fake_clock import FakeClock


class Script(object):
    """probe_fn answering per service from a script of healthy/unhealthy answers (the last one repeats)."""

    def __init__(self, clock, answers):
        self.clock, self.answers = clock, dict((k, list(v)) for k, v in answers.items())
        self.calls = {}
        self.lock = threading.Lock()

    def __call__(self, endpoint, timeout=None, **_kwargs):
        name = endpoint["service"]
        with self.lock:
            self.calls.setdefault(name, []).append(self.clock())
            script = self.answers[name]
            ok = script.pop(0) if len(script) > 1 else script[0]
        if ok:
            return {"healthy": True, "status": 200, "latency": 0.0, "error": None}
        return {"healthy": False, "status": 503, "latency": 0.0, "error": "HTTP 503"}


def gate(answers, **kwargs):
    clock = FakeClock(start=0.0)
    probe = Script(clock, answers)
    endpoints = [{"service": name, "url": "http://127.0.0.1:%d/health" % (i + 1)} for i, name in enumerate(answers)]
    kwargs.setdefault("timeout", 10)
    kwargs.setdefault("interval", 1.0)
    summary = health.gate(endpoints, clock=clock, sleep=clock.sleep, probe_fn=probe, **kwargs)
    return summary, probe, clock


def test_three_healthy_reads_in_a_row_pass_a_quarter_second_apart():
    summary, probe, _clock = gate({"svc": [True]}, healthy_reads=3, healthy_interval=0.25)
    assert summary["healthy"] is True
    assert probe.calls["svc"] == [0.0, 0.25, 0.5]
    assert summary["results"][0]["time_to_healthy"] == 0.5


def test_an_unhealthy_read_starts_the_count_again():
    # healthy, healthy, then a crash (unhealthy), then healthy for good.
    summary, probe, _clock = gate({"svc": [True, True, False, True]}, healthy_reads=3, healthy_interval=0.25)
    assert summary["healthy"] is True
    # 0.0 ok, 0.25 ok, 0.5 bad (wait the interval, 1 s), 1.5 ok, 1.75 ok, 2.0 ok
    assert probe.calls["svc"] == [0.0, 0.25, 0.5, 1.5, 1.75, 2.0]


def test_a_release_that_answers_once_then_fails_does_not_pass():
    summary, probe, _clock = gate({"svc": [True, False]}, healthy_reads=3, healthy_interval=0.25, timeout=3)
    assert summary["healthy"] is False and summary["unhealthy"] == ["svc"]
    assert summary["results"][0]["time_to_healthy"] is None


def test_the_deadline_during_the_healthy_reads_fails_naming_the_count():
    summary, _probe, _clock = gate({"svc": [True]}, healthy_reads=5, healthy_interval=1.0, timeout=2.5)
    assert summary["healthy"] is False
    assert "of the 5 consecutive reads required" in summary["results"][0]["error"]


def test_one_read_is_the_default():
    summary, probe, _clock = gate({"svc": [True]})
    assert summary["healthy"] is True and probe.calls["svc"] == [0.0]


@pytest.mark.parametrize("kwargs", [{"healthy_reads": 0}, {"healthy_interval": -1}])
def test_bad_read_settings_are_refused(kwargs):
    with pytest.raises(health.EndpointError):
        gate({"svc": [True]}, **kwargs)


# ---------------------------------------------------------------------------
# The module: history written, rollback targets returned
# ---------------------------------------------------------------------------

def run_main(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            health_gate.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def record(name, version, tmp_path, **spec):
    release = tmp_path / name / "releases" / version
    release.mkdir(parents=True, exist_ok=True)
    return {"service": name, "version": version, "spec": dict(spec, name=name, version=version),
            "release": str(release)}


def test_main_records_a_healthy_release_then_returns_it_as_the_rollback_of_a_bad_one(capsys, tmp_path, http_server,
                                                                                      refused_port):
    path = tmp_path / "deployments.json"
    good = {"endpoints": [{"service": "tts_service", "url": http_server.url("/healthy")}], "timeout": 2,
            "interval": 0.1, "history": {"path": str(path), "host": "lab1", "id": "d1",
                                         "records": [record("tts_service", "1.0.0", tmp_path)]}}
    code, out = run_main(capsys, good)
    assert code == 0 and out["changed"] is True and out["history_changed"] is True and out["rollback"] == {}
    doc = json.loads(path.read_text())
    assert doc["services"]["tts_service"]["known_good"]["version"] == "1.0.0"
    assert (path.stat().st_mode & 0o777) == 0o600

    # The same release again: nothing to record, nothing changed.
    code, out = run_main(capsys, good)
    assert code == 0 and out["changed"] is False and len(json.loads(path.read_text())["deployments"]) == 1

    bad = {"endpoints": [{"service": "tts_service", "url": "http://127.0.0.1:%d/health" % refused_port}],
           "timeout": 0.3, "interval": 0.1,
           "history": {"path": str(path), "host": "lab1", "id": "d2", "strategy": "direct",
                       "records": [record("tts_service", "2.0.0", tmp_path)]}}
    code, out = run_main(capsys, bad)
    assert code == 1 and out["failed"] is True
    assert out["rollback"]["tts_service"]["version"] == "1.0.0"
    assert out["rollback"]["tts_service"]["spec"]["version"] == "1.0.0"
    last = json.loads(path.read_text())["deployments"][-1]
    assert (last["from"], last["to"], last["result"], last["id"], last["host"]) == ("1.0.0", "2.0.0", "failed", "d2",
                                                                                    "lab1")
    assert "connection refused" in last["reason"]


def test_main_in_check_mode_writes_no_history(capsys, tmp_path, http_server):
    path = tmp_path / "deployments.json"
    args = {"endpoints": [{"service": "a", "url": http_server.url("/healthy")}], "_ansible_check_mode": True,
            "history": {"path": str(path), "records": [record("a", "1", tmp_path)]}}
    code, out = run_main(capsys, args)
    assert code == 0 and out["changed"] is False and not path.exists()


def test_main_a_corrupt_history_fails_naming_the_file(capsys, tmp_path, http_server):
    path = tmp_path / "deployments.json"
    path.write_text("{half")
    args = {"endpoints": [{"service": "a", "url": http_server.url("/healthy")}],
            "history": {"path": str(path), "records": [record("a", "1", tmp_path)]}}
    code, out = run_main(capsys, args)
    assert code == 1 and str(path) in out["msg"] and "not JSON" in out["msg"]


def test_main_a_service_judged_failed_fails_the_gate_and_is_rolled_back_unprobed(capsys, tmp_path, http_server,
                                                                                 refused_port):
    path = tmp_path / "deployments.json"
    first = {"endpoints": [{"service": "tts_service-1", "url": http_server.url("/healthy")}], "timeout": 2,
             "history": {"path": str(path), "host": "lab1", "id": "d1",
                         "records": [dict(record("tts_service", "1.0.0", tmp_path), instances=["tts_service-1"])]}}
    assert run_main(capsys, first)[0] == 0
    # The canary answered healthy, but its verdict at the balancer was bad.
    # Its endpoints are not probed (refused would wait for the timeout): the verdict is already in.
    canary = {"endpoints": [{"service": "tts_service-1", "url": "http://127.0.0.1:%d/health" % refused_port},
                            {"service": "stt_service", "url": http_server.url("/healthy")}], "timeout": 30,
              "failed_services": {"tts_service": "canary tts_service/tts_service-1 FAILED: no data"},
              "history": {"path": str(path), "host": "lab1", "id": "d2", "strategy": "canary",
                          "records": [dict(record("tts_service", "2.0.0", tmp_path), instances=["tts_service-1"])]}}
    code, out = run_main(capsys, canary)
    assert code == 1 and out["healthy"] is False and out["failed_services"] == ["tts_service"]
    assert [r["service"] for r in out["results"]] == ["stt_service"] and out["unhealthy"] == ["tts_service"]
    assert out["msg"].startswith("tts_service: canary tts_service/tts_service-1 FAILED: no data")
    assert out["rollback"]["tts_service"]["version"] == "1.0.0"
    doc = json.loads(path.read_text())
    last = doc["deployments"][-1]
    assert (last["to"], last["result"], last["strategy"]) == ("2.0.0", "failed", "canary")
    assert "FAILED: no data" in last["reason"]
    assert doc["services"]["tts_service"]["known_good"]["version"] == "1.0.0"
    assert len(doc["services"]["tts_service"]["bad"]) == 1
