# -*- coding: utf-8 -*-
"""The alicia.platform.deploy_report callback: driven with fake plays, tasks,
results and stats (durations from a fake clock), and through a real
ansible-playbook run that loads it from the checkout's ansible.cfg."""

import json
import os
import stat
import sys
import textwrap

import pytest

from ansible_collections.alicia.platform.plugins.callback import deploy_report as dr
from ansible_collections.alicia.platform.tests.unit.plugins.fake_clock import FakeClock

SECRET = "s3cr3t-Hunter2-do-not-leak"
WALL = 1796590800.0  # 2026-12-06T21:00:00Z


# ---------------------------------------------------------------------------
# fakes of Ansible's objects
# ---------------------------------------------------------------------------

class Host(object):
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Task(object):
    counter = [0]

    def __init__(self, name, action="ansible.builtin.debug", tags=(), no_log=None, check_mode=None, args=None,
                 environment=None):
        Task.counter[0] += 1
        self._uuid = "task-%d" % Task.counter[0]
        self.name = name
        self.action = action.split(".")[-1]
        self.resolved_action = action
        self.tags = list(tags)
        self.no_log = no_log
        self.check_mode = check_mode
        self.args = args or {}
        self.environment = environment or {}


class Result(object):
    """Shaped like ansible-core 2.17/2.18's TaskResult (_host, _task, _result)."""

    def __init__(self, host, task, data):
        self._host = host
        self._task = task
        self._result = data


class Play(object):
    def __init__(self, name, variables=None):
        self.name = name
        self.vars = variables or {}
        self.check_mode = None

    def get_name(self):
        return self.name


class Playbook(object):
    def __init__(self, path):
        self._file_name = path


class Stats(object):
    def __init__(self, hosts, failures=(), dark=(), custom=None):
        self.processed = dict((name, 1) for name in hosts)
        self.failures = dict((name, 1) for name in failures)
        self.dark = dict((name, 1) for name in dark)
        self.custom = custom or {}

    def summarize(self, host):
        return {"ok": 1, "failures": self.failures.get(host, 0), "unreachable": self.dark.get(host, 0),
                "changed": 0, "skipped": 0, "rescued": 0, "ignored": 0}


class Display(object):
    def __init__(self):
        self.lines = []
        self.warnings = []

    def banner(self, text):
        self.lines.append("== %s" % text)

    def display(self, text, *args, **kwargs):
        self.lines.extend(str(text).splitlines())

    def warning(self, text, *args, **kwargs):
        self.warnings.append(text)


class Driver(object):
    """A callback with a fake clock and display, and helpers that play Ansible's part."""

    def __init__(self, output_dir=None, keep=50, summary=True):
        self.clock = FakeClock(start=500.0)
        self.cb = dr.CallbackModule()
        self.cb.report = dr.DeployReport(clock=self.clock, wall=lambda: WALL + self.clock() - 500.0)
        self.cb.pid = 4242
        self.display = Display()
        self.cb._display = self.display
        # What set_options would load from ansible.cfg / the environment.
        self.cb._plugin_options = {"output_dir": output_dir or "", "keep": keep, "summary": summary}
        self.cb._origins = {"output_dir": "env: ALICIA_DEPLOY_REPORT_DIR", "keep": "default", "summary": "default"}
        self.hosts = {}

    def host(self, name):
        return self.hosts.setdefault(name, Host(name))

    def playbook(self, path="playbooks/site.yml"):
        self.cb.v2_playbook_on_start(Playbook(path))

    def play(self, name, variables=None, seconds=0.0):
        self.clock.advance(seconds)
        self.cb.v2_playbook_on_play_start(Play(name, variables))

    def run(self, host, task, data, status="ok", seconds=1.0):
        """The task on one host: start, ``seconds`` later its result."""
        self.cb.v2_runner_on_start(self.host(host), task)
        self.clock.advance(seconds)
        result = Result(self.host(host), task, data)
        if status == "ok":
            self.cb.v2_runner_on_ok(result)
        elif status == "failed":
            self.cb.v2_runner_on_failed(result)
        elif status == "ignored":
            self.cb.v2_runner_on_failed(result, ignore_errors=True)
        elif status == "unreachable":
            self.cb.v2_runner_on_unreachable(result)
        else:
            self.cb.v2_runner_on_skipped(result)

    def end(self, seconds=0.0, failures=(), dark=(), custom=None):
        self.clock.advance(seconds)
        self.cb.v2_playbook_on_stats(Stats(sorted(self.hosts), failures=failures, dark=dark, custom=custom))
        return self.cb.last_report

    def summary(self):
        start = self.display.lines.index("== DEPLOYMENT REPORT")
        return self.display.lines[start + 1:]


def units_result(changed_units, unchanged=()):
    units = dict((name, {"actions": actions, "before": {"active": False}, "after": {"active": True}})
                 for name, actions in changed_units.items())
    units.update((name, {"actions": [], "before": {}, "after": {}}) for name in unchanged)
    return {"changed": bool(changed_units), "units": units,
            "started": [n for n, a in changed_units.items() if "started" in a],
            "restarted": [n for n, a in changed_units.items() if "restarted" in a], "msg": "units"}


def gate_result(endpoints, elapsed):
    unhealthy = [e["service"] for e in endpoints if not e["healthy"]]
    result = {"changed": False, "healthy": not unhealthy, "elapsed": elapsed, "unhealthy": unhealthy,
              "results": endpoints, "state_reads": 2, "msg": "health gate"}
    if unhealthy:
        result.update(failed=True, msg="health gate: %d endpoints unhealthy" % len(unhealthy))
    return result


def endpoint(service, host, healthy=True, attempts=1, time_to_healthy=0.5, error=None):
    return {"service": service, "host": host, "url": "http://10.0.0.1:8001/health", "healthy": healthy,
            "status": 200 if healthy else 503, "latency": 0.01, "attempts": attempts,
            "time_to_healthy": time_to_healthy if healthy else None, "error": error, "process": None}


UNITS = "alicia.platform.units"
GATE = "alicia.platform.health_gate"


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

def test_phases_services_gates_and_totals():
    d = Driver()
    d.playbook()
    d.play("Preflight")
    d.run("lab1", Task("Preflight | validate", "ansible.builtin.assert"), {"changed": False}, seconds=2.0)
    # the phase play as playbooks/phase.yml names it (templated), with its variables
    d.play("Phase 1 | core", {"alicia_phase": "core", "alicia_phase_number": 1})
    # the platform plan runs the modules in check mode: no deployment
    d.run("lab1", Task("Service | plan | units", UNITS, check_mode=True),
          units_result({"alicia-never.service": ["started"]}), seconds=0.5)
    d.run("lab1", Task("Service | units", UNITS),
          units_result({"alicia-security_gateway.service": ["enabled", "started"],
                        "alicia-device_registry.service": ["restarted"]},
                       unchanged=["alicia-configuration.service"]), seconds=3.0)
    d.run("lab2", Task("Service | containers", "alicia.platform.containers"),
          {"changed": True, "containers": {"alicia_configuration": {"actions": ["recreated", "started"]},
                                           "alicia_web": {"actions": []}}}, seconds=4.0)
    d.run("lab1", Task("Service | health gate", GATE),
          gate_result([endpoint("security_gateway", "lab1", attempts=3, time_to_healthy=2.04),
                       endpoint("device_registry", "lab1", attempts=1, time_to_healthy=0.31)], elapsed=2.05))
    # phase 3 by its name only (no variables), in two serial batches
    d.play("Phase 3 | voice", seconds=1.0)
    d.run("lab1", Task("Service | programs", "alicia.platform.supervisor_programs"),
          {"changed": True, "actions": {"alicia-stt_service": ["updated"]}, "programs": {}}, seconds=5.0)
    d.play("Phase 3 | voice", seconds=0.0)
    d.run("lab2", Task("Service | manual", "alicia.platform.manual_services"),
          {"changed": True, "actions": {"tts_service": ["started"]}, "services": {}}, seconds=2.0)
    d.run("lab2", Task("Service | skipped gate", GATE), {"skipped": True}, status="skipped")
    report = d.end(seconds=1.0)

    assert report["result"] == "success"
    assert report["playbooks"] == ["site.yml"]
    assert report["started_at"] == "2026-12-06T21:00:00Z"
    assert [p["name"] for p in report["plays"]] == ["Preflight", "Phase 1 | core", "Phase 3 | voice", "Phase 3 | voice"]
    assert report["plays"][0] == {"name": "Preflight", "phase": None, "duration": 2.0}
    core, voice = report["phases"]
    assert core == {"phase": "core", "number": 1, "duration": 9.5, "plays": 1, "hosts": ["lab1", "lab2"],
                    "failed_hosts": [], "services_deployed": 3}
    assert voice["phase"] == "voice" and voice["number"] == 3 and voice["plays"] == 2
    assert voice["duration"] == 5.0 + 2.0 + 1.0 + 1.0  # both batches, the skipped gate and the end
    assert voice["services_deployed"] == 2

    services = report["services"]
    assert sorted(services) == ["lab1", "lab2"]
    assert "never" not in services["lab1"]
    assert services["lab1"]["security_gateway"] == {"phase": "core", "actions": ["enabled", "started"],
                                                    "deployed": True, "changed": True, "restarted": False,
                                                    "failed": False}
    assert services["lab1"]["device_registry"]["restarted"] is True
    assert services["lab1"]["configuration"] == {"phase": "core", "actions": [], "deployed": False,
                                                 "changed": False, "restarted": False, "failed": False}
    assert services["lab2"]["configuration"]["actions"] == ["recreated", "started"]
    assert services["lab2"]["configuration"]["restarted"] is True
    assert services["lab1"]["stt_service"]["phase"] == "voice" and services["lab1"]["stt_service"]["restarted"]
    assert services["lab2"]["tts_service"]["actions"] == ["started"]

    (gate,) = report["gates"]
    assert gate["host"] == "lab1" and gate["phase"] == "core" and gate["healthy"] is True
    assert gate["elapsed"] == 2.0 or gate["elapsed"] == 2.1  # rounded to 0.1 s
    assert gate["endpoints"][0] == {"service": "security_gateway", "host": "lab1", "healthy": True, "attempts": 3,
                                    "time_to_healthy": 2.0}
    assert report["failures"] == [] and report["rollbacks"] == []
    assert report["totals"] == {"deployments": 5, "successful": 5, "failed": 0, "changed": 5, "restarted": 3,
                                "rollbacks": 0, "rollbacks_failed": 0, "gates": 1, "gates_unhealthy": 0,
                                "task_failures": 0, "hosts": 2, "hosts_failed": 0, "duration": 20.5}

    lines = d.summary()
    assert lines[0] == "site.yml: success in 20.5 s"
    assert lines[1] == "phases:"
    assert lines[2].split() == ["1", "core", "9.5", "s", "hosts", "2,", "failed", "0,", "services", "deployed", "3"]
    assert "services: 5 deployed, 5 changed, 3 restarted, 0 failed" in lines
    assert "  lab1: deployed device_registry, security_gateway, stt_service; restarted device_registry, stt_service" \
        in lines
    assert any(line.startswith("  lab1 core: 2/2 healthy in") and "slowest security_gateway@lab1 2.0 s (3 attempts)"
               in line for line in lines)
    assert lines[-1] == "totals: deployments 5, successful 5, failed 0, rollbacks 0, duration 20.5 s"


def test_failures_unreachable_and_an_unhealthy_gate():
    d = Driver()
    d.playbook("playbooks/deploy.yml")
    d.play("Phase 3 | voice")
    d.run("lab1", Task("Service | units", UNITS),
          units_result({"alicia-tts_service.service": ["restarted"]}), seconds=1.0)
    d.run("lab1", Task("Service | health gate", GATE),
          gate_result([endpoint("tts_service", "lab1", healthy=False, attempts=12,
                                error="unit alicia-tts_service.service keeps exiting, last exit status=1/FAILURE")],
                      elapsed=11.0), status="failed", seconds=11.0)
    # a gate on lab3 waiting for a dependency on lab1: a failed gate, not a failed deployment on lab3
    d.run("lab3", Task("Service | remote dependencies", GATE),
          gate_result([endpoint("broker_bridge", "lab1", healthy=False, attempts=5, error="connection refused")],
                      elapsed=5.0), status="ignored")
    d.run("lab2", Task("Service | units", UNITS), {"unreachable": True, "msg": "ssh: connect to host lab2 port 22"},
          status="unreachable")
    d.run("lab3", Task("Probe something"), {"failed": True, "msg": "ignored, not a failure"}, status="ignored")
    d.run("lab3", Task("Service | units", UNITS),
          dict(units_result({"alicia-stt_service.service": ["started"]}), failed=True,
               failed_units=["alicia-stt_service.service"], msg="alicia-stt_service.service failed to start"),
          status="failed")
    report = d.end(failures=["lab1", "lab3"], dark=["lab2"])

    assert report["result"] == "failed"
    assert [(f["host"], f["task"], f["phase"], f["unreachable"]) for f in report["failures"]] == [
        ("lab1", "Service | health gate", "voice", False),
        ("lab2", "Service | units", "voice", True),
        ("lab3", "Service | units", "voice", False),
    ]
    assert report["failures"][0]["message"] == "health gate: 1 endpoints unhealthy"
    assert report["failures"][1]["message"] == "ssh: connect to host lab2 port 22"
    gate, remote = report["gates"]
    assert remote["host"] == "lab3" and remote["healthy"] is False and remote["unhealthy"] == ["broker_bridge"]
    assert "broker_bridge" not in report["services"]["lab3"] and "lab1" not in [
        h for h, s in report["services"].items() if "broker_bridge" in s]
    assert gate["healthy"] is False and gate["unhealthy"] == ["tts_service"]
    assert gate["endpoints"] == [{"service": "tts_service", "host": "lab1", "healthy": False, "attempts": 12,
                                  "time_to_healthy": None,
                                  "error": "unit alicia-tts_service.service keeps exiting, "
                                           "last exit status=1/FAILURE"}]
    assert report["services"]["lab1"]["tts_service"]["failed"] is True
    assert report["services"]["lab3"]["stt_service"]["failed"] is True
    assert report["phases"][0]["failed_hosts"] == ["lab1", "lab2", "lab3"]
    totals = report["totals"]
    assert (totals["deployments"], totals["successful"], totals["failed"]) == (2, 0, 2)
    assert (totals["gates"], totals["gates_unhealthy"], totals["task_failures"]) == (2, 2, 3)
    assert (totals["hosts"], totals["hosts_failed"]) == (3, 3)
    lines = d.summary()
    assert lines[0].startswith("deploy.yml: failed in")
    assert "    UNHEALTHY tts_service@lab1 after 12 attempts: unit alicia-tts_service.service keeps exiting, " \
           "last exit status=1/FAILURE" in lines
    assert "  lab2 | Service | units: ssh: connect to host lab2 port 22" in lines
    assert not any("ignored, not a failure" in line for line in lines)


def test_rollbacks_by_name_tag_and_result_key():
    d = Driver()
    d.playbook()
    d.play("Phase 3 | voice", {"alicia_phase": "voice", "alicia_phase_number": 3})
    d.run("lab1", Task("Service | units", UNITS), units_result({"alicia-tts_service.service": ["restarted"]}))
    # by name: two consecutive tasks are one rollback, 2 + 3 s from the first's start
    d.run("lab1", Task("Rollback | tts_service | link back"), {"changed": True}, seconds=2.0)
    d.run("lab1", Task("Phase 3 | voice | rollback tts_service units", UNITS),
          units_result({"alicia-tts_service.service": ["restarted"]}), seconds=3.0)
    d.run("lab1", Task("Service | after"), {"changed": False}, seconds=1.0)
    # by tag, failing: its own rollback
    d.run("lab2", Task("Put back the previous release", tags=["rollback", "voice"]),
          {"failed": True, "msg": "no previous release"}, status="failed", seconds=4.0)
    # by the result key (a fact), with fields kept and others dropped
    d.run("lab3", Task("Record", "ansible.builtin.set_fact"),
          {"ansible_facts": {"alicia_rollback": {"service": "stt_service", "from_version": "1.2.0",
                                                 "to_version": "1.1.0", "reason": "gate failed",
                                                 "token": SECRET}}}, seconds=0.5)
    report = d.end(failures=["lab2"])

    by_host = dict((r["host"], r) for r in report["rollbacks"])
    assert sorted(by_host) == ["lab1", "lab2", "lab3"]
    assert by_host["lab1"] == {"host": "lab1", "phase": "voice", "at": 1.0, "duration": 5.0, "tasks": 2, "ok": True,
                               "services": ["tts_service"], "details": {}}
    assert by_host["lab2"]["ok"] is False and by_host["lab2"]["duration"] == 4.0 and by_host["lab2"]["tasks"] == 1
    assert by_host["lab3"]["details"] == {"service": "stt_service", "from_version": "1.2.0", "to_version": "1.1.0",
                                          "reason": "gate failed"}
    assert by_host["lab3"]["services"] == ["stt_service"]
    # the rollback's restart is not a deployment
    assert report["services"]["lab1"]["tts_service"]["actions"] == ["restarted"]
    assert report["totals"]["deployments"] == 1
    assert (report["totals"]["rollbacks"], report["totals"]["rollbacks_failed"]) == (3, 1)
    lines = d.summary()
    assert "rollbacks: 3, 1 failed" in lines
    assert "  lab1 voice: ok in 5.0 s (tasks 2): tts_service" in lines
    assert "  lab2 voice: FAILED in 4.0 s (tasks 1)" in lines
    assert SECRET not in json.dumps(report)


class Block(object):
    def __init__(self, name, parent=None):
        self.name = name
        self._parent = parent


def test_a_rollback_block_or_include_makes_its_tasks_rollback_tasks():
    d = Driver()
    d.play("Phase 3 | voice")
    outer = Block("Phase 3 | voice", parent=Block(None))
    inner = Block("Rollback | tts_service", parent=outer)
    first, second = Task("Link back"), Task("Service | units", UNITS)
    first._parent = second._parent = inner
    after = Task("Service | after")
    after._parent = outer
    d.run("lab1", first, {"changed": True}, seconds=1.0)
    d.run("lab1", second, units_result({"alicia-tts_service.service": ["restarted"]}), seconds=2.0)
    d.run("lab1", after, {"changed": False})
    report = d.end()
    (rollback,) = report["rollbacks"]
    assert (rollback["tasks"], rollback["duration"], rollback["services"]) == (2, 3.0, ["tts_service"])
    assert report["services"] == {}


def test_a_rollback_still_open_at_the_end_of_the_play_is_closed_there():
    d = Driver()
    d.play("Phase 1 | core")
    d.run("lab1", Task("Rollback | configuration"), {"changed": True}, seconds=2.0)
    d.play("Phase 2 | management", seconds=7.0)
    d.run("lab1", Task("Service | units", UNITS), units_result({}), seconds=1.0)
    report = d.end()
    (rollback,) = report["rollbacks"]
    assert rollback["duration"] == 2.0 and rollback["phase"] == "core"


def test_no_secret_reaches_the_report_or_the_summary(tmp_path):
    d = Driver(output_dir=str(tmp_path))
    d.playbook()
    d.play("Phase 1 | core", {"alicia_phase": "core", "alicia_phase_number": 1, "vault_token": SECRET})
    # a secret in the task's arguments, its environment and the module's invocation, stdout, cmd
    d.run("lab1", Task("Service | units", UNITS, args={"password": SECRET}, environment={"TOKEN": SECRET}),
          dict(units_result({"alicia-configuration.service": ["started"]}),
               invocation={"module_args": {"password": SECRET}}, stdout=SECRET, cmd=["echo", SECRET]))
    # a module result with an env field (a control script's answer), failing with a plain message
    d.run("lab1", Task("Service | manual", "alicia.platform.manual_services", args={"env": {"PASS": SECRET}}),
          {"failed": True, "msg": "manual_services: event_scheduler did not start",
           "actions": {"event_scheduler": ["started"]},
           "services": {"event_scheduler": {"running": False, "env": {"MQTT_PASSWORD": SECRET}}},
           "env": {"MQTT_PASSWORD": SECRET}}, status="failed")
    # no_log results: a censored one as Ansible delivers it, and one still carrying values
    # (its message, a rollback record, a gate) that must not be read either
    d.run("lab1", Task("Service | files", "alicia.platform.files", no_log=True),
          {"failed": True, "censored": "the output has been hidden due to the fact that 'no_log: true' was "
                                       "specified for this result"}, status="failed")
    d.run("lab2", Task("Rollback | secret", GATE, no_log=True),
          dict(gate_result([endpoint(SECRET, "lab2", healthy=False, error=SECRET)], elapsed=1.0),
               msg=SECRET, alicia_rollback={"reason": SECRET}, _ansible_no_log=True), status="failed")
    d.run("lab2", Task("Fact", "ansible.builtin.set_fact"),
          {"ansible_facts": {"alicia_rollback": {"reason": SECRET}}, "_ansible_no_log": True})
    report = d.end(failures=["lab1", "lab2"],
                   custom={"_run": {"alicia_deploy": {"strategy": "direct"}, "other": SECRET}})

    text = json.dumps(report)
    assert SECRET not in text
    assert SECRET not in "\n".join(d.display.lines)
    files = sorted(os.listdir(str(tmp_path)))
    assert files == ["deploy-report-20261206T210005Z-4242.json", "latest.json"]
    for name in files:
        assert SECRET not in (tmp_path / name).read_text()
    # what was recorded instead
    messages = [(f["host"], f["task"], f["message"]) for f in report["failures"]]
    assert messages == [("lab1", "Service | manual", "manual_services: event_scheduler did not start"),
                        ("lab1", "Service | files", dr.HIDDEN),
                        ("lab2", "Rollback | secret", dr.HIDDEN)]
    assert report["gates"] == []  # nothing is extracted from a no_log result
    assert report["custom_stats"] == {"alicia_deploy": {"strategy": "direct"}}
    assert report["services"]["lab1"]["configuration"]["actions"] == ["started"]
    assert report["rollbacks"][0]["details"] == {} and report["rollbacks"][0]["services"] == []


def test_the_summary_never_prints_changed_equals():
    d = Driver()
    d.play("Phase 1 | core")
    d.run("lab1", Task("Service | units", UNITS), units_result({"alicia-a.service": ["restarted"]}))
    d.end()
    assert not any("changed=" in line for line in d.display.lines)


def test_no_io_until_the_end(monkeypatch, tmp_path):
    """Events only add to memory: no file is opened or written before the stats event."""
    d = Driver(output_dir=str(tmp_path / "reports"))
    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("I/O during the run: %r" % (args,))

    monkeypatch.setattr("builtins.open", forbidden)
    monkeypatch.setattr(dr, "write_report", forbidden)
    monkeypatch.setattr(os, "replace", forbidden)
    d.playbook()
    for number in range(1, 7):
        d.play("Phase %d | p%d" % (number, number))
        for host in ("lab1", "lab2", "lab3"):
            d.run(host, Task("Service | units", UNITS), units_result({"alicia-s%d.service" % number: ["started"]}))
            d.run(host, Task("Service | gate", GATE), gate_result([endpoint("s%d" % number, host)], elapsed=0.1))
    assert calls == []
    monkeypatch.undo()
    writes = []
    real = dr.write_report
    monkeypatch.setattr(dr, "write_report", lambda *a, **k: writes.append(a) or real(*a, **k))
    report = d.end()
    assert len(writes) == 1
    assert report["totals"]["deployments"] == 18
    assert json.loads((tmp_path / "reports" / "latest.json").read_text()) == report


# ---------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------

def test_report_files_mode_retention_and_latest(tmp_path):
    directory = tmp_path / "new" / "reports"
    names = [dr.report_name(WALL + n, 100 + n) for n in range(4)]
    assert names[0] == "deploy-report-20261206T210000Z-100.json"
    for n, name in enumerate(names):
        path = dr.write_report(str(directory), {"run": n}, name, keep=2)
        assert path == str(directory / name)
    assert sorted(os.listdir(str(directory))) == sorted(names[2:] + ["latest.json"])
    assert json.loads((directory / "latest.json").read_text()) == {"run": 3}
    for name in os.listdir(str(directory)):
        assert stat.S_IMODE(os.stat(str(directory / name)).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) & 0o007 == 0


def test_report_is_replaced_atomically(tmp_path, monkeypatch):
    """A write that fails leaves the previous file whole and no temporary file behind."""
    dr.write_report(str(tmp_path), {"run": 1}, "deploy-report-1.json")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        dr.write_report(str(tmp_path), {"run": 2}, "deploy-report-2.json")
    assert sorted(os.listdir(str(tmp_path))) == ["deploy-report-1.json", "latest.json"]
    assert json.loads((tmp_path / "latest.json").read_text()) == {"run": 1}


def test_values_json_cannot_encode_are_written_as_text(tmp_path):
    """Custom stats are whatever a playbook's set_stats gave: the report is written anyway."""
    dr.write_report(str(tmp_path), {"custom_stats": {"alicia_deploy": {"hosts": {"lab1"}}}}, "deploy-report-1.json")
    assert json.loads((tmp_path / "latest.json").read_text()) == {"custom_stats": {"alicia_deploy": {"hosts": "{'lab1'}"}}}


def test_an_unwritable_directory_is_a_warning_not_a_failed_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    d = Driver(output_dir=str(blocker / "reports"))
    d.play("Phase 1 | core")
    report = d.end()
    assert report["result"] == "success"
    assert d.display.warnings and "cannot write the report" in d.display.warnings[0]
    assert "totals: deployments 0, successful 0, failed 0, rollbacks 0, duration 0.0 s" in d.display.lines


def test_output_directory(tmp_path, monkeypatch):
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    assert dr.output_directory("") is None
    assert dr.output_directory("  ") is None
    assert dr.output_directory(".cache/deploy-reports", str(config)) == str(tmp_path / ".cache" / "deploy-reports")
    monkeypatch.chdir(str(tmp_path))
    assert dr.output_directory("out", "env: ALICIA_DEPLOY_REPORT_DIR") == str(tmp_path / "out")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dr.output_directory("~/.ansible/deploy-reports", "default") == str(tmp_path / "home" / ".ansible"
                                                                            / "deploy-reports")


def test_ansible_runner_artifact_directory_by_default(monkeypatch, tmp_path):
    d = Driver()
    monkeypatch.setenv("AWX_ISOLATED_DATA_DIR", str(tmp_path / "artifacts" / "7"))
    d.cb._plugin_options["output_dir"] = "~/.ansible/deploy-reports"
    d.cb._origins["output_dir"] = "default"
    assert d.cb._output_dir() == str(tmp_path / "artifacts" / "7" / "deploy-reports")
    d.cb._origins["output_dir"] = "env: ALICIA_DEPLOY_REPORT_DIR"
    d.cb._plugin_options["output_dir"] = str(tmp_path / "mine")
    assert d.cb._output_dir() == str(tmp_path / "mine")


def test_no_summary_when_disabled():
    d = Driver(summary=False)
    d.play("Phase 1 | core")
    d.end()
    assert d.display.lines == []


# ---------------------------------------------------------------------------
# the plain functions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, variables, expected", [
    ("Phase 1 | core", None, ("core", 1)),
    ("Phase 12 | observability | extra", {}, ("observability", 12)),
    ("  Phase 2 |management", {}, ("management", 2)),
    ("Phase 0 | none: import with alicia_phase", {}, (None, None)),
    ("Deploy", {"alicia_phase": "voice", "alicia_phase_number": 3}, ("voice", 3)),
    ("Deploy", {"alicia_phase": "voice", "alicia_phase_number": "3"}, ("voice", 3)),
    ("Phase 3 | voice", {"alicia_phase": "voice"}, ("voice", 3)),
    ("Phase {{ n }} | {{ p }}", {"alicia_phase": "{{ item }}", "alicia_phase_number": "{{ n }}"}, (None, None)),
    ("Deploy", {"alicia_phase": "voice", "alicia_phase_number": "{{ n }}"}, ("voice", None)),
    ("Preflight", {}, (None, None)),
    ("Phased rollout", {}, (None, None)),
    ("", None, (None, None)),
])
def test_phase_of_play(name, variables, expected):
    assert dr.phase_of_play(name, variables) == expected


@pytest.mark.parametrize("name, expected", [
    ("alicia-stt_service.service", "stt_service"),
    ("alicia_stt_service", "stt_service"),
    ("alicia-stt_service", "stt_service"),
    ("event_scheduler", "event_scheduler"),
    ("haproxy.service", "haproxy"),
    ("alicia-", "alicia-"),
])
def test_service_name(name, expected):
    assert dr.service_name(name) == expected


@pytest.mark.parametrize("name, tags, expected", [
    ("Rollback | tts_service", [], True),
    ("rollback tts_service", [], True),
    ("Phase 3 | voice | Rollback: link back", [], True),
    ("Phase 3 | voice | services", [], False),
    ("Phase 3 | voice | services", ["voice", "rollback"], True),
    ("Record the rollbacks of yesterday", [], False),
    (None, None, False),
])
def test_rollback_tasks(name, tags, expected):
    assert dr.is_rollback_task(name, tags) is expected


def test_messages_are_one_bounded_line():
    text = dr.failure_message({"msg": "line one\nline two " + "x" * 500})
    assert "\n" not in text and len(text) == dr.MESSAGE_LIMIT and text.endswith("...")
    assert dr.failure_message({"msg": SECRET, "_ansible_no_log": True}) == dr.HIDDEN
    assert dr.failure_message({}) == "failed"


# ---------------------------------------------------------------------------
# through ansible-playbook and the checkout's ansible.cfg
# ---------------------------------------------------------------------------

# A control script for alicia.platform.manual_services: `ctl <service> <verb> --json`.
# alpha runs (so it is restarted), beta does not (so it is started); its answers
# carry an environment holding the secret, as a careless script might.
CTL = """#!/bin/sh
service="$1"; verb="$2"
case "$service:$verb" in
  alpha:status) echo '{"running": true, "healthy": true, "env": {"MQTT_PASSWORD": "%(secret)s"}}' ;;
  beta:status) echo '{"running": false, "healthy": false, "env": {"MQTT_PASSWORD": "%(secret)s"}}' ;;
  *) echo '{"running": true, "healthy": true, "action": "'"$verb"'ed", "env": {"MQTT_PASSWORD": "%(secret)s"}}' ;;
esac
"""

PLAYBOOK = """
- name: "Phase {{ alicia_phase_number }} | {{ alicia_phase }}"
  hosts: all
  gather_facts: false
  vars: {alicia_phase: core, alicia_phase_number: 1}
  tasks:
    - name: Service | manual instances
      alicia.platform.manual_services:
        services: [alpha, beta]
        restart: [alpha]
        ctl: "%(ctl)s"
      environment:
        ALICIA_TOKEN: "{{ secret }}"
    - name: Service | a command holding the secret in its arguments
      ansible.builtin.command: "echo {{ secret }}"
      changed_when: false
    - name: Service | health gate
      alicia.platform.health_gate:
        endpoints:
          - {url: "%(healthy)s", service: alpha, host: "{{ inventory_hostname }}"}
        interval: 0.1

- name: Phase 3 | voice
  hosts: all
  gather_facts: false
  tasks:
    - name: Service | a no_log task fails with the secret
      ansible.builtin.fail:
        msg: "cannot log in with {{ secret }}"
      no_log: true
      ignore_errors: true
    - name: Rollback | alpha
      ansible.builtin.set_fact:
        alicia_rollback: {service: alpha, reason: "gate failed", password: "{{ secret }}"}
    - name: Rollback | in a block
      block:
        - name: Put the previous release back
          ansible.builtin.debug: {msg: back}
    - name: Service | health gate
      alicia.platform.health_gate:
        endpoints:
          - {url: "%(unhealthy)s", service: beta, host: "{{ inventory_hostname }}"}
        timeout: 0.5
        interval: 0.1
"""


def test_through_ansible_playbook_and_ansible_cfg(tmp_path, run_playbook, http_server, root):
    # the checkout's ansible.cfg enables the callback (and names the directory there)
    with open(os.path.join(root, "ansible.cfg")) as handle:
        config = handle.read()
    assert "alicia.platform.deploy_report" in config.split("callbacks_enabled")[1].splitlines()[0]
    ctl = tmp_path / "ctl"
    ctl.write_text(CTL % {"secret": SECRET})
    ctl.chmod(0o755)
    playbook = tmp_path / "deploy.yml"
    playbook.write_text(PLAYBOOK % {"ctl": ctl, "healthy": http_server.url("/healthy"),
                                    "unhealthy": http_server.url("/unhealthy")})
    reports = tmp_path / "reports"
    # -v: the default callback prints the results, so the secret visibly went through the callbacks
    proc = run_playbook(["-v", "-i", "h1,", "-c", "local", str(playbook), "-e", "secret=%s" % SECRET],
                        python=sys.executable, ALICIA_DEPLOY_REPORT_DIR=str(reports))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = json.loads((reports / "latest.json").read_text())
    (name,) = [n for n in os.listdir(str(reports)) if n.startswith("deploy-report-")]
    assert json.loads((reports / name).read_text()) == report
    assert stat.S_IMODE(os.stat(str(reports / name)).st_mode) == 0o640

    assert report["playbooks"] == ["deploy.yml"] and report["result"] == "failed"
    assert [(p["phase"], p["number"]) for p in report["phases"]] == [("core", 1), ("voice", 3)]
    assert report["services"] == {"h1": {
        "alpha": {"phase": "core", "actions": ["restarted"], "deployed": True, "changed": True, "restarted": True,
                  "failed": False},
        # started in phase core, failed its gate in phase voice
        "beta": {"phase": "core", "actions": ["started"], "deployed": True, "changed": True, "restarted": False,
                 "failed": True},
    }}
    good, bad = report["gates"]
    assert good["healthy"] is True and good["phase"] == "core"
    assert good["endpoints"][0]["service"] == "alpha" and good["endpoints"][0]["attempts"] == 1
    assert isinstance(good["endpoints"][0]["time_to_healthy"], float)
    assert bad["healthy"] is False and bad["phase"] == "voice" and bad["unhealthy"] == ["beta"]
    assert "503" in bad["endpoints"][0]["error"]
    (failure,) = report["failures"]
    assert failure["host"] == "h1" and failure["task"] == "Service | health gate" and failure["phase"] == "voice"
    (rollback,) = report["rollbacks"]
    assert rollback["details"] == {"service": "alpha", "reason": "gate failed"} and rollback["ok"] is True
    assert rollback["tasks"] == 2  # the set_fact and the task of the rollback block
    totals = report["totals"]
    assert (totals["deployments"], totals["successful"], totals["failed"], totals["rollbacks"]) == (2, 1, 1, 1)
    assert (totals["hosts"], totals["hosts_failed"]) == (1, 1)

    summary = proc.stdout[proc.stdout.index("DEPLOYMENT REPORT"):]
    assert "deploy.yml: failed in" in summary
    assert "services: 2 deployed, 2 changed, 1 restarted, 1 failed" in summary
    assert "report: %s" % (reports / name) in summary
    assert "changed=" not in summary
    assert SECRET not in json.dumps(report) and SECRET not in summary
    # the secret did reach the callbacks (so the test means something): in the results printed
    assert SECRET in proc.stdout.split("DEPLOYMENT REPORT")[0]


def test_json_stdout_stays_one_document(tmp_path, run_playbook):
    playbook = tmp_path / "one.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Phase 1 | core
          hosts: all
          gather_facts: false
          tasks:
            - name: Say
              ansible.builtin.debug: {msg: hello}
        """))
    reports = tmp_path / "reports"
    proc = run_playbook(["-i", "h1,", "-c", "local", str(playbook)], ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                        ANSIBLE_CALLBACKS_ENABLED="alicia.platform.deploy_report",
                        ALICIA_DEPLOY_REPORT_DIR=str(reports))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["stats"]["h1"]["ok"] == 1
    assert json.loads((reports / "latest.json").read_text())["phases"][0]["phase"] == "core"
