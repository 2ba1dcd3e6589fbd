"""Part crashloop_gate: from the start of a crash-looping service to the failed health gate.

A systemd unit shaped like the service role's (Restart=on-failure,
RestartSec= the role's service_restart_sec, MemoryMax=) runs the reference
service with ALICIA_FAULT_FAIL_AT_START=1 (it exits with status 1 at once,
as a service with a Python traceback would), or a Python process that
allocates past its MemoryMax (an out-of-memory kill). The part starts the
unit and at once runs the health gate's gate() (module_utils/health.py, the
logic of alicia.platform.health_gate) on the host against 127.0.0.1 with
the unit named, with the module's defaults (timeout 90 s, interval 1 s,
max_restarts 2), and records the time from `systemctl start` to the failed
gate (target < 15 s). The host is a throwaway systemd container of the lab
image (ALICIA_TEST_IMAGE, default alicia-test/debian:bookworm), removed at
the end, so the part never touches a lab host. An Ansible task adds its
module start (~0.5 s) to these figures.
"""

import json
import os
import subprocess
import time

import yaml

from .lab import ROOT

TARGET = 15.0
IMAGE = os.environ.get("ALICIA_TEST_IMAGE", "alicia-test/debian:bookworm")
CONTAINER = "alicia-crashloop-bench"
UNIT = "alicia-crashloop-bench.service"
WORK = "/tmp/alicia-crashloop-bench"
PORT = 18990

CASES = {
    "exit": {
        "what": "exit at start (status 1)",
        "exec": "/usr/bin/python3 %s/alicia_reference_service.py" % WORK,
        "env": {"SERVICE_NAME": "crashloop_bench", "SERVICE_PORT": str(PORT), "SERVICE_VERSION": "1.0.0",
                "ENVIRONMENT": "bench", "MQTT_BROKER": "127.0.0.1", "MQTT_PORT": "1883",
                "MQTT_USERNAME": "crashloop_bench", "MQTT_PASSWORD": "unused",
                "ALICIA_FAULT_FAIL_AT_START": "1"},
        "memory": "512M",
    },
    "oom": {
        "what": "memory-limit kill (MemoryMax=32M)",
        "exec": "/usr/bin/python3 -c 'b = bytearray(256 << 20)'",
        "env": {},
        "memory": "32M",
    },
}

# Runs on the host: start the unit, gate it, print the figures as JSON.
PROBE = r'''
import json, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.alicia.platform.plugins.module_utils import health
unit, port = sys.argv[2], int(sys.argv[3])
def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return p.returncode, p.stdout, p.stderr
started = time.monotonic()
subprocess.run(["systemctl", "start", "--no-block", unit], check=True)
summary = health.gate([{"service": "crashloop_bench", "url": "http://127.0.0.1:%d/health" % port, "unit": unit}],
                      timeout=90, interval=1, run=run)
took = time.monotonic() - started
r = summary["results"][0]
print(json.dumps({"seconds": round(took, 2), "healthy": summary["healthy"], "state_reads": summary["state_reads"],
                  "attempts": r["attempts"], "process": r["process"], "error": r["error"]}))
'''


def docker(*args, check=True, capture=True):
    return subprocess.run(["docker"] + list(args), check=check, capture_output=capture, text=True)


def start_container():
    docker("rm", "-f", CONTAINER, check=False)
    docker("run", "-d", "--name", CONTAINER, "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
           "--tmpfs", "/run", "--tmpfs", "/run/lock", "--cap-add", "SYS_ADMIN", IMAGE, "/lib/systemd/systemd")
    for _ in range(60):
        state = docker("exec", CONTAINER, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise RuntimeError("systemd in %s did not come up" % CONTAINER)


def restart_sec():
    with open(os.path.join(ROOT, "roles", "service", "defaults", "main.yml")) as handle:
        return int(yaml.safe_load(handle)["service_restart_sec"])


def unit_text(case, delay):
    lines = ["[Unit]", "Description=alicia crash-loop gate benchmark (%s)" % case["what"],
             "StartLimitIntervalSec=0", "", "[Service]", "Type=simple", "ExecStart=%s" % case["exec"],
             "Restart=on-failure", "RestartSec=%d" % delay, "MemoryMax=%s" % case["memory"], "MemorySwapMax=0"]
    lines += ["Environment=%s=%s" % item for item in sorted(case["env"].items())]
    return "\n".join(lines) + "\n"


def copy_code(host):
    """The module_utils the gate needs, as a collection tree, and the reference service."""
    docker("exec", host, "mkdir", "-p", WORK + "/ac/ansible_collections/alicia/platform/plugins/module_utils")
    for name in ("health.py", "_process_state.py"):
        docker("cp", os.path.join(ROOT, "plugins", "module_utils", name),
               "%s:%s/ac/ansible_collections/alicia/platform/plugins/module_utils/%s" % (host, WORK, name))
    docker("cp", os.path.join(ROOT, "roles", "service", "files", "alicia_reference_service.py"),
           "%s:%s/alicia_reference_service.py" % (host, WORK))
    subprocess.run(["docker", "exec", "-i", host, "sh", "-c", "cat > %s/probe.py" % WORK], input=PROBE,
                   text=True, check=True)


def run_case(host, name, delay):
    case = CASES[name]
    proc = subprocess.run(["docker", "exec", "-i", host, "sh", "-c",
                           "cat > /run/systemd/system/%s && systemctl daemon-reload" % UNIT],
                          input=unit_text(case, delay), text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError("cannot install the unit: %s" % proc.stderr.strip())
    try:
        out = docker("exec", host, "python3", WORK + "/probe.py", WORK + "/ac", UNIT, str(PORT), check=False)
        if out.returncode != 0:
            raise RuntimeError("the gate run failed: %s" % (out.stderr.strip() or out.stdout.strip()))
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        docker("exec", host, "sh", "-c", "systemctl stop %s; systemctl reset-failed %s; rm -f /run/systemd/system/%s;"
               " systemctl daemon-reload" % (UNIT, UNIT, UNIT), check=False)


NAME = "crashloop_gate"
NEEDS = "Docker and the lab image (a throwaway container)"
WHAT = "systemctl start of a crash-looping unit to the failed gate (exit at start, memory-limit kill), target < 15 s"


def run(context):
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        raise RuntimeError("no image %s: `make image` first" % IMAGE)
    start_container()
    delay = restart_sec()
    try:
        copy_code(CONTAINER)
        for name in sorted(CASES):
            got = [run_case(CONTAINER, name, delay) for _ in range(context.repetitions())]
            unhealthy = [g for g in got if not g["healthy"]]
            context.results.add(NAME, "%s: start to failed gate" % CASES[name]["what"],
                                [g["seconds"] for g in got], target=("<", TARGET),
                                note="RestartSec=%d; restarts %s; gate failed in %d of %d runs"
                                % (delay, [(g["process"] or {}).get("restarts") for g in got], len(unhealthy),
                                   len(got)))
    finally:
        docker("rm", "-f", CONTAINER, check=False)
