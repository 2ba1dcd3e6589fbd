# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/deploy.yml, rollback.yml and status.yml, as plain functions:
the deployment request checked and expanded (which services, which hosts,
what changes, how), the releases a rollback goes back to, the batches that
failed, and the status table. Standard library only; errors are
``DeployError`` naming the field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.alicia.platform.plugins.module_utils._history import parse, summary
from ansible_collections.alicia.platform.plugins.module_utils._slots import parse_map

STRATEGIES = ("direct", "rolling", "blue_green", "canary")
# Planned: refused with a message until it exists.
PLANNED = ()
# Host by host, as rolling.
SERIAL_ONE = ("rolling", "canary")
# The canary's settings (-e canary_<name>=...): default, lowest, highest, type.
CANARY = (
    ("weight", 10, 1, 256, int),
    ("window", 30.0, 1.0, 3600.0, float),
    ("min_requests", 20, 1, 1000000, int),
    ("max_error_rate", 0.01, 0.0, 1.0, float),
)
SERIAL = re.compile(r"^([1-9][0-9]*%?)$")


class DeployError(Exception):
    """A deployment request that cannot be carried out."""


def _names(value, field):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DeployError("deploy: %s must be a comma-separated string or a list of names, got %r" % (field, value))


def request(catalogue, services=None, phase=None, version=None, strategy="direct", serial=None,
            max_fail_percentage=0, canary=None):
    """The checked request: ``{services, hosts, overrides, strategy, serial,
    max_fail_percentage, canary}``. ``catalogue``: the catalogue (resolved, or the raw
    entries with their overrides: a service's ``group``, else
    ``alicia_<phase>``, gives its hosts); ``services`` and ``phase`` select (one of
    them); ``version`` (optional) is the new version of every selected service;
    ``canary``: the canary's settings (weight, window, min_requests,
    max_error_rate; each optional), for strategy canary."""
    strategy = strategy or "direct"
    if strategy in PLANNED:
        raise DeployError("deploy: strategy %s is not available yet (issue 16); use one of %s"
                          % (strategy, ", ".join(STRATEGIES)))
    if strategy not in STRATEGIES:
        raise DeployError("deploy: strategy must be one of %s, got %r" % (", ".join(STRATEGIES), strategy))
    names = _names(services, "services")
    if bool(names) == bool(phase):
        raise DeployError("deploy: give exactly one of services (-e services=tts_service,stt_service) "
                          "or phase (-e phase=voice)")
    known = dict((name, entry) for name, entry in catalogue.items()
                 if isinstance(entry, dict) and entry.get("kind", "service") == "service")
    if phase:
        names = [name for name, entry in known.items() if entry.get("phase") == phase]
        if not names:
            raise DeployError("deploy: phase %r has no service (phases: %s)" % (
                phase, ", ".join(sorted(set(str(e.get("phase")) for e in known.values())))))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DeployError("deploy: services: %s %s" % (
            ", ".join(unknown), "is not a catalogue service" if len(unknown) == 1 else "are not catalogue services"))
    if version is not None and not isinstance(version, (str, int, float)):
        raise DeployError("deploy: version must be a string, got %r" % (version,))
    version = None if version in (None, "") else str(version)
    if version is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", version):
        raise DeployError("deploy: version %r: letters, digits and . _ + - only (it names a release directory)"
                          % version)
    if strategy == "canary":
        single = [name for name in names if not _balanced(known[name]) and not _slotted(known[name])]
        if single:
            raise DeployError(
                "deploy: strategy canary needs services behind the balancer: %s run%s one instance without slots "
                "(field 'instances' more than 1: the canary is one instance at a small weight beside the others; "
                "or field 'slot_ports': the canary is the new slot at a small weight beside the live one)"
                % (", ".join(single), "s" if len(single) == 1 else ""))
    if strategy == "blue_green":
        single = [name for name in names if not _slotted(known[name])]
        if single:
            raise DeployError(
                "deploy: strategy blue_green needs services with two slots behind the balancer: %s ha%s no field "
                "'slot_ports' (two loopback ports, one per slot: the new release starts in the idle slot beside "
                "the live one, and the balancer switches to it in one step)"
                % (", ".join(single), "s" if len(single) == 1 else "ve"))
    settings = canary_settings(canary)
    serial = "1" if serial in (None, "") and strategy in SERIAL_ONE else ("100%" if serial in (None, "") else str(serial))
    if not SERIAL.match(serial):
        raise DeployError("deploy: serial must be a positive number of hosts or a percentage, got %r" % serial)
    try:
        max_fail = int(max_fail_percentage)
    except (TypeError, ValueError):
        raise DeployError("deploy: max_fail_percentage must be a whole number 0-100, got %r" % (max_fail_percentage,))
    if not 0 <= max_fail <= 100:
        raise DeployError("deploy: max_fail_percentage must be 0-100, got %d" % max_fail)
    groups = []
    for name in names:
        group = group_of(known[name])
        if group not in groups:
            groups.append(group)
    return {
        "services": names,
        "groups": groups,
        "hosts": ":".join(groups),
        "service_groups": [group_of(known[name]) for name in names],
        "overrides": dict((name, {"version": version}) for name in names) if version else {},
        "strategy": strategy,
        "serial": serial,
        "max_fail_percentage": max_fail,
        "canary": settings,
    }


def _slotted(entry):
    """A blue-green service: two slots behind the balancer (raw ``slot_ports`` or resolved ``slot_list``)."""
    return bool(entry.get("slot_list")) or entry.get("slot_ports") is not None


def _balanced(entry):
    """A service that runs several instances behind the balancer (raw ``instances`` or resolved ``instance_list``)."""
    if entry.get("instance_list"):
        return True
    count = entry.get("instances", 1)
    return isinstance(count, int) and not isinstance(count, bool) and count > 1


def canary_settings(given=None):
    """The canary's settings, each checked (``canary_<name>`` in the message), defaults filled."""
    given = given or {}
    if not isinstance(given, dict):
        raise DeployError("deploy: the canary settings must be a mapping, got %r" % (given,))
    unknown = sorted(set(given) - set(item[0] for item in CANARY))
    if unknown:
        raise DeployError("deploy: unknown canary setting(s): %s" % ", ".join("canary_" + name for name in unknown))
    found = {}
    for name, default, low, high, kind in CANARY:
        value = given.get(name)
        if value in (None, ""):
            found[name] = default
            continue
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            number = kind(value) if kind is float else int(str(value))
        except (TypeError, ValueError):
            raise DeployError("deploy: canary_%s must be a %s, got %r"
                              % (name, "whole number" if kind is int else "number", value))
        if not low <= number <= high:
            raise DeployError("deploy: canary_%s must be %s-%s, got %r" % (name, low, high, value))
        found[name] = number
    return found


def group_of(entry):
    """A service's inventory group: its ``group``, else ``alicia_<phase>`` (the catalogue's rule)."""
    return entry.get("group") or "alicia_%s" % entry.get("phase")


def host_services(req, group_names):
    """The requested services that run on a host in ``group_names``."""
    groups = set(group_names or [])
    return [name for name, group in zip(req["services"], req["service_groups"]) if group in groups]


def backup_instances(catalogue, services):
    """``{service: [instance names]}`` of the multi-instance services among
    ``services`` (the backup module's ``instances``: their own environment
    and settings files)."""
    found = {}
    for name in services:
        entry = catalogue.get(name) or {}
        names = [inst.get("name") for inst in entry.get("instance_list") or [] if isinstance(inst, dict)]
        if names:
            found[name] = names
    return found


def rollback_targets(text, services, deployment_id=None):
    """The releases ``services`` go back to on a host, from its history's
    JSON ``text``: the known-good release before the current one (the one a
    deployment replaced). With ``deployment_id``: only services that this
    deployment changed and that passed there (the batches already updated
    when a later one failed). Returns ``{service: release}``; a service with
    nothing to go back to is left out."""
    doc = parse(text or "")
    targets = {}
    for name in services:
        entry = doc["services"].get(name) or {}
        good = entry.get("known_good")
        if not good:
            continue
        if deployment_id is not None:
            mine = [d for d in doc["deployments"] if d.get("id") == deployment_id and d.get("service") == name]
            if not mine or mine[-1].get("result") != "ok" or mine[-1].get("digest") != good.get("digest"):
                continue
        bad = set(entry.get("bad") or [])
        for release in reversed(entry.get("previous_good") or []):
            if release["digest"] != good["digest"] and release["digest"] not in bad:
                targets[name] = release
                break
    return targets


def failures(hostvars, hosts, fact="_alicia_deploy_failure"):
    """``host: message`` for every host of ``hosts`` whose deployment failed (the fact the deploy play sets)."""
    found = {}
    for host in hosts or []:
        message = (hostvars.get(host) or {}).get(fact)
        if message:
            found[host] = message
    return found


def verdict(failures_found, rolled_back=None):
    """The message that fails deploy.yml: every failed host and why (``failures``'s result, by host),
    and the services this host rolled back because a batch failed elsewhere. Empty: nothing failed."""
    if not failures_found:
        return ""
    text = "deploy failed: %s." % "; ".join("%s: %s" % (host, failures_found[host]) for host in sorted(failures_found))
    if rolled_back:
        text += " Rolled back on this host too (updated by this deployment): %s" % ", ".join(rolled_back)
    return text


def stopped(hostvars, hosts, max_fail_percentage=0, fact="_alicia_deploy_failure"):
    """Whether the rollout stops: the hosts whose deployment failed are more
    than ``max_fail_percentage`` percent of ``hosts`` (0: any failure)."""
    failed = len(failures(hostvars, hosts, fact=fact))
    if not failed:
        return False
    return failed * 100.0 / max(len(hosts or []), 1) > float(max_fail_percentage or 0)


def status(host, history_text, health=None, last=5, slots_map=""):
    """One host's rows for status.yml: per service its current and known-good
    versions, the bad releases' count, its health and the versions its
    instances answer (``health``: a health_sweep result), the live slot of a
    blue-green service (``slots_map``: the balancer's slots map file), and the last deployments."""
    doc = summary(parse(history_text or ""), last=last)
    health = _health_of(health)
    # The map names each service's live backend, <service>_<slot>.
    live = dict((name, backend[len(name) + 1:]) for name, backend in parse_map(slots_map).items()
                if backend.startswith(name + "_"))
    rows = []
    for name, entry in sorted(doc["services"].items()):
        seen = health.get(name) or {"health": "unknown", "running": None}
        rows.append({"host": host, "service": name, "current": entry["current"], "known_good": entry["known_good"],
                     "bad": len(entry["bad"]), "health": seen["health"], "running": seen["running"],
                     "slot": live.get(name)})
    lines = ["%s %s %s -> %s (%s): %s%s" % (d.get("end"), d.get("service"), d.get("from"), d.get("to"),
                                            d.get("strategy"), d.get("result"),
                                            (", " + d["reason"].splitlines()[0]) if d.get("reason") else "")
             for d in doc["deployments"]]
    return {"host": host, "services": rows, "deployments": doc["deployments"], "deployment_lines": lines}


def _health_of(health):
    """Service -> {health, running} from a health_sweep result (the worst
    status of its instances, the versions they answer), or a mapping of
    service -> status already."""
    if not health:
        return {}
    if "results" not in health:
        return dict((name, {"health": value, "running": None}) for name, value in health.items())
    rank = {"healthy": 0, "unhealthy": 1, "unreachable": 2}
    found = {}
    for result in health.get("results") or []:
        name = result.get("service")
        status_ = result.get("status") or "unreachable"
        entry = found.setdefault(name, {"health": status_, "running": []})
        if rank.get(status_, 3) > rank.get(entry["health"], 3):
            entry["health"] = status_
        if result.get("version") and result["version"] not in entry["running"]:
            entry["running"].append(result["version"])
    for entry in found.values():
        entry["running"] = ",".join(entry["running"]) or None
    return found


def status_table(rows):
    """A fixed-width table of status rows."""
    head = ("HOST", "SERVICE", "CURRENT", "SLOT", "KNOWN-GOOD", "BAD", "HEALTH", "RUNNING")
    data = [(r["host"], r["service"], str(r["current"]), str(r.get("slot") or "-"), str(r["known_good"]),
             str(r["bad"]), str(r["health"]), str(r.get("running") or "-")) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in data)) if data else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(head)).rstrip()]
    for row in data:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return lines
