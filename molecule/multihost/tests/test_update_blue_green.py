"""Blue-green updates (issue 16): ai_service runs in two slots behind the
balancer on app1 (vars/catalogue_overrides.yml: slot_ports 9020, 9021),
one of them live after the converge (blue; whichever is live when these
tests start is called "first" below, the other "second"). deploy.yml -e strategy=blue_green starts the
new release in the idle slot beside the live one, gates it on its own port,
switches the balancer to it in one step and stops the old slot, which stays
installed; rollback.yml switches back.

Under a request every 50 ms from app2 through the balancer, and numbered
MQTT commands published throughout on the service's command topic (a
Mosquitto 2 shared subscription: two versions run during the switch):
- an update to a new release: no request fails, every command is handled
  exactly once (by either version), green serves the new release, blue is
  stopped and disabled with its release still installed, HAProxy's live map
  and the map file name green, the history records it;
- a release that exits at start: the run fails naming the service, the slot
  and both versions; green served throughout (same process, no failed
  request); the failed slot is stopped again; the history marks it bad;
- rollback.yml: back to the first slot on the scenario's release, no request failed;
- restart.yml: the second slot starts on the live slot's release (the
  scenario's), is gated and switched in: no request failed, a new process;
- deploy.yml -e strategy=canary: the new release starts in the first slot
  and is watched beside the live one at a weight in the canary backend
  (both versions answer the load), then switched in: no request failed.
That canary's release is live at the end (in the first slot). Runs after
test_drift.py and test_registry.py (file order, named test_update_*):
deploy.yml runs without the converge's play that gives each host its
scenario address."""
import json
import os
import re
import sys

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (HttpLoad, docker_write, get_host, health_of, resolved_catalogue,  # noqa: E402
                             run_playbook, wait_until)
OVERRIDES_FILE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml")
CATALOGUE = resolved_catalogue(OVERRIDES_FILE)
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
APP1, APP2 = "alicia-multihost-app1", "alicia-multihost-app2"
NAME = "ai_service"
PUBLISHED = CATALOGUE[NAME]["port"]
SLOTS = dict((slot["name"], slot) for slot in CATALOGUE[NAME]["slot_list"])
GOOD = CATALOGUE[NAME]["version"]
NEW = "2.0.0-green"
HISTORY = "/var/lib/alicia/deployments.json"
MAP = "/etc/haproxy/alicia-slots.map"
WORK = "/root/blue-green-test"

# Runs on app1 with Debian's paho-mqtt 1.6: publishes a numbered ping on the
# service's command topic every `pause` s (as the broker's administrator)
# until the stop file appears (at most `limit` s), records which version
# answered each, waits (bounded) for every answer, writes {sent, answers}.
DRIVER = r"""
import json, os, re, sys, threading, time
import paho.mqtt.client as mqtt
service, env_file, password_file, out, stop, pause, limit = sys.argv[1:8]
pause, limit = float(pause), float(limit)
env = {}
for line in open(env_file):
    match = re.match(r'^([A-Z_][A-Z0-9_]*)="(.*)"$', line.rstrip("\n"))
    if match:
        env[match.group(1)] = re.sub(r'\\(.)', r'\1', match.group(2))
answers, lock, subscribed = {}, threading.Lock(), threading.Event()
def on_message(client, userdata, message):
    document = json.loads(message.payload.decode())
    with lock:
        answers.setdefault(str(document.get("id")), []).append(document.get("version"))
client = mqtt.Client(client_id="alicia-test-blue-green-%d" % time.time())
client.username_pw_set("alicia_admin", open(password_file).read())
client.on_connect = lambda c, u, f, rc: c.subscribe("alicia/%s/response" % service, 1)
client.on_subscribe = lambda *a: subscribed.set()
client.on_message = on_message
client.connect(env["MQTT_BROKER"], int(env["MQTT_PORT"]), 30)
client.loop_start()
subscribed.wait(10)
command = "alicia/%s/command" % service
sent, end = 0, time.monotonic() + limit
while not os.path.exists(stop) and time.monotonic() < end:
    client.publish(command, json.dumps({"action": "ping", "id": sent}), qos=1).wait_for_publish()
    sent += 1
    if sent == 5:
        open(out + ".ready", "w").close()
    time.sleep(pause)
end = time.monotonic() + 30
while time.monotonic() < end:
    with lock:
        if all(str(n) in answers for n in range(sent)):
            break
    time.sleep(0.1)
time.sleep(1)  # a duplicate would come right after its first answer
client.disconnect()
client.loop_stop()
with lock:
    json.dump({"sent": sent, "answers": answers}, open(out, "w"))
"""


class MqttCommands(object):
    """The driver above on ``node`` as a context manager; ``result()`` stops it: {sent, answers}."""

    def __init__(self, node):
        self.node = node
        self.out, self.stop = "%s/answers.json" % WORK, "%s/stop" % WORK

    def __enter__(self):
        self.node.run("mkdir -p %s && rm -f %s %s %s.ready" % (WORK, self.out, self.stop, self.out))
        with open(SECRETS) as handle:
            docker_write(APP1, "%s/admin" % WORK, yaml.safe_load(handle)["broker_admin_password"])
        self.node.run("cat > %s/driver.py <<'PY'\n%s\nPY" % (WORK, DRIVER))
        self.node.run("nohup /usr/bin/python3 %s/driver.py %s /etc/alicia/%s.env %s/admin %s %s 0.05 240 "
                      ">%s/driver.log 2>&1 &" % (WORK, NAME, NAME, WORK, self.out, self.stop, WORK))
        assert wait_until(lambda: self.node.file(self.out + ".ready").exists, 30), \
            self.node.run("cat %s/driver.log" % WORK).stdout
        return self

    def result(self):
        self.node.run("touch %s" % self.stop)
        assert wait_until(lambda: self.node.file(self.out).exists, 45), self.node.run("cat %s/driver.log" % WORK).stdout
        return json.loads(self.node.file(self.out).content_string)

    def __exit__(self, *exc):
        self.node.run("touch %s" % self.stop)


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def first(app1):
    """The slot live when these tests start."""
    return slot_state(app1)[1][0][len(NAME) + 1:]


@pytest.fixture(scope="module")
def second(first):
    return "green" if first == "blue" else "blue"


@pytest.fixture(scope="module")
def app1_address(app1):
    return [a for a in app1.interface("eth0").addresses if ":" not in a][0]


def playbook(name, *args):
    """(rc, output with its whitespace runs made single spaces: messages wrap); the output as it
    was in the scenario's ephemeral directory (blue-green-<playbook>.log), for a failure's story."""
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", name), "-e", "services=%s" % NAME, *args)
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "blue-green-%s.log" % name), "w") as handle:
        handle.write(out)
    return rc, " ".join(out.split())


def load(app2, address):
    return HttpLoad(app2, "http://%s:%d/health" % (address, PUBLISHED), name="blue-green")


def slot_state(app1):
    """slot -> (ActiveState, UnitFileState, MainPID, release link target) and the live backend (file, runtime)."""
    found = {}
    for name, slot in SLOTS.items():
        props = app1.service(slot["unit"].replace(".service", "")).systemd_properties
        found[name] = (props["ActiveState"], props["UnitFileState"], int(props["MainPID"]),
                       app1.run("readlink /opt/alicia/%s/%s", NAME, name).stdout.strip())
    in_file = [line.split()[1] for line in app1.file(MAP).content_string.splitlines()
               if line.strip() and not line.startswith("#") and line.split()[0] == NAME]
    runtime = app1.check_output("echo 'show map %s' | socat -t 5 - unix-connect:/run/haproxy/admin.sock", MAP)
    live = [line.split()[2] for line in runtime.splitlines() if len(line.split()) == 3 and line.split()[1] == NAME]
    return found, in_file, live


def records(app1):
    doc = json.loads(app1.file(HISTORY).content_string)
    return [d for d in doc["deployments"] if d["service"] == NAME]


def exactly_once(result):
    """Every command answered once: (versions that answered, in order of the numbers)."""
    answers = result["answers"]
    assert result["sent"] > 50, result["sent"]
    lost = [n for n in range(result["sent"]) if str(n) not in answers]
    twice = dict((n, answers[str(n)]) for n in range(result["sent"]) if len(answers.get(str(n), [])) > 1)
    assert (lost, twice) == ([], {}), (lost[:20], twice)
    return [answers[str(n)][0] for n in range(result["sent"])]


def test_the_live_slot_serves_and_the_other_is_installed_but_stopped(app1, first, second):
    slots, in_file, live = slot_state(app1)
    assert slots[first][:2] == ("active", "enabled") and slots[first][3] == "releases/%s" % GOOD, slots
    assert slots[second][:2] == ("inactive", "disabled"), slots
    assert in_file == ["%s_%s" % (NAME, first)] and live in ([], ["%s_%s" % (NAME, first)]), (in_file, live)
    # The published port answers through the balancer; the idle slot's port refuses.
    assert health_of(app1, PUBLISHED)["version"] == GOOD
    assert not app1.socket("tcp://127.0.0.1:%d" % SLOTS[second]["listen_port"]).is_listening
    assert app1.socket("tcp://127.0.0.1:%d" % SLOTS[first]["listen_port"]).is_listening


def test_an_update_switches_to_the_other_slot_with_no_failed_request_and_each_command_once(
        app1, app2, app1_address, first, second):
    first_pid = slot_state(app1)[0][first][2]
    with load(app2, app1_address) as http, MqttCommands(app1) as mqtt:
        rc, out = playbook("deploy.yml", "-e", "strategy=blue_green", "-e", "version=%s" % NEW)
        seen = http.result()
        handled = exactly_once(mqtt.result())
    print("blue_green update of %s under load: %s; commands: %d" % (NAME, seen, len(handled)))
    assert rc == 0, out[-4000:]
    assert "%s: slot %s now serves releases/%s (slot %s, releases/%s, stopped, installed)" % (
        NAME, second, NEW, first, GOOD) in out, out[-4000:]
    assert seen["failed"] == 0 and seen["ok"] > 20, seen
    assert seen["versions"][0] == GOOD and seen["versions"][-1] == NEW, seen
    assert set(handled) == {GOOD, NEW} and handled[-10:] == [NEW] * 10, handled
    slots, in_file, live = slot_state(app1)
    assert slots[second][:2] == ("active", "enabled") and slots[second][3] == "releases/%s" % NEW, slots
    # The old slot: stopped and disabled, its release still installed (a rollback is a switch back).
    assert slots[first][:3] == ("inactive", "disabled", 0) and slots[first][3] == "releases/%s" % GOOD, slots
    assert first_pid != 0
    assert app1.file("/opt/alicia/%s/releases/%s/alicia_reference_service.py" % (NAME, GOOD)).exists
    assert in_file == live == ["%s_%s" % (NAME, second)], (in_file, live)
    last = records(app1)[-1]
    assert (last["from"], last["to"], last["result"], last["strategy"]) == (GOOD, NEW, "ok", "blue_green"), last


def test_a_release_that_fails_in_the_idle_slot_leaves_the_live_slot_serving(
        app1, app2, app1_address, tmp_path, first, second):
    bad = "2.1.0-fails-at-start"
    with open(OVERRIDES_FILE) as handle:
        scenario = yaml.safe_load(handle)
    scenario[NAME] = dict(scenario[NAME], env={"ALICIA_FAULT_FAIL_AT_START": "1"})
    extra = tmp_path / "bad.yml"
    extra.write_text(yaml.safe_dump({"catalogue_overrides": scenario}))
    second_pid = slot_state(app1)[0][second][2]
    with load(app2, app1_address) as http:
        rc, out = playbook("deploy.yml", "-e", "strategy=blue_green", "-e", "version=%s" % bad,
                           "-e", "@%s" % extra)
        seen = http.result()
    print("failing blue_green release of %s under load: %s" % (NAME, seen))
    assert rc != 0, out[-4000:]
    assert "%s: slot %s (releases/%s) failed its gate, stopped again; slot %s (releases/%s) kept serving" % (
        NAME, first, bad, second, NEW) in out, out[-4000:]
    assert "%s %s -> %s" % (NAME, bad, NEW) in out, out[-4000:]
    # The live slot served throughout: the same process, no failed request, only the live release answered.
    assert seen["failed"] == 0 and seen["versions"] == [NEW], seen
    slots, in_file, live = slot_state(app1)
    assert slots[second][:3] == ("active", "enabled", second_pid), slots
    assert slots[first][:2] == ("inactive", "disabled"), slots
    assert in_file == live == ["%s_%s" % (NAME, second)], (in_file, live)
    mine = records(app1)[-2:]
    assert [(d["from"], d["to"], d["result"]) for d in mine] == [(NEW, bad, "failed"), (bad, NEW, "rolled_back")], mine


def test_rollback_switches_back_to_the_previous_slot_with_no_failed_request(app1, app2, app1_address, first, second):
    with load(app2, app1_address) as http:
        rc, out = playbook("rollback.yml")
        seen = http.result()
    print("rollback of %s (a switch back) under load: %s" % (NAME, seen))
    assert rc == 0, out[-4000:]
    assert seen["failed"] == 0 and seen["versions"][-1] == GOOD, seen
    slots, in_file, live = slot_state(app1)
    assert slots[first][:2] == ("active", "enabled") and slots[first][3] == "releases/%s" % GOOD, slots
    assert slots[second][:2] == ("inactive", "disabled"), slots
    assert in_file == live == ["%s_%s" % (NAME, first)], (in_file, live)
    assert health_of(app1, PUBLISHED)["version"] == GOOD
    # The scenario's release, live: a plain deploy of the catalogue changes nothing.
    rc, out = playbook("deploy.yml")
    assert rc == 0, out[-4000:]
    slots_task = out.split("switched at the balancer in one step]", 1)[1].split("TASK [", 1)[0]
    assert "ok: [%s]" % APP1 in slots_task, slots_task


def test_restart_switches_to_the_other_slot_on_the_same_release_with_no_failed_request(
        app1, app2, app1_address, first, second):
    before = slot_state(app1)[0][first][2]
    with load(app2, app1_address) as http:
        rc, out = run_playbook(os.path.join(PROJECT, "playbooks", "restart.yml"), "-e", "service=%s" % NAME)
        seen = http.result()
    out = " ".join(out.split())
    print("restart of %s (a switch) under load: %s" % (NAME, seen))
    assert rc == 0, out[-4000:]
    assert "%s on %s: %s: slot %s now serves releases/%s (slot %s, releases/%s, stopped, installed), healthy" % (
        NAME, APP1, NAME, second, GOOD, first, GOOD) in out, out[-4000:]
    assert seen["failed"] == 0 and seen["ok"] > 20 and seen["versions"] == [GOOD], seen
    slots, in_file, live = slot_state(app1)
    assert slots[second][:2] == ("active", "enabled") and slots[second][3] == "releases/%s" % GOOD, slots
    assert slots[second][2] not in (0, before), slots
    assert slots[first][:3] == ("inactive", "disabled", 0), slots
    assert in_file == live == ["%s_%s" % (NAME, second)], (in_file, live)


def test_a_canary_is_watched_beside_the_live_slot_then_switched_in_with_no_failed_request(
        app1, app2, app1_address, first, second):
    """The canary at weight 50 beside the live slot's 100 for 4 s under a request every 50 ms: about
    a third of some 80 requests reach it (min_requests 5 judges it; too few would fail the run)."""
    canary = "2.2.0-canary"
    with load(app2, app1_address) as http:
        rc, out = playbook("deploy.yml", "-e", "strategy=canary", "-e", "version=%s" % canary,
                           "-e", "canary_window=4", "-e", "canary_weight=50", "-e", "canary_min_requests=5")
        seen = http.result()
    print("canary of %s (a slot beside the live one) under load: %s" % (NAME, seen))
    assert rc == 0, out[-4000:]
    assert ("%s: slot %s now serves releases/%s (slot %s, releases/%s, stopped, installed); its canary passed "
            "first:" % (NAME, first, canary, second, GOOD)) in out, out[-4000:]
    # Both slots answered the load through the published port while the canary was watched (HAProxy's
    # counters of the window, in the verdict), then only the new one; no request failed.
    window = re.search(r"its canary passed first: (\d+) request\(s\), error rate [0-9.]+% \(previous release "
                       r"[0-9.]+% over (\d+)\)", out)
    assert window and int(window.group(1)) >= 5 and int(window.group(2)) > int(window.group(1)), out[-4000:]
    assert seen["failed"] == 0 and seen["ok"] > 20, seen
    assert seen["versions"] == [GOOD, canary], seen
    slots, in_file, live = slot_state(app1)
    assert slots[first][:2] == ("active", "enabled") and slots[first][3] == "releases/%s" % canary, slots
    assert slots[second][:3] == ("inactive", "disabled", 0) and slots[second][3] == "releases/%s" % GOOD, slots
    assert in_file == live == ["%s_%s" % (NAME, first)], (in_file, live)
    # The canary's weight is back to the configured one in the canary backend.
    state = app1.check_output("echo 'show servers state %s_canary' | socat -t 5 - unix-connect:/run/haproxy/admin.sock",
                              NAME)
    weights = dict((row[3], int(row[7])) for row in (line.split() for line in state.splitlines()[2:]) if row)
    assert weights == {"blue": 100, "green": 100}, state
    last = records(app1)[-1]
    assert (last["from"], last["to"], last["result"], last["strategy"]) == (GOOD, canary, "ok", "canary"), last
