"""Part zero_downtime: playbooks/deploy.yml under load, a good release and bad ones, on the one-host lab.

On the deployed one-host lab (the shipped catalogue with the lab inventory:
tts_service runs two instances, tts-primary on 9000 and tts-secondary on
9001, behind the host's HAProxy on the published port 8003), each
repetition runs deploy.yml three times while a probe runs ON the lab host
(parts/zero_downtime_probe.py, standard library only, every URL the host's
own loopback, bounded: PAUSE s between requests, at most LIMIT s and
MAX_SAMPLES samples per stream). The probe sends one GET /health at a time
through the balancer (the load), polls each watched port's /health, reads
HAProxy's server states from its runtime API and watches the deployment
history (/var/lib/alicia/deployments.json), all stamped with the host's
clock; parts/zero_downtime_figures.py turns the samples into figures:

1. rolling update: the multi-instance service to a new version
   (strategy=rolling), under load: failed requests (not HTTP 200 with
   status "healthy"), p99 latency (nearest rank, ms), and the roll at the
   balancer: from the first instance leaving rotation (drained) to the last
   one back in rotation (HAProxy admin state, sampled every 0.1 s);
2. bad release of the multi-instance service (a new version whose instances
   exit at start: ALICIA_FAULT_FAIL_AT_START=1 through catalogue_overrides
   in an -e @file, as the Molecule tests do), under load: failed requests,
   p99, and "failed gate to the old version serving": from the history
   write that records the release's failed gate (the file's modification
   time) to the failed instance back in rotation at HAProxy (it is put back
   only once its gate passed on the previous version); when its own port
   first answered the previous version is in the note;
3. bad release of a single-instance service (metrics_collector,
   strategy=direct, no balancer, polled on its port every PAUSE s): from the
   failed gate (as above) to the first healthy answer of the previous
   version after which every answer is healthy (it is not restarted again),
   and the seconds without a healthy answer: the sum of the stretches
   without one, each from the last healthy answer before it to the first
   after it.

4. blue_green (after the repetitions above): ai_service (single instance,
   not otherwise used here) given slot_ports [9020, 9021] through an
   -e @file (the inventory's catalogue_overrides plus slot_ports; site.yml
   once puts it in its slots behind HAProxy on its published port 8002,
   every later run passes the same file). Per repetition, the probe's load
   through :8002 and its polls of both slot ports around: deploy.yml
   strategy=blue_green to a new version (failed requests, p99); a release
   that exits at start (the run fails): failed requests, and "failed gate to
   the old version serving" = the longest stretch of the load without a
   healthy answer of the version serving before (0.0 when it answered every
   request); rollback.yml (a switch back, run with -v so the slots module's
   result is printed): from the playbook's start (host clock, shared with
   the lab host's) to the load's first answer of the previous version, the
   module's own switch_seconds (slot started, gated, map set), and the
   longest stretch of the load without any healthy answer.

The versions are new names each repetition (a bad release is remembered as
bad). The lab is left on the versions of the last repetition (ai_service in
slots), so no later part reuses it as deployed. --quick skips the lab runs
(a converge and six deploy.yml runs per repetition take minutes): make
bench-quick stays fast; run.py --parts zero_downtime measures them.
"""

import json
import os
import subprocess
import time

import yaml

from . import catalogue_data, lab
from . import zero_downtime_figures as figures

NAME = "zero_downtime"
NEEDS = "the deployed one-host lab (converge); skipped by --quick"
WHAT = ("deploy.yml under load: rolling update, bad releases, blue_green update, failed gate and rollback (failed "
        "requests, p99, failed gate to old version, switch back)")
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zero_downtime_probe.py")
WORK = "/tmp/alicia-zero-downtime"
HISTORY = "/var/lib/alicia/deployments.json"
SOCKET = "/run/haproxy/admin.sock"
SINGLE = "metrics_collector"
FAULT = {"ALICIA_FAULT_FAIL_AT_START": "1"}
PAUSE = 0.05       # s between two requests of one stream
LIMIT = 900        # s, at most, per deployment
MAX_SAMPLES = 20000
SETTLE = 1.0       # s of samples before and after each deployment
QUICK = ("not run by --quick (a lab converge and three deploy.yml runs per repetition, minutes): "
         "run.py --parts zero_downtime")
BLUE_GREEN = "ai_service"   # single instance, not otherwise used by this part
SLOT_PORTS = [9020, 9021]    # free loopback ports of the lab's catalogue (checked)

# (figure, unit, target)
FIGURES = [
    ("rolling update: failed requests under load", "", ("==", 0)),
    ("rolling update: p99 latency under load", "ms", None),
    ("rolling update: one service over its instances, first drained to last back in rotation", "s", None),
    ("rolling, bad release: failed requests under load", "", ("==", 0)),
    ("rolling, bad release: p99 latency under load", "ms", None),
    ("rolling: failed gate to the old version serving", "s", ("<", 10.0)),
    ("direct: failed gate to the old version serving", "s", ("<", 10.0)),
    ("direct, bad release: seconds without a healthy answer", "s", None),
]
BLUE_GREEN_FIGURES = [
    ("blue_green update: failed requests under load", "", ("==", 0)),
    ("blue_green update: p99 latency under load", "ms", None),
    ("blue_green, failed gate: failed requests under load", "", ("==", 0)),
    ("blue_green: failed gate to the old version serving", "s", ("<", 5.0)),
    ("blue_green rollback: playbook start to the previous version serving", "s", None),
    ("blue_green rollback: the slots module's switch time", "s", None),
    ("blue_green rollback: seconds unavailable during the switch back", "s", ("<", 5.0)),
]


# ``bash -c script`` on a lab host.
sh = lab.host_sh


def inventory_overrides():
    with open(os.path.join(lab.ROOT, lab.INVENTORY, "group_vars", "all", "main.yml")) as handle:
        return dict((yaml.safe_load(handle) or {}).get("catalogue_overrides") or {})


def services(overrides):
    """(the multi-instance service's resolved entry, the single-instance service's) of the lab's catalogue."""
    resolved = catalogue_data.resolved(overrides)
    multi = [entry for entry in resolved.values() if entry["kind"] == "service" and entry["instances"] > 1]
    if not multi:
        raise RuntimeError("the lab's catalogue has no multi-instance service")
    if resolved.get(SINGLE, {}).get("instances") != 1:
        raise RuntimeError("the lab's catalogue has no single-instance %s" % SINGLE)
    return multi[0], resolved[SINGLE]


def bad_overrides(overrides, name):
    """An extra-vars file: the inventory's catalogue_overrides (extra vars replace it whole) with `name`'s
    instances exiting at start."""
    merged = dict(overrides)
    merged[name] = dict(merged.get(name) or {}, env=dict(FAULT))
    os.makedirs(lab.OUT, exist_ok=True)
    path = os.path.join(lab.OUT, "zero-downtime-bad-%s.yml" % name)
    with open(path, "w") as handle:
        yaml.safe_dump({"catalogue_overrides": merged}, handle)
    return path


def deployment(host, label, probe, extra, extra_files=(), expect_failure=False, playbook="playbooks/deploy.yml",
               verbose=False):
    """deploy.yml (or `playbook`) with the probe running on the host -> (its samples, the run's wall time, its
    log); the samples are kept in .cache/bench/<label>.samples.json, with "playbook_started": the controller's
    wall clock (the lab host's: same kernel) just before the playbook started. verbose: -v (ANSIBLE_VERBOSITY=1),
    every task's result printed."""
    config = dict(probe, out=WORK + "/out.json", stop=WORK + "/stop", ready=WORK + "/ready", limit=LIMIT,
                  pause=PAUSE, max_samples=MAX_SAMPLES)
    sh(host, "rm -f %s/out.json %s/stop %s/ready && cat > %s/config.json" % (WORK, WORK, WORK, WORK),
       stdin=json.dumps(config))
    subprocess.run(["docker", "exec", "-d", host, "python3", WORK + "/probe.py", WORK + "/config.json"], check=True)
    try:
        deadline = time.monotonic() + 15
        while sh(host, "test -e %s/ready && echo yes || true" % WORK).strip() != "yes":
            if time.monotonic() > deadline:
                raise RuntimeError("the probe did not start on %s" % host)
            time.sleep(0.2)
        time.sleep(SETTLE)
        started = time.monotonic()
        playbook_started = time.time()
        saved = os.environ.get("ANSIBLE_VERBOSITY")
        if verbose:
            os.environ["ANSIBLE_VERBOSITY"] = "1"
        try:
            lab.run_playbook(label, playbook=playbook, extra=extra, extra_files=extra_files)
            failed = None
        except lab.LabError as exc:
            failed = exc
        finally:
            if verbose and saved is None:
                os.environ.pop("ANSIBLE_VERBOSITY", None)
            elif verbose:
                os.environ["ANSIBLE_VERBOSITY"] = saved
        wall = time.monotonic() - started
        if failed is not None and not expect_failure:
            raise failed
        if failed is None and expect_failure:
            raise RuntimeError("%s of a release that exits at start succeeded (%s)" % (playbook, label))
        time.sleep(SETTLE)
    finally:
        sh(host, "touch %s/stop" % WORK)
    deadline = time.monotonic() + 20
    while sh(host, "test -e %s/out.json && echo yes || true" % WORK).strip() != "yes":
        if time.monotonic() > deadline:
            raise RuntimeError("the probe wrote no samples on %s" % host)
        time.sleep(0.2)
    text = sh(host, "cat %s/out.json" % WORK)
    with open(os.path.join(lab.OUT, "%s.samples.json" % label), "w") as handle:
        handle.write(text)
    samples = json.loads(text)
    samples["playbook_started"] = playbook_started
    return samples, wall, os.path.relpath(os.path.join(lab.OUT, "%s.log" % label), lab.ROOT)


def instance_urls(entry):
    return dict((name, "http://127.0.0.1:%d/health" % port)
                for name, port in zip(entry["instance_names"], entry["instance_ports"]))


def rolling_update(host, multi, version):
    samples, wall, log = deployment(host, "zero-downtime-rolling", {
        "load": "http://127.0.0.1:%d/health" % multi["port"], "watch": instance_urls(multi),
        "haproxy": {"socket": SOCKET, "backend": multi["name"]}, "history": HISTORY},
        {"services": multi["name"], "version": version, "strategy": "rolling"})
    load = figures.load_summary(samples["load"])
    window = figures.roll_window(samples["haproxy"])
    return {"failed": load["failed"], "p99": load["p99_ms"], "requests": load["requests"],
            "roll": None if window is None else window[1] - window[0], "wall": wall,
            "served_new": bool(load["versions"]) and load["versions"][-1] == version,
            "history": figures.history_results(samples["history"], multi["name"]), "errors": load["errors"], "log": log}


def bad_multi(host, multi, version, overrides_file):
    samples, wall, log = deployment(host, "zero-downtime-rolling-bad", {
        "load": "http://127.0.0.1:%d/health" % multi["port"], "watch": instance_urls(multi),
        "haproxy": {"socket": SOCKET, "backend": multi["name"]}, "history": HISTORY},
        {"services": multi["name"], "version": version, "strategy": "rolling"}, extra_files=[overrides_file],
        expect_failure=True)
    load = figures.load_summary(samples["load"])
    failed_at = figures.gate_failure(samples["history"], multi["name"], version)
    instance = figures.first_unhealthy(samples["watch"]) or multi["instance_names"][0]
    watched = samples["watch"][instance]
    old = figures.serving_version(watched)
    answered = rotation = for_good = None
    if failed_at is not None:
        answered = figures.first_serving(watched, failed_at, old)
        for_good = figures.serving_for_good(watched, failed_at, old)
        rotation = figures.back_in_rotation(samples["haproxy"], instance, failed_at)
    return {"failed": load["failed"], "p99": load["p99_ms"], "requests": load["requests"], "instance": instance,
            "old": old, "to_rotation": figures.since(failed_at, rotation),
            "to_answer": figures.since(failed_at, answered), "to_for_good": figures.since(failed_at, for_good),
            "versions": load["versions"], "history": figures.history_results(samples["history"], multi["name"]),
            "errors": load["errors"], "wall": wall, "log": log}


def bad_direct(host, single, version, overrides_file):
    samples, wall, log = deployment(host, "zero-downtime-direct-bad", {
        "watch": {single["name"]: "http://127.0.0.1:%d/health" % single["port"]}, "history": HISTORY},
        {"services": single["name"], "version": version, "strategy": "direct"}, extra_files=[overrides_file],
        expect_failure=True)
    watched = samples["watch"][single["name"]]
    failed_at = figures.gate_failure(samples["history"], single["name"], version)
    old = figures.serving_version(watched)
    answered = for_good = None
    if failed_at is not None:
        answered = figures.first_serving(watched, failed_at, old)
        for_good = figures.serving_for_good(watched, failed_at, old)
    stretches = figures.outages(watched)
    return {"to_for_good": figures.since(failed_at, for_good), "to_answer": figures.since(failed_at, answered),
            "gap": figures.total_outage(watched), "longest": figures.longest_gap(watched), "old": old,
            "outages": len(stretches), "polls": len(watched),
            "history": figures.history_results(samples["history"], single["name"]), "wall": wall, "log": log}


def _rounded(values):
    return [None if value is None else round(value, 2) for value in values]


def _values(rows, key):
    return [row[key] for row in rows]


def record(results, multi, single, rolled, bad, direct):
    n = len(multi["instance_names"])
    where = "%s (%d instances: %s) behind HAProxy on :%d" % (multi["name"], n, ", ".join(multi["instance_names"]),
                                                           multi["port"])
    load = "one GET /health at a time through the balancer, %.2f s apart, on the lab host's loopback" % PAUSE
    failed_gate = ("from the history write recording the release's failed gate (deployments.json mtime, read "
                   "every 0.05 s)")
    notes = [
        "%s; %s; requests per run %s; failed per run %s (total %d); new version served at the end %s; errors %s"
        % (where, load, _values(rolled, "requests"), _values(rolled, "failed"), sum(_values(rolled, "failed")),
           _values(rolled, "served_new"), [e for row in rolled for e in row["errors"]][:3]),
        "nearest rank over every request of the run, %s" % load,
        "HAProxy admin state read every 0.1 s: the first instance drained to the last one back in rotation "
        "(ready); deploy.yml wall times %s s" % _rounded(_values(rolled, "wall")),
        "%s, a new version with ALICIA_FAULT_FAIL_AT_START=1 (exits at start); requests per run %s; failed per run "
        "%s (total %d); versions answering %s; history %s; deploy.yml wall %s s"
        % (where, _values(bad, "requests"), _values(bad, "failed"), sum(_values(bad, "failed")),
           _values(bad, "versions"), [row["history"] for row in bad][:1], _rounded(_values(bad, "wall"))),
        "nearest rank over every request of the bad-release run",
        "%s to the failed instance (%s) back in rotation at HAProxy (admin state ready, read every 0.1 s; it is "
        "put back only after its gate passed on the previous version, and the load saw only that version); its "
        "own port first answered the previous version %s s after the failed gate, for good (not restarted again) "
        "%s s; the other instance served throughout"
        % (failed_gate, sorted(set(_values(bad, "instance"))), _rounded(_values(bad, "to_answer")),
           _rounded(_values(bad, "to_for_good"))),
        "%s (1 instance, no balancer), a new version that exits at start, strategy=direct: %s to the first healthy "
        "answer of the previous version on :%d after which every answer is healthy (polled every %.2f s); its first "
        "healthy answer came %s s after the failed gate; history %s"
        % (single["name"], failed_gate, single["port"], PAUSE, _rounded(_values(direct, "to_answer")),
           [row["history"] for row in direct][:1]),
        "%s on :%d polled every %.2f s: the sum of the stretches without a healthy answer, each from the last healthy "
        "answer before it to the first after it; stretches per run %s, the longest %s s; deploy.yml wall %s s"
        % (single["name"], single["port"], PAUSE, _values(direct, "outages"), _rounded(_values(direct, "longest")),
           _rounded(_values(direct, "wall"))),
    ]
    values = [_values(rolled, "failed"), _values(rolled, "p99"), _values(rolled, "roll"), _values(bad, "failed"),
              _values(bad, "p99"), _values(bad, "to_rotation"), _values(direct, "to_for_good"),
              _values(direct, "gap")]
    for (name, unit, target), got, note in zip(FIGURES, values, notes):
        results.add(NAME, name, got, unit=unit, target=target, note=note)


def unavailable(results, why):
    for name, _unit, target in FIGURES:
        results.unavailable(NAME, name, why, target=target)


def blue_green_unavailable(results, why):
    for name, _unit, target in BLUE_GREEN_FIGURES:
        results.unavailable(NAME, name, why, target=target)


def blue_green_service(overrides, taken):
    """The resolved entry of BLUE_GREEN with SLOT_PORTS, and the extra-vars file that gives it them (the
    inventory's catalogue_overrides, which extra vars replace whole, plus slot_ports). It must be a single
    systemd service not in `taken` (the names the part uses otherwise), and SLOT_PORTS no port of the lab's."""
    resolved = catalogue_data.resolved(overrides)
    entry = resolved.get(BLUE_GREEN) or {}
    if entry.get("instances") != 1 or entry.get("runtime") != "systemd" or BLUE_GREEN in taken:
        raise RuntimeError("%s is not a single-instance systemd service free for blue_green in the lab's catalogue"
                           % BLUE_GREEN)
    used = set()
    for other in resolved.values():
        used.update([other.get("port")] + list(other.get("instance_ports") or []))
    if used & set(SLOT_PORTS):
        raise RuntimeError("slot ports %s are taken in the lab's catalogue" % sorted(used & set(SLOT_PORTS)))
    merged = dict(overrides)
    merged[BLUE_GREEN] = dict(merged.get(BLUE_GREEN) or {}, slot_ports=list(SLOT_PORTS))
    entry = catalogue_data.resolved(merged)[BLUE_GREEN]
    os.makedirs(lab.OUT, exist_ok=True)
    path = os.path.join(lab.OUT, "zero-downtime-slots-%s.yml" % BLUE_GREEN)
    with open(path, "w") as handle:
        yaml.safe_dump({"catalogue_overrides": merged}, handle)
    return entry, merged, path


def slot_probe(entry):
    return {"load": "http://127.0.0.1:%d/health" % entry["port"],
            "watch": dict((slot["name"], "http://127.0.0.1:%d/health" % slot["listen_port"])
                          for slot in entry["slot_list"]), "history": HISTORY}


def blue_green_update(host, entry, version, slots_file):
    samples, wall, log = deployment(host, "zero-downtime-blue-green", slot_probe(entry),
                                    {"services": entry["name"], "version": version, "strategy": "blue_green"},
                                    extra_files=[slots_file], verbose=True)
    load = figures.load_summary(samples["load"])
    with open(os.path.join(lab.ROOT, log)) as handle:
        switched = figures.switch_seconds(handle.read())
    return {"failed": load["failed"], "p99": load["p99_ms"], "requests": load["requests"],
            "versions": load["versions"], "served_new": bool(load["versions"]) and load["versions"][-1] == version,
            "switch": switched[-1] if switched else None, "errors": load["errors"], "wall": wall, "log": log}


def blue_green_bad(host, entry, version, bad_file):
    samples, wall, log = deployment(host, "zero-downtime-blue-green-bad", slot_probe(entry),
                                    {"services": entry["name"], "version": version, "strategy": "blue_green"},
                                    extra_files=[bad_file], expect_failure=True)
    load = figures.load_summary(samples["load"])
    old = figures.serving_version(figures.as_watch(samples["load"]))
    return {"failed": load["failed"], "p99": load["p99_ms"], "requests": load["requests"], "old": old,
            "gap": figures.version_gap(samples["load"], old), "versions": load["versions"],
            "failed_at": figures.gate_failure(samples["history"], entry["name"], version),
            "history": figures.history_results(samples["history"], entry["name"]), "errors": load["errors"],
            "wall": wall, "log": log}


def blue_green_rollback(host, entry, previous, slots_file):
    samples, wall, log = deployment(host, "zero-downtime-blue-green-rollback", slot_probe(entry),
                                    {"services": entry["name"]}, extra_files=[slots_file],
                                    playbook="playbooks/rollback.yml", verbose=True)
    load = figures.load_summary(samples["load"])
    started = samples["playbook_started"]
    seen = figures.first_serving(figures.as_watch(samples["load"]), started, previous)
    with open(os.path.join(lab.ROOT, log)) as handle:
        switched = figures.switch_seconds(handle.read())
    return {"failed": load["failed"], "requests": load["requests"], "versions": load["versions"],
            "to_previous": figures.since(started, seen), "switch": switched[-1] if switched else None,
            "unavailable": figures.longest_gap(figures.as_watch(samples["load"])), "wall": wall, "log": log}


def record_blue_green(results, entry, updated, bad, rolled):
    where = "%s (1 instance) in slots %s behind HAProxy on :%d" % (
        entry["name"], ", ".join("%s :%d" % (slot["name"], slot["listen_port"]) for slot in entry["slot_list"]),
        entry["port"])
    load = "one GET /health at a time through the balancer, %.2f s apart, on the lab host's loopback" % PAUSE
    notes = [
        "%s, deploy.yml strategy=blue_green to a new version; %s; requests per run %s; failed per run %s (total %d); "
        "new version served at the end %s; the slots module's switch_seconds %s s; deploy.yml wall %s s; errors %s"
        % (where, load, _values(updated, "requests"), _values(updated, "failed"), sum(_values(updated, "failed")),
           _values(updated, "served_new"), _values(updated, "switch"), _rounded(_values(updated, "wall")),
           [e for row in updated for e in row["errors"]][:3]),
        "nearest rank over every request of the blue_green update run, %s" % load,
        "%s, a new version with ALICIA_FAULT_FAIL_AT_START=1 (exits at start; the run fails); requests per run %s; "
        "failed per run %s (total %d); versions answering %s; p99 %s ms; history %s; deploy.yml wall %s s"
        % (where, _values(bad, "requests"), _values(bad, "failed"), sum(_values(bad, "failed")),
           _values(bad, "versions"), _rounded(_values(bad, "p99")), [row["history"] for row in bad][:1],
           _rounded(_values(bad, "wall"))),
        "from the load probe's view: the longest stretch without a healthy answer of the version serving before "
        "(%s), from its last answer before to its next (0.0: it answered every request of the run, which holds "
        "the failed switch); per run %s s" % (sorted(set(_values(bad, "old")), key=str), _rounded(_values(bad, "gap"))),
        "playbooks/rollback.yml (a switch back to the previous slot): from the playbook's start to the load's "
        "first answer of the previous version; failed requests per run %s; versions answering %s; rollback.yml "
        "wall %s s" % (_values(rolled, "failed"), _values(rolled, "versions"), _rounded(_values(rolled, "wall"))),
        "switch_seconds of the slots module's result (printed by a -v run): the idle slot started on the previous "
        "release, gated on its own port, HAProxy's map set to it",
        "the longest stretch of the load without any healthy answer during rollback.yml (0.0: none failed), "
        "from the last healthy answer before it to the first after it",
    ]
    values = [_values(updated, "failed"), _values(updated, "p99"), _values(bad, "failed"), _values(bad, "gap"),
              _values(rolled, "to_previous"), _values(rolled, "switch"), _values(rolled, "unavailable")]
    for (name, unit, target), got, note in zip(BLUE_GREEN_FIGURES, values, notes):
        results.add(NAME, name, got, unit=unit, target=target, note=note)


def measure_blue_green(context, host, overrides, taken, stamp):
    """ai_service into its slots (site.yml with the slots file), then per repetition a blue_green update, a
    failed gate and a rollback -> (entry, updated, bad, rolled)."""
    entry, merged, slots_file = blue_green_service(overrides, taken)
    previous = str(entry["version"])
    lab.run_playbook("zero-downtime-slots", extra_files=[slots_file])
    bad_file = bad_overrides(merged, entry["name"])
    updated, bad, rolled = [], [], []
    for index in range(context.repetitions()):
        tag = "%s-%d" % (stamp, index + 1)
        updated.append(blue_green_update(host, entry, "zd-bg-%s" % tag, slots_file))
        bad.append(blue_green_bad(host, entry, "zd-bg-bad-%s" % tag, bad_file))
        rolled.append(blue_green_rollback(host, entry, previous, slots_file))
        print("   blue_green repetition %d: update %s; failed gate %s; rollback %s" % (
            index + 1, dict((k, updated[-1][k]) for k in ("failed", "p99", "switch")),
            dict((k, bad[-1][k]) for k in ("failed", "gap")),
            dict((k, rolled[-1][k]) for k in ("failed", "to_previous", "switch", "unavailable"))), flush=True)
    return entry, updated, bad, rolled


def run(context):
    results = context.results
    if context.quick:
        unavailable(results, QUICK)
        blue_green_unavailable(results, QUICK)
        print("   zero_downtime: %s" % QUICK)
        return
    overrides = inventory_overrides()
    multi, single = services(overrides)
    context.ensure_deployed(1)
    host = lab.running_hosts()[0]
    # The versions change from here: no later part may take this lab for the shipped catalogue's.
    context.deployed = NAME
    sh(host, "mkdir -p %s && cat > %s/probe.py" % (WORK, WORK), stdin=open(PROBE).read())
    bad_multi_file = bad_overrides(overrides, multi["name"])
    bad_single_file = bad_overrides(overrides, single["name"])
    stamp = time.strftime("%H%M%S")
    rolled, bad, direct = [], [], []
    for index in range(context.repetitions()):
        tag = "%s-%d" % (stamp, index + 1)
        rolled.append(rolling_update(host, multi, "zd-%s" % tag))
        bad.append(bad_multi(host, multi, "zd-bad-%s" % tag, bad_multi_file))
        direct.append(bad_direct(host, single, "zd-bad-%s" % tag, bad_single_file))
        print("   repetition %d: rolling %s; bad release %s; direct %s" % (
            index + 1, dict((k, rolled[-1][k]) for k in ("failed", "p99", "roll")),
            dict((k, bad[-1][k]) for k in ("failed", "p99", "to_rotation", "to_answer")),
            dict((k, direct[-1][k]) for k in ("to_for_good", "gap"))), flush=True)
    record(results, multi, single, rolled, bad, direct)
    # Last: once ai_service is in slots, every later run needs the slots file (its HAProxy frontend).
    try:
        record_blue_green(results, *measure_blue_green(context, host, overrides, (multi["name"], single["name"]),
                                                       stamp))
    except Exception as exc:
        blue_green_unavailable(results, "not measured: %s: %s" % (type(exc).__name__, str(exc)[:300]))
        raise
