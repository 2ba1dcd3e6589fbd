"""The service registry on the three-host platform (issue 16 §3, seed 004):
every deployed instance registers itself as a retained MQTT entry
(alicia/registry/<service>/<instance>) and refreshes it with each heartbeat;
playbooks/discover.yml lists what runs where with each heartbeat's age;
--tags cleanup clears the entries silent for the stale period (and only
reports in check mode); a clean stop (what teardown and rollback do)
deregisters an instance, and its start registers it again.

Leaves the platform as it found it (the stopped unit started again, the fake
stale entry cleared).
"""

import json
import os
import sys
import tempfile
import time

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (  # noqa: E402
    docker_write, get_host, health_by_port, resolved_catalogue, run_playbook, wait_until)
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CATALOGUE = resolved_catalogue(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml"))
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
BROKER, APP1, APP2 = ("alicia-multihost-%s" % n for n in ("broker", "app1", "app2"))
LAYOUT = {APP1: ["alicia_core", "alicia_management", "alicia_voice"],
          APP2: ["alicia_devices", "alicia_advanced", "alicia_observability"]}
# A service on app2 that nothing on the platform requires: stopped and started again here.
STOPPED = "metrics_collector"
STALE = "alicia/registry/ghost_service/ghost-1"


def host_of(service):
    [name] = [h for h, groups in LAYOUT.items() if CATALOGUE[service]["group"] in groups]
    return name


def live_slot(service):
    """The live slot of a blue-green service, from the balancer's slots map on its host."""
    text = get_host(host_of(service)).file("/etc/haproxy/alicia-slots.map").content_string
    [backend] = [line.split()[1] for line in text.splitlines()
                 if line.strip() and not line.startswith("#") and line.split()[0] == service]
    return backend[len(service) + 1:]


def expected():
    """(service, instance) -> (host, port) of every deployed instance."""
    found = {}
    for name, entry in CATALOGUE.items():
        if entry["kind"] != "service":
            continue
        if entry.get("slot_list"):
            # Blue-green: the live slot registers, on the published port.
            found[(name, "%s-%s" % (name, live_slot(name)))] = (host_of(name), entry["port"])
            continue
        for inst in entry["instance_list"] or [{"name": name, "listen_port": entry["listen_port"]}]:
            found[(name, inst["name"])] = (host_of(name), inst["listen_port"])
    return found


def playbook(name, *args):
    """ansible-playbook playbooks/<name> on the scenario's inventory: (rc, output)."""
    return run_playbook(os.path.join(PROJECT, "playbooks", name), *args, inventory=INVENTORY, timeout=600)


def discover(*args):
    """discover.yml's entries, by (service, instance), and its output."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "registry.json")
        rc, out = playbook("discover.yml", "-e", "registry_output=%s" % path, *args)
        assert rc == 0, out[-3000:]
        with open(path) as handle:
            document = json.load(handle)
    return dict(((e["service"], e["instance"]), e) for e in document["entries"]), document, out


# Publishes a retained entry as the broker's administrator (password from a 0600 file).
PUBLISH = r"""
import json, sys, time
import paho.mqtt.client as mqtt
topic, payload, password_file = sys.argv[1], sys.argv[2], sys.argv[3]
c = mqtt.Client(client_id="alicia-test-registry-%s" % time.time())
with open(password_file) as handle:
    c.username_pw_set("alicia_admin", handle.read())
c.connect("127.0.0.1", 1883, 10)
c.loop_start()
c.publish(topic, payload, qos=1, retain=True).wait_for_publish()
c.disconnect()
c.loop_stop()
print("published")
"""


@pytest.fixture(scope="module")
def broker():
    return get_host(BROKER)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def publish_retained(broker):
    with open(SECRETS) as handle:
        docker_write(BROKER, "/root/registry-test/admin", yaml.safe_load(handle)["broker_admin_password"])
    broker.run("cat > /root/registry-test/publish.py <<'PY'\n%s\nPY" % PUBLISH)

    def _publish(topic, payload):
        assert broker.check_output("/usr/bin/python3 /root/registry-test/publish.py %s %s %s", topic, payload,
                                   "/root/registry-test/admin") == "published"
    yield _publish
    _publish(STALE, "")


def test_every_deployed_instance_is_registered_with_its_host_port_and_version():
    want = expected()
    assert len(want) == 23  # 22 services, tts_service as two instances, ai_service's live slot

    def complete():
        return set(discover()[0]) >= set(want)
    assert wait_until(complete, 60, step=5), sorted(set(want) - set(discover()[0]))
    entries, document, out = discover()
    for key, (host, port) in want.items():
        entry = entries[key]
        assert (entry["host"], entry["port"]) == (host, port), (key, entry)
        assert entry["version"] == CATALOGUE[key[0]]["version"], (key, entry)
        assert entry["state"] == "running" and entry["stale"] is False, (key, entry)
        # Refreshed with each heartbeat (10 s; tts 30 s): the platform has run for minutes by now.
        assert 0 <= entry["heartbeat_age"] < 60, (key, entry)
        assert entry["health_url"].endswith(":%d/health" % port), (key, entry)
    assert document["stale_after"] == 300.0
    assert "23 registered, 0 stale (no heartbeat for more than 300 s)" in out


def test_discover_lists_only_the_services_asked_for():
    assert list(discover("-e", "services=%s" % STOPPED)[0]) == [(STOPPED, STOPPED)]


def test_cleanup_clears_only_the_stale_entries_and_nothing_in_check_mode(publish_retained):
    publish_retained(STALE, json.dumps({"service": "ghost_service", "instance": "ghost-1", "host": "gone",
                                        "port": 8999, "version": "0.1.0", "state": "running",
                                        "timestamp": time.time() - 3600}))
    entries, document, _out = discover()
    assert entries[("ghost_service", "ghost-1")]["stale"] is True
    assert document["stale"] == [STALE]

    rc, out = playbook("discover.yml", "--tags", "cleanup", "--check")
    assert rc == 0, out[-3000:]
    assert "1 would be cleared: %s" % STALE in out
    assert ("ghost_service", "ghost-1") in discover()[0]

    rc, out = playbook("discover.yml", "--tags", "cleanup")
    assert rc == 0, out[-3000:]
    assert "1 cleared: %s" % STALE in out
    entries = discover()[0]
    assert ("ghost_service", "ghost-1") not in entries
    assert set(entries) >= set(expected())  # the live entries stay
    rc, out = playbook("discover.yml", "--tags", "cleanup")
    assert rc == 0 and "0 stale" in out and "cleared" not in out.split("Discover | cleanup | report")[-1]


def test_a_clean_stop_deregisters_and_a_start_registers_again(app2):
    unit = CATALOGUE[STOPPED]["unit"]
    port = CATALOGUE[STOPPED]["port"]
    try:
        app2.check_output("systemctl stop %s", unit)
        assert (STOPPED, STOPPED) not in discover()[0]
        # The instance cleared its own entry on its way out (it did not just go stale).
        assert "drain: unsubscribed" in app2.check_output("tail -n 20 %s", CATALOGUE[STOPPED]["log"]["path"])
    finally:
        app2.check_output("systemctl start %s", unit)
        assert wait_until(lambda: health_by_port(app2, [port])[str(port)].get("status") == "healthy", 60)
    assert wait_until(lambda: (STOPPED, STOPPED) in discover()[0], 60, step=3)
