"""Fixtures and helpers of the balancer scenario.

The host runs three reference service instances (alicia-demo@1..3 on
127.0.0.1:18101-18103, written by prepare.yml) behind HAProxy on port 18100.
Load loops and probes run on the host itself with its Python (the image has
no curl); playbooks (converge.yml with other variables, server_ops.yml)
run with ansible-playbook against Molecule's inventory.
"""

import json
import os
import sys
import time

import pytest
import testinfra

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "balancer")
HOST = "alicia-%s" % SCENARIO
SCENARIO_DIR = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", os.path.dirname(os.path.dirname(__file__)))
PROJECT = os.environ.get(
    "MOLECULE_PROJECT_DIRECTORY",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")),
)
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import run_playbook  # noqa: E402
PUBLISHED = 18100
SOCKET = "/run/haproxy/admin.sock"
SERVERS = {"demo-1": "demo_1", "demo-2": "demo_2", "demo-3": "demo_3"}
SERVICES = [{"name": "demo", "port": 18100,
             "servers": [{"name": "demo-1", "port": 18101}, {"name": "demo-2", "port": 18102},
                         {"name": "demo-3", "port": 18103}]}]

# GET http://127.0.0.1:18100/health `count` times over `seconds`, each answer
# counted by the instance that gave it (the "service" of its JSON); a request
# fails when it raises or does not answer 200 with status healthy. Options:
#   --kill UNIT --at S   systemctl kill -s KILL UNIT S seconds in, and watch
#                        the runtime API until its server is down (down_after_s)
#   --until FILE         run until FILE exists (at most `seconds`), for a
#                        loop in the background while something else happens
LOAD = r'''
import argparse, json, os, socket, subprocess, threading, time, urllib.request
p = argparse.ArgumentParser()
p.add_argument("count", type=int); p.add_argument("seconds", type=float)
p.add_argument("--kill"); p.add_argument("--server"); p.add_argument("--at", type=float, default=1.0)
p.add_argument("--until"); p.add_argument("--port", type=int, default=18100)
a = p.parse_args()
result = {"requests": 0, "failed": 0, "errors": [], "by_instance": {}, "down_after_s": None}
def state(server):
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect("/run/haproxy/admin.sock")
    s.sendall(b"show servers state demo\n"); data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    for line in data.decode().splitlines():
        f = line.split()
        if len(f) > 6 and f[3] == server: return int(f[5])
def stat(server):
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect("/run/haproxy/admin.sock")
    s.sendall(b"show stat\n"); data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    lines = data.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == "demo" and row.get("svname") == server: return row
def killer():
    time.sleep(a.at)
    before = stat(a.server)
    killed = time.monotonic()
    subprocess.run(["systemctl", "kill", "--signal=KILL", a.kill], check=True)
    result["killed_at_s"] = round(killed - start, 3)
    while time.monotonic() - killed < 10:
        if state(a.server) == 0:
            result["down_after_s"] = round(time.monotonic() - killed, 3)
            after = stat(a.server)
            # What took it out of rotation, counted by HAProxy itself.
            result["failed_checks"] = int(after["chkfail"]) - int(before["chkfail"])
            result["went_down"] = int(after["chkdown"]) - int(before["chkdown"])
            result["check_status"] = after["check_status"]
            return
        time.sleep(0.05)
start = time.monotonic()
if a.kill:
    t = threading.Thread(target=killer); t.start()
i = 0
while True:
    if a.until:
        if os.path.exists(a.until) or time.monotonic() - start > a.seconds: break
    elif i >= a.count: break
    i += 1
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % a.port, timeout=5) as r:
            doc = json.load(r)
        name = doc.get("service", "?")
        result["by_instance"][name] = result["by_instance"].get(name, 0) + 1
        if r.status != 200 or doc.get("status") != "healthy":
            result["failed"] += 1; result["errors"].append("%s %s" % (r.status, doc))
    except Exception as exc:
        result["failed"] += 1; result["errors"].append(repr(exc))
    if not a.until:
        time.sleep(max(0.0, start + i * a.seconds / a.count - time.monotonic()))
    else:
        time.sleep(0.02)
result["requests"] = i
if a.kill: t.join()
result["elapsed_s"] = round(time.monotonic() - start, 3)
result["errors"] = result["errors"][:5]
print(json.dumps(result, sort_keys=True))
'''

# One request whose headers are sent in two parts around `systemctl reload
# haproxy`: the connection is accepted by the old HAProxy process and must
# still be answered after the new one took the listening socket over.
INFLIGHT = r'''
import json, socket, subprocess, time
def pids():
    master = subprocess.run(["systemctl", "show", "--property=MainPID", "--value", "haproxy.service"],
                            capture_output=True, text=True).stdout.strip()
    workers = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout.split()
    return [master] + sorted(workers)
s = socket.create_connection(("127.0.0.1", 18100), timeout=10)
s.sendall(b"GET /health HTTP/1.1\r\nHost: balancer\r\n")
time.sleep(0.3)
before = pids()
subprocess.run(["systemctl", "reload", "haproxy.service"], check=True)
time.sleep(1.0)
after = pids()
s.sendall(b"Connection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
text = data.decode("utf-8", "replace")
print(json.dumps({"status_line": text.splitlines()[0] if text else "", "body": text.split("\r\n\r\n", 1)[-1],
                  "pids_before": before, "pids_after": after}))
'''


@pytest.fixture(scope="session")
def lb():
    return testinfra.get_host("docker://%s" % HOST)


def put_script(host, name, text):
    host.run("cat > /tmp/%s <<'PY'\n%s\nPY" % (name, text))
    return "/tmp/%s" % name


def load(host, count, seconds, *args):
    """Run the load loop on the host; its JSON result."""
    script = put_script(host, "alicia-load.py", LOAD)
    out = host.check_output("python3 %s %d %s %s" % (script, count, seconds, " ".join(args)))
    return json.loads(out)


def runtime(host, command):
    """One runtime API command on the host (socat, installed by the role)."""
    return host.check_output("echo %s | socat -t 5 - unix-connect:%s" % (json.dumps(command), SOCKET))


def servers_state(host):
    """{server: {op, admin, uweight, iweight}} of backend demo, from `show servers state`."""
    found = {}
    for line in runtime(host, "show servers state demo").splitlines():
        fields = line.split()
        if len(fields) > 8 and fields[1] == "demo":
            found[fields[3]] = {"op": int(fields[5]), "admin": int(fields[6]), "uweight": int(fields[7]),
                                "iweight": int(fields[8])}
    return found


def wait_for(predicate, timeout=15.0, interval=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def wait_all_up(host, timeout=20.0):
    wait_for(lambda: all(s["op"] == 2 for s in servers_state(host).values()), timeout,
             what="every demo server up")


def haproxy_pids(host):
    """(master pid, worker pids) of haproxy.service."""
    master = int(host.check_output("systemctl show --property=MainPID --value haproxy.service"))
    workers = sorted(int(p) for p in host.check_output("pgrep -P %d haproxy || true" % master).split())
    return master, workers


def playbook(name, extra_vars=None, check=False):
    """ansible-playbook <scenario>/<name> on Molecule's inventory, extra vars from a 0600 file; (rc, output).
    Its module counts go to a throwaway file: module_count.json holds the idempotence re-run the budget test reads."""
    return run_playbook(os.path.join(SCENARIO_DIR, name), extra_vars=extra_vars, check=check, timeout=None)
