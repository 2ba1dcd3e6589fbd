# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: deploy_report
type: aggregate
short_description: Deployment report of a run - phases, services, gates, failures, rollbacks, totals
version_added: 0.2.0
description:
  - Records what a run of the platform's playbooks deployed and prints a
    readable summary at the end of the run; writes the same as a JSON report
    file (see O(output_dir)).
  - B(Phases) - a play is a phase when it has the play variable
    C(alicia_phase) (with C(alicia_phase_number)), as C(playbooks/phase.yml)
    is imported, or else when its name reads C(Phase <N> | <phase>). Every
    play is listed with its duration (from its start to the next play's start
    or the end of the run); the plays of one phase (C(serial) batches, several
    imports) add up.
  - B(Services) - from the results of the modules C(alicia.platform.units),
    C(alicia.platform.containers), C(alicia.platform.supervisor_programs),
    C(alicia.platform.manual_services), C(alicia.platform.slots) and
    C(alicia.platform.roll) (their per-unit, per-container,
    per-program and per-service actions; the names lose their C(alicia-) or
    C(alicia_) prefix and C(.service) suffix). A service is I(deployed) on a
    host when it was started, created, added, restarted, recreated, updated or
    reloaded; I(changed) when anything at all was done to it; I(restarted)
    when it was restarted, recreated, updated or reloaded. Tasks run with
    C(check_mode=true) inside a real run (the platform plan) are not
    deployments and are not recorded.
  - B(Gates) - every C(alicia.platform.health_gate) result - per endpoint its
    service, host, healthy, attempts and time-to-healthy, the error (at most
    300 characters) when it was not healthy. An unhealthy endpoint of the host
    the gate ran on is a failed deployment of its service there (an unhealthy
    dependency on another host is only a failed gate).
  - B(Failures) - every failed result not ignored with C(ignore_errors), and
    every unreachable host - host, phase, task name and the result's C(msg)
    (at most 300 characters).
  - B(Rollbacks) - a task is part of a rollback when its name, or the name of
    a block or include task it is in, has a C(|)-separated part starting with
    C(Rollback) (case-insensitive, for example C(Rollback | stt_service) or
    C(Phase 3 | voice | rollback stt_service)), or it is tagged C(rollback), or its result carries the key
    C(alicia_rollback) (directly or as a fact set with C(set_fact)). On one
    host, consecutive rollback tasks are one rollback; its duration runs from
    the start of the first to the result of the last. Of a dict
    C(alicia_rollback) only the keys C(service), C(instance), C(from_version),
    C(to_version), C(strategy) and C(reason) are kept (strings, at most 300
    characters). What the service modules did during a rollback counts for the
    rollback, not as a deployment.
  - B(Totals) - deployments (host and service pairs deployed or failed),
    successful, failed, rollbacks (and how many failed), gates (and unhealthy),
    task failures, hosts (and failed), duration of the run.
  - B(Secrets) - nothing of a task's arguments, environment, C(invocation),
    C(stdout), C(stderr), C(env) or other result keys is read. Results of
    C(no_log) tasks arrive censored and stay so - of them only "failed" and
    the fixed message C((output hidden by no_log)) are recorded, nothing is
    extracted from them (so a health gate run with C(no_log) shows no
    endpoints).
  - The callback does no I/O during the run - the report is written once,
    when the run ends, atomically (temporary file and rename), mode 0640.
  - B(AWX and automation controller) - they take a job's artifacts from the
    custom stats of C(ansible.builtin.set_stats), read by their stdout
    callback when the run ends; ansible-core gives that event to the stdout
    callback before any other, so no aggregate callback can add to the
    artifacts, and this one does not pretend to. The summary is printed and
    so is part of the job output; under ansible-runner (E(AWX_ISOLATED_DATA_DIR)
    set) the report file goes to the runner's artifact directory unless
    O(output_dir) is set; and the custom stats of the run whose names start
    with C(alicia_deploy) (a playbook's final C(set_stats), which is what AWX
    shows) are copied into the report under C(custom_stats).
author:
  - Alicia platform engineers (@alicia-platform)
requirements:
  - enabled in C(callbacks_enabled) (ansible.cfg C([defaults]) or
    E(ANSIBLE_CALLBACKS_ENABLED)), beside the callbacks already enabled there.
options:
  output_dir:
    description:
      - Directory of the JSON reports, created when missing (mode 0750). Each
        run writes C(deploy-report-<UTC time>-<pid>.json) and replaces
        C(latest.json) beside it. A relative path set in an ansible.cfg is
        relative to that file's directory, otherwise to the working directory.
      - Set it to an empty string for no file (the summary is still printed).
      - The default C(~/.ansible/deploy-reports) does not depend on the working
        directory and is never inside an installed collection; under
        ansible-runner the default is C(<artifact dir>/deploy-reports).
    type: path
    default: ~/.ansible/deploy-reports
    env:
      - name: ALICIA_DEPLOY_REPORT_DIR
    ini:
      - section: callback_deploy_report
        key: output_dir
  keep:
    description:
      - Reports kept in O(output_dir) (the oldest C(deploy-report-*.json) are
        removed when a run writes its own); 0 keeps them all.
    type: int
    default: 50
    env:
      - name: ALICIA_DEPLOY_REPORT_KEEP
    ini:
      - section: callback_deploy_report
        key: keep
  summary:
    description:
      - Whether to print the summary at the end of the run. It is never
        printed when the stdout callback writes JSON (a C(json) callback),
        whose output must stay one JSON document.
    type: bool
    default: true
    env:
      - name: ALICIA_DEPLOY_REPORT_SUMMARY
    ini:
      - section: callback_deploy_report
        key: summary
notes:
  - The report's format is described, with an example summary, in
    C(docs/deploy-report.md) of the collection.
  - The summary never prints C(changed=) (Molecule's idempotence check reads
    that pattern in the output).
  - Durations are wall-clock seconds measured on the controller (a monotonic
    clock), rounded to 0.1 s; time-to-healthy and attempts are the health
    gate's own figures.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = ansible.posix.profile_tasks, alicia.platform.deploy_report
# [callback_deploy_report]
# output_dir = .cache/deploy-reports
# keep = 20

# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=alicia.platform.deploy_report \
# ALICIA_DEPLOY_REPORT_DIR=/var/log/alicia/deploy-reports \
#   ansible-playbook alicia.platform.site -i inventories/prod
"""

import datetime
import json
import os
import re
import tempfile
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible_collections.alicia.platform.plugins.plugin_utils._results import result_host, result_task

FORMAT = 1
MESSAGE_LIMIT = 300
HIDDEN = "(output hidden by no_log)"
REPORT_PREFIX = "deploy-report-"
LATEST = "latest.json"
FILE_MODE = 0o640
DIR_MODE = 0o750
CUSTOM_STATS_PREFIX = "alicia_deploy"
ROLLBACK_KEY = "alicia_rollback"
ROLLBACK_TAG = "rollback"
ROLLBACK_FIELDS = ("service", "instance", "from_version", "to_version", "strategy", "reason")

SERVICE_MODULES = {
    "alicia.platform.units": "units",
    "alicia.platform.containers": "containers",
    "alicia.platform.supervisor_programs": "supervisor_programs",
    "alicia.platform.manual_services": "manual_services",
    "alicia.platform.slots": "slots",
    "alicia.platform.roll": "roll",
}
GATE_MODULE = "alicia.platform.health_gate"

# Actions of the service modules, by what they mean for the report.
DEPLOY_ACTIONS = frozenset(("started", "created", "added", "restarted", "recreated", "updated", "reloaded"))
RESTART_ACTIONS = frozenset(("restarted", "recreated", "updated", "reloaded"))

_PHASE_NAME = re.compile(r"^\s*Phase\s+([1-9]\d*)\s*\|\s*([\w.-]+)\s*(?:\||$)")
_NAME_PREFIXES = ("alicia-", "alicia_")


# ---------------------------------------------------------------------------
# plain functions
# ---------------------------------------------------------------------------

def _text(value, limit=MESSAGE_LIMIT):
    """A value as one line of at most ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _seconds(value):
    """Seconds as a float rounded to 0.1 (None stays None)."""
    if value is None:
        return None
    try:
        return round(float(value), 1)
    except (TypeError, ValueError):
        return None


def _plain(value):
    """A string that is no Jinja template (a play variable not templated yet), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and "{{" not in value and "{%" not in value:
        return value.strip()
    return None


def phase_of_play(name, play_vars=None):
    """(phase, number) of a play - from its variables alicia_phase / alicia_phase_number,
    else from a name 'Phase <N> | <phase>' - or (None, None)."""
    play_vars = play_vars if isinstance(play_vars, dict) else {}
    phase = _plain(play_vars.get("alicia_phase"))
    match = _PHASE_NAME.match(str(name or ""))
    if phase:
        number = _plain(play_vars.get("alicia_phase_number"))
        if number is None and match and match.group(2).strip() == phase:
            number = match.group(1)
        try:
            return phase, int(number) if number is not None else None
        except ValueError:
            return phase, None
    if match:
        return match.group(2).strip(), int(match.group(1))
    return None, None


def service_name(name):
    """'alicia-stt_service.service' -> 'stt_service', 'alicia_tts' -> 'tts', 'haproxy.service' -> 'haproxy'."""
    name = str(name)
    if name.endswith(".service"):
        name = name[:-len(".service")]
    for prefix in _NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name


def is_censored(result):
    """True for a result of a no_log task (Ansible censors them before callbacks see them)."""
    return bool(result.get("_ansible_no_log")) or "censored" in result


def _action_lists(result, key):
    """{name: [actions]} of a result's per-name mapping ``key`` (dict values with 'actions', or lists)."""
    found = {}
    entries = result.get(key)
    if not isinstance(entries, dict):
        return found
    for name, entry in entries.items():
        if isinstance(entry, dict):
            actions = entry.get("actions")
        else:
            actions = entry
        found[str(name)] = [str(a) for a in actions] if isinstance(actions, (list, tuple)) else []
    return found


def service_actions(module, result):
    """{service: set(actions)} of one service module result (never reads anything but the action lists)."""
    if module in ("units", "containers"):
        per_name = _action_lists(result, module)
        failed_key = "failed_units" if module == "units" else "failed_containers"
    else:
        per_name = _action_lists(result, "actions")
        failed_key = None
    services = {}
    for name, actions in per_name.items():
        services.setdefault(service_name(name), set()).update(actions)
    failed = set()
    if failed_key and isinstance(result.get(failed_key), list):
        failed = set(service_name(name) for name in result[failed_key])
    return services, failed


def gate_entry(result):
    """The endpoints of one health_gate result: service, host, healthy, attempts, time_to_healthy, error."""
    endpoints = []
    for item in result.get("results") or []:
        if not isinstance(item, dict):
            continue
        healthy = bool(item.get("healthy"))
        endpoint = {
            "service": _text(item.get("service", "?"), 100),
            "host": _text(item.get("host", "?"), 100),
            "healthy": healthy,
            "attempts": item.get("attempts") if isinstance(item.get("attempts"), int) else None,
            "time_to_healthy": _seconds(item.get("time_to_healthy")),
        }
        if not healthy and item.get("error"):
            endpoint["error"] = _text(item["error"])
        endpoints.append(endpoint)
    return {
        "healthy": bool(result.get("healthy")) and not result.get("failed"),
        "elapsed": _seconds(result.get("elapsed")),
        "unhealthy": sorted(set(_text(name, 100) for name in result.get("unhealthy") or [])),
        "endpoints": endpoints,
    }


def rollback_details(result):
    """The kept fields of a result's alicia_rollback (directly or as a fact), {} when none; None when absent."""
    value = result.get(ROLLBACK_KEY)
    if value is None and isinstance(result.get("ansible_facts"), dict):
        value = result["ansible_facts"].get(ROLLBACK_KEY)
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        return {}
    return dict((key, _text(value[key])) for key in ROLLBACK_FIELDS if value.get(key) is not None)


def is_rollback_task(name, tags):
    """A task named '... | Rollback ...' (any |-separated part starting with rollback) or tagged rollback."""
    if ROLLBACK_TAG in [str(tag).lower() for tag in (tags or [])]:
        return True
    return any(part.strip().lower().startswith("rollback") for part in str(name or "").split("|"))


def failure_message(result):
    if is_censored(result):
        return HIDDEN
    msg = result.get("msg")
    if msg is None or msg == "":
        return "failed" if not result.get("unreachable") else "unreachable"
    return _text(msg)


def _iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeployReport(object):
    """The report of one run. Fed with plain values (see CallbackModule); ``clock``
    is a monotonic clock for the durations, ``wall`` the time of day for the stamps."""

    def __init__(self, clock=time.monotonic, wall=time.time):
        self.clock = clock
        self.wall = wall
        self.start = clock()
        self.started_at = wall()
        self.playbooks = []
        self.check_mode = False
        self.plays = []
        self.current = None
        self.services = {}   # host -> service -> {"actions": set, "phase": str, "failed": bool}
        self.gates = []
        self.failures = []
        self.rollbacks = []
        self.open_rollbacks = {}  # host -> rollback being recorded
        self.task_starts = {}  # (host, task id) -> clock

    # -- the run as it goes ------------------------------------------------

    def playbook(self, name):
        self.playbooks.append(name)

    def play(self, name, play_vars=None):
        now = self.clock()
        self._end_play(now)
        phase, number = phase_of_play(name, play_vars)
        self.current = {"name": _text(name, 200), "phase": phase, "number": number, "start": now,
                        "duration": None, "hosts": set(), "failed_hosts": set()}
        self.plays.append(self.current)

    def _end_play(self, now):
        for host in list(self.open_rollbacks):
            self._close_rollback(host)
        if self.current is not None and self.current["duration"] is None:
            self.current["duration"] = now - self.current["start"]

    def task_start(self, host, task_id):
        self.task_starts[(host, task_id)] = self.clock()

    def _phase(self):
        return self.current["phase"] if self.current else None

    def result(self, host, task_id, name, action, status, result, tags=(), no_log=False, check_mode=False,
               parents=()):
        """One task result for one host. ``status``: ok, failed, ignored, unreachable, skipped;
        ``parents``: the names of the blocks and includes the task is in."""
        now = self.clock()
        started = self.task_starts.pop((host, task_id), now)
        if status == "skipped":
            return
        result = result if isinstance(result, dict) else {}
        censored = no_log or is_censored(result)
        if self.current is not None:
            self.current["hosts"].add(host)
            if status in ("failed", "unreachable"):
                self.current["failed_hosts"].add(host)
        if status in ("failed", "unreachable"):
            message = HIDDEN if censored else failure_message(result)
            self.failures.append({"host": host, "phase": self._phase(), "task": _text(name or action, 200),
                                  "message": message, "unreachable": status == "unreachable",
                                  "at": _seconds(now - self.start)})
        details = None if censored else rollback_details(result)
        rollback = details is not None or is_rollback_task(name, tags) or any(
            is_rollback_task(parent, ()) for parent in parents)
        if rollback:
            entry = self.open_rollbacks.get(host)
            if entry is None:
                entry = {"host": host, "phase": self._phase(), "start": started, "end": now, "tasks": 0,
                         "ok": True, "services": set(), "details": {}}
                self.open_rollbacks[host] = entry
            entry["end"] = now
            entry["tasks"] += 1
            if status in ("failed", "unreachable"):
                entry["ok"] = False
            if details:
                entry["details"].update(details)
                if details.get("service"):
                    entry["services"].add(details["service"])
        elif host in self.open_rollbacks:
            self._close_rollback(host)
        if censored or check_mode or status == "unreachable":
            return
        items = result.get("results") if isinstance(result.get("results"), list) and action != GATE_MODULE else None
        for item in items if items is not None else [result]:
            if isinstance(item, dict) and not is_censored(item) and not item.get("skipped"):
                self._module_result(host, action, item, rollback)

    def _module_result(self, host, action, result, rollback):
        if action in SERVICE_MODULES:
            services, failed = service_actions(SERVICE_MODULES[action], result)
            if rollback:
                self.open_rollbacks[host]["services"].update(
                    name for name, actions in services.items() if actions)
                return
            for name, actions in services.items():
                entry = self._service(host, name)
                entry["actions"].update(actions)
            for name in failed:
                self._service(host, name)["failed"] = True
        elif action == GATE_MODULE:
            gate = gate_entry(result)
            gate.update(host=host, phase=self._phase(), rollback=rollback)
            self.gates.append(gate)
            if not rollback:
                # A deployment failed where its endpoint runs: this host's services, not the
                # remote dependencies a gate may wait for (those stay a failed gate).
                names = [e["service"] for e in gate["endpoints"] if not e["healthy"] and e["host"] in (host, "?")]
                if not gate["endpoints"]:
                    names = gate["unhealthy"]
                for name in names:
                    self._service(host, name)["failed"] = True

    def _service(self, host, name):
        return self.services.setdefault(host, {}).setdefault(
            name, {"actions": set(), "phase": self._phase(), "failed": False})

    def _close_rollback(self, host):
        entry = self.open_rollbacks.pop(host)
        self.rollbacks.append({
            "host": host, "phase": entry["phase"], "at": _seconds(entry["start"] - self.start),
            "duration": _seconds(entry["end"] - entry["start"]), "tasks": entry["tasks"], "ok": entry["ok"],
            "services": sorted(entry["services"]), "details": entry["details"],
        })

    # -- the end -----------------------------------------------------------

    def finish(self, host_stats=None, custom_stats=None):
        """The report as plain data. ``host_stats``: {host: summarize(host)} of the run."""
        now = self.clock()
        self._end_play(now)
        host_stats = host_stats or {}
        failed_hosts = sorted(name for name, s in host_stats.items()
                              if s.get("failures", 0) or s.get("unreachable", 0))
        services = {}
        deployed = changed = restarted = failed = 0
        for host in sorted(self.services):
            services[host] = {}
            for name in sorted(self.services[host]):
                entry = self.services[host][name]
                actions = sorted(entry["actions"])
                is_deployed = bool(entry["actions"] & DEPLOY_ACTIONS)
                is_restarted = bool(entry["actions"] & RESTART_ACTIONS)
                services[host][name] = {"phase": entry["phase"], "actions": actions, "deployed": is_deployed,
                                        "changed": bool(actions), "restarted": is_restarted,
                                        "failed": entry["failed"]}
                deployed += is_deployed or entry["failed"]
                changed += bool(actions)
                restarted += is_restarted
                failed += entry["failed"]
        phases = []
        for play in self.plays:
            if play["phase"] is None:
                continue
            same = [p for p in phases if p["phase"] == play["phase"]]
            if same:
                target = same[0]
                target["duration"] += play["duration"] or 0.0
                target["plays"] += 1
                target["hosts"] |= play["hosts"]
                target["failed_hosts"] |= play["failed_hosts"]
            else:
                phases.append({"phase": play["phase"], "number": play["number"], "duration": play["duration"] or 0.0,
                               "plays": 1, "hosts": set(play["hosts"]), "failed_hosts": set(play["failed_hosts"])})
        for phase in phases:
            phase["duration"] = _seconds(phase["duration"])
            phase["hosts"] = sorted(phase["hosts"])
            phase["failed_hosts"] = sorted(phase["failed_hosts"])
            phase["services_deployed"] = sum(1 for host in services.values() for s in host.values()
                                             if s["phase"] == phase["phase"] and s["deployed"])
        duration = now - self.start
        # A run without host figures (stats) judges by its failures.
        result = "failed" if failed_hosts or failed or (not host_stats and self.failures) else "success"
        custom = {}
        for key, value in sorted((custom_stats or {}).items()):
            if str(key).startswith(CUSTOM_STATS_PREFIX):
                custom[key] = value
        return {
            "format": FORMAT,
            "playbooks": list(self.playbooks),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.started_at + duration),
            "duration": _seconds(duration),
            "check_mode": self.check_mode,
            "result": result,
            "ansible_version": ANSIBLE_VERSION,
            "phases": phases,
            "plays": [{"name": p["name"], "phase": p["phase"], "duration": _seconds(p["duration"])}
                      for p in self.plays],
            "services": services,
            "gates": self.gates,
            "failures": self.failures,
            "rollbacks": self.rollbacks,
            "custom_stats": custom,
            "totals": {
                "deployments": deployed,
                "successful": deployed - failed,
                "failed": failed,
                "changed": changed,
                "restarted": restarted,
                "rollbacks": len(self.rollbacks),
                "rollbacks_failed": sum(1 for r in self.rollbacks if not r["ok"]),
                "gates": len(self.gates),
                "gates_unhealthy": sum(1 for g in self.gates if not g["healthy"]),
                "task_failures": len(self.failures),
                "hosts": len(host_stats),
                "hosts_failed": len(failed_hosts),
                "duration": _seconds(duration),
            },
        }


def _names(services, host, key):
    return sorted(name for name, entry in services.get(host, {}).items() if entry[key])


def summary(report):
    """The readable summary of a report (a list of lines; never 'changed=')."""
    totals = report["totals"]
    head = "%s: %s in %.1f s" % (", ".join(report["playbooks"]) or "run", report["result"], report["duration"])
    lines = [head + (" (check mode)" if report["check_mode"] else "")]
    if report["phases"]:
        lines.append("phases:")
        for phase in report["phases"]:
            lines.append("  %-3s %-16s %7.1f s  hosts %d, failed %d, services deployed %d" % (
                phase["number"] if phase["number"] is not None else "-", phase["phase"], phase["duration"],
                len(phase["hosts"]), len(phase["failed_hosts"]), phase["services_deployed"]))
    services = report["services"]
    lines.append("services: %d deployed, %d changed, %d restarted, %d failed" % (
        totals["deployments"], totals["changed"], totals["restarted"], totals["failed"]))
    for host in services:
        parts = []
        for label, key in (("deployed", "deployed"), ("restarted", "restarted"), ("failed", "failed")):
            names = _names(services, host, key)
            if names:
                parts.append("%s %s" % (label, ", ".join(names)))
        others = sorted(name for name, e in services[host].items() if e["changed"] and not e["deployed"])
        if others:
            parts.append("also changed %s" % ", ".join(others))
        if parts:
            lines.append("  %s: %s" % (host, "; ".join(parts)))
    if report["gates"]:
        lines.append("gates: %d, %d unhealthy" % (totals["gates"], totals["gates_unhealthy"]))
        for gate in report["gates"]:
            where = "%s %s%s" % (gate["host"], gate["phase"] or "-", " (rollback)" if gate["rollback"] else "")
            endpoints = gate["endpoints"]
            healthy = [e for e in endpoints if e["healthy"]]
            text = "  %s: %d/%d healthy in %s s" % (where, len(healthy), len(endpoints),
                                                    "?" if gate["elapsed"] is None else "%.1f" % gate["elapsed"])
            timed = [e for e in healthy if e["time_to_healthy"] is not None]
            if timed:
                slowest = max(timed, key=lambda e: e["time_to_healthy"])
                text += ", slowest %s@%s %.1f s (%s attempts)" % (
                    slowest["service"], slowest["host"], slowest["time_to_healthy"], slowest["attempts"])
            lines.append(text)
            for endpoint in endpoints:
                if not endpoint["healthy"]:
                    lines.append("    UNHEALTHY %s@%s after %s attempts: %s" % (
                        endpoint["service"], endpoint["host"], endpoint["attempts"], endpoint.get("error", "-")))
    if report["failures"]:
        lines.append("failures: %d" % len(report["failures"]))
        for failure in report["failures"]:
            lines.append("  %s | %s: %s" % (failure["host"], failure["task"], failure["message"]))
    if report["rollbacks"]:
        lines.append("rollbacks: %d, %d failed" % (totals["rollbacks"], totals["rollbacks_failed"]))
        for rollback in report["rollbacks"]:
            lines.append("  %s %s: %s in %.1f s (tasks %d)%s" % (
                rollback["host"], rollback["phase"] or "-", "ok" if rollback["ok"] else "FAILED",
                rollback["duration"], rollback["tasks"],
                (": " + ", ".join(rollback["services"])) if rollback["services"] else ""))
    lines.append("totals: deployments %d, successful %d, failed %d, rollbacks %d, duration %.1f s" % (
        totals["deployments"], totals["successful"], totals["failed"], totals["rollbacks"], totals["duration"]))
    return lines


def _write(path, text):
    directory = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(prefix=".deploy-report.", dir=directory)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def output_directory(value, origin=None):
    """The report directory of the option's value: None when empty; ~ expanded; a relative
    path from an ansible.cfg (``origin`` is its path) relative to that file's directory."""
    value = str(value or "").strip()
    if not value:
        return None
    value = os.path.expanduser(value)
    if not os.path.isabs(value) and origin and os.path.isfile(str(origin)):
        value = os.path.join(os.path.dirname(os.path.abspath(str(origin))), value)
    return os.path.abspath(value)


def report_name(report_time, pid):
    stamp = datetime.datetime.fromtimestamp(report_time, tz=datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return "%s%s-%d.json" % (REPORT_PREFIX, stamp, pid)


def write_report(directory, report, name, keep=0):
    """Write the report as ``name`` and latest.json in ``directory`` (each atomically, 0640);
    keep the newest ``keep`` reports (0: all). Returns the report's path."""
    if not os.path.isdir(directory):
        os.makedirs(directory, DIR_MODE)
    text = json.dumps(report, indent=2, default=str) + "\n"
    path = os.path.join(directory, name)
    _write(path, text)
    _write(os.path.join(directory, LATEST), text)
    if keep and keep > 0:
        reports = sorted(f for f in os.listdir(directory) if f.startswith(REPORT_PREFIX) and f.endswith(".json"))
        for old in reports[:-keep]:
            if old != name:
                os.unlink(os.path.join(directory, old))
    return path


# ---------------------------------------------------------------------------
# the callback: reads Ansible's objects, feeds DeployReport plain values
# ---------------------------------------------------------------------------

def _result_data(result):
    try:
        data = result.result  # ansible-core 2.19 on
    except AttributeError:
        data = result._result
    return data if isinstance(data, dict) else {}


def _task_id(task):
    return str(getattr(task, "_uuid", id(task)))


def _task_action(task):
    return getattr(task, "resolved_action", None) or getattr(task, "action", None) or ""


def _task_name(task):
    name = getattr(task, "name", None)
    if not name:
        name = _task_action(task)
    return str(name)


def _parent_names(task, depth=10):
    """The names of the blocks and include tasks around a task, innermost first."""
    names = []
    parent = getattr(task, "_parent", None)
    while parent is not None and len(names) < depth:
        name = getattr(parent, "name", None)
        if isinstance(name, str) and name:
            names.append(name)
        parent = getattr(parent, "_parent", None)
    return names


def _tags(task):
    tags = getattr(task, "tags", None)
    return [str(tag) for tag in tags] if isinstance(tags, (list, tuple)) else []


class CallbackModule(CallbackBase):
    """The deployment report; see DOCUMENTATION."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "alicia.platform.deploy_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.report = DeployReport()
        self.pid = os.getpid()
        self.last_report = None
        self.last_path = None

    # -- options -----------------------------------------------------------

    def _option_and_origin(self, name):
        """(value, origin) of an option: origin 'default', 'env: ...' or the ansible.cfg path."""
        origins = getattr(self, "_origins", None)  # ansible-core 2.18 on
        if isinstance(origins, dict) and name in origins and name in self._plugin_options:
            return self._plugin_options[name], origins[name]
        try:
            return C.config.get_config_value_and_origin(name, plugin_type="callback", plugin_name=self._load_name)
        except Exception:  # pylint: disable=broad-except
            return self.get_option(name), None

    def _output_dir(self):
        value, origin = self._option_and_origin("output_dir")
        runner_dir = os.environ.get("AWX_ISOLATED_DATA_DIR")
        if runner_dir and origin == "default":
            return os.path.join(runner_dir, "deploy-reports")
        return output_directory(value, origin)

    def _summary_wanted(self):
        stdout = str(getattr(C, "DEFAULT_STDOUT_CALLBACK", "") or "")
        if stdout.rsplit(".", maxsplit=1)[-1] in ("json", "jsonl"):
            return False
        return bool(self.get_option("summary"))

    # -- events ------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, "_file_name", None) or "playbook"
        self.report.playbook(os.path.basename(str(name)))

    def v2_playbook_on_play_start(self, play):
        if getattr(play, "check_mode", None) is True or (self._check_run()):
            self.report.check_mode = True
        self.report.play(play.get_name(), getattr(play, "vars", None))

    @staticmethod
    def _check_run():
        try:
            from ansible import context
            return bool(context.CLIARGS.get("check"))
        except Exception:  # pylint: disable=broad-except
            return False

    def v2_runner_on_start(self, host, task):
        self.report.task_start(host.get_name(), _task_id(task))

    def _result(self, result, status):
        task = result_task(result)
        self.report.result(
            result_host(result), _task_id(task), _task_name(task), _task_action(task), status,
            _result_data(result), tags=_tags(task), no_log=getattr(task, "no_log", None) is True,
            check_mode=getattr(task, "check_mode", None) is True, parents=_parent_names(task))

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        hosts = dict((name, stats.summarize(name)) for name in sorted(getattr(stats, "processed", {}) or {}))
        custom = (getattr(stats, "custom", None) or {}).get("_run", {})
        report = self.report.finish(hosts, custom if isinstance(custom, dict) else {})
        self.last_report = report
        directory = self._output_dir()
        if directory:
            try:
                self.last_path = write_report(directory, report, report_name(self.report.wall(), self.pid),
                                              keep=self.get_option("keep"))
            except (OSError, IOError) as error:
                self._display.warning("deploy_report: cannot write the report in %s: %s" % (directory, error))
        if self._summary_wanted():
            self._display.banner("DEPLOYMENT REPORT")
            for line in summary(report):
                self._display.display(line)
            if self.last_path:
                self._display.display("report: %s" % self.last_path)
