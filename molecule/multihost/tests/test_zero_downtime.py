"""Zero-downtime updates of a multi-instance service (issue 16): tts_service
runs as two instances behind the balancer on app1 (vars/catalogue_overrides.yml).
While app2 sends a constant, bounded stream of requests through the balancer
(every 50 ms, at most 4 minutes, to the lab's own host):
- deploy.yml to a new version rolls the instances one at a time (drained,
  restarted, gated, back in rotation): no request fails and the new version
  serves at the end;
- deploy.yml to a version that exits at start fails its gate on the first
  instance, which stays out of rotation; the run rolls the service back to
  the previous release (only that instance: the other one never left it)
  and fails naming both versions; no request fails and the bad version never
  answers;
and the history records both. Failed requests and p99 latency are printed
(figures, never asserted beyond the zero). The scenario's release is back at
the end. Runs last (file order)."""
import json
import os
import sys
import tempfile

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (HttpLoad, get_host, health_by_port, resolved_catalogue, run_playbook,  # noqa: E402
                             task_status, task_statuses, wait_until)
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
OVERRIDES_FILE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml")
CATALOGUE = resolved_catalogue(OVERRIDES_FILE)
APP1, APP2 = "alicia-multihost-app1", "alicia-multihost-app2"
NAME = "tts_service"
PUBLISHED = 8003
INSTANCES = {"tts-primary": 9000, "tts-secondary": 9001}
GOOD = CATALOGUE[NAME]["version"]
NEW = "1.1.0-rolled"
BAD = "1.2.0-bad"
HISTORY = "/var/lib/alicia/deployments.json"


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def app1_address(app1):
    return [a for a in app1.interface("eth0").addresses if ":" not in a][0]


def playbook(name, *args):
    return run_playbook(os.path.join(PROJECT, "playbooks", name), *args, inventory=INVENTORY,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "zd_count.json"))


def versions(app1):
    """instance -> the version its /health reports, None while it does not answer."""
    found = health_by_port(app1, INSTANCES.values())
    return dict((instance, found[str(port)].get("version")) for instance, port in INSTANCES.items())


def load(app2, address):
    return HttpLoad(app2, "http://%s:%d/health" % (address, PUBLISHED), name="zd")


def records(app1):
    doc = json.loads(app1.file(HISTORY).content_string)
    return [d for d in doc["deployments"] if d["service"] == NAME]


def test_a_rolling_update_and_a_bad_release_drop_no_request(app1, app2, app1_address):
    assert set(versions(app1).values()) == {GOOD}
    with open(OVERRIDES_FILE) as handle:
        scenario = yaml.safe_load(handle)
    broken = dict(scenario)
    broken[NAME] = dict(scenario[NAME], env={"ALICIA_FAULT_FAIL_AT_START": "1"})
    extra = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    yaml.safe_dump({"catalogue_overrides": broken}, extra)
    extra.close()
    try:
        # 1. A good release, rolled instance by instance.
        with load(app2, app1_address) as running:
            rc, out = playbook("deploy.yml", "-e", "services=%s" % NAME, "-e", "version=%s" % NEW)
            seen = running.result()
        print("rolling update of %s over its 2 instances under load: %s" % (NAME, seen))
        assert rc == 0, out[-4000:]
        assert seen["failed"] == 0 and seen["ok"] > 20, seen
        assert seen["versions"][-1] == NEW and GOOD in seen["versions"], seen
        assert set(versions(app1).values()) == {NEW}
        # Both instances in one roll (alicia.platform.roll), no canary.
        assert task_status(out, "the other instances rolled one at a time, no request dropped", APP1) == "changed"
        assert task_status(out, "the canaries rolled first, back in rotation at their small weight", APP1) == "skipping"
        last = records(app1)[-1]
        assert (last["from"], last["to"], last["result"]) == (GOOD, NEW, "ok"), last

        # 2. A release that exits at start: rolled back, the run fails, nothing dropped.
        secondary = app1.check_output("systemctl show -p MainPID --value alicia-tts-secondary.service")
        with load(app2, app1_address) as running:
            rc, out = playbook("deploy.yml", "-e", "services=%s" % NAME, "-e", "version=%s" % BAD,
                               "-e", "@%s" % extra.name)
            seen = running.result()
        print("update of %s to a release that exits at start, under load: %s" % (NAME, seen))
        assert rc != 0, out[-4000:]
        assert "%s %s -> %s" % (NAME, BAD, NEW) in out and "Rolled back to the last known-good release" in out, \
            out[-4000:]
        # The roll's verdict fails the service at the gate (not probed again).
        assert "tts-primary: not healthy after its restart, left drained at the balancer" in " ".join(out.split()), \
            out[-4000:]
        assert seen["failed"] == 0 and seen["versions"] == [NEW], seen
        assert wait_until(lambda: set(versions(app1).values()) == {NEW}, 30), versions(app1)
        # The roll stopped at tts-primary: the rollback restarts only it (tts-secondary never left NEW).
        assert app1.check_output("systemctl show -p MainPID --value alicia-tts-secondary.service") == secondary
        mine = records(app1)[-2:]
        assert [(d["from"], d["to"], d["result"]) for d in mine] == [(NEW, BAD, "failed"), (BAD, NEW, "rolled_back")]
        # The rollback keeps the instances and ports: HAProxy's configuration, applied once by the failed
        # run, is not applied again (the rollback's shortest path: issue 17's figure).
        assert len(task_statuses(out, "haproxy.cfg (validated) and unit drop-in, one module execution", APP1)) == 1
        assert task_statuses(out, "the local balancer in front of the multi-instance and blue-green services of "
                                  "this host", APP1)[-1:] == ["skipping"]
    finally:
        os.unlink(extra.name)
        # The scenario's release again (a deployment of the catalogue's version).
        rc, out = playbook("deploy.yml", "-e", "services=%s" % NAME)
        assert rc == 0, out[-4000:]
    assert set(versions(app1).values()) == {GOOD}
