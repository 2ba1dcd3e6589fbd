"""Helpers the Molecule scenarios' testinfra tests share (imported by the
scenarios' tests; molecule/_lib has no molecule.yml, so it is no scenario).

- resolved_catalogue(): the shipped catalogue resolved as the roles see it;
- get_host(): a testinfra host of the scenario's inventory, by name;
- docker_write(): a 0600 file in a container, the data on stdin only;
- round_trip(): a paho-mqtt (Debian's 1.6) publish/subscribe round trip run
  on a lab host, the password read from a 0600 file on that host;
- wait_until(): a bounded poll;
- health_by_port(): the /health JSON of many ports, in one execution on a host;
- health_of(): the /health JSON of one port, or None while it does not answer;
- probe(): TCP connects from a host to many address:port targets at once;
- run_playbook(): ansible-playbook on the scenario's inventory: (rc, output);
- recap(), recaps(): the PLAY RECAP counts of a run's output.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolved_catalogue(overrides=None):
    """The resolved catalogue from the shipped defaults, with a scenario's
    ``overrides`` (a catalogue_overrides mapping, or the path of a YAML file holding one)."""
    collections = os.path.join(PROJECT, ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
    with open(os.path.join(PROJECT, "roles", "catalogue", "defaults", "main.yml")) as handle:
        d = yaml.safe_load(handle)
    if isinstance(overrides, str):
        with open(overrides) as handle:
            overrides = yaml.safe_load(handle)
    return cat.resolve(d["catalogue_services"], overrides=overrides, defaults=d["catalogue_service_defaults"],
                       environment=d["catalogue_environment"], phases=d["catalogue_phases"],
                       broker=d["catalogue_broker"])


def get_host(name):
    """The testinfra host ``name`` of the scenario's inventory (MOLECULE_INVENTORY_FILE)."""
    import testinfra
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, os.environ["MOLECULE_INVENTORY_FILE"]))


def wait_until(predicate, timeout, step=1.0):
    """Poll ``predicate`` every ``step`` seconds for at most ``timeout``; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# /health of every given port on ADDRESS, in one execution on the host.
HEALTH = r"""
import json, sys, urllib.request
address, out = sys.argv[1], {}
for port in sys.argv[2:]:
    try:
        out[port] = json.loads(urllib.request.urlopen("http://%s:%s/health" % (address, port), timeout=5).read().decode())
    except Exception as exc:
        out[port] = {"error": str(exc)}
print(json.dumps(out))
"""


def health_by_port(node, ports, address="127.0.0.1"):
    """str(port) -> the /health JSON (or {"error": ...}) of each port, read on the testinfra host ``node``."""
    ports = [str(port) for port in ports]
    return json.loads(node.check_output("/usr/bin/python3 -c %s %s" + " %s" * len(ports), HEALTH, address, *ports))


def health_of(node, port, address="127.0.0.1"):
    """The /health JSON of ``port`` read on the testinfra host ``node``, or None while it does not answer
    (refused, timed out, an HTTP error status or no JSON)."""
    doc = health_by_port(node, [port], address)[str(port)]
    return None if list(doc) == ["error"] else doc


# Connect to each "address:port" (3 s): open, refused or timeout; all at once.
PROBE = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor

def probe(target):
    address, port = target.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((address, int(port)))
        return "open"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    finally:
        s.close()

with ThreadPoolExecutor(len(sys.argv) - 1) as pool:
    print(json.dumps(dict(zip(sys.argv[1:], pool.map(probe, sys.argv[1:])))))
"""


def probe(node, targets):
    """target -> open, refused or timeout, for each "address:port" connected to from the testinfra host ``node``."""
    targets = list(targets)
    return json.loads(node.check_output("/usr/bin/python3 -c %s" + " %s" * len(targets), PROBE, *targets))


def docker_write(container, path, data):
    """A 0600 file in a container, written from stdin (the data never shows in argv)."""
    script = "umask 077 && mkdir -p %s && cat > %s" % (shlex.quote(os.path.dirname(path)), shlex.quote(path))
    subprocess.run(["docker", "exec", "-i", container, "sh", "-c", script], input=data.encode(), check=True)


# Prints OK, "CONNACK <rc>", "no CONNACK" or "timeout". User "-": anonymous.
ROUND_TRIP = r'''
import sys, time, threading
import paho.mqtt.client as mqtt
broker, user, password_file, topic = sys.argv[1:5]
got, connected = threading.Event(), threading.Event()
rc_box = []
c = mqtt.Client(client_id="alicia-test-%s" % time.time())
if user != "-":
    with open(password_file) as handle:
        c.username_pw_set(user, handle.read())
def on_connect(client, userdata, flags, rc):
    rc_box.append(rc)
    connected.set()
    if rc == 0:
        client.subscribe(topic, qos=1)
def on_subscribe(client, userdata, mid, granted):
    client.publish(topic, b"ping", qos=1)
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = lambda client, userdata, msg: got.set()
c.connect(broker, 1883, 10)
c.loop_start()
connected.wait(5)
if not rc_box:
    print("no CONNACK"); sys.exit(0)
if rc_box[0] != 0:
    print("CONNACK %s" % rc_box[0]); sys.exit(0)
print("OK" if got.wait(5) else "timeout")
c.loop_stop()
'''


def round_trip(host, broker, user, password_file, topic):
    """Run ROUND_TRIP on a testinfra host; returns its one-line verdict."""
    host.run("cat > /tmp/alicia-rt.py <<'PY'\n%s\nPY" % ROUND_TRIP)
    return host.check_output("/usr/bin/python3 /tmp/alicia-rt.py %s %s %s %s",
                             broker, user, password_file, topic).strip()


def run_playbook(playbook, *args, extra_vars=None, check=False, inventory=None, count_file=None, env=None,
                 timeout=900):
    """ansible-playbook ``playbook`` (a path; more playbooks or options in ``args``) on the scenario's inventory
    (``inventory``: MOLECULE_INVENTORY_FILE when None), with --check when ``check`` and the mapping ``extra_vars``
    from a 0600 file (it may hold secrets); returns (rc, output): stdout and stderr as one text, no colours.

    The module_count callback writes to ``count_file``, by default to a throwaway file (module_count.json stays
    the idempotence re-run's, which the budget tests read); ``env`` adds environment variables; ``timeout``
    (seconds, None for none) bounds the run."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           "-i", inventory or os.environ["MOLECULE_INVENTORY_FILE"], playbook] + list(args)
    if check:
        cmd.append("--check")
    with tempfile.TemporaryDirectory() as tmp:
        if extra_vars:
            path = os.path.join(tmp, "extra.json")
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                json.dump(extra_vars, handle)
            cmd += ["-e", "@" + path]
        environment = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                           ALICIA_MODULE_COUNT_FILE=count_file or os.path.join(tmp, "module_count.json"))
        environment.update(env or {})
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=environment, timeout=timeout, check=False)
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def recaps(output):
    """host -> {ok, changed, unreachable, failed} of each host in the PLAY RECAP of a run's ``output``."""
    return dict((found[0], dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found[1:]))))
                for found in RECAP.findall(output))


def recap(output, host=None):
    """{ok, changed, unreachable, failed} of ``host`` (None: the run's only host) in the PLAY RECAP of ``output``;
    asserts it is there (with the output's end)."""
    found = recaps(output)
    if host is None:
        assert len(found) == 1, (sorted(found), output[-3000:])
        host = next(iter(found))
    assert host in found, output[-3000:]
    return found[host]


def task_statuses(output, task, host):
    """What a run's ``output`` printed for ``host`` under each task whose name ends with ``task``, in
    order (``ok``, ``changed``, ``skipping``, ``fatal``...; the first item's for a loop; a task that
    printed no line for the host is left out)."""
    found = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK [") and line.split("]")[0].endswith(task):
            for after in lines[index + 1:]:
                if after.startswith("TASK [") or after.startswith("PLAY "):
                    break
                if (": [%s]" % host) in after:
                    found.append(after.split(":")[0])
                    break
    return found


def task_status(output, task, host):
    """What a run's ``output`` printed for ``host`` under the first task whose name ends with ``task``
    that printed a line for it (see ``task_statuses``), or None."""
    found = task_statuses(output, task, host)
    return found[0] if found else None


# GET url every `pause` s until the stop file appears (at most `limit` s):
# failures, versions seen in order, p99 latency.
LOAD = r'''
import json, os, sys, time, urllib.request
url, out, stop, pause, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
ok = failed = 0; errors = []; versions = []; latencies = []
end = time.monotonic() + limit
while time.monotonic() < end and not os.path.exists(stop):
    started = time.monotonic()
    try:
        body = json.loads(urllib.request.urlopen(url, timeout=3).read().decode())
        if body.get("status") != "healthy":
            raise ValueError("not healthy: %r" % body.get("status"))
        ok += 1
        if body.get("version") not in versions:
            versions.append(body.get("version"))
    except Exception as exc:
        failed += 1; errors.append(repr(exc)[:200])
    latencies.append(time.monotonic() - started)
    time.sleep(pause)
latencies.sort()
p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else None
json.dump({"ok": ok, "failed": failed, "errors": errors[:10], "versions": versions,
           "p99_ms": round(p99 * 1000, 1) if p99 else None}, open(out, "w"))
'''


class HttpLoad(object):
    """A GET of ``url`` every ``pause`` s (at most ``limit`` s), run on the testinfra host ``node``
    (a lab host: traffic stays on the lab network), as a context manager; ``result()`` stops it and
    returns {ok, failed, errors, versions (in the order seen), p99_ms}. ``name`` keeps two loads'
    files apart."""

    def __init__(self, node, url, name="load", pause=0.05, limit=240):
        self.node, self.url, self.pause, self.limit = node, url, pause, limit
        self.script, self.out, self.stop = ("/tmp/alicia-%s.py" % name, "/tmp/alicia-%s.json" % name,
                                            "/tmp/alicia-%s.stop" % name)

    def __enter__(self):
        self.node.run("cat > %s <<'PY'\n%s\nPY" % (self.script, LOAD))
        self.node.run("rm -f %s %s" % (self.out, self.stop))
        self.node.run("nohup /usr/bin/python3 %s %s %s %s %s %s >/dev/null 2>&1 &"
                      % (self.script, self.url, self.out, self.stop, self.pause, self.limit))
        return self

    def result(self):
        self.node.run("touch %s" % self.stop)
        assert wait_until(lambda: self.node.file(self.out).exists, 15)
        return json.loads(self.node.file(self.out).content_string)

    def __exit__(self, *exc):
        self.node.run("touch %s" % self.stop)
