"""MQTT consumers during a switch (issue 16 §1) on the three-host platform:
two versions of one service run at once on app1 (the deployed unit, and a
second instance of the same release started by hand on another port with
another SERVICE_VERSION, same service name and credentials, as a blue-green
switch has them), numbered commands are published throughout while the old
one is stopped (systemctl stop: SIGTERM), and each command is answered
exactly once, by the version that handled it. The services take their
commands through the Mosquitto 2 shared subscription
$share/<service>/alicia/<service>/command on the broker host, and a stopping
instance unsubscribes and finishes its in-flight commands before it exits.

Leaves the platform as it found it (the unit started again, the second
instance stopped).
"""

import json
import os
import sys

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import docker_write, get_host, health_by_port, resolved_catalogue, wait_until  # noqa: E402
CATALOGUE = resolved_catalogue(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml"))
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
APP1 = "alicia-multihost-app1"
SERVICE = "stt_service"  # on app1 (voice); nothing stops with it (units are only ordered After= it)
GREEN_PORT, GREEN_VERSION = 18901, "2.0.0-green"
TOTAL, STOP_AT = 200, 60
WORK = "/root/mqtt-shared-test"

# Runs on app1 as root with Debian's paho-mqtt 1.6. Starts the second version as the service user
# with the unit's environment file, checks both take commands, publishes TOTAL numbered commands
# (one every 20 ms) as the broker's administrator, stops the unit once command STOP_AT is answered,
# and prints {id: [version, ...]} of the answers.
DRIVER = r"""
import json, re, subprocess, sys, threading, time, urllib.request
import paho.mqtt.client as mqtt
service, unit, script, env_file, port, version, password_file, total, stop_at, out = sys.argv[1:11]
port, total, stop_at = int(port), int(total), int(stop_at)

def env_of(path):
    env = {}
    for line in open(path):
        match = re.match(r'^([A-Z_][A-Z0-9_]*)="(.*)"$', line.rstrip("\n"))
        if match:
            env[match.group(1)] = re.sub(r'\\(.)', r'\1', match.group(2))
    return env

def wait(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit("timeout waiting for " + what)
        time.sleep(0.05)

env = env_of(env_file)
env.update({"PATH": "/usr/bin:/bin", "SERVICE_PORT": str(port), "SERVICE_VERSION": version, "SERVICE_BIND": "127.0.0.1",
            "SERVICE_INSTANCE": service + "-green"})
env.pop("SERVICE_PID_FILE", None)
log = open("%s/green.log" % out.rsplit("/", 1)[0], "ab")
# setpriv execs the interpreter: the pid is the service's own (stopped with SIGTERM at the end).
green = subprocess.Popen(["setpriv", "--reuid=alicia", "--regid=alicia", "--init-groups", "--", "/usr/bin/python3",
                          script], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",
                         start_new_session=True)
open(out + ".pid", "w").write(str(green.pid))

def healthy():
    try:
        return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2).read())["status"] == "healthy"
    except Exception:
        return False
wait(healthy, 30, "the second version to be healthy")

answers, lock = {}, threading.Lock()
def on_message(client, userdata, message):
    document = json.loads(message.payload.decode())
    with lock:
        answers.setdefault(str(document.get("id")), []).append(document.get("version"))
subscribed = threading.Event()
client = mqtt.Client(client_id="alicia-test-shared-%d" % time.time())
with open(password_file) as handle:
    client.username_pw_set("alicia_admin", handle.read())
client.on_connect = lambda c, u, f, rc: c.subscribe("alicia/%s/response" % service, 1)
client.on_subscribe = lambda *a: subscribed.set()
client.on_message = on_message
client.connect(env["MQTT_BROKER"], int(env["MQTT_PORT"]), 30)
client.loop_start()
subscribed.wait(10)
command = "alicia/%s/command" % service

warm = [0]
def both():
    warm[0] += 1
    client.publish(command, json.dumps({"action": "ping", "id": "warm-%d" % warm[0]}), qos=1).wait_for_publish()
    time.sleep(0.1)
    with lock:
        return len(set(v for k, vs in answers.items() if k.startswith("warm-") for v in vs)) == 2
wait(both, 30, "both versions to answer")

def publisher():
    for number in range(total):
        client.publish(command, json.dumps({"action": "ping", "id": number}), qos=1).wait_for_publish()
        time.sleep(0.02)
thread = threading.Thread(target=publisher)
thread.start()
wait(lambda: str(stop_at) in answers, 30, "command %d answered" % stop_at)
stop_rc = subprocess.run(["systemctl", "stop", unit]).returncode
thread.join(60)
wait(lambda: all(str(n) in answers for n in range(total)), 30, "every command answered")
time.sleep(1)  # a duplicate would come right after its first answer
client.disconnect()
client.loop_stop()
with lock:
    json.dump({"stop_rc": stop_rc, "answers": dict((k, v) for k, v in answers.items() if not k.startswith("warm-"))},
              open(out, "w"))
print("done")
"""


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


def test_each_command_is_handled_exactly_once_while_the_old_version_stops(app1):
    entry = CATALOGUE[SERVICE]
    unit, port, old_version = entry["unit"], entry["port"], entry["version"]
    script = "/opt/alicia/%s/current/alicia_reference_service.py" % SERVICE
    assert app1.file(script).exists
    with open(SECRETS) as handle:
        docker_write(APP1, "%s/admin" % WORK, yaml.safe_load(handle)["broker_admin_password"])
    app1.run("cat > %s/driver.py <<'PY'\n%s\nPY" % (WORK, DRIVER))
    out = "%s/answers.json" % WORK
    try:
        run = app1.run("/usr/bin/python3 %s/driver.py %s %s %s %s %s %s %s %s %s %s", WORK, SERVICE, unit, script,
                       "/etc/alicia/%s.env" % SERVICE, str(GREEN_PORT), GREEN_VERSION, "%s/admin" % WORK, str(TOTAL),
                       str(STOP_AT), out)
        assert run.rc == 0 and run.stdout.strip() == "done", (run.stdout, run.stderr,
                                                              app1.run("tail -n 30 %s/green.log", WORK).stdout)
        result = json.loads(app1.file(out).content_string)
        old_log = app1.check_output("tail -n 400 %s", entry["log"]["path"])
    finally:
        app1.run("kill -TERM $(cat %s.pid) 2>/dev/null; sleep 2", out)  # a clean stop: it deregisters
        app1.run("systemctl start %s", unit)
    assert result["stop_rc"] == 0
    answers = result["answers"]
    numbered = dict((number, answers.get(str(number), [])) for number in range(TOTAL))
    assert [n for n, versions in numbered.items() if not versions] == []  # no command lost
    assert dict((n, v) for n, v in numbered.items() if len(v) > 1) == {}  # none handled twice
    handled_by = [numbered[n][0] for n in range(TOTAL)]
    assert set(handled_by) == {old_version, GREEN_VERSION}
    assert old_version in handled_by[:STOP_AT]  # both took commands while both ran
    assert set(handled_by[-20:]) == {GREEN_VERSION}  # after the stop only the new version
    # The old instance drained: unsubscribed from the shared subscription before it stopped.
    assert "drain: unsubscribed from $share/%s/alicia/%s/command" % (SERVICE, SERVICE) in old_log
    assert wait_until(lambda: health_by_port(app1, [port])[str(port)].get("status") == "healthy", 60)
