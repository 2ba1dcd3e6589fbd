"""A rolling deployment over two hosts whose second batch fails (issue 16):
metrics_collector runs on app2 and, through an extra inventory, on app1 too
(app1 joins alicia_observability). deploy.yml -e strategy=rolling -e serial=1
to a new version, with the release failing at start on app2 only (a host
variable): app1's batch passes; app2's gate fails and app2 rolls itself
back; the rollout stops and app1, already updated by this deployment, is
rolled back too, so the fleet is not left on mixed versions; the run fails
naming app2. Both histories record it under one deployment identifier. At
the end metrics_collector is removed from app1 again (teardown)."""
import json
import os
import sys
import tempfile

import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import get_host, health_of, resolved_catalogue, run_playbook  # noqa: E402
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
OVERRIDES_FILE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml")
CATALOGUE = resolved_catalogue(OVERRIDES_FILE)
APP1, APP2 = "alicia-multihost-app1", "alicia-multihost-app2"
NAME = "metrics_collector"
PORT = CATALOGUE[NAME]["listen_port"]
GOOD = CATALOGUE[NAME]["version"]
NEW = "1.3.0-batch"
HISTORY = "/var/lib/alicia/deployments.json"


def playbook(extra_inventory, name, *args):
    return run_playbook(os.path.join(PROJECT, "playbooks", name), "-i", extra_inventory, *args, inventory=INVENTORY,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "batches_count.json"))


def version(host):
    return (health_of(host, PORT) or {}).get("version")


def records(host):
    doc = json.loads(host.file(HISTORY).content_string)
    return [d for d in doc["deployments"] if d["service"] == NAME]


def test_a_failed_second_batch_rolls_the_first_one_back_too():
    app1, app2 = get_host(APP1), get_host(APP2)
    with open(OVERRIDES_FILE) as handle:
        scenario = yaml.safe_load(handle)
    broken = dict(scenario, **{NAME: {"env": {"ALICIA_FAULT_FAIL_AT_START": "1"}}})
    extra = {"all": {"children": {"alicia_observability": {"hosts": {APP1: {}}}},
                     "hosts": {APP2: {"catalogue_overrides": broken}}}}
    plain = {"all": {"children": {"alicia_observability": {"hosts": {APP1: {}}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        faulty_inventory = os.path.join(tmp, "batches.yml")
        plain_inventory = os.path.join(tmp, "plain.yml")
        with open(faulty_inventory, "w") as handle:
            yaml.safe_dump(extra, handle)
        with open(plain_inventory, "w") as handle:
            yaml.safe_dump(plain, handle)
        try:
            # app1 gets the service too, at the scenario's version.
            rc, out = playbook(plain_inventory, "deploy.yml", "-e", "services=%s" % NAME)
            assert rc == 0, out[-4000:]
            assert version(app1) == GOOD and version(app2) == GOOD

            rc, out = playbook(faulty_inventory, "deploy.yml", "-e", "services=%s" % NAME, "-e", "version=%s" % NEW,
                               "-e", "strategy=rolling", "-e", "serial=1")
            flat = out.replace("\n", " ")
            assert rc != 0, out[-4000:]
            assert "deploy failed: %s:" % APP2 in flat, out[-4000:]
            assert "Rolled back on this host too (updated by this deployment): %s" % NAME in flat, out[-4000:]
            assert version(app1) == GOOD and version(app2) == GOOD
            one, two = records(app1)[-2:], records(app2)[-2:]
            assert [(d["to"], d["result"]) for d in one] == [(NEW, "ok"), (GOOD, "rolled_back")], one
            assert [(d["to"], d["result"]) for d in two] == [(NEW, "failed"), (GOOD, "rolled_back")], two
            assert one[0]["id"] == two[0]["id"] and one[0]["strategy"] == two[0]["strategy"] == "rolling"
            assert one[0]["end"] <= two[0]["start"], "app1's batch went first"
        finally:
            rc, out = playbook(plain_inventory, "teardown.yml", "-e", "service=%s" % NAME, "--limit", APP1)
            assert rc == 0, out[-4000:]
    assert version(app1) is None and version(app2) == GOOD
    assert not app1.service("alicia-%s" % NAME).is_running
