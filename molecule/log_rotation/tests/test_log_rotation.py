"""Behaviour of alicia.platform.log_rotation: a host in alicia_voice and
alicia_broker, tts_service overridden to reopen on SIGHUP, ai_service daily."""

import base64
import os
import re
import time

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

USER = "alicia"
LOG_DIR = "/var/log/alicia"
VOICE = ["stt_service", "ai_service", "tts_service", "voice_router"]
NOT_HERE = ["security_gateway", "device_manager", "metrics_collector"]
WRITER = "/usr/local/bin/alicia-test-writer"
HERE = os.path.dirname(os.path.abspath(__file__))


def policy(name):
    return "/etc/logrotate.d/alicia-%s" % name


def wait_until(check, timeout=10.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def numbers(text):
    return [int(n) for n in re.findall(r"writer line (\d+)", text)]


def no_nul_bytes(host, path):
    content = host.file(path).content
    return len(content) > 0 and b"\0" not in content


def force_rotate(host, name):
    result = host.run("logrotate -f %s", policy(name))
    assert result.rc == 0, result.stderr


@pytest.fixture
def writer(host):
    """Start stand-in services as transient units alicia-<name>.service."""
    with open(os.path.join(HERE, "writer.py"), "rb") as handle:
        code = base64.b64encode(handle.read()).decode()
    host.check_output("echo %s | base64 -d > %s && chmod 0755 %s", code, WRITER, WRITER)
    started = []

    def start(name, mode):
        log = "%s/%s.log" % (LOG_DIR, name)
        host.check_output(
            "systemd-run --quiet --unit=alicia-%s --description='stand-in %s' "
            "--property=User=%s --property=Group=%s --property=UMask=0027 "
            "/usr/bin/python3 %s %s %s", name, name, USER, USER, WRITER, log, mode)
        started.append(name)
        assert wait_until(lambda: len(numbers(host.file(log).content_string)) >= 5)
        return log

    yield start
    for name in started:
        host.run("systemctl stop alicia-%s.service", name)


def test_logrotate_installed_and_scheduled_hourly(host):
    assert host.package("logrotate").is_installed
    timer = host.service("logrotate.timer")
    assert timer.is_enabled and timer.is_running
    calendar = timer.systemd_properties["TimersCalendar"]
    assert "OnCalendar=*-*-* *:00:00" in calendar


@pytest.mark.parametrize("name", VOICE)
def test_policy_for_each_service_here(host, name):
    conf = host.file(policy(name))
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o644)
    text = conf.content_string
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body[0] == "%s/%s.log {" % (LOG_DIR, name)
    for directive in ("compress", "delaycompress", "maxage 30", "missingok", "su alicia alicia"):
        assert "\n    %s\n" % directive in text, directive
    # logrotate itself accepts it.
    result = host.run("logrotate -d %s", policy(name))
    assert result.rc == 0, result.stderr
    # The live log exists before the service does, with the service's owner and mode.
    log = host.file("%s/%s.log" % (LOG_DIR, name))
    assert (log.user, log.group, log.mode) == (USER, USER, 0o640)


def test_policy_defaults_and_overrides(host):
    stt = host.file(policy("stt_service")).content_string
    assert "\n    size 50M\n" in stt and "\n    rotate 5\n" in stt
    assert "\n    copytruncate\n" in stt and "create" not in stt.split("{")[1]
    tts = host.file(policy("tts_service")).content_string
    assert "\n    create 0640 alicia alicia\n" in tts
    assert "systemctl kill --kill-who=main --signal=HUP alicia-tts_service.service" in tts
    assert "copytruncate\n" not in tts.split("{")[1]
    ai = host.file(policy("ai_service")).content_string
    assert "\n    daily\n    maxsize 10M\n" in ai and "\n    rotate 3\n" in ai


@pytest.mark.parametrize("name", NOT_HERE)
def test_no_policy_for_services_elsewhere(host, name):
    assert not host.file(policy(name)).exists


def test_whole_logrotate_configuration_is_valid(host):
    # No duplicate log entries, no rejected file: what the timer runs.
    result = host.run("logrotate -d /etc/logrotate.conf")
    assert result.rc == 0, result.stderr
    assert "error" not in result.stderr.lower()


def test_copytruncate_rotation_keeps_the_writer_writing(host, writer):
    log = writer("stt_service", "copytruncate")
    force_rotate(host, "stt_service")
    first = host.file(log + ".1")
    assert first.exists and numbers(first.content_string)
    # The writer's O_APPEND descriptor now writes at the start of the
    # truncated file: new lines, no hole of NUL bytes.
    assert wait_until(lambda: len(numbers(host.file(log).content_string)) >= 5)
    assert no_nul_bytes(host, log)
    # Lines written between the copy and the truncation are lost (the
    # copytruncate trade-off); none is duplicated.
    last_archived = max(numbers(host.file(log + ".1").content_string))
    assert min(numbers(host.file(log).content_string)) > last_archived

    force_rotate(host, "stt_service")  # delaycompress: the second rotation compresses
    assert host.run("gzip -t %s.2.gz", log).rc == 0
    assert numbers(host.check_output("zcat %s.2.gz", log))
    live = host.file(log)
    assert (live.user, live.group, live.mode) == (USER, USER, 0o640)
    assert wait_until(lambda: len(numbers(host.file(log).content_string)) >= 5)
    assert host.service("alicia-stt_service").is_running


def test_signal_rotation_reopens_the_log(host, writer):
    log = writer("tts_service", "signal")
    force_rotate(host, "tts_service")
    live = host.file(log)
    # Created by logrotate (create 0640 alicia alicia), then reopened by the
    # service after its SIGHUP: it writes there, no longer to the archive.
    assert (live.user, live.group, live.mode) == (USER, USER, 0o640)
    assert wait_until(lambda: len(numbers(host.file(log).content_string)) >= 5)
    archived = host.file(log + ".1").size
    time.sleep(0.5)
    assert host.file(log + ".1").size == archived

    force_rotate(host, "tts_service")
    assert host.run("gzip -t %s.2.gz", log).rc == 0
    assert wait_until(lambda: len(numbers(host.file(log).content_string)) >= 5)
    assert host.service("alicia-tts_service").is_running
    # Nothing lost: the archives and the live log hold one unbroken sequence.
    seen = numbers(host.check_output("zcat %s.2.gz; cat %s.1 %s", log, log, log))
    assert seen == list(range(1, len(seen) + 1))


def test_broker_policy_replaces_the_packaged_one(host):
    text = host.file("/etc/logrotate.d/mosquitto").content_string
    assert "alicia.platform.log_rotation" in text
    assert "/var/log/mosquitto/mosquitto.log {" in text
    assert "if systemctl is-active --quiet mosquitto.service; then" in text
    assert "nocreate" in text and "su " not in text
    assert host.run("logrotate -d /etc/logrotate.d/mosquitto").rc == 0


def test_broker_log_reopened_after_rotation(host):
    log = "/var/log/mosquitto/mosquitto.log"
    connect = "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 1883)).close()'"
    assert host.service("mosquitto").is_running
    assert wait_until(lambda: host.file(log).size > 0)
    host.check_output("logrotate -f /etc/logrotate.d/mosquitto")
    assert host.file(log + ".1").exists
    # After its SIGHUP, Mosquitto logs to a new live file.
    host.check_output(connect)
    assert wait_until(lambda: host.file(log).exists and "New connection" in host.file(log).content_string)
    assert "New connection" not in host.file(log + ".1").content_string

    # Not running: the guarded postrotate does not fail the rotation.
    host.check_output("systemctl stop mosquitto.service")
    try:
        result = host.run("logrotate -f /etc/logrotate.d/mosquitto")
        assert result.rc == 0, result.stderr
        assert host.run("gzip -t %s.2.gz", log).rc == 0
    finally:
        host.check_output("systemctl start mosquitto.service")
    assert host.service("mosquitto").is_running


def test_journald_limits_in_force(host):
    dropin = host.file("/etc/systemd/journald.conf.d/alicia.conf")
    assert (dropin.user, dropin.mode) == ("root", 0o644)
    assert "SystemMaxUse=500M" in dropin.content_string
    assert "MaxRetentionSec=30day" in dropin.content_string
    # journald was restarted by the handler and reports the new ceiling.
    said = host.check_output(
        "journalctl --no-pager -o cat -u systemd-journald | grep -E '(System|Runtime) Journal' | tail -n 1")
    assert re.search(r"max (500\.0M|100\.0M)", said), said
