# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log rotation policies of a host, built from the resolved catalogue and
the log_rotation role's variables, and the checks of those policies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    CatalogueError,
    is_int,
    is_list,
    require_catalogue,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import host_services
from ansible_collections.alicia.platform.plugins.module_utils._validation import is_control

FREQUENCIES = ("hourly", "daily", "weekly", "monthly", "yearly")
REOPEN = ("copytruncate", "signal")
_SIZE = re.compile(r"[0-9]+[kMG]?\Z")
_WHOLE = re.compile(r"[0-9]+\Z")
_MODE = re.compile(r"0?[0-7]{3}\Z")


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CatalogueError("log_rotation: %s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def log_rotation_policies(catalogue, group_names, defaults, overrides=None, all_services=False,
                          broker_enabled=True, broker_overrides=None, prefix="alicia-",
                          broker_policy_file="/etc/logrotate.d/mosquitto"):
    """One logrotate policy per log of the host: its services, then the broker.

    A service's policy is ``defaults``, then ``{name, kind, enabled: true,
    path, reopen, unit}`` from its catalogue entry (``log.path``,
    ``log.reopen``, ``unit``), then ``overrides[name]``, then
    ``{file: /etc/logrotate.d/<prefix><name>}``. A multi-instance service
    has one policy per instance instead, each built the same way from the
    instance's ``name``, ``log`` and ``unit`` and the service's
    ``log.reopen`` and ``overrides[<service>]``, with ``service: <service>``. The broker's (when
    ``broker_enabled`` and the host runs it) is ``defaults``, then the same
    keys from its entry (kind ``broker``), then ``broker_overrides``, then
    ``{file: broker_policy_file}``. Each step replaces whole keys (Jinja's
    ``combine``).

    Services are those whose group is in ``group_names``, every service
    with ``all_services``. Policies an override disables
    (``enabled: false``) are returned too, with their ``enabled`` key: they
    get no policy file but still belong in reports.
    """
    require_catalogue(catalogue)
    defaults = _mapping(defaults, "log_rotation_defaults")
    overrides = _mapping(overrides, "log_rotation_overrides")
    broker_overrides = _mapping(broker_overrides, "log_rotation_broker_overrides")
    if all_services:
        services = [e for e in catalogue.values() if isinstance(e, dict) and e.get("kind", "service") == "service"]
    else:
        services = host_services(catalogue, group_names, kind="service")
    brokers = host_services(catalogue, group_names, kind="broker") if broker_enabled else []
    policies = []
    for entry, kind in [(e, "service") for e in services] + [(e, "broker") for e in brokers]:
        name = entry.get("name")
        log = entry.get("log") if isinstance(entry.get("log"), dict) else {}
        for own_name, path, unit in _logs(entry, kind, log):
            policy = dict(defaults)
            policy.update({"name": own_name, "kind": kind, "enabled": True, "path": path,
                           "reopen": log.get("reopen"), "unit": unit})
            if kind == "service":
                if own_name != name:
                    policy["service"] = name
                own = overrides.get(name)
                policy.update(own if isinstance(own, dict) else {})
                policy["file"] = "/etc/logrotate.d/%s%s" % (prefix, own_name)
            else:
                policy.update(broker_overrides)
                policy["file"] = broker_policy_file
            policies.append(policy)
    return policies


def _logs(entry, kind, log):
    """(policy name, log path, unit) of each log an entry writes.

    A multi-instance service (a non-empty ``instance_list``) writes one log
    per instance, each by its own unit (its ``unit`` is a target, which
    cannot be signalled): one policy per instance, named after it, with the
    service's ``reopen`` and overrides. Any other entry: its ``log.path``
    and ``unit``.
    """
    instances = entry.get("instance_list") if kind == "service" else None
    if is_list(instances) and instances:
        return [(i.get("name"), i.get("log"), i.get("unit")) for i in instances if isinstance(i, dict)]
    return [(entry.get("name"), log.get("path"), entry.get("unit"))]


def _text(value):
    return "%s" % (value,)


def _policy_errors(policy):
    found = []
    where = "log rotation of %s: field " % (policy.get("name"),)
    reopen = policy.get("reopen")
    if reopen not in REOPEN:
        found.append(where + "reopen: %s is not copytruncate or signal" % (reopen,))
    path = policy.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        found.append(where + "path: %s is not an absolute path" % (path,))
    elif any(is_control(char) or char.isspace() for char in path):
        found.append(where + "path: %r must not contain whitespace or control characters" % (path,))
    frequency = policy.get("frequency")
    if frequency is not None and frequency not in FREQUENCIES:
        found.append(where + "frequency: %s is not one of %s" % (frequency, ", ".join(FREQUENCIES)))
    size = policy.get("size")
    if size is not None and (isinstance(size, bool) or not _SIZE.match(_text(size))):
        found.append(where + "size: %s is not a logrotate size (100k, 50M, 1G)" % (size,))
    if size is None and frequency is None:
        found.append(where + "size/frequency: set at least one")
    for field in ("rotate", "maxage"):
        value = policy.get(field)
        if not (is_int(value) or isinstance(value, str)) or not _WHOLE.match(_text(value)):
            found.append(where + "%s: %s is not a whole number" % (field, value))
    mode = policy.get("mode")
    if not isinstance(mode, str) or not _MODE.match(mode):
        # A string only: YAML reads an unquoted 0640 as the integer 416.
        hint = " (quote it)" if is_int(mode) else ""
        found.append(where + "mode: %s is not an octal mode such as 0640%s" % (mode, hint))
    unit = policy.get("unit")
    if reopen == "signal" and (not isinstance(unit, str) or unit == ""):
        found.append(where + "unit: a unit is needed to signal the service")
    for field in ("unit", "signal"):
        value = policy.get(field)
        if isinstance(value, str) and any(is_control(char) or char.isspace() for char in value):
            found.append(where + "%s: %r must not contain whitespace or control characters" % (field, value))
    return found


def log_rotation_errors(policies, overrides=None, catalogue=None):
    """Problems of the log rotation inputs, one message each (empty: all good).

    ``overrides`` (log_rotation_overrides) must name catalogue services,
    not the broker, each with a mapping. Every enabled policy (from
    log_rotation_policies) needs a valid reopen, an absolute path, a
    frequency and/or a logrotate size, whole rotate and maxage, a quoted
    octal mode and, with reopen signal, a unit; no two enabled policies
    rotate the same path. Disabled policies are not checked.
    """
    found = []
    if catalogue is not None:
        require_catalogue(catalogue)
    if overrides is not None and not isinstance(overrides, dict):
        found.append("log_rotation_overrides: must be a mapping of service name to policy keys, got %s"
                     % type(overrides).__name__)
        overrides = {}
    for name, value in (overrides or {}).items():
        if catalogue is not None and name not in catalogue:
            found.append("log_rotation_overrides.%s: no such service in the catalogue" % (name,))
        elif catalogue is not None and isinstance(catalogue[name], dict) and catalogue[name].get("kind") == "broker":
            found.append("log_rotation_overrides.%s: the broker; use log_rotation_broker_overrides" % (name,))
        elif not isinstance(value, dict):
            found.append("log_rotation_overrides.%s: must be a mapping" % (name,))
    if not is_list(policies):
        return found + ["log rotation: the policies must be a list (from log_rotation_policies), got %s"
                        % type(policies).__name__]
    enabled = []
    for policy in policies:
        if not isinstance(policy, dict):
            found.append("log rotation: a policy must be a mapping, got %r" % (policy,))
        elif policy.get("enabled", True):
            enabled.append(policy)
    for policy in enabled:
        found.extend(_policy_errors(policy))
    owners = {}
    for policy in enabled:
        path = policy.get("path")
        if isinstance(path, str):
            owners.setdefault(path, []).append(_text(policy.get("name")))
    for path, names in owners.items():
        if len(names) > 1:
            found.append("log rotation: path %s is rotated by more than one policy (%s)" % (path, ", ".join(names)))
    return found
