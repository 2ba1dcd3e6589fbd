"""Canary updates of a multi-instance service (issue 16): tts_service runs as
two instances behind the balancer on app1 (vars/catalogue_overrides.yml);
deploy.yml -e strategy=canary puts the first instance (tts-primary) on the
new release back in rotation at a small weight and watches it beside
tts-secondary (the previous release) before the rest follow.
- a canary that turns bad during its window (the release exits 8 s after
  it starts, once its gate has passed) under load: only the canary is
  touched (tts-secondary keeps its process) and it is rolled back; the run
  fails naming the canary's verdict and both versions; the history marks the
  release bad;
- a canary that receives no traffic is not promoted (too little traffic to
  judge is a failure), and is rolled back the same way;
- a good canary under load (a request every 50 ms from app2, to the lab's own
  host, bounded) is followed by the other instance: no request fails, the
  new version serves at the end.
The scenario's release is back at the end. Runs after test_drift.py (file
order; named test_update_* for it): deploy.yml runs without the converge's
play that gives each host its scenario address, so the services it rewrites
name the broker by its host name, which the drift test would report."""
import json
import os
import sys
import tempfile

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (HttpLoad, get_host, health_by_port, resolved_catalogue, run_playbook,  # noqa: E402
                             wait_until)
from alicia_molecule import task_status as shared_task_status  # noqa: E402
OVERRIDES_FILE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml")
CATALOGUE = resolved_catalogue(OVERRIDES_FILE)
APP1, APP2 = "alicia-multihost-app1", "alicia-multihost-app2"
NAME = "tts_service"
PUBLISHED = 8003
INSTANCES = {"tts-primary": 9000, "tts-secondary": 9001}
GOOD = CATALOGUE[NAME]["version"]
HISTORY = "/var/lib/alicia/deployments.json"
CANARY = ["-e", "strategy=canary", "-e", "canary_min_requests=5"]


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def app1_address(app1):
    return [a for a in app1.interface("eth0").addresses if ":" not in a][0]


def deploy(*args):
    return run_playbook(os.path.join(PROJECT, "playbooks", "deploy.yml"), "-e", "services=%s" % NAME, *args)


def versions(app1):
    """instance -> the version its /health reports, None while it does not answer."""
    found = health_by_port(app1, INSTANCES.values())
    return dict((instance, found[str(port)].get("version")) for instance, port in INSTANCES.items())


def task_status(out, task):
    """What the run printed for app1 under the task whose name ends with ``task``: ok, changed, skipping..."""
    return shared_task_status(out, task, APP1)


def main_pid(app1, instance):
    return int(app1.check_output("systemctl show -p MainPID --value alicia-%s.service", instance))


def weights(app1):
    """server -> (admin state, weight) of the tts_service backend, from the runtime API."""
    out = app1.check_output("echo 'show servers state %s' | socat -t 5 - unix-connect:/run/haproxy/admin.sock", NAME)
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return dict((row[3], (int(row[6]), int(row[7]))) for row in rows)


def load(app2, address):
    return HttpLoad(app2, "http://%s:%d/health" % (address, PUBLISHED), name="canary")


def records(app1):
    doc = json.loads(app1.file(HISTORY).content_string)
    return [d for d in doc["deployments"] if d["service"] == NAME]


@pytest.fixture
def release_file():
    """An -e @file with the scenario's catalogue overrides and tts_service's env changed."""
    made = []

    def make(env):
        with open(OVERRIDES_FILE) as handle:
            scenario = yaml.safe_load(handle)
        scenario[NAME] = dict(scenario[NAME], env=env)
        extra = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
        yaml.safe_dump({"catalogue_overrides": scenario}, extra)
        extra.close()
        made.append(extra.name)
        return "@" + extra.name

    yield make
    for path in made:
        os.unlink(path)


def assert_only_the_canary_rolled_back(app1, out, rc, secondary, version):
    assert rc != 0, out[-4000:]
    assert "canary %s/tts-primary FAILED" % NAME in out, out[-4000:]
    assert "%s %s -> %s" % (NAME, version, GOOD) in out and "Rolled back to the last known-good release" in out, \
        out[-4000:]
    # tts-secondary was never touched: the same process, the previous release throughout.
    assert main_pid(app1, "tts-secondary") == secondary
    assert wait_until(lambda: set(versions(app1).values()) == {GOOD}, 30), versions(app1)
    # Both back in rotation at their configured weight (the canary's 10 not left behind).
    assert wait_until(lambda: weights(app1) == {"tts-primary": (0, 100), "tts-secondary": (0, 100)}, 10), weights(app1)
    mine = records(app1)[-2:]
    assert [(d["from"], d["to"], d["result"], d["strategy"]) for d in mine] == [
        (GOOD, version, "failed", "canary"), (version, GOOD, "rolled_back", "rollback")], mine
    doc = json.loads(app1.file(HISTORY).content_string)
    assert doc["services"][NAME]["known_good"]["version"] == GOOD


def test_a_canary_that_turns_bad_in_its_window_is_the_only_instance_touched_and_rolled_back(
        app1, app2, app1_address, release_file):
    assert set(versions(app1).values()) == {GOOD}
    secondary = main_pid(app1, "tts-secondary")
    bad = "1.3.0-canary-exits"
    with load(app2, app1_address) as running:
        rc, out = deploy("-e", "version=%s" % bad, "-e", release_file({"ALICIA_FAULT_EXIT_AFTER": "8"}),
                         "-e", "canary_window=40", *CANARY)
        seen = running.result()
    print("canary of %s turning bad in its window, under load: %s" % (NAME, seen))
    assert_only_the_canary_rolled_back(app1, out, rc, secondary, bad)
    assert "its health check failed during the window" in out, out[-4000:]
    # The clients only ever saw healthy answers: the good release, or the canary while it lived.
    assert seen["ok"] > 20 and set(seen["versions"]) <= {GOOD, bad}, seen


def test_a_canary_that_receives_no_traffic_is_not_promoted(app1):
    secondary = main_pid(app1, "tts-secondary")
    quiet = "1.3.1-canary-quiet"
    rc, out = deploy("-e", "version=%s" % quiet, "-e", "canary_window=3", *CANARY)
    assert_only_the_canary_rolled_back(app1, out, rc, secondary, quiet)
    assert "fewer than min_requests 5: too little traffic to judge is not a pass" in out, out[-4000:]


def test_a_good_canary_under_load_is_followed_by_the_rest_and_drops_no_request(app1, app2, app1_address):
    new = "1.4.0-canary-good"
    try:
        with load(app2, app1_address) as running:
            rc, out = deploy("-e", "version=%s" % new, "-e", "canary_window=5", *CANARY)
            seen = running.result()
        print("good canary of %s under load, then the rest: %s" % (NAME, seen))
        assert rc == 0, out[-4000:]
        # Watched (a canary that failed would have failed the run), then the other instance rolled, no canary.
        assert task_status(out, "the canaries rolled first, back in rotation at their small weight") == "changed"
        assert task_status(out, "each canary watched at the balancer") == "changed"
        watched = out.split("each canary watched at the balancer]", 1)[1].split("TASK [", 1)[0]
        assert "(item=tts-primary)" in watched and "tts-secondary" not in watched, watched
        assert task_status(out, "the other instances rolled one at a time, no request dropped") == "changed"
        assert seen["failed"] == 0 and seen["ok"] > 20, seen
        assert seen["versions"][-1] == new and GOOD in seen["versions"], seen
        assert set(versions(app1).values()) == {new}
        assert weights(app1) == {"tts-primary": (0, 100), "tts-secondary": (0, 100)}
        last = records(app1)[-1]
        assert (last["from"], last["to"], last["result"], last["strategy"]) == (GOOD, new, "ok", "canary"), last
    finally:
        # The scenario's release again.
        rc, out = deploy()
        assert rc == 0, out[-4000:]
    assert set(versions(app1).values()) == {GOOD}
