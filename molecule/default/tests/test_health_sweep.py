"""The health sweep (playbooks/health.yml) against the converged platform:
every service and the broker reported healthy with their version, one
module execution per host (plus the broker's round trip), and a stopped
unit failing the sweep by name. The stopped unit is started again and
waited for, so the tests after these see the platform as converged."""
import json
import os
import sys
import time

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, resolved_catalogue, run_playbook, wait_until  # noqa: E402

HOST = "alicia-default"
CATALOGUE = resolved_catalogue()
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")
BROKER = [n for n, e in CATALOGUE.items() if e["kind"] == "broker"][0]
PROBE_TASK = "(play) : Health sweep | probe this host's service instances once, concurrently"


def sweep(*args):
    """playbooks/health.yml against the scenario's host: (rc, output, seconds, module counts)."""
    # Counted apart: module_count.json holds the idempotence re-run that test_site.py checks.
    counts = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "sweep_count.json")
    started = time.monotonic()
    callbacks = "ansible.posix.profile_tasks,alicia.platform.module_count"
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", "health.yml"), *args, count_file=counts, timeout=300,
                           env={"ANSIBLE_CALLBACKS_ENABLED": callbacks})
    took = time.monotonic() - started
    with open(counts) as handle:
        return rc, out, took, json.load(handle)


def test_every_service_and_the_broker_are_healthy_with_their_version(tmp_path):
    report = tmp_path / "health.json"
    rc, out, took, counts = sweep("-e", "health_format=json", "-e", "health_output=%s" % report)
    print("health sweep of %d services and the broker: %.1f s" % (len(SERVICES), took))
    assert rc == 0, out[-3000:]
    document = json.loads(report.read_text())
    assert document["healthy"] is True and document["problems"] == [], document["problems"]
    rows = document["rows"]
    assert [r["service"] for r in rows].count(BROKER) == 1 and rows[0]["service"] == BROKER
    assert sorted(r["service"] for r in rows[1:]) == SERVICES
    for row in rows:
        assert (row["host"], row["status"], row["error"]) == (HOST, "healthy", None), row
        assert row["port"] == CATALOGUE[row["service"]]["port"], row
        assert row["latency_ms"] is not None and row["latency_ms"] >= 0, row
    for row in rows[1:]:
        assert row["instance"] == row["service"], row
        assert (row["http_status"], row["version"], row["broker_connected"]) == (
            200, CATALOGUE[row["service"]]["version"], True), row
        assert row["uptime_s"] > 0, row
    # Sorted by phase (the broker first), then service.
    keys = [(r["phase_index"], r["service"]) for r in rows]
    assert keys == sorted(keys)
    # One probe per host, one MQTT round trip, one JSON file written on the controller.
    host_counts = counts["hosts"][HOST]
    assert host_counts["tasks"][PROBE_TASK] == 1
    assert host_counts["total"] == 3, host_counts["tasks"]


def test_a_stopped_unit_fails_the_sweep_and_is_named(host):
    name = "device_control"
    port = CATALOGUE[name]["listen_port"]
    host.check_output("systemctl stop alicia-%s", name)
    try:
        rc, out, _took, _counts = sweep()
        assert rc != 0, out[-3000:]
        assert "health sweep: 1 of %d not healthy:" % (len(SERVICES) + 1) in out, out[-3000:]
        assert "%s on %s port %d: unreachable (connection refused)" % (name, HOST, port) in out, out[-3000:]
        table_row = [line for line in out.splitlines() if " %s " % name in line and " %d " % port in line]
        assert table_row and "unreachable" in table_row[0].split(), table_row
    finally:
        host.check_output("systemctl start alicia-%s", name)
    assert wait_until(lambda: (health_of(host, CATALOGUE[name]["listen_port"]) or {}).get("status") == "healthy", 60), \
        "%s not healthy again" % name
    rc, out, _took, _counts = sweep("-e", "service=%s" % name)
    assert rc == 0, out[-3000:]


def test_an_unknown_service_fails_before_any_host_is_touched():
    rc, out, _took, counts = sweep("-e", "service=device_contrl")
    assert rc != 0, out[-3000:]
    assert "health sweep: unknown service 'device_contrl' (known: " in out, out[-3000:]
    assert counts["hosts"][HOST]["total"] == 0, counts["hosts"][HOST]
