"""playbooks/drift.yml on the converged three-host platform: no drift after
converge (exit 0, the JSON and the JUnit report say so); drift made by hand
on each host (a unit stopped on app1, an environment file edited on app2,
logrotate.timer stopped on the broker host) is reported per host and
service, exactly those, with what differs and never the environment file's
content or secrets, the run fails naming them, and the hosts are left as
they were (the drift run changes nothing). Without --check it refuses to
start. Everything is put back by hand at the end, and drift.yml says so.

drift.yml runs after converge.yml's first play (each host's address on the
scenario network and the trusted networks: the firewall's declared state),
as the scenario's converge does before site.yml."""

import json
import os
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET

import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import get_host, health_by_port, resolved_catalogue, run_playbook, wait_until  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CONVERGE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
CATALOGUE = resolved_catalogue(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml"))

BROKER, APP1, APP2 = ("alicia-multihost-%s" % n for n in ("broker", "app1", "app2"))
# The phase groups of each platform host (molecule.yml).
LAYOUT = {
    BROKER: [],
    APP1: ["alicia_core", "alicia_management", "alicia_voice"],
    APP2: ["alicia_devices", "alicia_advanced", "alicia_observability"],
}
BASELINE = ["packages", "service_user", "network_hardening", "log_rotation"]
# The drift made by hand: a unit stopped (voice, app1), an environment file
# edited (observability, app2), a baseline timer stopped (the broker host).
STOPPED = "voice_router"
EDITED = "event_scheduler"
ENV_FILE = "/etc/alicia/%s.env" % EDITED
TIMER = "logrotate.timer"


def services_of(host):
    return [name for name, entry in CATALOGUE.items()
            if isinstance(entry, dict) and entry.get("kind") == "service" and entry.get("group") in LAYOUT[host]]


def drift(tmp, *args):
    """converge.yml's address play, then playbooks/drift.yml: (rc, output, JSON report or None, JUnit tree or None).
    The reports go to ``tmp``; the module counts to a file of their own."""
    with open(CONVERGE) as handle:
        address_play = yaml.safe_load(handle)[0]
    playbook = os.path.join(tmp, "drift-multihost.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump([address_play, {"name": "Drift",
                                       "ansible.builtin.import_playbook": os.path.join(PROJECT, "playbooks",
                                                                                        "drift.yml")}], handle)
    report_dir = os.path.join(tmp, "reports")
    rc, out = run_playbook(playbook, "-e", "drift_dir=%s" % report_dir, *args, inventory=INVENTORY,
                           count_file=os.path.join(tmp, "module_count.json"))
    doc = tree = None
    if os.path.exists(os.path.join(report_dir, "drift.json")):
        with open(os.path.join(report_dir, "drift.json")) as handle:
            doc = json.load(handle)
    if os.path.exists(os.path.join(report_dir, "drift.xml")):
        tree = ET.parse(os.path.join(report_dir, "drift.xml")).getroot()
    return rc, out, doc, tree


def state(broker, app1, app2):
    """What the drift run must leave as it found it."""
    return {
        "stopped": app1.run("systemctl is-active alicia-%s.service" % STOPPED).stdout.strip(),
        "env": app2.check_output("sha256sum %s" % ENV_FILE),
        "timer": broker.run("systemctl is-active %s" % TIMER).stdout.strip(),
        "pids": dict((name, app1.check_output("systemctl show -p MainPID --value alicia-%s.service" % name))
                     for name in services_of(APP1) if name != STOPPED and not CATALOGUE[name].get("instance_list")),
    }


def test_drift_refuses_to_run_without_check():
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, doc, _ = drift(tmp)
    assert rc != 0, out[-3000:]
    assert "drift: run it with --check" in out, out[-3000:]
    assert doc is None and "PLAY [Preflight" not in out


def test_a_converged_platform_has_no_drift():
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, doc, tree = drift(tmp, "--check")
    assert rc == 0, out[-4000:]
    assert doc is not None and doc["drift"] is False and doc["drifted"] == [], json.dumps(doc)[-3000:]
    assert sorted(doc["hosts"]) == sorted(LAYOUT)
    for host in LAYOUT:
        checked = doc["hosts"][host]["services"]
        want = BASELINE + (["mqtt_broker"] if host == BROKER else []) + services_of(host)
        assert sorted(checked) == sorted(want), (host, sorted(checked))
        assert not any(item["drift"] for item in checked.values())
    assert doc["totals"]["not_checked"] == 0
    assert (tree.get("failures"), tree.get("errors")) == ("0", "0")
    assert int(tree.get("tests")) == doc["totals"]["checked"]
    assert "3 host(s), %d checked, 0 drifted" % doc["totals"]["checked"] in out


def test_drift_made_by_hand_is_reported_per_host_and_service_and_left_in_place():
    broker, app1, app2 = get_host(BROKER), get_host(APP1), get_host(APP2)
    with open(SECRETS) as handle:
        secret = yaml.safe_load(handle)["catalogue_secrets"][EDITED]["MQTT_PASSWORD"]
    assert len(secret) >= 8 and app2.run("grep -cF -- %s %s" % (secret, ENV_FILE)).stdout.strip() == "1"
    token = "DRIFT_TEST_%s" % uuid.uuid4().hex
    original = app2.check_output("sha256sum %s" % ENV_FILE)
    try:
        app1.check_output("systemctl stop alicia-%s.service" % STOPPED)
        app2.check_output("echo %s=%s >> %s" % (token, token.lower(), ENV_FILE))
        broker.check_output("systemctl stop %s" % TIMER)
        before = state(broker, app1, app2)
        assert (before["stopped"], before["timer"]) == ("inactive", "inactive")

        with tempfile.TemporaryDirectory() as tmp:
            rc, out, doc, tree = drift(tmp, "--check")
            with open(os.path.join(tmp, "reports", "drift.json")) as handle:
                raw_json = handle.read()
            with open(os.path.join(tmp, "reports", "drift.xml")) as handle:
                raw_xml = handle.read()

        # The run fails, naming each host and service that drifted.
        assert rc == 2, out[-4000:]
        for host, name in ((APP1, STOPPED), (APP2, EDITED), (BROKER, "log_rotation")):
            assert "- %s on %s " % (name, host) in out, out[-4000:]
        # Exactly those, each with what differs.
        assert doc["drift"] is True
        assert sorted((d["host"], d["service"]) for d in doc["drifted"]) == sorted(
            [(APP1, STOPPED), (APP2, EDITED), (BROKER, "log_rotation")]), doc["drifted"]
        assert doc["hosts"][APP1]["drifted"][STOPPED] == [
            {"kind": "unit", "target": "alicia-%s.service" % STOPPED, "state": "not running (inactive)"}]
        assert doc["hosts"][APP2]["drifted"][EDITED] == [
            {"kind": "environment file", "target": ENV_FILE, "state": "differs"}]
        assert doc["hosts"][BROKER]["drifted"]["log_rotation"] == [
            {"kind": "unit", "target": TIMER, "state": "not running (inactive)"}]
        # JUnit: one failed test case per drifted service, in its host's suite.
        failed = dict(((suite.get("name"), case.get("name")), case.find("failure").text)
                      for suite in tree.iter("testsuite") for case in suite.iter("testcase")
                      if case.find("failure") is not None)
        assert sorted(failed) == sorted([(APP1, STOPPED), (APP2, EDITED), (BROKER, "log_rotation")])
        assert failed[(APP2, EDITED)] == "environment file %s: differs" % ENV_FILE
        assert tree.get("failures") == "3"
        # Never the environment file's content: neither its secret nor the line added by hand.
        for text in (raw_json, raw_xml, out):
            assert secret not in text and token not in text and token.lower() not in text

        # The drift run changed nothing on the hosts.
        assert state(broker, app1, app2) == before
    finally:
        app1.run("systemctl start alicia-%s.service" % STOPPED)
        app2.run("sed -i '/^%s=/d' %s" % (token, ENV_FILE))
        broker.run("systemctl start %s" % TIMER)
    assert app2.check_output("sha256sum %s" % ENV_FILE) == original
    port = str(CATALOGUE[STOPPED]["port"])
    assert wait_until(lambda: health_by_port(app1, [port])[port].get("status") == "healthy", 60)

    # Put back by hand: no drift any more.
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, doc, _ = drift(tmp, "--check")
    assert rc == 0 and doc["drift"] is False, out[-4000:]
