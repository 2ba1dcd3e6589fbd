# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP health probing for the health_gate module, as plain functions.

Standard library only (http.client, json, threading), so the module runs on
any target with Python 3 and the unit tests call these functions directly.
The clock, the sleep, the probe and the command runner are parameters (the
tests pass fakes); while an endpoint is not healthy, the state of what runs
it (systemd unit, docker container, supervisor program) is read through
``_process_state`` so that a crash-looping service fails at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import threading
import time

from ansible_collections.alicia.platform.plugins.module_utils._process_state import (
    DEFAULT_MAX_RESTARTS, KINDS, CrashWatch, read_states)

try:
    from http.client import HTTPConnection, HTTPSConnection, HTTPException
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPConnection = HTTPSConnection = HTTPException = urlsplit = None

DEFAULT_JSON_FIELD = "status"
DEFAULT_JSON_VALUE = "healthy"
DEFAULT_STATUS = 200
DEFAULT_TIMEOUT = 5.0
EXCERPT = 200
# Least seconds between two reads of the units/containers/programs (one command per kind each).
STATE_INTERVAL = 1.0
MAX_BODY = 65536
USER_AGENT = "alicia-health-gate/1"


class EndpointError(ValueError):
    """An endpoint definition is unusable (no URL, bad scheme...)."""


def excerpt(data, limit=EXCERPT):
    """A one-line excerpt of a response body."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    text = " ".join(str(data).split())
    return text if len(text) <= limit else text[:limit] + "..."


def normalize(endpoint):
    """Fill an endpoint's defaults; raise EndpointError when it is unusable."""
    if not isinstance(endpoint, dict):
        raise EndpointError("health endpoint must be a mapping, got %s" % type(endpoint).__name__)
    url = endpoint.get("url")
    if not url or not isinstance(url, str):
        raise EndpointError("health endpoint %r has no url" % (endpoint.get("service") or endpoint,))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError("health endpoint url %r must be http:// or https:// with a host" % url)
    expect = endpoint.get("expect_status")
    if expect is None or expect == []:
        expect = [DEFAULT_STATUS]
    elif not isinstance(expect, (list, tuple)):
        expect = [expect]
    try:
        expect = [int(code) for code in expect]
    except (TypeError, ValueError):
        raise EndpointError("health endpoint %r: expect_status must be HTTP status codes" % url)
    timeout = endpoint.get("timeout")
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if timeout <= 0:
        raise EndpointError("health endpoint %r: timeout must be positive" % url)
    json_field = endpoint.get("json_field", DEFAULT_JSON_FIELD)
    json_value = endpoint.get("json_value", DEFAULT_JSON_VALUE)
    targets = []
    for kind in KINDS:
        name = endpoint.get(kind)
        if name in (None, ""):
            continue
        if not isinstance(name, str) or any(c.isspace() for c in name) or name.startswith("-"):
            raise EndpointError("health endpoint %r: %s must be a name, got %r" % (url, kind, name))
        targets.append((kind, name))
    return {
        "service": endpoint.get("service") or url,
        "host": endpoint.get("host") or parts.hostname,
        "url": url,
        "expect_status": expect,
        "json_field": json_field or None,
        "json_value": json_value,
        "timeout": timeout,
        "targets": targets,
    }


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _lookup(document, dotted):
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise KeyError(dotted)
    return current


def judge(endpoint, status, body):
    """Return None when a response is healthy, else the reason it is not."""
    if status not in endpoint["expect_status"]:
        expected = "/".join(str(code) for code in endpoint["expect_status"])
        text = excerpt(body)
        return "HTTP %s (expected %s)%s" % (status, expected, ": %s" % text if text else "")
    field = endpoint.get("json_field")
    if not field:
        return None
    try:
        document = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except ValueError:
        return "response is not JSON: %s" % (excerpt(body) or "(empty body)")
    try:
        actual = _lookup(document, field)
    except KeyError:
        return "JSON field '%s' missing: %s" % (field, excerpt(body))
    expected = endpoint.get("json_value")
    if expected is not None and actual != expected and _as_text(actual) != _as_text(expected):
        return "JSON field '%s' is %s, expected %s" % (field, json.dumps(actual), json.dumps(expected))
    return None


def _describe(exc, timeout):
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout after %.1f s" % timeout
    if isinstance(exc, socket.gaierror):
        return "cannot resolve host: %s" % exc
    if isinstance(exc, ssl.SSLError):
        return "TLS error: %s" % exc
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, HTTPException):
        return "bad HTTP response: %s" % (exc.__class__.__name__ if not str(exc) else exc)
    return "%s: %s" % (exc.__class__.__name__, exc)


def fetch(endpoint, timeout=None, validate_certs=True, ca_path=None, clock=time.monotonic):
    """One GET of a (normalized) endpoint: {status, body, latency, error}.

    ``error`` is set only when no HTTP response came (refused, timeout,
    reset...); never raises for network or HTTP problems. probe() judges
    the answer; the health sweep (_sweep_probe.py) reads its body too.
    """
    timeout = endpoint["timeout"] if timeout is None else timeout
    parts = urlsplit(endpoint["url"])
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    started = clock()
    status = body = error = None
    conn = None
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_path)
            if not validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn = HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
        else:
            conn = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                                           "Connection": "close"})
        response = conn.getresponse()
        status = response.status
        body = response.read(MAX_BODY)
    except (OSError, HTTPException) as exc:
        error = _describe(exc, timeout)
    finally:
        if conn is not None:
            conn.close()
    return {"status": status, "body": body, "latency": clock() - started, "error": error}


def probe(endpoint, timeout=None, validate_certs=True, ca_path=None, clock=time.monotonic):
    """One GET of a (normalized) endpoint.

    Returns {healthy, status, latency, error}. Never raises for network or
    HTTP problems: those are the ``error``.
    """
    answer = fetch(endpoint, timeout=timeout, validate_certs=validate_certs, ca_path=ca_path, clock=clock)
    error = answer["error"] if answer["error"] is not None else judge(endpoint, answer["status"], answer["body"])
    return {
        "healthy": error is None,
        "status": answer["status"],
        "latency": round(answer["latency"], 4),
        "error": error,
    }


class StateReader:
    """Reads what runs the endpoints at a bounded rate and keeps the verdicts.

    Endpoint threads call :meth:`verdict` after each failed probe; at most one
    read (one command per kind, for every endpoint still waiting) happens per
    ``min_interval`` seconds of ``clock``, whatever the number of endpoints.
    """

    def __init__(self, endpoints, run, clock, max_restarts=DEFAULT_MAX_RESTARTS, min_interval=STATE_INTERVAL):
        self.targets = dict((index, list(endpoint["targets"])) for index, endpoint in enumerate(endpoints)
                            if endpoint["targets"])
        self.run = run
        self.clock = clock
        self.min_interval = float(min_interval)
        self.watch = CrashWatch(max_restarts)
        self.waiting = set(self.targets)
        self.last_read = None
        self.reads = 0
        self.lock = threading.Lock()

    def done(self, index):
        with self.lock:
            self.waiting.discard(index)

    def verdict(self, index):
        """The crash-loop message of endpoint ``index`` (None: no evidence), reading if due."""
        if index not in self.targets or self.run is None:
            return None
        with self.lock:
            now = self.clock()
            if self.last_read is None or now - self.last_read >= self.min_interval:
                pending = [target for i in sorted(self.waiting) for target in self.targets[i]
                           if target not in self.watch.verdicts]
                if pending:
                    self.last_read = now
                    self.reads += 1
                    self.watch.observe(read_states(pending, self.run))
            for target in self.targets[index]:
                if target in self.watch.verdicts:
                    self.waiting.discard(index)
                    return self.watch.verdicts[target]
        return None

    def report(self, index):
        """What the reads saw of endpoint ``index``'s first target (None when it has none or none was read)."""
        for kind, name in self.targets.get(index, []):
            track = self.watch.track((kind, name))
            if track is None:
                continue
            return {"kind": kind, "name": name, "state": track.previous, "restarts": track.restarts,
                    "exits": track.exits, "last_exit": track.last_exit, "oom": track.oom,
                    "memory_limit": track.memory_limit, "reads": track.reads,
                    "crash_loop": self.watch.verdicts.get((kind, name))}
        return None


def _watch(index, endpoint, started, deadline_at, interval, single_round, probe_kwargs, ctx):
    """Probe one endpoint until healthy, the deadline, a crash-loop verdict, or one round."""
    clock, sleep, probe_fn, reader = ctx["clock"], ctx["sleep"], ctx["probe"], ctx["reader"]
    attempts = 0
    last = None
    time_to_healthy = None
    crash = None
    streak = 0
    while True:
        attempts += 1
        remaining = deadline_at - clock()
        per_try = endpoint["timeout"] if single_round else max(0.05, min(endpoint["timeout"], remaining))
        last = probe_fn(endpoint, timeout=per_try, **probe_kwargs)
        if last["healthy"]:
            streak += 1
            if streak >= ctx["healthy_reads"] or single_round:
                time_to_healthy = round(clock() - started, 4)
                reader.done(index)
                break
            # Healthy, not yet often enough in a row: read again soon.
            remaining = deadline_at - clock()
            if remaining <= 0:
                break
            sleep(min(ctx["healthy_interval"], remaining))
            continue
        streak = 0
        if single_round:
            break
        crash = reader.verdict(index)
        if crash:
            break
        remaining = deadline_at - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        if clock() >= deadline_at:
            break
    error = last["error"]
    if last["healthy"] and time_to_healthy is None:
        error = "healthy on %d of the %d consecutive reads required" % (streak, ctx["healthy_reads"])
    if crash:
        error = "%s; last probe: %s" % (crash, error)
    return {
        "service": endpoint["service"],
        "host": endpoint["host"],
        "url": endpoint["url"],
        "healthy": time_to_healthy is not None,
        "status": last["status"],
        "latency": last["latency"],
        "attempts": attempts,
        "time_to_healthy": time_to_healthy,
        "error": error,
        "process": reader.report(index),
    }


def run_each(items, work, max_workers, name):
    """``work(item)`` for every item, at most ``max_workers`` at a time on
    threads named ``<name>-<i>``; the results in the order of ``items``."""
    results = [None] * len(items)
    queue = list(enumerate(items))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, item = queue.pop(0)
            results[index] = work(index, item)

    threads = [threading.Thread(target=worker, name="%s-%d" % (name, i))
               for i in range(max(1, min(int(max_workers), len(items))))]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    return results


def gate(endpoints, timeout=60.0, interval=1.0, single_round=False, validate_certs=True, ca_path=None,
         max_workers=64, max_restarts=DEFAULT_MAX_RESTARTS, run=None, clock=time.monotonic, sleep=time.sleep,
         probe_fn=probe, state_interval=STATE_INTERVAL, healthy_reads=1, healthy_interval=0.25):
    """Poll every endpoint concurrently until all are healthy or ``timeout`` passes.

    Returns {healthy, elapsed, results, unhealthy, state_reads, msg}:
    ``results`` in the order of ``endpoints``, ``unhealthy`` the failing
    service names and ``msg`` one line per unhealthy endpoint with its last
    error. ``single_round`` probes each endpoint once and does not wait.
    With ``run(argv) -> (rc, stdout, stderr)``, an endpoint that names its
    ``unit``, ``container`` or ``program`` fails as soon as that process
    crash-loops (``max_restarts`` restarts since the gate started, or a
    state it does not leave by itself); ``state_reads`` counts the reads.
    ``clock``, ``sleep`` and ``probe_fn`` are the time source, the pause and
    one probe (the tests pass fakes). An endpoint is healthy after
    ``healthy_reads`` healthy probes in a row, ``healthy_interval`` seconds
    apart (an unhealthy probe starts the count again).
    """
    normalized = [normalize(endpoint) for endpoint in endpoints or []]
    if interval <= 0 or healthy_interval < 0:
        raise EndpointError("interval must be positive, healthy_interval 0 or more")
    if int(healthy_reads) < 1:
        raise EndpointError("healthy_reads must be at least 1")
    try:
        reader = StateReader(normalized, None if single_round else run, clock, max_restarts=max_restarts,
                             min_interval=state_interval)
    except ValueError as exc:
        raise EndpointError(str(exc))
    started = clock()
    deadline_at = started + float(timeout)
    probe_kwargs = {"validate_certs": validate_certs, "ca_path": ca_path}
    ctx = {"clock": clock, "sleep": sleep, "probe": probe_fn, "reader": reader,
           "healthy_reads": int(healthy_reads), "healthy_interval": float(healthy_interval)}

    def watch(index, endpoint):
        return _watch(index, endpoint, started, deadline_at, interval, single_round, probe_kwargs, ctx)

    results = run_each(normalized, watch, max_workers, "health-gate")
    elapsed = round(clock() - started, 4)
    bad = [r for r in results if not r["healthy"]]
    summary = {
        "healthy": not bad,
        "elapsed": elapsed,
        "results": results,
        "unhealthy": [r["service"] for r in bad],
        "state_reads": reader.reads,
    }
    if bad:
        lines = ["health gate: %d of %d endpoints unhealthy after %.1f s:" % (len(bad), len(results), elapsed)]
        for r in bad:
            lines.append("  - %s on %s (%s): %s" % (r["service"], r["host"], r["url"], r["error"]))
        summary["msg"] = "\n".join(lines)
    else:
        summary["msg"] = "health gate: all %d endpoints healthy in %.2f s" % (len(results), elapsed)
    return summary
