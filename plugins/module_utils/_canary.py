# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A canary judged at the balancer, as plain functions, for the
alicia.platform.canary module.

One server of a HAProxy backend (the canary: an instance already on the new
release, healthy, in rotation at a small weight) is watched for a window
beside the other servers of the same backend (the baseline, still on the
previous release), over the same window:

* its own health endpoint is read every ``interval`` seconds (an answer that
  is not healthy ends the window at once);
* HAProxy's counters (``show stat``) of every server are read at the start
  and at the end: requests answered (``hrsp_*``) plus failed ones (``eresp``,
  ``econ``), errors (``hrsp_5xx``, ``eresp``, ``econ``);
* the canary fails when it answered fewer than ``min_requests`` requests
  (too little traffic to judge is a failure, never a pass), when a health
  read failed or HAProxy saw it down, or when its error rate exceeds the
  baseline's by more than ``max_error_rate``.

A good canary gets its configured weight back (the rest of the rollout
follows); a bad one is drained (no new request) for the rollback, and gets
its configured weight back too (the rollback puts it back in rotation). Time is
read through ``clock`` and ``sleep`` (injected by the tests). Standard
library only; nothing prints or exits; errors are ``HAProxyError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.alicia.platform.plugins.module_utils._haproxy import (
    HAProxyError,
    parse_servers_state,
    send,
    servers_by_name,
)

RESPONSES = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
FAILED = ("eresp", "econ")
ERRORS = ("hrsp_5xx",) + FAILED
# HAProxy's server statuses in `show stat` of a server that serves and passes its
# checks ("UP 1/3" is one going down: a check failed).
SERVING = ("UP", "NOLB", "DRAIN", "no check")


def parse_stat(text):
    """The rows of ``show stat`` (CSV, header ``# pxname,svname,...``) as dicts."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines or not lines[0].startswith("#"):
        raise HAProxyError("runtime API: unexpected answer to 'show stat' (no CSV header): %s"
                           % ((text or "").strip()[:300] or "empty"))
    header = lines[0].lstrip("#").strip().split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:] if not line.startswith("#")]


def _count(row, key):
    try:
        return int(row.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def counters(rows, backend):
    """``{server: {requests, errors, status}}`` of the servers of ``backend`` (not the BACKEND row)."""
    found = {}
    for row in rows:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        found[row["svname"]] = {
            "requests": sum(_count(row, key) for key in RESPONSES + FAILED),
            "errors": sum(_count(row, key) for key in ERRORS),
            "status": row.get("status") or "",
        }
    return found


def delta(before, after, servers):
    """Requests and errors of ``servers`` between two ``counters`` reads, summed, with the error rate."""
    requests = sum(after.get(s, {}).get("requests", 0) - before.get(s, {}).get("requests", 0) for s in servers)
    errors = sum(after.get(s, {}).get("errors", 0) - before.get(s, {}).get("errors", 0) for s in servers)
    requests, errors = max(requests, 0), max(errors, 0)
    return {"requests": requests, "errors": errors, "error_rate": (float(errors) / requests) if requests else 0.0}


def judge(canary, baseline, health_failures, down, min_requests, max_error_rate):
    """The verdict: ``(passed, reason)``. ``canary`` and ``baseline`` are ``delta`` results;
    ``health_failures`` the canary's failed health reads; ``down`` the statuses HAProxy
    reported for it that are not serving."""
    if health_failures:
        return False, "its health check failed during the window: %s" % health_failures[0]
    if down:
        return False, "HAProxy saw it %s during the window" % down[0]
    if canary["requests"] < min_requests:
        return False, ("it answered %d request(s) in the window, fewer than min_requests %d: too little traffic "
                       "to judge is not a pass" % (canary["requests"], min_requests))
    if canary["error_rate"] > baseline["error_rate"] + max_error_rate:
        return False, ("its error rate %.2f%% (%d of %d) exceeds the previous release's %.2f%% (%d of %d) by more "
                       "than max_error_rate %.2f%%" % (100 * canary["error_rate"], canary["errors"],
                                                       canary["requests"], 100 * baseline["error_rate"],
                                                       baseline["errors"], baseline["requests"],
                                                       100 * max_error_rate))
    return True, ("%d request(s), error rate %.2f%% (previous release %.2f%% over %d)"
                  % (canary["requests"], 100 * canary["error_rate"], 100 * baseline["error_rate"],
                     baseline["requests"]))


def check_params(params):
    """Problems of the module's parameters, one message each."""
    found = []
    if not 0 < params["window"]:
        found.append("window must be more than 0 seconds, got %r" % (params["window"],))
    if not 0 < params["interval"]:
        found.append("interval must be more than 0 seconds, got %r" % (params["interval"],))
    if params["min_requests"] < 1:
        found.append("min_requests must be at least 1 (no data is never a pass), got %r" % (params["min_requests"],))
    if not 0 <= params["max_error_rate"] <= 1:
        found.append("max_error_rate must be a fraction 0-1, got %r" % (params["max_error_rate"],))
    return found


def watch(params, api, probe=None, clock=time.monotonic, sleep=time.sleep, check_mode=False):
    """Watch the canary for the window and judge it; the module's result.

    ``params``: service (the backend), canary (its server), baseline (the
    servers compared with it; all the others when empty), window, interval,
    min_requests, max_error_rate. ``probe()`` reads the canary's health:
    ``{healthy, error}`` (None: no health read). ``api``: a ``RuntimeAPI``.
    """
    problems = check_params(params)
    if problems:
        raise HAProxyError("; ".join(problems))
    backend, canary = params["service"], params["canary"]
    servers = servers_by_name(parse_servers_state(api.command("show servers state")))
    known = sorted(server for be, server in servers if be == backend)
    if canary not in known:
        raise HAProxyError("backend '%s' has no server '%s' (known: %s)" % (backend, canary, ", ".join(known) or "none"))
    baseline = list(params.get("baseline") or [server for server in known if server != canary])
    missing = [server for server in baseline if server not in known or server == canary]
    if missing or not baseline:
        raise HAProxyError("baseline of backend '%s': %s" % (
            backend, ("no server '%s' besides the canary" % "', '".join(missing)) if missing
            else "no other server to compare the canary with"))
    result = {"changed": False, "passed": None, "service": backend, "canary": canary, "baseline": baseline,
              "samples": 0, "health_failures": [], "down": [], "commands": []}
    if check_mode:
        result["msg"] = "check mode: the canary %s/%s would be watched for %ss" % (backend, canary, params["window"])
        return result
    weight = servers[(backend, canary)]["initial_weight"]
    started = clock()
    first = counters(parse_stat(api.command("show stat")), backend)
    deadline = started + params["window"]
    last = first
    while True:
        sleep(params["interval"])
        result["samples"] += 1
        read = probe() if probe is not None else None
        if read is not None and not read.get("healthy"):
            result["health_failures"].append(read.get("error") or "unhealthy")
        last = counters(parse_stat(api.command("show stat")), backend)
        status = (last.get(canary) or {}).get("status", "")
        if status and status not in SERVING:
            result["down"].append(status)
        if result["health_failures"] or result["down"] or clock() >= deadline:
            break
    result["seconds"] = round(clock() - started, 3)
    result["canary_counts"] = delta(first, last, [canary])
    result["baseline_counts"] = delta(first, last, baseline)
    passed, reason = judge(result["canary_counts"], result["baseline_counts"], result["health_failures"],
                           result["down"], params["min_requests"], params["max_error_rate"])
    result["passed"] = passed
    # Back at its configured weight; a bad one drained first, for the rollback.
    commands = ([] if passed else ["set server %s/%s state drain" % (backend, canary)]) + [
        "set weight %s/%s %d" % (backend, canary, weight)]
    for command in commands:
        send(api, command, result)
        result["commands"].append(command)
    result["changed"] = True
    result["msg"] = "canary %s/%s %s after %.1fs: %s" % (backend, canary, "passed" if passed else "FAILED",
                                                         result["seconds"], reason)
    result["reason"] = reason
    return result
