"""Part health_gate: alicia.platform.health_gate against an ansible.builtin.uri
until/retries loop and seed 000's sequential curl sweep, over the same endpoints.

Where: the deployed one-host lab when this run deployed it (the 22 services'
published ports on the host's lab address, probed from the controller,
which the lab's firewall allows), else 22 stub HTTP servers on 127.0.0.1
(one per service, each answering {"status": "healthy"}). Each repetition
runs one playbook on localhost with two plays, health_gate first in odd
repetitions and the uri loop first in even ones, then seed 000's
health_check.sh (its loop verbatim, the ports and host rewritten by
seed_sweep_script) with bash. Figures: the Ansible task durations
(ansible.posix.json callback), the module's own `elapsed`, the sweep's wall
time, and the paired ratios; also gate() in process over 23 endpoints of one
stub server (what test_gate_all_healthy_concurrently once asserted).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import lab, stats

NAME = "health_gate"
NEEDS = "nothing; uses the one-host lab when this run deployed it"
WHAT = "health_gate vs uri until/retries loop (>= 10x) vs seed 000's curl sweep (faster), as ratios"

GATE_PLAY = """
- name: health_gate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate with health_gate
      alicia.platform.health_gate:
        endpoints: "{{ endpoints }}"
        timeout: 30
        interval: 1
"""
URI_PLAY = """
- name: uri
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate with uri until/retries
      ansible.builtin.uri:
        url: "{{ item.url }}"
        return_content: true
        timeout: 5
      register: probe
      until: probe.status == 200 and (probe.json.status | default('')) == 'healthy'
      retries: 30
      delay: 1
      loop: "{{ endpoints }}"
      loop_control:
        label: "{{ item.service }}"
"""

# Seed 000's health_check.sh, its loop kept as it is: only the list of
# "port:Name" and the host (localhost in the seed) are filled in.
SEED_SWEEP = """#!/bin/bash
# health_check.sh (seed 000), rewritten to the benchmark's host and ports

services=(
%(services)s
)

echo "Checking Alicia Service Health..."
echo "=================================="

for service in "${services[@]}"; do
  port=$(echo $service | cut -d: -f1)
  name=$(echo $service | cut -d: -f2)

  if curl -s -f http://%(host)s:$port/health > /dev/null; then
    echo "OK $name (Port $port) - Healthy"
  else
    echo "FAIL $name (Port $port) - Unhealthy"
  fi
done
"""


def seed_sweep_script(entries, host):
    """Seed 000's sweep over [(name, port), ...] on host."""
    services = "\n".join('  "%d:%s"' % (port, name.replace("_", " ").title()) for name, port in entries)
    return SEED_SWEEP % {"services": services, "host": host}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802
        body = json.dumps({"status": "healthy", "service": self.server.service}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def start_server(name):
    server = Server(("127.0.0.1", 0), Handler)
    server.service = name
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _seconds(stamp):
    return datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def run_gate_playbook(path, endpoints):
    env = dict(os.environ)
    env.update({"ANSIBLE_CONFIG": os.path.join(lab.ROOT, "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                "ANSIBLE_NOCOLOR": "1",
                "PATH": lab.BIN + os.pathsep + env.get("PATH", "")})
    extra = json.dumps({"endpoints": endpoints, "ansible_python_interpreter": sys.executable})
    proc = subprocess.run([os.path.join(lab.BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                           extra, path], cwd=lab.ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("the gate playbook failed:\n%s\n%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
    report, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{\n"):])
    tasks = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            tasks[task["task"]["name"]] = {"seconds": _seconds(duration["end"]) - _seconds(duration["start"]),
                                           "result": task["hosts"]["localhost"]}
    return tasks


def lab_endpoints():
    """[(service, port)] of the shipped catalogue with the lab's overrides, and the host's address."""
    import yaml
    from .catalogue_data import resolved
    with open(os.path.join(lab.ROOT, lab.INVENTORY, "group_vars", "all", "main.yml")) as handle:
        inventory = yaml.safe_load(handle)
    services = resolved(inventory.get("catalogue_overrides") or {}, inventory.get("catalogue_environment"))
    entries = sorted(((name, entry["port"]) for name, entry in services.items() if entry["kind"] == "service"),
                     key=lambda pair: pair[1])
    address = sorted(lab.host_addresses().items())[0][1]
    return entries, address


def run(context):
    sys.path.insert(0, os.path.join(lab.ROOT, ".collections"))
    from ansible_collections.alicia.platform.plugins.module_utils.health import gate

    servers = []
    if context.deployed == 1:
        entries, host = lab_endpoints()
        where = "the one-host lab (%s)" % host
    else:
        entries = [(name, 0) for name in SERVICES]
        servers = [start_server(name) for name, _ in entries]
        entries = [(name, server.server_address[1]) for (name, _), server in zip(entries, servers)]
        host = "127.0.0.1"
        where = "stub servers on 127.0.0.1"
    endpoints = [{"service": name, "host": "localhost", "url": "http://%s:%d/health" % (host, port),
                  "expect_status": 200, "json_field": "status", "json_value": "healthy", "timeout": 5}
                 for name, port in entries]
    single = start_server("svc")
    servers.append(single)
    single_endpoints = [{"service": "svc%02d" % i, "url": "http://127.0.0.1:%d/healthy" % single.server_address[1]}
                        for i in range(23)]
    figures = {"gate_task": [], "gate_elapsed": [], "uri_task": [], "sweep": [], "one_server": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sweep = os.path.join(tmp, "health_check.sh")
            with open(sweep, "w") as handle:
                handle.write(seed_sweep_script(entries, host))
            for index in range(context.repetitions()):
                plays = GATE_PLAY + URI_PLAY if index % 2 == 0 else URI_PLAY + GATE_PLAY
                path = os.path.join(tmp, "gate-%d.yml" % index)
                with open(path, "w") as handle:
                    handle.write("---" + plays)
                tasks = run_gate_playbook(path, endpoints)
                figures["gate_task"].append(tasks["Gate with health_gate"]["seconds"])
                figures["gate_elapsed"].append(tasks["Gate with health_gate"]["result"]["elapsed"])
                figures["uri_task"].append(tasks["Gate with uri until/retries"]["seconds"])
                started = time.monotonic()
                proc = subprocess.run(["bash", sweep], capture_output=True, text=True)
                figures["sweep"].append(time.monotonic() - started)
                if "FAIL" in proc.stdout:
                    raise RuntimeError("the seed's sweep saw an unhealthy service:\n%s" % proc.stdout)
                summary = gate(single_endpoints, timeout=5, interval=0.1)
                figures["one_server"].append(summary["elapsed"])
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    results = context.results
    note = "%d endpoints on %s" % (len(endpoints), where)
    results.add(NAME, "health_gate task (Ansible task duration)", figures["gate_task"], note=note)
    results.add(NAME, "health_gate module, its own elapsed", figures["gate_elapsed"], note=note)
    results.add(NAME, "uri until/retries loop task", figures["uri_task"], note=note)
    results.add(NAME, "seed 000 health_check.sh (sequential curl)", figures["sweep"], note=note)
    results.add(NAME, "ratio uri loop / health_gate task", stats.paired_ratios(figures["uri_task"],
                figures["gate_task"]), unit="x", target=(">=", 10.0))
    results.add(NAME, "ratio curl sweep / health_gate task", stats.paired_ratios(figures["sweep"],
                figures["gate_task"]), unit="x", target=(">", 1.0),
                note="the task delegated to the controller runs in its process (the action plugin); the sweep "
                     "checks no JSON and never waits")
    results.add(NAME, "ratio curl sweep / health_gate module elapsed", stats.paired_ratios(figures["sweep"],
                figures["gate_elapsed"]), unit="x", target=(">", 1.0))
    results.add(NAME, "gate() in process, 23 endpoints of one stub server", figures["one_server"],
                target=("<", 0.5))


SERVICES = [
    "security_gateway", "device_registry", "config_service", "configuration_manager", "discovery_service",
    "health_monitor", "service_orchestrator", "stt_service", "ai_service", "tts_service", "voice_router",
    "device_manager", "ha_bridge", "sonos_service", "device_control", "grok_integration", "advanced_voice",
    "personality_system", "multi_language", "load_balancer", "metrics_collector", "event_scheduler",
]
