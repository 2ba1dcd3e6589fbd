# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP health probing for the health_gate module, as plain functions.

Standard library only (http.client, json, threading), so the module runs on
any target with Python 3 and the unit tests call these functions directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import threading
import time

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
    return {
        "service": endpoint.get("service") or url,
        "host": endpoint.get("host") or parts.hostname,
        "url": url,
        "expect_status": expect,
        "json_field": json_field or None,
        "json_value": json_value,
        "timeout": timeout,
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


def fetch(endpoint, timeout=None, validate_certs=True, ca_path=None):
    """One GET of a (normalized) endpoint: {status, body, latency, error}.

    ``error`` is set only when no HTTP response came (refused, timeout,
    reset...); never raises for network or HTTP problems. probe() judges
    the answer; the health sweep (_sweep.py) reads its body too.
    """
    timeout = endpoint["timeout"] if timeout is None else timeout
    parts = urlsplit(endpoint["url"])
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    started = time.monotonic()
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
    return {"status": status, "body": body, "latency": time.monotonic() - started, "error": error}


def probe(endpoint, timeout=None, validate_certs=True, ca_path=None):
    """One GET of a (normalized) endpoint.

    Returns {healthy, status, latency, error}. Never raises for network or
    HTTP problems: those are the ``error``.
    """
    answer = fetch(endpoint, timeout=timeout, validate_certs=validate_certs, ca_path=ca_path)
    error = answer["error"] if answer["error"] is not None else judge(endpoint, answer["status"], answer["body"])
    return {
        "healthy": error is None,
        "status": answer["status"],
        "latency": round(answer["latency"], 4),
        "error": error,
    }


def _watch(endpoint, started, deadline_at, interval, single_round, probe_kwargs):
    """Probe one endpoint until healthy, the deadline, or one round."""
    attempts = 0
    last = None
    time_to_healthy = None
    while True:
        attempts += 1
        remaining = deadline_at - time.monotonic()
        per_try = endpoint["timeout"] if single_round else max(0.05, min(endpoint["timeout"], remaining))
        last = probe(endpoint, timeout=per_try, **probe_kwargs)
        if last["healthy"]:
            time_to_healthy = round(time.monotonic() - started, 4)
            break
        if single_round:
            break
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
        if time.monotonic() >= deadline_at:
            break
    return {
        "service": endpoint["service"],
        "host": endpoint["host"],
        "url": endpoint["url"],
        "healthy": last["healthy"],
        "status": last["status"],
        "latency": last["latency"],
        "attempts": attempts,
        "time_to_healthy": time_to_healthy,
        "error": last["error"],
    }


def gate(endpoints, timeout=60.0, interval=1.0, single_round=False, validate_certs=True, ca_path=None,
         max_workers=64):
    """Poll every endpoint concurrently until all are healthy or ``timeout`` passes.

    Returns {healthy, elapsed, results, unhealthy, msg}: ``results`` in the
    order of ``endpoints``, ``unhealthy`` the failing service names and
    ``msg`` one line per unhealthy endpoint with its last error.
    ``single_round`` probes each endpoint once and does not wait.
    """
    normalized = [normalize(endpoint) for endpoint in endpoints or []]
    if interval <= 0:
        raise EndpointError("interval must be positive")
    started = time.monotonic()
    deadline_at = started + float(timeout)
    results = [None] * len(normalized)
    probe_kwargs = {"validate_certs": validate_certs, "ca_path": ca_path}
    lock = threading.Lock()
    queue = list(enumerate(normalized))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, endpoint = queue.pop(0)
            results[index] = _watch(endpoint, started, deadline_at, interval, single_round, probe_kwargs)

    threads = [threading.Thread(target=worker, name="health-gate-%d" % i)
               for i in range(max(1, min(int(max_workers), len(normalized))))]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = round(time.monotonic() - started, 4)
    bad = [r for r in results if not r["healthy"]]
    summary = {
        "healthy": not bad,
        "elapsed": elapsed,
        "results": results,
        "unhealthy": [r["service"] for r in bad],
    }
    if bad:
        lines = ["health gate: %d of %d endpoints unhealthy after %.1f s:" % (len(bad), len(results), elapsed)]
        for r in bad:
            lines.append("  - %s on %s (%s): %s" % (r["service"], r["host"], r["url"], r["error"]))
        summary["msg"] = "\n".join(lines)
    else:
        summary["msg"] = "health gate: all %d endpoints healthy in %.2f s" % (len(results), elapsed)
    return summary
