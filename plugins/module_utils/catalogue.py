# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service catalogue logic shared by the filter plugins and the modules.

Plain functions over plain data: no Ansible objects in, no Ansible objects
out, so the unit tests call them directly. Errors are raised as
CatalogueError with a message that names the service and the field.

This module resolves the catalogue (resolve, resolve_entry) and is the
public face of the others, one concern each, whose names it re-exports:

- _catalogue_base: CatalogueError, native, merge, constants
- _catalogue_validate: errors, validate (the preflight checks)
- _catalogue_order: find_cycles, order, phase_services
- _catalogue_hosts: host_services, host_packages, health_endpoints, service_env, balancer_services
- _catalogue_graph: graph
- _validation, _network: checks of single values, shared with the role-input checks
  (_network, _logpolicy, _broker)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    CatalogueError,
    DEFAULT_PHASES,
    DEFAULT_RUNTIMES,
    DEPENDENCY_TYPES,
    INSTANCE_NAME,
    KINDS,
    instance_count,
    has_slots,
    slot_ports_of,
    SLOTS,
    instance_log,
    instance_names,
    is_list,
    merge,
    native,
    unique,
    well_formed_ports,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_graph import graph
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import (
    balancer_services,
    health_endpoints,
    host_packages,
    host_services,
    service_env,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_order import (
    find_cycles,
    order,
    phase_services,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import errors, mqtt_errors, validate

__all__ = [
    "BROKER_LOG", "BROKER_PACKAGES", "BROKER_UNIT", "CatalogueError", "DEFAULT_PHASES", "DEFAULT_RUNTIMES",
    "DEPENDENCY_TYPES", "KINDS", "balancer_services", "errors", "find_cycles", "graph", "health_endpoints", "host_packages",
    "host_services", "merge", "mqtt_errors", "native", "order", "phase_services", "resolve", "resolve_entry",
    "service_env", "validate",
]

# What the broker entry gets when the catalogue does not say (the shipped
# catalogue does: roles/catalogue/defaults/main.yml).
BROKER_UNIT = "mosquitto.service"
BROKER_LOG = {"path": "/var/log/mosquitto/mosquitto.log", "reopen": "signal"}
BROKER_PACKAGES = ("mosquitto", "python3-paho-mqtt", "python3-cryptography")


def _own_topics(name):
    """The topics every service may use: its own tree, health, discovery."""
    own = "alicia/%s/#" % name
    return {
        "publish": [own, "alicia/health/%s" % name, "alicia/discovery/%s" % name],
        "subscribe": [own],
    }


def _topics(own, listed):
    """The service's own topics, then the catalogue's; a malformed list is kept for errors() to report."""
    if listed is None:
        return list(own)
    if not is_list(listed):
        return listed
    return unique(list(own) + list(listed))


def _text(value):
    return "" if value is None else value if isinstance(value, str) else str(value)


def _broker_base(defaults):
    """What the broker gets before its own fields: no service defaults but
    runtime, version, resources and firewall; Mosquitto's unit, log and packages."""
    defaults = defaults or {}
    base = {"runtime": defaults.get("runtime", "systemd"), "instances": 1,
            "version": defaults.get("version", "1.0.0"),
            "unit": BROKER_UNIT, "log": dict(BROKER_LOG), "packages": list(BROKER_PACKAGES)}
    for key in ("resources", "firewall"):
        if key in defaults:
            base[key] = native(defaults[key])
    return base


def _instance_list(name, entry):
    """The instances of a multi-instance service (see docs/catalogue.md), or []
    for one instance or when instance_ports or instance_names are malformed
    (errors() reports those)."""
    count = instance_count(entry)
    if count is None:
        return []
    ports = well_formed_ports(entry.get("instance_ports"), count)
    names = instance_names(name, entry)
    if ports is None or len(names) != count or not all(isinstance(n, str) and INSTANCE_NAME.match(n) for n in names):
        return []
    settings = entry.get("settings") if isinstance(entry.get("settings"), dict) else {}
    own = entry.get("instance_settings") if isinstance(entry.get("instance_settings"), dict) else {}
    log = entry.get("log") if isinstance(entry.get("log"), dict) else {}
    result = []
    for index, (instance, port) in enumerate(zip(names, ports), 1):
        merged = dict(settings)
        if isinstance(own.get(instance), dict):
            merged.update(own[instance])
        result.append({
            "name": instance,
            "index": index,
            "listen_port": port,
            "unit": "alicia-%s.service" % instance,
            "log": instance_log(log.get("path"), instance),
            "settings": merged,
        })
    return result


def _slot_list(name, entry):
    """The two slots of a blue-green service (see docs/catalogue.md), or [] without
    well-formed ``slot_ports`` (errors() reports those)."""
    ports = slot_ports_of(entry)
    if ports is None:
        return []
    return [{"name": slot, "instance": "%s-%s" % (name, slot), "listen_port": port,
             "unit": "alicia-%s-%s.service" % (name, slot)} for slot, port in zip(SLOTS, ports)]


def resolve_entry(name, raw, defaults=None, environment=None, phases=DEFAULT_PHASES, broker="mqtt_broker"):
    """Return the resolved form of one catalogue entry (see docs/catalogue.md).

    A field of the wrong type is kept as it is, for errors() to report with
    the service and the field.
    """
    if not isinstance(raw, dict):
        raise CatalogueError(
            "catalogue: service '%s': entry must be a mapping, got %s" % (name, type(raw).__name__),
            service=name,
        )
    kind = raw.get("kind", "service")
    if kind == "broker":
        entry = merge(_broker_base(defaults), raw)
    else:
        entry = merge(defaults or {}, raw)
    entry["name"] = name
    entry["kind"] = kind
    phase = entry.get("phase")
    entry["phase_index"] = list(phases).index(phase) if phase in phases else -1
    entry.setdefault("description", name.replace("_", " "))
    entry.setdefault("group", "alicia_%s" % phase)
    if "port" in entry and entry.get("listen_port") is None:
        entry["listen_port"] = entry["port"]
    if entry.get("unit") is None:
        # Several instances: a target grouping the instances' units.
        # Blue-green slots: a target pulling the slot that serves.
        suffix = "target" if kind != "broker" and (instance_count(entry) or has_slots(entry)) else "service"
        entry["unit"] = "alicia-%s.%s" % (name, suffix)
    if entry.get("packages") is None:
        entry["packages"] = []

    depends = native(entry.get("depends_on") or {})
    if isinstance(depends, dict):
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
        entry["settings"] = {}
        entry["instance_list"] = []
        entry["slot_list"] = []
        return entry

    mqtt = entry.get("mqtt") or {}
    own = _own_topics(name)
    if isinstance(mqtt, dict):
        entry["mqtt"] = {
            "username": mqtt.get("username") or name,
            "publish": _topics(own["publish"], mqtt.get("publish")),
            "subscribe": _topics(own["subscribe"], mqtt.get("subscribe")),
        }
    username = entry["mqtt"].get("username") if isinstance(entry["mqtt"], dict) else name

    raw_env = entry.get("env") or {}
    if isinstance(raw_env, dict):
        env = {}
        env.update(environment or {})
        env.update({
            "SERVICE_NAME": name,
            "SERVICE_VERSION": str(entry.get("version", "")),
            "SERVICE_PORT": str(entry.get("listen_port", "")),
            "MQTT_USERNAME": username,
        })
        env.update(dict((key, _text(value)) for key, value in raw_env.items()))
        entry["env"] = env
    secrets = entry.get("secrets") or []
    if is_list(secrets):
        entry["secrets"] = sorted(unique(["MQTT_PASSWORD"] + list(secrets)), key=str)

    log = entry.get("log") or {}
    if isinstance(log, dict):
        entry["log"] = merge({"path": "/var/log/alicia/%s.log" % name, "reopen": "copytruncate"}, log)
    if entry.get("settings") is None:
        entry["settings"] = {}
    entry["instance_list"] = _instance_list(name, entry)
    entry["slot_list"] = _slot_list(name, entry)
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
    services, overrides, defaults, environment = native(services), native(overrides), native(defaults), \
        native(environment)
    if isinstance(phases, str) or not all(isinstance(p, str) for p in phases or []):
        raise CatalogueError("catalogue: phases must be a list of phase names, got %r" % (phases,))
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
