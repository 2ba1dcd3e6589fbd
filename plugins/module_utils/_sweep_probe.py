# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health sweep's probe, run on the host by the ``health_sweep`` module.

``sweep()`` probes a host's endpoints once, concurrently, and reads
``version``, ``broker_connected`` and ``uptime_s`` from each ``/health``
body; the verdict is health.py's ``judge()``, the same as the
``health_gate`` module's. What to probe and the report are the
controller's (_sweep_report.py, through the ``health_sweep_*`` filters).

Standard library only; imports only health.py, so the module stays small.
Never imports controller code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.alicia.platform.plugins.module_utils import health

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    urlsplit = None

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNREACHABLE = "unreachable"
STATUSES = (HEALTHY, UNHEALTHY, UNREACHABLE)
BODY_FIELDS = ("version", "broker_connected", "uptime_s")


# ---------------------------------------------------------------------------
# On the target: probe once, concurrently
# ---------------------------------------------------------------------------

def normalize(endpoint):
    """health.normalize() plus the sweep's ``instance`` and ``port``."""
    base = health.normalize(endpoint)
    base["instance"] = endpoint.get("instance") or base["service"]
    port = endpoint.get("port")
    if port is None:
        parts = urlsplit(base["url"])
        port = parts.port or (443 if parts.scheme == "https" else 80)
    base["port"] = int(port)
    return base


# One GET, shared with health_gate's probe().
fetch = health.fetch


def body_fields(body):
    """``version``, ``broker_connected`` and ``uptime_s`` of a /health JSON body (None when absent)."""
    found = dict((field, None) for field in BODY_FIELDS)
    if not body:
        return found
    try:
        document = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except ValueError:
        return found
    if not isinstance(document, dict):
        return found
    version = document.get("version")
    if version is not None and not isinstance(version, (dict, list)):
        found["version"] = str(version)
    if isinstance(document.get("broker_connected"), bool):
        found["broker_connected"] = document["broker_connected"]
    uptime = document.get("uptime_s")
    if isinstance(uptime, (int, float)) and not isinstance(uptime, bool):
        found["uptime_s"] = uptime
    return found


def check(endpoint, validate_certs=True, ca_path=None, clock=time.monotonic):
    """Probe one normalized endpoint once: the sweep's result for it (``clock`` times the latency)."""
    got = fetch(endpoint, validate_certs=validate_certs, ca_path=ca_path, clock=clock)
    if got["error"] is not None:
        status, error = UNREACHABLE, got["error"]
    else:
        error = health.judge(endpoint, got["status"], got["body"])
        status = HEALTHY if error is None else UNHEALTHY
    result = {
        "service": endpoint["service"],
        "instance": endpoint["instance"],
        "host": endpoint["host"],
        "port": endpoint["port"],
        "url": endpoint["url"],
        "status": status,
        "http_status": got["status"],
        "latency_ms": round(got["latency"] * 1000.0, 1),
        "error": error,
    }
    result.update(body_fields(got["body"]))
    return result


def sweep(endpoints, max_workers=64, validate_certs=True, ca_path=None):
    """Probe every endpoint once, concurrently (up to ``max_workers`` at a time).

    Returns {healthy, elapsed, results, unhealthy, msg}: ``results`` in the
    order of ``endpoints``; ``unhealthy`` the ``service/instance`` names
    that are not healthy. Raises health.EndpointError for an unusable
    endpoint definition, never for an unhealthy endpoint.
    """
    normalized = [normalize(endpoint) for endpoint in endpoints or []]
    if int(max_workers) < 1:
        raise health.EndpointError("max_workers must be at least 1")
    started = time.monotonic()

    def probe_one(_index, endpoint):
        return check(endpoint, validate_certs=validate_certs, ca_path=ca_path)

    results = health.run_each(normalized, probe_one, max_workers, "health-sweep")
    elapsed = round(time.monotonic() - started, 4)
    bad = [r for r in results if r["status"] != HEALTHY]
    summary = {
        "healthy": not bad,
        "elapsed": elapsed,
        "results": results,
        "unhealthy": ["%s/%s" % (r["service"], r["instance"]) for r in bad],
    }
    if bad:
        summary["msg"] = "health sweep: %d of %d endpoints not healthy in %.2f s: %s" % (
            len(bad), len(results), elapsed,
            "; ".join("%s/%s (%s) %s: %s" % (r["service"], r["instance"], r["url"], r["status"], r["error"])
                      for r in bad))
    else:
        summary["msg"] = "health sweep: all %d endpoints healthy in %.2f s" % (len(results), elapsed)
    return summary
