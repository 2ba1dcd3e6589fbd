# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reference service (roles/service/files/alicia_reference_service.py) as a
real process against a real Mosquitto whose ACLs come from the catalogue.

Every behavioural test runs twice: under the controller's venv (paho-mqtt
2.x) and under /usr/bin/python3 with Debian's python3-paho-mqtt 1.6, as on
Debian 12 targets. Waits are bounded polls (conftest.DEADLINE), never fixed
sleeps; nothing asserts on timings. The broker's ACLs are the catalogue's, and
Mosquitto silently drops publishes they deny: every message a test receives
from the service also proves the topic is inside the service's grant.
"""

import ast
import importlib.util
import json
import os
import re
import signal
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "roles", "service", "files", "alicia_reference_service.py")
REQUIRED = ["SERVICE_NAME", "SERVICE_PORT", "SERVICE_VERSION", "ENVIRONMENT", "MQTT_BROKER", "MQTT_PORT",
            "MQTT_USERNAME", "MQTT_PASSWORD"]
HEALTH_FIELDS = {"status", "service", "instance", "version", "broker_connected", "uptime_s", "environment",
                 "settings"}


def status_topic(name):
    return "alicia/%s/status" % name


def password_for(name):
    return "%s-secret" % name  # as the bus fixture sets them


def assert_log_lines(service):
    """Every stdout line is one log record: "<UTC time> <LEVEL> <service>[<pid>] <message>"."""
    line_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                         r"%s\[%d\] \S" % (re.escape(service.name), service.proc.pid))
    lines = service.log().splitlines()
    assert lines
    for line in lines:
        assert line_re.match(line), line


def sample(metrics, name, **labels):
    for (metric, found), value in metrics.items():
        if metric == name and set(labels.items()) <= set(found):
            return value
    raise AssertionError("no sample %s%r in %r" % (name, labels, sorted(metrics)))


# ---------------------------------------------------------------------------
# The file itself
# ---------------------------------------------------------------------------

def test_the_script_is_executable_stdlib_and_paho_only():
    with open(SCRIPT) as handle:
        source = handle.read()
    assert os.access(SCRIPT, os.X_OK)
    assert source.startswith("#!/usr/bin/python3\n")
    assert "GNU General Public License v3.0+" in source.split("\n\n", 1)[0]
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"paho"}


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

def test_health_ready_and_other_paths(start_service, python):
    service = start_service("stt_service")
    document = service.wait_health("healthy")
    assert set(document) == HEALTH_FIELDS
    assert document["service"] == "stt_service" and document["version"] == "1.2.3"
    assert document["instance"] == "stt_service" and document["settings"] == {}
    assert document["environment"] == "test" and document["broker_connected"] is True
    assert isinstance(document["uptime_s"], float) and document["uptime_s"] >= 0

    status, ready = service.get_json("/ready")
    assert status == 200 and ready["status"] == "healthy" and set(ready) == HEALTH_FIELDS
    status, missing = service.get_json("/nope?x=1")
    assert status == 404 and missing["error"] == "not found" and missing["path"] == "/nope"
    status, headers, body = service.request("/health", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD" and json.loads(body)["error"] == "method not allowed"
    status, headers, body = service.request("/health", method="HEAD")
    assert status == 200 and body == "" and int(headers["content-length"]) > 0

    log = service.log()
    assert 'access 127.0.0.1 "GET /health HTTP/1.1" 200 ' in log
    assert 'access 127.0.0.1 "GET /nope?x=1 HTTP/1.1" 404 ' in log
    paho = python[1]
    assert "paho-mqtt %s" % paho in log and paho.split(".")[0] in ("1", "2")
    assert password_for("stt_service") not in log
    assert_log_lines(service)
    assert service.stderr() == ""


def test_metrics_count_requests_and_messages(start_service, watch, bus):
    service = start_service("ai_service")
    watcher = watch("alicia/ai_service/response")
    service.wait_health("healthy")
    before = service.metrics()
    for path in ("/health", "/health", "/health", "/ready", "/nope"):
        service.request(path)
    watcher.publish("alicia/ai_service/command", json.dumps({"action": "ping"}))
    watcher.wait("alicia/ai_service/response")
    after = service.metrics()

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("alicia_http_requests_total", service="ai_service", path="/health") == 3
    assert delta("alicia_http_requests_total", path="/ready") == 1
    assert delta("alicia_http_requests_total", path="other") == 1
    assert delta("alicia_http_requests_total", path="/metrics") == 1  # the scrape counts itself
    assert delta("alicia_http_errors_total") == 1  # the 404
    assert delta("alicia_mqtt_messages_received_total") == 1
    assert delta("alicia_mqtt_messages_published_total") >= 1  # the response (and maybe a heartbeat)
    assert sample(after, "alicia_mqtt_messages_published_total") >= 3  # online, discovery, first heartbeat
    assert sample(after, "alicia_mqtt_connected", service="ai_service") == 1
    assert sample(after, "alicia_healthy") == 1
    assert sample(after, "alicia_mqtt_connects_total") == 1
    assert sample(after, "alicia_uptime_seconds") >= sample(before, "alicia_uptime_seconds") > 0
    assert sample(after, "alicia_service_info", service="ai_service", version="1.2.3", environment="test") == 1
    assert all(dict(labels)["service"] == "ai_service" for _name, labels in after)


# ---------------------------------------------------------------------------
# MQTT
# ---------------------------------------------------------------------------

def test_online_retained_discovery_and_heartbeat(start_service, watch):
    name = "tts_service"
    watcher = watch(status_topic(name), "alicia/health/%s" % name, "alicia/discovery/%s" % name)
    service = start_service(name, HEARTBEAT_INTERVAL="0.2")
    watcher.wait(status_topic(name), "online")
    beats = watcher.wait_count("alicia/health/%s" % name, 3)
    for _topic, payload, retain in beats:
        beat = json.loads(payload)
        assert not retain
        assert beat["service"] == name and beat["status"] == "healthy" and beat["broker_connected"] is True
        assert beat["version"] == "1.2.3" and beat["pid"] == service.proc.pid and "timestamp" in beat
    discovery = json.loads(watcher.wait("alicia/discovery/%s" % name)[1])
    assert discovery["port"] == service.port and discovery["health"] == "/health"
    assert discovery["command_topic"] == "alicia/%s/command" % name

    late = watch(status_topic(name), "alicia/discovery/%s" % name)  # subscribes after the fact
    assert late.wait(status_topic(name)) == (status_topic(name), "online", True)
    assert late.wait("alicia/discovery/%s" % name)[2] is True


def test_instance_and_its_settings_file(start_service, watch, tmp_path):
    """A multi-instance service's instance: its name and settings (seed 004's
    TTS engine settings) in /health, the heartbeat, discovery and each log
    line; the file's log_level and health_check_interval win over the
    environment's LOG_LEVEL and HEARTBEAT_INTERVAL."""
    name = "tts_service"
    settings = {"engine_type": "coqui", "enable_coqui": True, "coqui_model": "tts_models/en/ljspeech/vits",
                "log_level": "DEBUG", "health_check_interval": 0.2}
    config = tmp_path / "tts-primary.json"
    config.write_text(json.dumps(settings))
    watcher = watch("alicia/health/%s" % name, "alicia/discovery/%s" % name)
    service = start_service(name, SERVICE_INSTANCE="tts-primary", SERVICE_CONFIG=str(config),
                            LOG_LEVEL="ERROR", HEARTBEAT_INTERVAL="60")
    document = service.wait_health("healthy")
    assert (document["service"], document["instance"]) == (name, "tts-primary")
    assert document["settings"] == settings
    beats = watcher.wait_count("alicia/health/%s" % name, 3)   # every 0.2 s, not 60
    assert all(json.loads(payload)["instance"] == "tts-primary" for _topic, payload, _retain in beats)
    assert json.loads(watcher.wait("alicia/discovery/%s" % name)[1])["instance"] == "tts-primary"
    log = service.log()
    assert " DEBUG tts-primary[%d] " % service.proc.pid in log      # log_level DEBUG, not ERROR
    assert "instance tts-primary" in log


def test_pid_file_written_once_listening_and_removed_on_a_clean_stop(start_service, tmp_path):
    pid_file = tmp_path / "tts-primary.pid"
    service = start_service("tts_service", SERVICE_INSTANCE="tts-primary", SERVICE_PID_FILE=str(pid_file))
    service.wait_health("healthy")
    assert pid_file.read_text() == "%d\n" % service.proc.pid
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    service.signal(signal.SIGTERM)
    assert service.wait_exit() == 0
    assert not pid_file.exists()


def test_a_pid_file_it_cannot_write_is_a_startup_failure(start_service, tmp_path):
    pid_file = tmp_path / "missing-directory" / "tts-primary.pid"
    service = start_service("tts_service", SERVICE_PID_FILE=str(pid_file), MQTT_PORT="1883")
    assert service.wait_exit() == 1
    assert "cannot write the pid file %s" % pid_file in service.log()
    assert not service.listening()


@pytest.mark.parametrize("content, problem", [
    ("not json", "cannot be read as JSON"),
    ("[1, 2]", "must hold a JSON object, got list"),
    ('{"engine": {"type": "coqui"}}', "setting 'engine' must be a scalar, got dict"),
    (None, "cannot be read as JSON"),
])
def test_bad_settings_file_exits_2_naming_it(start_service, tmp_path, content, problem):
    config = tmp_path / "settings.json"
    if content is not None:
        config.write_text(content)
    stderr = run_with_bad_env(start_service, SERVICE_CONFIG=str(config))
    assert "SERVICE_CONFIG %s" % config in stderr and problem in stderr


def test_commands_are_answered(start_service, watch):
    name = "voice_router"
    watcher = watch("alicia/%s/response" % name)
    service = start_service(name)
    service.wait_health("healthy")
    command = "alicia/%s/command" % name

    def ask(payload):
        since = watcher.mark()
        watcher.publish(command, payload)
        return json.loads(watcher.wait("alicia/%s/response" % name, since=since)[1])

    assert ask(json.dumps({"action": "ping", "id": 7})) == {"service": name, "action": "ping", "id": 7, "ok": True,
                                                            "result": "pong", "instance": name, "version": "1.2.3"}
    health = ask(json.dumps({"action": "health"}))
    assert health["ok"] is True and health["result"]["status"] == "healthy"
    unknown = ask(json.dumps({"action": "reboot"}))
    assert unknown["ok"] is False and '"reboot"' in unknown["error"] and unknown["actions"] == ["health", "ping"]
    assert ask("not json {")["ok"] is False
    assert ask(json.dumps([1, 2]))["error"] == "invalid command: not a JSON object"
    assert service.running and service.get_json("/health")[1]["status"] == "healthy"
    assert 'command "ping" on alicia/voice_router/command: ok (id 7, voice_router 1.2.3)' in service.log()


def test_broker_outage_unhealthy_then_reconnects(start_service, bus, watch):
    service = start_service("device_manager")
    service.wait_health("healthy")
    bus.stop()
    down = service.wait_health("unhealthy")
    assert down["broker_connected"] is False
    status, ready = service.get_json("/ready")
    assert status == 503 and ready["status"] == "unhealthy"
    assert sample(service.metrics(), "alicia_mqtt_connected") == 0
    assert service.running
    service.wait_log("lost the broker connection")

    bus.start()  # same port
    up = service.wait_health("healthy")
    assert up["broker_connected"] is True and service.get_json("/ready")[0] == 200
    assert sample(service.metrics(), "alicia_mqtt_connects_total") == 2
    # The new broker has no retained messages: the service announced itself again.
    watcher = watch(status_topic("device_manager"))
    assert watcher.wait(status_topic("device_manager")) == (status_topic("device_manager"), "online", True)


def test_broker_down_at_start_then_up(start_service, bus):
    bus.stop()
    service = start_service("ha_bridge")
    document = service.wait_health("unhealthy")
    assert document["broker_connected"] is False
    assert service.get_json("/ready")[0] == 503
    bus.start()
    service.wait_health("healthy")
    assert service.get_json("/ready")[0] == 200


def test_wrong_password_is_unhealthy_not_a_crash(start_service):
    secret = "wrong-Pa55word-never-logged"
    service = start_service("sonos_service", MQTT_PASSWORD=secret)
    document = service.wait_health("unhealthy")
    assert document["broker_connected"] is False and service.get_json("/ready")[0] == 503
    service.wait_log("refused the login of user 'sonos_service'", count=2)  # and it keeps retrying
    assert service.running
    assert secret not in service.log() and secret not in service.stderr()
    assert "ERROR" in [line.split()[1] for line in service.log().splitlines() if "refused the login" in line]


# ---------------------------------------------------------------------------
# Signals and the last will
# ---------------------------------------------------------------------------

def test_sigkill_leaves_the_last_will(start_service, watch):
    name = "device_control"
    watcher = watch(status_topic(name))
    service = start_service(name)
    watcher.wait(status_topic(name), "online")
    since = watcher.mark()
    service.kill()
    assert watcher.wait(status_topic(name), "offline", since=since)[1] == "offline"
    late = watch(status_topic(name))
    assert late.wait(status_topic(name)) == (status_topic(name), "offline", True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_exits_0_and_says_offline(start_service, watch, signum):
    name = "grok_integration"
    watcher = watch(status_topic(name))
    service = start_service(name)
    service.wait_health("healthy")
    watcher.wait(status_topic(name), "online")

    service.signal(signal.SIGHUP)  # logrotate may send it: logged, nothing else
    service.wait_log("SIGHUP received")
    assert service.running and service.get_json("/health")[1]["status"] == "healthy"

    since = watcher.mark()
    service.signal(signum)
    assert service.wait_exit() == 0
    watcher.wait(status_topic(name), "offline", since=since)
    late = watch(status_topic(name))
    assert late.wait(status_topic(name)) == (status_topic(name), "offline", True)
    log = service.log()
    assert "%s received: stopping" % signum.name in log and log.rstrip().endswith("stopped")
    assert not service.listening()
    assert_log_lines(service)


# ---------------------------------------------------------------------------
# Configuration errors
# ---------------------------------------------------------------------------

def run_with_bad_env(start_service, **env):
    env.setdefault("MQTT_PORT", "1883")  # never reached: no broker needed
    service = start_service("stt_service", **env)
    assert service.wait_exit() == 2
    stderr = service.stderr()
    assert stderr.count("\n") == 1 and stderr.startswith("alicia_reference_service: configuration error: ")
    assert service.log() == ""
    assert password_for("stt_service") not in stderr
    return stderr


@pytest.mark.parametrize("variable", REQUIRED)
def test_missing_required_env_exits_2_naming_it(start_service, variable):
    stderr = run_with_bad_env(start_service, **{variable: None})
    assert "missing required environment variable: %s" % variable in stderr


def test_all_missing_variables_are_named_on_one_line(start_service):
    stderr = run_with_bad_env(start_service, **dict((name, None) for name in REQUIRED))
    assert "missing required environment variables: %s\n" % ", ".join(REQUIRED) in stderr


@pytest.mark.parametrize("variable, value", [
    ("SERVICE_PORT", "http"),
    ("SERVICE_PORT", "70000"),
    ("MQTT_PORT", "0"),
    ("SERVICE_NAME", "stt/#"),
    ("SERVICE_INSTANCE", "tts primary"),
    ("LOG_LEVEL", "LOUD"),
    ("HEARTBEAT_INTERVAL", "0"),
    ("MQTT_KEEPALIVE", "1"),
    ("ALICIA_FAULT_UNHEALTHY", "maybe"),
    ("ALICIA_FAULT_START_DELAY", "-1"),
    ("ALICIA_FAULT_EXIT_AFTER", "soon"),
    ("ALICIA_FAULT_EXIT_WITHOUT_BROKER", "0"),
])
def test_invalid_env_exits_2_naming_it(start_service, variable, value):
    stderr = run_with_bad_env(start_service, **{variable: value})
    assert ": %s must be " % variable in stderr and repr(value) in stderr


# ---------------------------------------------------------------------------
# Fault hooks
# ---------------------------------------------------------------------------

def test_fault_fail_at_start(start_service):
    service = start_service("load_balancer", ALICIA_FAULT_FAIL_AT_START="1")
    assert service.wait_exit() == 1
    assert "ALICIA_FAULT_FAIL_AT_START" in service.stderr()
    assert "fault: failing at start" in service.log()
    assert not service.listening()


def test_fault_start_delay(start_service):
    service = start_service("multi_language", ALICIA_FAULT_START_DELAY="1")
    service.wait_log("fault: delaying the HTTP listener by 1.0 s")
    assert service.running and not service.listening()
    service.wait_health("healthy")
    assert service.log().index("delaying the HTTP listener") < service.log().index("HTTP listening on")


def test_fault_unhealthy(start_service, watch):
    name = "personality_system"
    watcher = watch("alicia/health/%s" % name)
    service = start_service(name, ALICIA_FAULT_UNHEALTHY="1")
    beat = json.loads(watcher.wait("alicia/health/%s" % name)[1])  # published once connected
    assert beat["status"] == "unhealthy" and beat["broker_connected"] is True
    status, document = service.get_json("/health")
    assert status == 200 and document["status"] == "unhealthy" and document["broker_connected"] is True
    assert service.get_json("/ready")[0] == 503
    assert sample(service.metrics(), "alicia_healthy") == 0


def test_fault_exit_after_is_a_crash_with_last_will(start_service, watch):
    name = "event_scheduler"
    watcher = watch(status_topic(name))
    service = start_service(name, ALICIA_FAULT_EXIT_AFTER="1")
    watcher.wait(status_topic(name), "online")
    since = watcher.mark()
    assert service.wait_exit() == 3
    assert "fault: exiting with code 3" in service.log()
    watcher.wait(status_topic(name), "offline", since=since)  # the broker's last will


def test_fault_exit_without_broker_exits_3_once_the_broker_is_gone_that_long(start_service, bus):
    service = start_service("sonos_service", ALICIA_FAULT_EXIT_WITHOUT_BROKER="1")
    service.wait_health("healthy")
    # Connected: the watch never fires (it waits on the connection, not on time).
    service.wait_log("fault: exiting when the broker is out of reach for 1.0 s")
    assert service.running
    bus.stop()
    assert service.wait_exit() == 3
    assert "no broker connection for 1.0 s (ALICIA_FAULT_EXIT_WITHOUT_BROKER)" in service.log()


def test_fault_exit_without_broker_at_start(start_service, bus):
    bus.stop()
    service = start_service("ha_bridge", ALICIA_FAULT_EXIT_WITHOUT_BROKER="1")
    assert service.wait_exit() == 3
    assert "no broker connection for 1.0 s" in service.log()


class _Clock(object):
    """A clock the watch reads, advanced by the test's fake stop event."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Stop(object):
    """stop.wait(poll): advance the clock by one poll, apply the scripted connection state; True ends the watch."""

    def __init__(self, clock, state, script):
        self.clock, self.state, self.script = clock, state, list(script)

    def wait(self, poll):
        self.clock.now += 1.0
        if not self.script:
            return True
        self.state["connected"] = self.script.pop(0)
        return False


@pytest.mark.parametrize("script, exits", [
    ([False, False, False], True),                   # never connected: 3 s down >= 3 s
    ([True, False, False, True, False, False], False),  # each outage 2 s, reset by the reconnect
    ([True, True, True], False),                     # connected all along
])
def test_exit_without_broker_counts_only_continuous_outages(script, exits):
    spec = importlib.util.spec_from_file_location("alicia_reference_service_watch", SCRIPT)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    clock = _Clock()
    state = {"connected": False}
    state["stop"] = _Stop(clock, state, script)
    exited = []
    result = reference.exit_without_broker(state, 3.0, poll=1.0, clock=clock, exit_=exited.append)
    assert result is exits
    assert exited == ([3] if exits else [])
