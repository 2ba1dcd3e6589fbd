# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health sweep's report, on the controller (the ``health_sweep_*`` filters).

``errors()`` checks the playbook's options, ``endpoints()`` lists what a
host runs (through ``service_instances()``, the only place that knows how
many instances a service has), ``broker_check()`` says how to reach the
broker, ``rows()`` turns every host's results (the ``health_sweep``
module's, probed by _sweep_probe.py, and ``mqtt_check``'s) into one report,
``table()`` and ``problems()`` print it.

Standard library only; shares the statuses and body fields with the probe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.module_utils._sweep_probe import (
    BODY_FIELDS, HEALTHY, STATUSES, UNHEALTHY, UNREACHABLE)

FORMATS = ("table", "json")
BROKER_PHASE = "broker"
# mqtt_check failure kinds that mean nothing answered (the rest: it answered, wrongly).
BROKER_UNREACHABLE = ("connection_refused", "timeout", "connection_error")
COLUMNS = (
    ("phase", "phase", "<"),
    ("service", "service", "<"),
    ("instance", "instance", "<"),
    ("host", "host", "<"),
    ("port", "port", ">"),
    ("status", "status", "<"),
    ("latency_ms", "latency_ms", ">"),
    ("version", "version", "<"),
    ("broker_connected", "broker_connected", "<"),
)


class SweepError(ValueError):
    """The sweep's input is unusable; the message says which and why."""


# ---------------------------------------------------------------------------
# On the controller: what to probe, and the report
# ---------------------------------------------------------------------------

def _require_catalogue(catalogue):
    if not isinstance(catalogue, dict):
        raise SweepError("health sweep: the resolved catalogue must be a mapping, got %s" % type(catalogue).__name__)


def _broker_name(catalogue):
    for name, entry in catalogue.items():
        if isinstance(entry, dict) and entry.get("kind") == "broker":
            return name
    return None


def _hosts_of(entry, groups):
    try:
        members = groups.get(entry.get("group")) or []
    except AttributeError:
        members = []
    return list(members)


def errors(catalogue, service=None, groups=None, health_format="table", check_service=None):
    """The problems of the sweep's options (empty list when fine).

    ``service`` (optional) must name a catalogue entry with a health check
    or the broker; with ``groups`` (the inventory's), that entry's group
    must have hosts. ``health_format`` is ``table`` or ``json``.
    ``check_service`` (optional, the broker role's ``broker_check_service``)
    must name a service: its account makes the broker's round trip.
    """
    _require_catalogue(catalogue)
    found = []
    if health_format not in FORMATS:
        found.append("health sweep: health_format must be one of %s, got %r" % (", ".join(FORMATS), health_format))
    try:
        broker_check(catalogue, check_service=check_service or None)
    except SweepError as exc:
        found.append(str(exc))
    if service in (None, ""):
        return found
    if not isinstance(service, str):
        found.append("health sweep: service must be one service name, got %r" % (service,))
        return found
    entry = catalogue.get(service)
    if not isinstance(entry, dict):
        known = sorted(name for name, e in catalogue.items() if isinstance(e, dict))
        found.append("health sweep: unknown service '%s' (known: %s)" % (service, ", ".join(known)))
        return found
    if entry.get("kind", "service") != "broker" and not entry.get("health"):
        found.append("health sweep: service '%s' has no health check (its catalogue field 'health' is null)"
                     % service)
    if groups is not None and not _hosts_of(entry, groups):
        found.append("health sweep: service '%s' runs on no host of this inventory (its group '%s' has no hosts)"
                     % (service, entry.get("group")))
    return found


# The row of a multi-instance service's published port, served by the balancer
# (HAProxy); the catalogue refuses it as an instance name.
BALANCED = "balanced"


def service_instances(entry):
    """The instances of one service on each host of its group: [{instance, port}].

    The one place that knows how a service's instances are named and on
    which port each is reached on its host: a single-instance service runs
    one instance, named after the service, reached on its ``port`` (docker
    publishes ``port`` to the container's ``listen_port``; a host-network
    runtime binds ``port`` itself, preflight refuses a ``listen_port`` that
    differs); a multi-instance service (a non-empty resolved
    ``instance_list``) one per instance, on the instance's ``listen_port``
    (on the loopback address), plus ``balanced``, its published ``port``,
    where the balancer (HAProxy) answers. endpoints() and rows() follow.
    """
    instances = entry.get("instance_list")
    if isinstance(instances, list) and instances:
        found = [{"instance": instance["name"], "port": instance["listen_port"]} for instance in instances]
        found.append({"instance": BALANCED, "port": entry["port"]})
        return found
    return [{"instance": entry["name"], "port": entry["port"]}]


def endpoints(catalogue, group_names, host, service=None, address="127.0.0.1"):
    """The endpoints a host runs, in catalogue order, probed at ``address`` (from the host itself).

    One per instance of every entry of kind service with a health check
    whose ``group`` is in ``group_names``; only ``service`` when given.
    """
    _require_catalogue(catalogue)
    if isinstance(group_names, str) or not isinstance(group_names, (list, tuple, set, frozenset)):
        raise SweepError("health sweep: group_names must be a list of inventory group names, got %r"
                         % (group_names,))
    groups = set(group_names)
    found = []
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or entry.get("kind", "service") != "service":
            continue
        if entry.get("group") not in groups or not entry.get("health") or (service and name != service):
            continue
        check_spec = entry["health"]
        status = check_spec.get("status", health.DEFAULT_STATUS)
        for instance in service_instances(entry):
            found.append({
                "service": name,
                "instance": instance["instance"],
                "host": host,
                "port": instance["port"],
                "url": "http://%s:%s%s" % (address, instance["port"], check_spec.get("path", "/health")),
                "expect_status": status if isinstance(status, list) else [status],
                "json_field": check_spec.get("json_field"),
                "json_value": check_spec.get("json_value"),
                "timeout": check_spec.get("timeout", health.DEFAULT_TIMEOUT),
            })
    return found


def broker_check(catalogue, check_service=None, runtime="systemd", listen_address="0.0.0.0",
                 docker_host_port=1884):
    """How the sweep checks the broker on its host, as the broker role's post-start gate does.

    Returns {broker, account, username, host, port, topic}: the round trip
    logs in as ``check_service``'s MQTT account (default: the first service
    of the catalogue; its password is catalogue_secrets.<account>.MQTT_PASSWORD)
    on the plain listener, reached on the host itself.
    """
    _require_catalogue(catalogue)
    broker = _broker_name(catalogue)
    if broker is None:
        raise SweepError("health sweep: the catalogue has no broker entry (kind: broker)")
    services = [name for name, e in catalogue.items() if isinstance(e, dict) and e.get("kind", "service") == "service"]
    account = check_service or (services[0] if services else None)
    if account not in services:
        raise SweepError("health sweep: broker_check_service %r is not a service of the catalogue" % (account,))
    mqtt = catalogue[account].get("mqtt") or {}
    if runtime == "docker":
        host, port = "127.0.0.1", int(docker_host_port)
    else:
        host = "127.0.0.1" if listen_address in (None, "", "0.0.0.0", "::") else listen_address
        port = int(catalogue[broker]["listen_port"])
    return {
        "broker": broker,
        "account": account,
        "username": mqtt.get("username") or account,
        "host": host,
        "port": port,
        "topic": "alicia/%s/health-sweep" % account,
    }


def _row(phase, phase_index, **fields):
    row = {"phase": phase, "phase_index": phase_index, "service": None, "instance": None, "host": None,
           "port": None, "url": None, "status": UNREACHABLE, "http_status": None, "latency_ms": None,
           "version": None, "broker_connected": None, "uptime_s": None, "error": None}
    row.update(fields)
    return row


def _failed(result):
    """Why a host's registered result holds no report (None when it does)."""
    if not isinstance(result, dict):
        return "not run on this host"
    if result.get("unreachable"):
        return "host unreachable: %s" % " ".join(str(result.get("msg") or "").split())
    if result.get("skipped"):
        return "skipped on this host"
    return None


def _service_rows(catalogue, host, expected, result):
    """One row per expected endpoint of a host, from its health_sweep result."""
    problem = _failed(result)
    probed = {}
    if problem is None:
        if isinstance(result.get("results"), list):
            for item in result["results"]:
                if isinstance(item, dict):
                    probed[(item.get("service"), item.get("instance"))] = item
        elif result.get("failed"):
            problem = "health_sweep failed: %s" % " ".join(str(result.get("msg") or "").split())
    rows = []
    for endpoint in expected:
        entry = catalogue[endpoint["service"]]
        row = _row(entry.get("phase"), entry.get("phase_index", 0), service=endpoint["service"],
                   instance=endpoint["instance"], host=host, port=endpoint["port"], url=endpoint["url"])
        item = probed.get((endpoint["service"], endpoint["instance"]))
        if item is None:
            row["error"] = problem or "not probed"
        else:
            for key in ("status", "http_status", "latency_ms", "error") + BODY_FIELDS:
                row[key] = item.get(key)
            if row["status"] not in STATUSES:
                row["status"] = UNHEALTHY
        rows.append(row)
    return rows


def _broker_row(host, spec, result):
    """The broker's row on a broker host, from its mqtt_check result."""
    row = _row(BROKER_PHASE, -1, service=spec["broker"], instance=spec["broker"], host=host, port=spec["port"],
               url="mqtt://%s:%s" % (spec["host"], spec["port"]))
    problem = _failed(result)
    if problem is not None:
        row["error"] = problem
        return row
    latency = result.get("latency") if isinstance(result.get("latency"), dict) else {}
    if result.get("ok"):
        row["status"] = HEALTHY
        if isinstance(latency.get("total"), (int, float)):
            row["latency_ms"] = round(latency["total"] * 1000.0, 1)
        return row
    kind = result.get("failure")
    row["status"] = UNREACHABLE if kind in BROKER_UNREACHABLE else UNHEALTHY
    message = " ".join(str(result.get("msg") or "").split())
    if message.startswith("mqtt_check: "):
        message = message[len("mqtt_check: "):]
    row["error"] = "%s: %s" % (kind, message) if kind else (message or "MQTT round trip failed")
    return row


def rows(catalogue, hosts, service=None, broker=None):
    """The sweep's report: one row per (service instance, host) and per broker host.

    ``hosts`` maps each host of the run to {groups, sweep, broker}: its
    inventory groups, its registered health_sweep result and its registered
    mqtt_check result (None, skipped, failed or unreachable results give
    rows with status ``unreachable`` and the reason in ``error``).
    ``broker`` is broker_check()'s result (how the broker was checked);
    without it no broker row is made. ``service`` limits the rows to one
    entry. Sorted by phase (catalogue order, the broker first), service,
    host and instance.
    """
    _require_catalogue(catalogue)
    if not isinstance(hosts, dict):
        raise SweepError("health sweep: hosts must map each host to its groups and results, got %r" % (hosts,))
    found = []
    for host, data in hosts.items():
        data = data if isinstance(data, dict) else {}
        group_names = list(data.get("groups") or [])
        found.extend(_service_rows(catalogue, host, endpoints(catalogue, group_names, host, service=service),
                                   data.get("sweep")))
        if broker and (not service or service == broker["broker"]):
            entry = catalogue.get(broker["broker"]) or {}
            if entry.get("group") in group_names:
                found.append(_broker_row(host, broker, data.get("broker")))
    found.sort(key=lambda r: (r["phase_index"], r["service"] or "", r["host"] or "", r["instance"] or ""))
    return found


def _cell(row, key):
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if key == "latency_ms":
        return "%.1f" % value
    return str(value)


def table(report):
    """The report as text lines: a header, one line per row, then a summary line.

    Columns: phase, service, instance, host, port, status, latency_ms
    (milliseconds), version, broker_connected; ``-`` where a value is
    unknown. Columns are separated by two spaces and no cell holds a
    single space, so a YAML callback never folds a line.
    """
    if not isinstance(report, list):
        raise SweepError("health sweep: the rows must be a list, got %s" % type(report).__name__)
    cells = [[title for _key, title, _align in COLUMNS]]
    cells.extend([_cell(row, key) for key, _title, _align in COLUMNS] for row in report)
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for line in cells:
        text = "  ".join(value.ljust(width) if align == "<" else value.rjust(width)
                         for value, width, (_key, _title, align) in zip(line, widths, COLUMNS))
        lines.append(text.rstrip())
    counts = dict((status, sum(1 for row in report if row.get("status") == status)) for status in STATUSES)
    lines.append("%d checked, %d healthy, %d unhealthy, %d unreachable" % (
        len(report), counts[HEALTHY], counts[UNHEALTHY], counts[UNREACHABLE]))
    return lines


def problems(report):
    """One line per row that is not healthy, naming the service, instance, host, port and reason.

    An empty report is a problem too: a sweep that checked nothing proves nothing.
    """
    if not isinstance(report, list):
        raise SweepError("health sweep: the rows must be a list, got %s" % type(report).__name__)
    if not report:
        return ["nothing checked: no host of this run runs a service with a health check or the broker"]
    found = []
    for row in report:
        if row.get("status") == HEALTHY:
            continue
        instance = "" if row.get("instance") in (None, row.get("service")) else " instance %s" % row["instance"]
        found.append("%s%s on %s port %s: %s (%s)" % (
            row.get("service"), instance, row.get("host"), row.get("port"), row.get("status"),
            row.get("error") or "no reason given"))
    return found
