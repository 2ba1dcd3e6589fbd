#!/usr/bin/env python3
"""Benchmark: site.yml on the lab, a first run and the re-run(s).

Runs `ansible-playbook playbooks/site.yml -i inventories/lab` on the running
lab host(s) (LAB_HOSTS=1: one host in every group), first once, then again
(--runs times), with the alicia.platform.module_count callback enabled next
to the ansible.posix.profile_tasks that ansible.cfg enables. For each run it
prints the wall time, the PLAY RECAP changed count, and the module
executions per host and per role (the callback's JSON report); then the
target line for the re-run:

    second run: X s (target < 10 s), N module executions (budget 16)

X is the median wall time of the re-runs, N the largest per-host count.
Figures only: nothing is asserted and the exit status does not depend on
the targets (it is 1 when ansible-playbook fails, 2 when no lab host runs).

The lab host must be up: `make lab-up` starts it (scripts/lab.sh up). The
"first" run is the first run of this script: for a fresh-host figure start
from a new host (`make lab-down lab-up`). Facts are cached by ansible.cfg
(gathering = smart, .cache/facts), so re-runs gather no facts while the
cache is fresh, as in everyday use. Logs and reports: .cache/bench/.

    .venv/bin/python benchmarks/rerun_bench.py [--skip-first] [--runs 3] [--limit alicia-lab-1]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".cache", "bench")
CALLBACKS = "ansible.posix.profile_tasks,alicia.platform.module_count"
# Targets by scope: the preflight, baseline and broker part of site.yml
# (tags baseline,broker), and the whole platform (the six phases too).
SCOPES = {
    "base": {"tags": "baseline,broker", "target": 10.0, "budget": 16},
    "platform": {"tags": None, "target": 15.0, "budget": 16 + 6 * 3},
}
# The first run on a fresh lab host (packages installed), either scope.
FIRST_RUN_TARGET = 90.0
PHASES = ["core", "management", "voice", "devices", "advanced", "observability"]
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                   r"\s+failed=(?P<failed>\d+)")
START_LAB = ("start it with `make lab-up` (LAB_HOSTS=1, the default: one host in every group; "
             "it runs scripts/lab.sh up), then run this again")


def lab_hosts():
    """Names of the running lab containers (label alicia.lab=1), or None when Docker does not answer."""
    docker = shutil.which("docker")
    if not docker:
        return None
    proc = subprocess.run([docker, "ps", "--filter", "label=alicia.lab=1", "--filter", "status=running",
                           "--format", "{{.Names}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return sorted(line.strip() for line in proc.stdout.splitlines() if line.strip())


def recap(stdout):
    """{host: {ok, changed, unreachable, failed}} from the PLAY RECAP lines."""
    hosts = {}
    for line in stdout.splitlines():
        match = RECAP.match(line.strip())
        if match:
            hosts[match.group("host")] = dict((key, int(match.group(key)))
                                              for key in ("ok", "changed", "unreachable", "failed"))
    return hosts


def run_site(label, args):
    """One ansible-playbook run -> {wall, rc, recap, counts}; the log goes to .cache/bench/rerun-<label>.log."""
    os.makedirs(OUT, exist_ok=True)
    report = os.path.join(OUT, "rerun-%s.json" % label)
    log = os.path.join(OUT, "rerun-%s.log" % label)
    if os.path.exists(report):
        os.unlink(report)
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_CALLBACKS_ENABLED": CALLBACKS,
        "ALICIA_MODULE_COUNT_FILE": report,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": bindir + os.pathsep + env.get("PATH", ""),
    })
    command = [os.path.join(bindir, "ansible-playbook"), args.playbook, "-i", args.inventory]
    if args.limit:
        command += ["--limit", args.limit]
    if SCOPES[args.scope]["tags"]:
        command += ["--tags", SCOPES[args.scope]["tags"]]
    if args.extra_vars_file:
        command += ["-e", "@" + args.extra_vars_file]
    print("%s run: %s (log: %s)" % (label, " ".join(command[1:]), os.path.relpath(log, ROOT)), flush=True)
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    with open(log, "w") as handle:
        handle.write(proc.stdout)
    counts = None
    if os.path.exists(report):
        with open(report) as handle:
            counts = json.load(handle)["hosts"]
    return {"label": label, "wall": wall, "rc": proc.returncode, "recap": recap(proc.stdout), "counts": counts,
            "log": log, "stdout": proc.stdout}


def extra_services(count, inventory):
    """An extra-vars file (0600) adding `count` services to the inventory's own catalogue_overrides, and their
    MQTT passwords to its catalogue_secrets (extra vars replace a variable whole, so both are merged here)."""
    import secrets as random_secrets
    import yaml
    group_vars = os.path.join(ROOT, inventory, "group_vars", "all")
    with open(os.path.join(group_vars, "vault.yml")) as handle:
        known = (yaml.safe_load(handle) or {}).get("catalogue_secrets") or {}
    with open(os.path.join(group_vars, "main.yml")) as handle:
        overrides = dict((yaml.safe_load(handle) or {}).get("catalogue_overrides") or {})
    passwords = dict(known)
    for index in range(count):
        name = "extra_%03d" % (index + 1)
        overrides[name] = {"phase": PHASES[index % len(PHASES)], "port": 9100 + index,
                           "description": "benchmark copy %d of the reference service" % (index + 1),
                           "resources": {"cpu_limit": 0.25, "memory_limit": "64M", "cpu_reservation": 0.1,
                                         "memory_reservation": "32M"}}
        passwords[name] = {"MQTT_PASSWORD": random_secrets.token_urlsafe(24)}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "extra-services.yml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump({"catalogue_overrides": overrides, "catalogue_secrets": passwords}, handle)
    print("%d extra services in %s" % (count, os.path.relpath(path, ROOT)))
    return path


def show(run):
    changed = sum(host["changed"] for host in run["recap"].values())
    print("  wall time %.1f s, changed=%d (PLAY RECAP, all hosts), ansible-playbook exit %d"
          % (run["wall"], changed, run["rc"]))
    if not run["counts"]:
        print("  no module_count report (is the callback loaded? see the log)")
        return
    for host, entry in sorted(run["counts"].items()):
        per_host = run["recap"].get(host, {})
        print("  %s: %d module executions%s, changed=%s"
              % (host, entry["total"], " (%d retries)" % entry["retries"] if entry.get("retries") else "",
                 per_host.get("changed", "?")))
        for role, count in sorted(entry["roles"].items(), key=lambda pair: (-pair[1], pair[0])):
            print("    %-40s %5d" % (role, count))
        tasks = sorted(entry["tasks"].items(), key=lambda pair: (-pair[1], pair[0]))[:5]
        if tasks:
            print("    top tasks: %s" % "; ".join("%s (%d)" % pair for pair in tasks))


def failed(run):
    if run["rc"] == 0:
        return False
    print()
    print("ansible-playbook failed (exit %d); the end of %s:" % (run["rc"], os.path.relpath(run["log"], ROOT)))
    print("\n".join(run["stdout"].splitlines()[-40:]))
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="The lab host must be running: make lab-up")
    parser.add_argument("--skip-first", action="store_true", help="only the re-run(s): the lab is already deployed")
    parser.add_argument("--runs", type=int, default=1, help="re-runs after the first run (the median is reported)")
    parser.add_argument("--limit", help="passed to ansible-playbook --limit")
    parser.add_argument("--inventory", default="inventories/lab", help="default: inventories/lab")
    parser.add_argument("--playbook", default="playbooks/site.yml", help="default: playbooks/site.yml")
    parser.add_argument("--scope", choices=sorted(SCOPES), default="platform",
                        help="base: preflight, baseline and broker (target < 10 s, budget 16); platform: the whole "
                             "site.yml (target < 15 s, budget 34). Default: platform")
    parser.add_argument("--extra-services", type=int, default=0, metavar="N",
                        help="add N copies of the reference service to the catalogue (catalogue_overrides, spread "
                             "over the six phases, ports from 9100) to measure what each service adds")
    args = parser.parse_args()
    args.runs = max(1, args.runs)
    args.extra_vars_file = extra_services(args.extra_services, args.inventory) if args.extra_services else None

    if args.inventory.rstrip("/") == "inventories/lab":
        hosts = lab_hosts()
        if hosts is None:
            print("Docker does not answer, so no lab host can be running: %s." % START_LAB, file=sys.stderr)
            return 2
        if not hosts:
            print("No lab host is running (no container labelled alicia.lab=1): %s." % START_LAB, file=sys.stderr)
            return 2
        print("lab hosts: %s" % ", ".join(hosts))
        if len(hosts) > 1 and not args.limit:
            print("note: %d lab hosts run (LAB_HOSTS=3?); the figures are per host, the target line takes the "
                  "largest. For the one-host figure: make lab-down && make lab-up (LAB_HOSTS=1)." % len(hosts))
        if not os.path.exists(os.path.join(ROOT, args.inventory, "group_vars", "all", "vault.yml")):
            print("warning: %s/group_vars/all/vault.yml is missing (scripts/lab.sh up writes it): "
                  "make lab-up" % args.inventory)

    if not args.skip_first:
        first = run_site("first", args)
        show(first)
        if failed(first):
            return 1
        if not any(host["changed"] for host in first["recap"].values()):
            print("  (nothing changed: the host was already deployed; for a fresh-host first run: "
                  "make lab-down && make lab-up)")

    reruns = []
    for index in range(args.runs):
        run = run_site("second" if args.runs == 1 else "second-%d" % (index + 1), args)
        show(run)
        if failed(run):
            return 1
        reruns.append(run)

    wall = statistics.median(run["wall"] for run in reruns)
    totals = [entry["total"] for run in reruns for entry in (run["counts"] or {}).values()]
    changed = max(sum(host["changed"] for host in run["recap"].values()) for run in reruns)
    print()
    if totals:
        executions = max(totals)
        spread = "" if min(totals) == executions else " (varies: %d to %d)" % (min(totals), executions)
        print("second run (%s%s): %.1f s (target < %.0f s), %d module executions (budget %d)%s"
              % (args.scope, ", +%d services" % args.extra_services if args.extra_services else "", wall,
                 SCOPES[args.scope]["target"], executions, SCOPES[args.scope]["budget"], spread))
    else:
        print("second run: %.1f s (target < %.0f s), module executions unknown (budget %d): no callback report"
              % (wall, SCOPES[args.scope]["target"], SCOPES[args.scope]["budget"]))
    print("  median of %d re-run(s); changed=%d (target 0); per-host module executions, largest host; "
          "wall time and count are figures, not asserted" % (len(reruns), changed))
    if not args.skip_first and any(host["changed"] for host in first["recap"].values()):
        print("first run (%s): %.1f s (target < %.0f s)" % (args.scope, first["wall"], FIRST_RUN_TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
