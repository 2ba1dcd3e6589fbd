# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/discover.yml run by ansible-playbook against a real Mosquitto on
127.0.0.1 with the broker role's ACL (conftest.catalogue_acl). Host lab1
(local connection, Debian's /usr/bin/python3 with paho-mqtt 1.6, as on
targets) is the broker host. Reads as a registry reader, cleans up as the
administrator."""

import json
import time

import paho.mqtt.client as mqtt
import yaml

from conftest import ADMIN, SYSTEM_PYTHON, password_for

LIVE = "alicia/registry/tts_service/tts-primary"
STALE = "alicia/registry/stt_service/stt_service"


def publish_retained(bus, topic, document):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(*ADMIN)
    client.connect("127.0.0.1", bus.port, 30)
    client.loop_start()
    client.publish(topic, json.dumps(document) if document is not None else b"", qos=1, retain=True) \
        .wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def setup(tmp_path, bus, reader_password=None):
    catalogue = {"mqtt_broker": {"kind": "broker", "phase": "core", "group": "alicia_broker", "port": bus.port},
                 "stt_service": {"phase": "voice", "port": 8001}, "tts_service": {"phase": "voice", "port": 8003}}
    inventory = {"all": {
        "vars": {"catalogue_services": catalogue, "broker_monitor_username": "discovery_service",
                 "broker_monitor_password": reader_password or password_for("discovery_service"),
                 "broker_admin_username": ADMIN[0], "broker_admin_password": ADMIN[1]},
        "children": {"alicia": {"children": {"alicia_broker": {"hosts": {"lab1": {
            "ansible_connection": "local", "ansible_python_interpreter": SYSTEM_PYTHON}}}}}},
    }}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    now = time.time()
    publish_retained(bus, LIVE, {"service": "tts_service", "instance": "tts-primary", "host": "voice1", "port": 9000,
                                 "version": "1.0.0", "state": "running", "timestamp": now - 5})
    publish_retained(bus, STALE, {"service": "stt_service", "instance": "stt_service", "host": "voice2",
                                  "port": 8001, "version": "1.0.0", "state": "running", "timestamp": now - 400})
    return str(path)


def discover(run_playbook, inventory, tmp_path, *args):
    output = tmp_path / ("registry-%d.json" % time.monotonic_ns())
    result = run_playbook(["-i", inventory, "playbooks/discover.yml", "-e", "registry_output=%s" % output,
                           "-e", "registry_wait=5"] + list(args))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return json.loads(output.read_text()), result.stdout


def test_discover_lists_and_cleanup_clears_only_the_stale_entries(tmp_path, bus, run_playbook):
    inventory = setup(tmp_path, bus)
    document, out = discover(run_playbook, inventory, tmp_path)
    rows = dict((row["topic"], row) for row in document["entries"])
    assert sorted(rows) == [STALE, LIVE]
    assert rows[LIVE]["stale"] is False and rows[LIVE]["host"] == "voice1" and 5 <= rows[LIVE]["heartbeat_age"] < 300
    assert rows[STALE]["stale"] is True and document["stale"] == [STALE]
    assert "2 registered, 1 stale (no heartbeat for more than 300 s)" in out

    document, out = discover(run_playbook, inventory, tmp_path, "--tags", "cleanup", "--check")
    assert "1 would be cleared: %s" % STALE in out

    # Check mode cleared nothing (both are still there), and the stale period is configurable:
    # 600 s keeps the 400 s-old entry.
    document, out = discover(run_playbook, inventory, tmp_path, "--tags", "cleanup", "-e", "registry_stale_after=600")
    assert "2 registered, 0 stale" in out and document["stale"] == []

    document, out = discover(run_playbook, inventory, tmp_path, "--tags", "cleanup")
    assert "1 cleared: %s" % STALE in out
    document, out = discover(run_playbook, inventory, tmp_path)
    assert [row["topic"] for row in document["entries"]] == [LIVE]
    for secret in (ADMIN[1], password_for("discovery_service")):
        assert secret not in out


def test_a_refused_login_fails_the_run_naming_it(tmp_path, bus, run_playbook):
    inventory = setup(tmp_path, bus, reader_password="wrong")
    result = run_playbook(["-i", inventory, "playbooks/discover.yml"])
    assert result.returncode != 0
    assert "refused the login of 'discovery_service'" in result.stdout
    assert "wrong" not in result.stdout.replace("wrong password", "")
