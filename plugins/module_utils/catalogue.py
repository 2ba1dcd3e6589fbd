# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Service catalogue logic shared by the filter plugins and the modules.

Plain functions over plain data: no Ansible objects in, no Ansible objects
out, so the unit tests call them directly. Errors are raised as
CatalogueError with a message that names the service and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

DEFAULT_PHASES = ("core", "management", "voice", "devices", "advanced", "observability")


class CatalogueError(ValueError):
    """A catalogue entry is malformed; the message names service and field."""

    def __init__(self, message, service=None, field=None):
        super(CatalogueError, self).__init__(message)
        self.service = service
        self.field = field


def merge(base, override):
    """Recursively merge ``override`` into a copy of ``base`` (dicts only)."""
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _own_topics(name):
    """The topics every service may use: its own tree, health, discovery."""
    own = "alicia/%s/#" % name
    return {
        "publish": [own, "alicia/health/%s" % name, "alicia/discovery/%s" % name],
        "subscribe": [own],
    }


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def resolve_entry(name, raw, defaults=None, environment=None, phases=DEFAULT_PHASES, broker="mqtt_broker"):
    """Return the resolved form of one catalogue entry (see docs/catalogue.md)."""
    if not isinstance(raw, dict):
        raise CatalogueError(
            "catalogue: service '%s': entry must be a mapping, got %s" % (name, type(raw).__name__),
            service=name,
        )
    kind = raw.get("kind", "service")
    entry = merge(defaults or {}, {} if kind == "broker" else {})
    if kind == "broker":
        # Service defaults (health, artifact, firewall...) do not apply to the broker.
        entry = {"runtime": (defaults or {}).get("runtime", "systemd"), "instances": 1,
                 "version": (defaults or {}).get("version", "1.0.0")}
    entry = merge(entry, raw)
    entry["name"] = name
    entry["kind"] = kind
    phase = entry.get("phase")
    entry["phase_index"] = list(phases).index(phase) if phase in phases else -1
    entry.setdefault("description", name.replace("_", " "))
    entry.setdefault("group", "alicia_%s" % phase)
    if "port" in entry and entry.get("listen_port") is None:
        entry["listen_port"] = entry["port"]

    depends = copy.deepcopy(entry.get("depends_on") or {})
    if kind != "broker" and broker and broker not in depends:
        depends[broker] = {"type": "required", "timeout": 30}
    for dep, spec in list(depends.items()):
        if spec is None or isinstance(spec, str):
            spec = {"type": spec or "required"}
        if isinstance(spec, dict):
            spec = merge({"type": "required", "timeout": 30}, spec)
        depends[dep] = spec
    entry["depends_on"] = depends

    if kind == "broker":
        entry["health"] = None
        entry["env"] = {}
        entry["secrets"] = []
        entry["mqtt"] = None
        return entry

    mqtt = entry.get("mqtt") or {}
    own = _own_topics(name)
    entry["mqtt"] = {
        "username": mqtt.get("username") or name,
        "publish": _unique(own["publish"] + list(mqtt.get("publish") or [])),
        "subscribe": _unique(own["subscribe"] + list(mqtt.get("subscribe") or [])),
    }

    env = {}
    env.update(environment or {})
    env.update({
        "SERVICE_NAME": name,
        "SERVICE_VERSION": str(entry.get("version", "")),
        "SERVICE_PORT": str(entry.get("listen_port", "")),
        "MQTT_USERNAME": entry["mqtt"]["username"],
    })
    env.update(dict((k, "" if v is None else str(v) if not isinstance(v, str) else v)
                    for k, v in (entry.get("env") or {}).items()))
    entry["env"] = env
    entry["secrets"] = sorted(set(["MQTT_PASSWORD"] + list(entry.get("secrets") or [])))

    log = entry.get("log") or {}
    entry["log"] = merge({"path": "/var/log/alicia/%s.log" % name, "reopen": "copytruncate"}, log)
    return entry


def resolve(services, overrides=None, defaults=None, environment=None, phases=DEFAULT_PHASES, broker="mqtt_broker"):
    """Merge overrides into the catalogue and resolve every entry.

    Returns a dict name -> resolved entry, in the catalogue's own order with
    override-only (new) services appended.
    """
    if not isinstance(services, dict):
        raise CatalogueError("catalogue: the catalogue must be a mapping of service name to entry")
    if overrides is not None and not isinstance(overrides, dict):
        raise CatalogueError("catalogue: overrides must be a mapping of service name to partial entry")
    merged = {}
    for name, raw in services.items():
        merged[name] = raw
    for name, raw in (overrides or {}).items():
        if name in merged and isinstance(merged[name], dict) and isinstance(raw, dict):
            merged[name] = merge(merged[name], raw)
        else:
            merged[name] = raw
    phases = list(phases or DEFAULT_PHASES)
    resolved = {}
    for name, raw in merged.items():
        resolved[name] = resolve_entry(name, raw, defaults=defaults, environment=environment,
                                       phases=phases, broker=broker)
    # Services whose broker is not in the catalogue keep the dependency:
    # validation reports it as an unknown dependency.
    return resolved
