#!/usr/bin/env python3
"""Benchmark: alicia.platform.health_gate vs ansible.builtin.uri with until/retries.

Starts 23 healthy HTTP endpoints on 127.0.0.1 (one server per service, as
on a one-host lab), then gates them through ansible-playbook on localhost:

  * health_gate: one task, every endpoint probed concurrently;
  * uri:         ansible.builtin.uri looped over the same endpoints, with
                 until/retries checking status 200 and JSON status == healthy.

Prints the task durations reported by Ansible (ansible.posix.json callback),
the module's own `elapsed`, whole-playbook wall times and the speed-up, and
the in-process figure the unit test test_gate_all_healthy_concurrently
used to assert: gate() over 23 healthy endpoints of one server on
127.0.0.1 (timeout 5, interval 0.1), its own `elapsed`.
Figures only: nothing is asserted (targets: health_gate task < 0.5 s,
>= 10x; gate() of 23 endpoints on one server < 0.5 s).

    .venv/bin/python benchmarks/health_gate_bench.py [--runs 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICES = [
    "security_gateway", "device_registry", "config_service", "configuration_manager", "discovery_service",
    "health_monitor", "service_orchestrator", "stt_service", "ai_service", "tts_service", "voice_router",
    "device_manager", "ha_bridge", "sonos_service", "device_control", "grok_integration", "advanced_voice",
    "personality_system", "multi_language", "load_balancer", "metrics_collector", "event_scheduler",
]
# 22 services plus a second instance of the voice router: 23 endpoints.
SERVICES.append("voice_router_2")

PLAYBOOK = """
- name: health_gate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate with health_gate
      alicia.platform.health_gate:
        endpoints: "{{ endpoints }}"
        timeout: 30
        interval: 1
      register: gate

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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server


def start_servers():
    return [start_server(name) for name in SERVICES]


def seconds(stamp):
    return datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def run_playbook(playbook, endpoints):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    })
    extra = json.dumps({"endpoints": endpoints, "ansible_python_interpreter": sys.executable})
    started = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", extra, playbook], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    # The JSON document of the stdout callback (other callbacks may print around it).
    report, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{\n"):])
    tasks = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            tasks[task["task"]["name"]] = {
                "seconds": seconds(duration["end"]) - seconds(duration["start"]),
                "result": task["hosts"]["localhost"],
            }
    return wall, tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions (the median is reported)")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    from ansible_collections.alicia.platform.plugins.module_utils.health import gate

    servers = start_servers()
    endpoints = [{"service": name, "host": "localhost",
                  "url": "http://127.0.0.1:%d/health" % server.server_address[1],
                  "expect_status": 200, "json_field": "status", "json_value": "healthy", "timeout": 5}
                 for name, server in zip(SERVICES, servers)]
    # The unit test's set-up: 23 endpoints of one server (one path, default expectations).
    single = start_server("svc")
    single_endpoints = [{"service": "svc%02d" % i, "url": "http://127.0.0.1:%d/healthy" % single.server_address[1]}
                        for i in range(len(endpoints))]
    figures = {"in_process": [], "one_server": [], "module_elapsed": [], "health_gate_task": [], "uri_task": [],
               "wall": []}
    with tempfile.TemporaryDirectory() as tmp:
        playbook = os.path.join(tmp, "bench.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK)
        for run in range(args.runs):
            started = time.monotonic()
            summary = gate(endpoints, timeout=30, interval=1)
            figures["in_process"].append(time.monotonic() - started)
            assert summary["healthy"], summary["msg"]
            summary = gate(single_endpoints, timeout=5, interval=0.1)
            assert summary["healthy"], summary["msg"]
            figures["one_server"].append(summary["elapsed"])
            wall, tasks = run_playbook(playbook, endpoints)
            figures["wall"].append(wall)
            figures["health_gate_task"].append(tasks["Gate with health_gate"]["seconds"])
            figures["module_elapsed"].append(tasks["Gate with health_gate"]["result"]["elapsed"])
            figures["uri_task"].append(tasks["Gate with uri until/retries"]["seconds"])
            print("run %d: health_gate task %.3f s (module elapsed %.3f s), uri loop %.3f s, "
                  "gate() on one server %.3f s"
                  % (run + 1, figures["health_gate_task"][-1], figures["module_elapsed"][-1], figures["uri_task"][-1],
                     figures["one_server"][-1]))
    for server in servers + [single]:
        server.shutdown()
        server.server_close()

    med = dict((key, statistics.median(values)) for key, values in figures.items())
    print()
    print("health gate over %d healthy endpoints, median of %d runs" % (len(endpoints), args.runs))
    print("  %-46s %8.3f s" % ("gate() in process (module_utils)", med["in_process"]))
    print("  %-46s %8.3f s" % ("gate() elapsed, 23 endpoints on one server", med["one_server"]))
    print("  %-46s %8.3f s" % ("health_gate module, its own elapsed", med["module_elapsed"]))
    print("  %-46s %8.3f s" % ("health_gate task (Ansible task duration)", med["health_gate_task"]))
    print("  %-46s %8.3f s" % ("uri + until/retries loop task", med["uri_task"]))
    print("  %-46s %8.1fx" % ("speed-up, task vs task", med["uri_task"] / med["health_gate_task"]))
    print("  %-46s %8.3f s" % ("whole playbook wall time (both plays)", med["wall"]))
    target = med["health_gate_task"] < 0.5 and med["uri_task"] / med["health_gate_task"] >= 10
    print("  target (task < 0.5 s and >= 10x): %s" % ("met" if target else "NOT met"))
    print("  target (gate() on one server < 0.5 s, was asserted by test_gate_all_healthy_concurrently): %s"
          % ("met" if med["one_server"] < 0.5 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
