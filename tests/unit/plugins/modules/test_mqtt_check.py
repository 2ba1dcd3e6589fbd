# -*- coding: utf-8 -*-
"""mqtt_check against a real Mosquitto (password file + ACL) on 127.0.0.1.

Runs with the controller's paho-mqtt 2.x in-process, and with Debian's
python3-paho-mqtt 1.6 (what lab targets have) in /usr/bin/python3.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.module_utils import mqtt
from ansible_collections.alicia.platform.plugins.modules import mqtt_check

SYSTEM_PYTHON = "/usr/bin/python3"


def check(broker, user="stt_service", password=None, **kwargs):
    kwargs.setdefault("timeout", 2)
    port = kwargs.pop("port", broker.port)
    return mqtt.check("127.0.0.1", port, username=user,
                      password=broker.users.get(user) if password is None else password, **kwargs)


class StepClock(object):
    """A fake clock that moves ``step`` seconds each time it is read, and stops
    the test once read ``limit`` times (a deadline that is never checked would
    otherwise wait forever)."""

    def __init__(self, step, limit=10000):
        self.now, self.step, self.limit, self.reads = 0.0, step, limit, 0

    def __call__(self):
        self.reads += 1
        assert self.reads <= self.limit, "still waiting after %d clock reads: the deadline is not checked" % self.limit
        self.now += self.step
        return self.now


def failure(*args, **kwargs):
    with pytest.raises(mqtt.MqttCheckError) as info:
        check(*args, **kwargs)
    return info.value.kind, str(info.value)


def test_paho_is_2x_in_the_controller_venv():
    assert mqtt.HAS_PAHO and mqtt.PAHO_VERSION.startswith("2.")


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_good_login_round_trip(broker, qos):
    clock = StepClock(0.25)
    result = check(broker, qos=qos, clock=clock, timeout=1000)
    assert result["topic"] == "alicia/stt_service/healthcheck"
    assert result["client_id"].startswith("alicia-check-")
    latency = result["latency"]
    # Each reading of the clock moves it 0.25 s: every span covers at least one
    # reading, and the total is the spans plus the publish between them.
    assert latency["connect"] >= 0.25 and latency["subscribe"] >= 0.25 and latency["round_trip"] >= 0.25
    assert latency["total"] >= latency["connect"] + latency["subscribe"] + latency["round_trip"] + 0.25


def test_bad_password(broker):
    kind, message = failure(broker, password="wrong")
    assert kind == "bad_credentials"
    assert message.startswith("127.0.0.1:%d refused the login for user 'stt_service': " % broker.port)
    assert "bad username or password" in message


def test_unknown_user(broker):
    kind, _message = failure(broker, user="nobody", password="x")
    assert kind == "bad_credentials"


def test_acl_denies_topic_outside_own_tree(broker):
    # The fake clock moves 0.01 s a reading: the wait for the test message ends at
    # the 0.7 s deadline of that clock (about 70 readings), not later.
    clock = StepClock(0.01, limit=200)
    kind, message = failure(broker, topic="alicia/voice_router/healthcheck", timeout=0.7, clock=clock)
    assert kind == "not_authorised"
    assert message.startswith("not authorised: the test message published to 'alicia/voice_router/healthcheck' "
                              "never arrived within 0.7 s")
    assert "user 'stt_service'" in message
    assert 0.7 <= clock.now < 0.7 + 0.02


def test_acl_read_only_account_cannot_publish(broker):
    kind, message = failure(broker, user="readonly", timeout=0.7)
    assert kind == "not_authorised"
    assert "'alicia/readonly/healthcheck'" in message


def test_broker_down(refused_port, broker):
    kind, message = failure(broker, port=refused_port)
    assert kind == "connection_refused"
    assert message == "connection refused by 127.0.0.1:%d: is the broker running?" % refused_port


def test_timeout_when_broker_never_answers(broker, silent_port):
    clock = StepClock(0.01, limit=200)
    kind, message = failure(broker, port=silent_port, timeout=0.5, clock=clock)
    assert kind == "timeout"
    assert message == "timeout after 0.5 s waiting for the CONNACK from 127.0.0.1:%d" % silent_port
    assert 0.5 <= clock.now < 0.5 + 0.02, "the wait ended at the deadline of the clock"


def test_tls_with_ca_file(broker):
    result = check(broker, port=broker.tls_port, tls=True, ca_cert=broker.tls["ca"])
    assert result["topic"] == "alicia/stt_service/healthcheck" and result["latency"]["round_trip"] >= 0


def test_tls_with_wrong_ca(broker):
    kind, message = failure(broker, port=broker.tls_port, tls=True, ca_cert=broker.tls["other_ca"])
    assert kind == "tls"
    assert "certificate verify failed" in message


def test_plain_client_on_tls_listener_is_not_a_success(broker):
    kind, _message = failure(broker, port=broker.tls_port, timeout=0.5)
    assert kind in ("connection_error", "timeout")


# ---------------------------------------------------------------------------
# paho-mqtt 1.6 (Debian bookworm's python3-paho-mqtt, as on lab targets)
# ---------------------------------------------------------------------------

PAHO16_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.alicia.platform.plugins.module_utils import mqtt
args = json.loads(sys.argv[2])
out = {"version": mqtt.PAHO_VERSION, "cases": {}}
for name, kwargs in args["cases"].items():
    try:
        out["cases"][name] = {"ok": mqtt.check("127.0.0.1", **kwargs)}
    except mqtt.MqttCheckError as exc:
        out["cases"][name] = {"kind": exc.kind, "msg": str(exc)}
print(json.dumps(out))
"""


def test_paho_16_from_debian(broker, refused_port, root):
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import paho.mqtt; print(paho.mqtt.__version__)"],
                           capture_output=True, text=True)
    assert probe.returncode == 0, ("Debian's python3-paho-mqtt is missing from %s: run scripts/host-tools.sh"
                                   % SYSTEM_PYTHON)
    assert probe.stdout.startswith("1.6")
    user, password = "stt_service", broker.users["stt_service"]
    base = {"port": broker.port, "username": user, "timeout": 0.7}
    cases = {
        "good": dict(base, password=password),
        "bad_password": dict(base, password="wrong"),
        "acl": dict(base, password=password, topic="alicia/other/healthcheck"),
        "down": dict(base, password=password, port=refused_port),
        "tls": dict(base, password=password, port=broker.tls_port, tls=True, ca_cert=broker.tls["ca"]),
    }
    proc = subprocess.run([SYSTEM_PYTHON, "-c", PAHO16_SCRIPT, os.path.join(root, ".collections"),
                           json.dumps({"cases": cases})], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["version"].startswith("1.6")
    results = out["cases"]
    assert results["good"]["ok"]["topic"] == "alicia/stt_service/healthcheck"
    assert results["tls"]["ok"]["topic"] == "alicia/stt_service/healthcheck"
    assert results["bad_password"]["kind"] == "bad_credentials"
    assert "(CONNACK 5)" in results["bad_password"]["msg"]
    assert results["acl"]["kind"] == "not_authorised"
    assert results["down"]["kind"] == "connection_refused"


# ---------------------------------------------------------------------------
# the module's main()
# ---------------------------------------------------------------------------

def run_main(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            mqtt_check.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def test_main_success(capsys, broker):
    code, out = run_main(capsys, {"host": "127.0.0.1", "port": broker.port, "username": "stt_service",
                                  "password": broker.users["stt_service"], "timeout": 2})
    assert code == 0
    assert out["ok"] is True and out["changed"] is False and out["failure"] is None
    assert out["topic"] == "alicia/stt_service/healthcheck"
    assert set(out["latency"]) == {"connect", "subscribe", "round_trip", "total"}
    assert broker.users["stt_service"] not in json.dumps(out)


def test_main_failures_are_distinct(capsys, broker, refused_port):
    code, out = run_main(capsys, {"port": broker.port, "username": "stt_service", "password": "wrong"})
    assert (code, out["failure"]) == (1, "bad_credentials")
    assert out["msg"].startswith("mqtt_check: 127.0.0.1:%d refused the login for user 'stt_service'" % broker.port)
    code, out = run_main(capsys, {"port": refused_port, "username": "stt_service", "password": "x"})
    assert (code, out["failure"]) == (1, "connection_refused")


def test_main_check_mode_reports_without_failing(run_module_file, refused_port):
    code, out = run_module_file("mqtt_check", {"port": refused_port, "_ansible_check_mode": True})
    assert code == 0
    assert out["ok"] is False and out["failure"] == "connection_refused" and "failed" not in out
    assert "check mode: mqtt_check: connection refused" in json.dumps(out["warnings"])


def test_main_missing_library_in_a_python_without_paho(run_module_file, tmp_path):
    """A Python without paho-mqtt (a fresh venv without site packages)."""
    venv = tmp_path / "nopaho"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The module needs ansible's module_utils (shipped by AnsiballZ on a real target).
    import ansible
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    os.symlink(os.path.dirname(ansible.__file__), os.path.join(site, "ansible"))
    code, out = run_module_file("mqtt_check", {"port": 1}, python=str(venv / "bin" / "python"))
    assert code == 1
    assert out["failure"] == "missing_library"
    assert "Failed to import the required Python library (paho-mqtt (Debian: python3-paho-mqtt))" in out["msg"]


# ---------------------------------------------------------------------------
# end to end: ansible-playbook runs the module with both paho versions
# ---------------------------------------------------------------------------

PLAYBOOK = """
- name: mqtt_check end to end
  hosts: all
  gather_facts: false
  tasks:
    - name: Round trip with a service account
      alicia.platform.mqtt_check:
        port: "{{ port }}"
        username: stt_service
        password: "{{ password }}"
        timeout: 3
      register: good
      no_log: true
    - name: Not authorised outside its own tree
      alicia.platform.mqtt_check:
        port: "{{ port }}"
        username: stt_service
        password: "{{ password }}"
        topic: alicia/voice_router/healthcheck
        timeout: 0.5
      register: denied
      ignore_errors: true
    - name: Record
      ansible.builtin.copy:
        content: "{{ {'good': good, 'denied': denied} | to_json }}"
        dest: "{{ out }}/{{ inventory_hostname }}.json"
        mode: "0600"
"""


def test_end_to_end_with_ansible_playbook(tmp_path, broker, run_playbook):
    """Two "hosts" on this machine, both local: one runs the module (AnsiballZ)
    with the venv's Python and paho 2.x, the other with Debian's Python and
    python3-paho-mqtt 1.6, as a lab target does."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("venv_paho2 ansible_connection=local ansible_python_interpreter=%s\n"
                         "debian_paho16 ansible_connection=local ansible_python_interpreter=%s\n"
                         % (sys.executable, SYSTEM_PYTHON))
    extra = json.dumps({"port": broker.port, "password": broker.users["stt_service"], "out": str(tmp_path)})
    proc = run_playbook(["-i", str(inventory), "-e", extra, str(playbook)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert broker.users["stt_service"] not in proc.stdout + proc.stderr
    for host, version in (("venv_paho2", "2."), ("debian_paho16", "1.6")):
        data = json.loads((tmp_path / (host + ".json")).read_text())
        assert data["good"]["ok"] is True, host
        assert data["good"]["paho_version"].startswith(version), host
        assert data["denied"]["failed"] is True and data["denied"]["failure"] == "not_authorised", host
        assert data["denied"]["paho_version"].startswith(version), host
