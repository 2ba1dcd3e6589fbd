# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a resolved catalogue: errors() lists every problem, each
message naming the service and the field; validate() raises them.

Private: import the public names from module_utils/catalogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re

from ansible_collections.alicia.platform.plugins.module_utils._balancer import (
    _NAME as _BALANCER_NAME,
    _PATH as _BALANCER_PATH,
    _TOKEN as _BALANCER_TOKEN,
    canary_backend,
    slot_backend,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    BALANCED_INSTANCE,
    CatalogueError,
    DEFAULT_PHASES,
    DEFAULT_RUNTIMES,
    DEPENDENCY_TYPES,
    HOST_RUNTIMES,
    INSTANCE_NAME,
    INSTANCE_NAME_PATTERN,
    KINDS,
    SLOTS,
    fmt,
    has_slots,
    hosts_of,
    instance_count,
    instance_names,
    is_int,
    is_list,
    is_number,
    native,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_order import cycle_message, find_cycles
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import (
    DOCKER_NETWORK_KEYS,
    docker_network,
    is_docker_service,
    phase_target_problem,
)
from ansible_collections.alicia.platform.plugins.module_utils._network import allow_from_problem
from ansible_collections.alicia.platform.plugins.module_utils._validation import (
    absolute_path_problem,
    cpu_problem,
    has_line_break,
    identifier_problem,
    mqtt_topic_problem,
    mqtt_username_problem,
    package_problem,
    size_bytes,
    size_problem,
    unit_problem,
)

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
HEALTH_KEYS = ("path", "status", "json_field", "json_value", "timeout")
RESOURCE_KEYS = ("cpu_limit", "memory_limit", "cpu_reservation", "memory_reservation")
LOG_REOPEN = ("copytruncate", "signal")
_LINE_BREAK_TEXT = "contains a newline, carriage return or NUL (not allowed in an environment file)"


def _check_port(name, field, value, errors):
    if not is_int(value) or not 1 <= value <= 65535:
        errors.append(fmt(name, field, "port %r out of range 1-65535" % (value,)))
        return False
    return True


def _check_health(name, health, errors):
    if health is None:
        return
    if not isinstance(health, dict):
        errors.append(fmt(name, "health", "must be a mapping or null, got %s" % type(health).__name__))
        return
    unknown = sorted(set(health) - set(HEALTH_KEYS))
    if unknown:
        errors.append(fmt(name, "health", "unknown key(s) %s" % ", ".join(unknown)))
    path = health.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        errors.append(fmt(name, "health.path", "must be a string starting with '/', got %r" % (path,)))
    status = health.get("status", 200)
    if not is_int(status) or not 100 <= status <= 599:
        errors.append(fmt(name, "health.status", "must be an HTTP status 100-599, got %r" % (status,)))
    timeout = health.get("timeout", 5)
    if not is_number(timeout) or timeout <= 0:
        errors.append(fmt(name, "health.timeout", "must be a positive number of seconds, got %r" % (timeout,)))
    field = health.get("json_field")
    if field is not None and (not isinstance(field, str) or not field):
        errors.append(fmt(name, "health.json_field", "must be a non-empty string or null, got %r" % (field,)))


def _check_resources(name, entry, errors):
    if "resources" not in entry:
        return
    resources = entry["resources"]
    if not isinstance(resources, dict):
        errors.append(fmt(name, "resources", "must be a mapping of %s, got %s"
                          % (", ".join(RESOURCE_KEYS), type(resources).__name__)))
        return
    unknown = sorted(str(key) for key in resources if key not in RESOURCE_KEYS)
    if unknown:
        errors.append(fmt(name, "resources", "unknown key(s) %s (known: %s)"
                          % (", ".join(unknown), ", ".join(RESOURCE_KEYS))))
    valid = {}
    for key in RESOURCE_KEYS:
        if key not in resources:
            continue
        check = cpu_problem if key.startswith("cpu_") else size_problem
        problem = check(resources[key])
        if problem:
            errors.append(fmt(name, "resources.%s" % key, problem))
        else:
            valid[key] = resources[key] if key.startswith("cpu_") else size_bytes(resources[key])
    for kind in ("cpu", "memory"):
        limit, reservation = valid.get(kind + "_limit"), valid.get(kind + "_reservation")
        if limit is not None and reservation is not None and reservation > limit:
            errors.append(fmt(name, "resources.%s_reservation" % kind, "%r is above resources.%s_limit %r"
                              % (resources[kind + "_reservation"], kind, resources[kind + "_limit"])))


def _check_mqtt(name, mqtt, errors):
    if not isinstance(mqtt, dict):
        errors.append(fmt(name, "mqtt", "must be a mapping {username, publish, subscribe}, got %s"
                          % type(mqtt).__name__))
        return
    problem = mqtt_username_problem(mqtt.get("username"))
    if problem:
        errors.append(fmt(name, "mqtt.username", problem))
    for field in ("publish", "subscribe"):
        topics = mqtt.get(field)
        if not is_list(topics):
            errors.append(fmt(name, "mqtt.%s" % field, "must be a list of topics, got %s" % type(topics).__name__))
            continue
        for topic in topics:
            problem = mqtt_topic_problem(topic)
            if problem:
                errors.append(fmt(name, "mqtt.%s" % field, problem))


def mqtt_errors(catalogue):
    """The MQTT problems of the services (username and topics), one message each."""
    found = []
    for name, entry in catalogue.items():
        if isinstance(entry, dict) and entry.get("kind", "service") == "service":
            _check_mqtt(name, entry.get("mqtt"), found)
    return found


def _check_env(name, env, errors):
    if not isinstance(env, dict):
        errors.append(fmt(name, "env", "must be a mapping of variable name to value, got %s" % type(env).__name__))
        return
    for key, value in env.items():
        problem = identifier_problem(key)
        if problem:
            errors.append(fmt(name, "env", problem))
        elif has_line_break(value):
            errors.append(fmt(name, "env.%s" % key, "value %s" % _LINE_BREAK_TEXT))


def _check_secrets(name, entry, secrets, errors):
    listed = entry.get("secrets")
    if not is_list(listed):
        errors.append(fmt(name, "secrets", "must be a list of environment variable names, got %s"
                          % type(listed).__name__))
        return
    names = []
    for secret in listed:
        problem = identifier_problem(secret, "secret name")
        if problem:
            errors.append(fmt(name, "secrets", problem))
        else:
            names.append(secret)
    if secrets is None:
        return
    own = secrets.get(name) if hasattr(secrets, "get") else None
    for secret in names:
        value = native(own.get(secret)) if hasattr(own, "get") else None
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(fmt(name, "secrets", "missing required secret '%s' (set catalogue_secrets.%s.%s)"
                              % (secret, name, secret)))
        elif has_line_break(value):
            # The name only, never the value.
            errors.append(fmt(name, "secrets", "secret '%s' %s" % (secret, _LINE_BREAK_TEXT)))


def _check_firewall(name, entry, errors):
    if "firewall" not in entry:
        return
    firewall = entry["firewall"]
    if not isinstance(firewall, dict):
        errors.append(fmt(name, "firewall", "must be a mapping {allow_from}, got %s" % type(firewall).__name__))
        return
    problem = allow_from_problem(firewall.get("allow_from"))
    if problem:
        errors.append(fmt(name, "firewall.allow_from", problem))


def _check_log(name, entry, errors):
    if "log" not in entry:
        return
    log = entry["log"]
    if not isinstance(log, dict):
        errors.append(fmt(name, "log", "must be a mapping {path, reopen}, got %s" % type(log).__name__))
        return
    problem = absolute_path_problem(log.get("path"))
    if problem:
        errors.append(fmt(name, "log.path", problem))
    if log.get("reopen") not in LOG_REOPEN:
        errors.append(fmt(name, "log.reopen", "must be copytruncate or signal, got %r" % (log.get("reopen"),)))
    # Runtime docker: rotation of the json-file log driver.
    if log.get("max_size") is not None:
        problem = size_problem(log["max_size"])
        if problem:
            errors.append(fmt(name, "log.max_size", problem))
    if log.get("max_file") is not None and (not is_int(log["max_file"]) or log["max_file"] < 1):
        errors.append(fmt(name, "log.max_file", "must be a whole number of files >= 1, got %r" % (log["max_file"],)))


def _check_packages(name, entry, errors):
    if "packages" not in entry:
        return
    packages = entry["packages"]
    if not is_list(packages):
        errors.append(fmt(name, "packages", "must be a list of Debian package names, got %s"
                          % type(packages).__name__))
        return
    for package in packages:
        problem = package_problem(package)
        if problem:
            errors.append(fmt(name, "packages", problem))


_TARGET_UNIT = re.compile(r"[A-Za-z0-9:_.@\\-]+\.target\Z")


def _check_unit(name, entry, errors):
    if "unit" not in entry:
        return
    if entry.get("kind", "service") == "service" and (instance_count(entry) or has_slots(entry)):
        # Several instances (or blue-green slots): the unit is the target that groups their units.
        unit = entry["unit"]
        what = "instances > 1" if instance_count(entry) else "slot_ports"
        if not isinstance(unit, str) or not _TARGET_UNIT.match(unit):
            errors.append(fmt(name, "unit", "with %s, must be a systemd target grouping the %s' "
                              "units, such as alicia-%s.target, got %r"
                              % (what, "instances" if instance_count(entry) else "slots", name, unit)))
        return
    problem = unit_problem(entry["unit"])
    if problem:
        errors.append(fmt(name, "unit", problem))


# ---- Multi-instance services ----------------------------------------------------

INSTANCE_FIELDS = ("instance_ports", "instance_names", "instance_settings")
_SETTING_TEXT = "a string, number or boolean"


def _check_settings(name, field, settings, errors):
    """``settings`` (and each ``instance_settings.<instance>``): setting name -> scalar."""
    if not isinstance(settings, dict):
        errors.append(fmt(name, field, "must be a mapping of setting name to %s, got %s"
                          % (_SETTING_TEXT, type(settings).__name__)))
        return
    for key, value in settings.items():
        if not isinstance(key, str) or not key.strip() or has_line_break(key):
            errors.append(fmt(name, field, "setting names must be non-empty one-line strings, got %r" % (key,)))
        elif not isinstance(value, (str, int, float)):  # bool is an int
            errors.append(fmt(name, "%s.%s" % (field, key), "must be %s, got %s"
                              % (_SETTING_TEXT, "null" if value is None else type(value).__name__)))
        elif has_line_break(value):
            errors.append(fmt(name, "%s.%s" % (field, key), "contains a newline, carriage return or NUL"))


def _check_instance_settings(name, own, names, errors):
    if not isinstance(own, dict):
        errors.append(fmt(name, "instance_settings", "must be a mapping of instance name to settings, got %s"
                          % type(own).__name__))
        return
    for instance, settings in own.items():
        if instance not in names:
            if names:
                known = "its instances: %s" % ", ".join(str(n) for n in names)
            else:
                known = "it runs one instance; instance_settings needs instances > 1"
            errors.append(fmt(name, "instance_settings", "%r is not an instance of this service (%s)"
                              % (instance, known)))
            continue
        _check_settings(name, "instance_settings.%s" % instance, settings, errors)


def _check_instance_ports(name, entry, count, errors):
    ports = entry.get("instance_ports")
    if ports is None:
        errors.append(fmt(name, "instance_ports", "required when instances > 1: a list of %d ports, one per instance"
                          % count))
        return
    if not is_list(ports):
        errors.append(fmt(name, "instance_ports", "must be a list of %d ports, one per instance, got %s"
                          % (count, type(ports).__name__)))
        return
    if len(ports) != count:
        errors.append(fmt(name, "instance_ports", "must list %d ports (instances: %d), got %d"
                          % (count, count, len(ports))))
    _check_loopback_ports(name, entry, "instance_ports", ports, errors)


def _check_loopback_ports(name, entry, field, ports, errors):
    """The loopback ports of ``field`` (instances' or slots'): each valid, listed
    once, never the published ``port`` (the balancer listens there)."""
    seen = set()
    for port in ports:
        if not _check_port(name, field, port, errors):
            continue
        if port in seen:
            errors.append(fmt(name, field, "port %d is listed more than once" % port))
        elif port == entry.get("port"):
            errors.append(fmt(name, field, "port %d is the service's published port (the balancer "
                              "listens there)" % port))
        seen.add(port)


def _check_instance_names(name, entry, count, errors):
    names = entry.get("instance_names")
    if names is None:
        return
    if not is_list(names):
        errors.append(fmt(name, "instance_names", "must be a list of %d instance names, got %s"
                          % (count, type(names).__name__)))
        return
    if len(names) != count:
        errors.append(fmt(name, "instance_names", "must list %d names (instances: %d), got %d"
                          % (count, count, len(names))))
    seen = set()
    for instance in names:
        if not isinstance(instance, str) or not INSTANCE_NAME.match(instance):
            errors.append(fmt(name, "instance_names", "invalid instance name %r: must match %s"
                              % (instance, INSTANCE_NAME_PATTERN)))
        elif instance == BALANCED_INSTANCE:
            errors.append(fmt(name, "instance_names", "'%s' is reserved (the health sweep's name for the balanced "
                              "published port)" % BALANCED_INSTANCE))
        elif instance in seen:
            errors.append(fmt(name, "instance_names", "instance name '%s' is listed more than once" % instance))
        seen.add(instance)


def _check_balanced_health(name, health, errors, what="instances > 1"):
    """The balancer (HAProxy) checks each instance (or slot) on the entry's health
    check: a plain path and a JSON field and value it can match as words."""
    if health is None:
        errors.append(fmt(name, "health", "%s needs a health check (the balancer checks each %s "
                          "on it)" % (what, "instance" if what.startswith("instances") else "slot")))
        return
    if not isinstance(health, dict):
        return  # _check_health reports it
    path = health.get("path")
    if isinstance(path, str) and path.startswith("/") and not _BALANCER_PATH.match(path):
        errors.append(fmt(name, "health.path", "with %s, the balancer's check path must be without "
                          "spaces, quotes, backslashes or '#', got %r" % (what, path)))
    for key in ("json_field", "json_value"):
        value = health.get(key)
        if not isinstance(value, str) or not _BALANCER_TOKEN.match(value):
            errors.append(fmt(name, "health.%s" % key, "with instances > 1, the balancer checks each instance's "
                              "JSON %s: it must be a word of A-Z, a-z, 0-9, _ and -, got %r"
                              % (key.replace("json_", ""), value)))


def _check_instances(name, entry, runtimes, errors):
    """instances, instance_ports, instance_names, settings and instance_settings of one entry."""
    kind = entry.get("kind", "service")
    count = instance_count(entry)
    if kind == "broker":
        if count:
            errors.append(fmt(name, "instances", "the broker runs one instance, got %r" % (entry["instances"],)))
        for field in INSTANCE_FIELDS:
            if entry.get(field) is not None:
                errors.append(fmt(name, field, "not used by the broker (it runs one instance)"))
        return
    if kind != "service":
        return
    if entry.get("settings") is not None:
        _check_settings(name, "settings", entry["settings"], errors)
    if count is None:
        instances = entry.get("instances", 1)
        if not is_int(instances) or instances < 1:
            return  # reported on instances
        for field in ("instance_ports", "instance_names"):
            if entry.get(field) is not None:
                errors.append(fmt(name, field, "only with instances > 1 (this service runs one instance)"))
        if entry.get("instance_settings"):
            _check_instance_settings(name, entry["instance_settings"], [], errors)
        return
    runtime = entry.get("runtime")
    if runtime in runtimes and runtime != "systemd":
        errors.append(fmt(name, "instances", "instances > 1 needs runtime systemd (runtime %s runs one instance "
                          "per host)" % (runtime,)))
    if not isinstance(name, str) or not _BALANCER_NAME.match(name):
        errors.append(fmt(name, "name", "with instances > 1, the name is the balancer's frontend and backend name: "
                          "it must start with a letter or digit and have at most 64 characters"))
    _check_balanced_health(name, entry.get("health"), errors)
    _check_instance_ports(name, entry, count, errors)
    _check_instance_names(name, entry, count, errors)
    if entry.get("instance_settings") is not None:
        _check_instance_settings(name, entry["instance_settings"], instance_names(name, entry), errors)


def _check_slots(name, entry, runtimes, errors):
    """slot_ports of one entry: a blue-green service runs two slots (blue, green),
    each on its own loopback port and release, behind the balancer on ``port``."""
    ports = entry.get("slot_ports")
    if ports is None:
        return
    if entry.get("kind", "service") != "service":
        errors.append(fmt(name, "slot_ports", "not used by the broker (it runs one instance)"))
        return
    if not is_list(ports) or len(ports) != len(SLOTS):
        errors.append(fmt(name, "slot_ports", "must be a list of 2 ports, one per slot (%s), got %r"
                          % (", ".join(SLOTS), ports)))
        return
    _check_loopback_ports(name, entry, "slot_ports", ports, errors)
    if instance_count(entry):
        errors.append(fmt(name, "slot_ports", "not with instances > 1: a blue-green service runs one instance at "
                          "a time, in one of its two slots (use instances for a rolling service)"))
    runtime = entry.get("runtime")
    if runtime in runtimes and runtime != "systemd":
        errors.append(fmt(name, "slot_ports", "blue-green slots need runtime systemd, got runtime %s" % (runtime,)))
    artifact = entry.get("artifact")
    kind = artifact.get("type", "reference") if isinstance(artifact, dict) else "reference"
    if kind not in ("reference", "python_app"):
        errors.append(fmt(name, "slot_ports", "each slot runs its own release: artifact type %s has none (use "
                          "reference or python_app)" % (kind,)))
    if not isinstance(name, str) or not _BALANCER_NAME.match(name):
        errors.append(fmt(name, "name", "with slot_ports, the name is the balancer's frontend name: "
                          "it must start with a letter or digit and have at most 64 characters"))
    else:
        _check_balanced_health(name, entry.get("health"), errors, what="slot_ports")


def _instance_name_clashes(catalogue):
    """Instance names are unit names (alicia-<instance>.service): unique across
    the catalogue and never a service's name (alicia-<service>.service)."""
    found = []
    owners = {}
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or entry.get("kind", "service") != "service":
            continue
        for instance in instance_names(name, entry):
            if not isinstance(instance, str) or not INSTANCE_NAME.match(instance):
                continue
            if instance in catalogue:
                found.append(fmt(name, "instance_names", "instance name '%s' is the name of service '%s' (both "
                                 "would be unit alicia-%s.service)" % (instance, instance, instance)))
            elif owners.get(instance, name) != name:
                found.append(fmt(name, "instance_names", "instance name '%s' already used by service '%s'"
                                 % (instance, owners[instance])))
            else:
                owners[instance] = name
    # A blue-green service's slots are units alicia-<service>-<slot>.service too.
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or entry.get("kind", "service") != "service" or not entry.get("slot_ports"):
            continue
        for slot in SLOTS:
            unit = "%s-%s" % (name, slot)
            if unit in catalogue:
                found.append(fmt(name, "slot_ports", "slot %s would be unit alicia-%s.service, the unit of service "
                                 "'%s'" % (slot, unit, unit)))
            elif unit in owners:
                found.append(fmt(name, "slot_ports", "slot %s would be unit alicia-%s.service, the unit of instance "
                                 "'%s' of service '%s'" % (slot, unit, unit, owners[unit])))
        # Its HAProxy backends are <service>_<slot> and <service>_canary; a
        # balanced service's frontend and backend take its own name.
        for backend in [slot_backend(name, slot) for slot in SLOTS] + [canary_backend(name)]:
            if _balanced(catalogue.get(backend)):
                found.append(fmt(name, "slot_ports", "the balancer's backend %s of this service would be the backend "
                                 "of balanced service '%s'" % (backend, backend)))
    return found


def _balanced(entry):
    """An entry the balancer fronts: a blue-green service or one with instances > 1."""
    return (isinstance(entry, dict) and entry.get("kind", "service") == "service"
            and bool(entry.get("slot_ports") or instance_count(entry)))


def _check_dependencies(name, entry, catalogue, phases, errors):
    phase = entry.get("phase")
    depends = entry.get("depends_on") or {}
    if not isinstance(depends, dict):
        errors.append(fmt(name, "depends_on", "must be a mapping of service name to {type, timeout}"))
        depends = {}
    for dep, spec in depends.items():
        if dep not in catalogue:
            errors.append(fmt(name, "depends_on", "unknown dependency '%s'" % dep))
            continue
        if not isinstance(spec, dict):
            errors.append(fmt(name, "depends_on", "dependency '%s' must be a mapping {type, timeout}" % dep))
            continue
        dep_type = spec.get("type")
        if dep_type not in DEPENDENCY_TYPES:
            errors.append(fmt(name, "depends_on", "dependency '%s' has type %r: use required or optional"
                              % (dep, dep_type)))
        timeout = spec.get("timeout", 30)
        if not is_number(timeout) or timeout <= 0:
            errors.append(fmt(name, "depends_on", "dependency '%s' timeout must be a positive number, got %r"
                              % (dep, timeout)))
        dep_entry = catalogue[dep]
        if (dep_type == "required" and isinstance(dep_entry, dict) and phase in phases
                and dep_entry.get("phase") in phases
                and phases.index(dep_entry["phase"]) > phases.index(phase)):
            errors.append(fmt(name, "depends_on", "required dependency '%s' is in later phase '%s' "
                              "(this service is in phase '%s'); make it optional or move it"
                              % (dep, dep_entry["phase"], phase)))


_SYSTEMD_OPTION = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _check_systemd(name, entry, errors):
    """`systemd`: unit options a service overrides; each value lands on one line of its unit."""
    options = entry.get("systemd")
    if options is None:
        return
    if not isinstance(options, dict):
        errors.append(fmt(name, "systemd", "must be a mapping of unit option to value, got %s" % type(options).__name__))
        return
    for option, value in options.items():
        field = "systemd.%s" % option
        if not isinstance(option, str) or not option or not set(option) <= _SYSTEMD_OPTION or not option[0].isupper():
            errors.append(fmt(name, field, "not a systemd option name (such as MemoryDenyWriteExecute)"))
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, (dict, list)) or (isinstance(item, str) and has_line_break(item)):
                errors.append(fmt(name, field, "each value must be one line of text"))
                break


# What the service role deploys today; anything else fails preflight rather
# than being deployed differently from what the catalogue says.
SERVICE_RUNTIMES = DEFAULT_RUNTIMES
ARTIFACT_TYPES = ("reference", "command", "python_app", "container")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def _relative_path_problem(value):
    """Why ``value`` is not a relative path inside a directory (None when it is)."""
    if not isinstance(value, str) or not value or has_line_break(value):
        return "must be a relative path (text, one line), got %r" % (value,)
    if value.startswith("/") or ".." in value.split("/"):
        return "must stay inside the application directory (relative, no '..'), got %r" % (value,)
    return None


def _is_dir(path):
    return isinstance(path, str) and path.startswith("/") and not has_line_break(path) and os.path.isdir(path)


def _check_python_app(name, artifact, runtime, errors):
    """A python_app: a source directory on the controller with an entry script or module."""
    if runtime != "systemd":
        errors.append(fmt(name, "artifact.type", "'python_app' runs with runtime systemd only, got runtime %r" % (runtime,)))
    src = artifact.get("src")
    if not isinstance(src, str) or not src.startswith("/") or has_line_break(src):
        errors.append(fmt(name, "artifact.src", "must be the absolute path of the application's directory on the "
                          "controller, got %r" % (src,)))
    elif not os.path.isdir(src):
        errors.append(fmt(name, "artifact.src", "%s is not a directory on the controller" % src))
    has_entry, has_module = artifact.get("entry") is not None, artifact.get("module") is not None
    if has_entry == has_module:
        errors.append(fmt(name, "artifact", "a python_app needs exactly one of entry (a script such as main.py) "
                          "or module (a module run with python -m)"))
    elif has_entry:
        problem = _relative_path_problem(artifact["entry"])
        if problem:
            errors.append(fmt(name, "artifact.entry", problem))
        elif _is_dir(src) and not os.path.isfile(os.path.join(src, artifact["entry"])):
            errors.append(fmt(name, "artifact.entry", "%s has no %s on the controller" % (src, artifact["entry"])))
    elif not isinstance(artifact["module"], str) or not _MODULE_NAME.match(artifact["module"]):
        errors.append(fmt(name, "artifact.module", "must be a dotted Python module name, got %r" % (artifact["module"],)))
    requirements = artifact.get("requirements", "requirements.txt")
    problem = _relative_path_problem(requirements)
    if problem:
        errors.append(fmt(name, "artifact.requirements", problem))
    elif "requirements" in artifact and _is_dir(src) and not os.path.isfile(os.path.join(src, requirements)):
        # Named, it must be there (the default requirements.txt is optional: no dependencies).
        errors.append(fmt(name, "artifact.requirements", "%s has no %s on the controller" % (src, requirements)))
    wheelhouse = artifact.get("wheelhouse")
    if wheelhouse is not None and (not isinstance(wheelhouse, str) or not wheelhouse.startswith("/")
                                   or has_line_break(wheelhouse)):
        errors.append(fmt(name, "artifact.wheelhouse", "must be the absolute path of a directory of wheels on the "
                          "controller, got %r" % (wheelhouse,)))
    elif wheelhouse is not None and not os.path.isdir(wheelhouse):
        errors.append(fmt(name, "artifact.wheelhouse", "%s is not a directory on the controller" % wheelhouse))
    if not isinstance(artifact.get("system_site_packages", False), bool):
        errors.append(fmt(name, "artifact.system_site_packages", "must be true or false, got %r"
                          % (artifact["system_site_packages"],)))
    unknown = sorted(set(artifact) - {"type", "src", "entry", "module", "requirements", "wheelhouse",
                                      "system_site_packages"})
    if unknown:
        errors.append(fmt(name, "artifact", "unknown key(s) for a python_app: %s" % ", ".join(unknown)))


# ---- Artifact container ----
# A Docker image tag (name:tag): lowercase repository path, optional registry
# host[:port], a tag of letters, digits, _ . - (Docker's reference grammar, no digest).
_IMAGE_REFERENCE = re.compile(r"(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                              r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


def _check_container_artifact(name, artifact, runtime, errors):
    """A container: a build context on the controller (its Dockerfile) or an image already on the host."""
    if runtime != "docker":
        errors.append(fmt(name, "artifact.type", "'container' runs with runtime docker only, got runtime %r"
                          % (runtime,)))
    has_context, has_image = artifact.get("context") is not None, artifact.get("image") is not None
    if has_context == has_image:
        errors.append(fmt(name, "artifact", "a container needs exactly one of context (a directory with a Dockerfile "
                          "on the controller, built on the host) or image (name:tag, already on the host)"))
    elif has_context:
        context = artifact["context"]
        dockerfile = artifact.get("dockerfile", "Dockerfile")
        problem = _relative_path_problem(dockerfile)
        if problem:
            errors.append(fmt(name, "artifact.dockerfile", problem.replace("application directory", "build context")))
        if not isinstance(context, str) or not context.startswith("/") or has_line_break(context):
            errors.append(fmt(name, "artifact.context", "must be the absolute path of a build context directory on the "
                              "controller, got %r" % (context,)))
        elif not os.path.isdir(context):
            errors.append(fmt(name, "artifact.context", "%s is not a directory on the controller" % context))
        elif not problem and not os.path.isfile(os.path.join(context, dockerfile)):
            errors.append(fmt(name, "artifact.dockerfile", "%s has no %s" % (context, dockerfile)))
    else:
        image = artifact["image"]
        if not isinstance(image, str) or not _IMAGE_REFERENCE.match(image):
            errors.append(fmt(name, "artifact.image", "must be an image name with its tag (name:tag, such as "
                              "alicia/stt:1.4), got %r" % (image,)))
        if artifact.get("dockerfile") is not None:
            errors.append(fmt(name, "artifact.dockerfile", "goes with context only (an image is run as is)"))
    unknown = sorted(str(key) for key in set(artifact) - {"type", "context", "dockerfile", "image"})
    if unknown:
        errors.append(fmt(name, "artifact", "unknown key(s) for a container: %s" % ", ".join(unknown)))


def _check_artifact(name, entry, runtimes, errors):
    if entry.get("kind", "service") != "service":
        return
    runtime = entry.get("runtime", "systemd")
    # An unknown runtime has its own message (_check_entry).
    if runtime in runtimes and runtime not in SERVICE_RUNTIMES:
        errors.append(fmt(name, "runtime", "runtime %r is not supported for services yet (supported: %s)"
                          % (runtime, ", ".join(SERVICE_RUNTIMES))))
    artifact = entry.get("artifact")
    if not isinstance(artifact, dict):
        errors.append(fmt(name, "artifact", "must be a mapping with a type (%s), got %r"
                          % (", ".join(ARTIFACT_TYPES), artifact)))
        return
    kind = artifact.get("type")
    if kind not in ARTIFACT_TYPES:
        errors.append(fmt(name, "artifact.type", "%r is not supported (supported: %s)" % (kind, ", ".join(ARTIFACT_TYPES))))
    elif kind == "command" and runtime == "docker":
        errors.append(fmt(name, "artifact.type", "'command' (an executable already on the host) runs with runtime "
                          "systemd only: runtime docker builds an image of the artifact (use type reference)"))
    elif kind == "python_app":
        _check_python_app(name, artifact, runtime, errors)
    elif kind == "container":
        _check_container_artifact(name, artifact, runtime, errors)
    elif kind == "command":
        command = artifact.get("command")
        if not isinstance(command, str) or not command.startswith("/") or has_line_break(command):
            errors.append(fmt(name, "artifact.command", "must be an absolute path and its arguments on one line, got %r"
                              % (command,)))


# ---- runtime docker ------------------------------------------------------------

DOCKER_KEYS = ("network", "restart_policy")
DOCKER_RESTART_POLICIES = ("unless-stopped", "on-failure")
# Docker's own rules for network and driver names.
_DOCKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_DOCKER_DRIVER = re.compile(r"[a-z0-9][a-z0-9_./:-]*\Z")


def _ipv4_network(value):
    """An IPv4 network in CIDR form without host bits (Docker's subnets), or None."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None
    return network if network.version == 4 else None


def _check_docker_network(name, network, errors):
    field = "docker.network"
    if not isinstance(network, dict):
        errors.append(fmt(name, field, "must be a mapping of %s, got %s"
                          % (", ".join(DOCKER_NETWORK_KEYS), type(network).__name__)))
        return
    unknown = sorted(str(key) for key in network if key not in DOCKER_NETWORK_KEYS)
    if unknown:
        errors.append(fmt(name, field, "unknown key(s) %s (known: %s)"
                          % (", ".join(unknown), ", ".join(DOCKER_NETWORK_KEYS))))
    if "name" in network and (not isinstance(network["name"], str) or not _DOCKER_NAME.match(network["name"])):
        errors.append(fmt(name, field + ".name", "must be a Docker network name (letters, digits, _ . -), got %r"
                          % (network["name"],)))
    if "driver" in network and (not isinstance(network["driver"], str)
                                or not _DOCKER_DRIVER.match(network["driver"])):
        errors.append(fmt(name, field + ".driver", "must be a Docker network driver name (bridge), got %r"
                          % (network["driver"],)))
    resolved = docker_network({"docker": {"network": network}})
    subnet = _ipv4_network(resolved.get("subnet"))
    if subnet is None:
        errors.append(fmt(name, field + ".subnet", "must be an IPv4 network in CIDR form without host bits "
                          "(172.20.0.0/16), got %r" % (resolved.get("subnet"),)))
    elif subnet.prefixlen > 30:
        errors.append(fmt(name, field + ".subnet", "%s is too small for a gateway and containers (at most /30)"
                          % subnet))
    ip_range = resolved.get("ip_range")
    if ip_range is not None:
        ranged = _ipv4_network(ip_range)
        if ranged is None:
            errors.append(fmt(name, field + ".ip_range", "must be null or an IPv4 network in CIDR form without host "
                              "bits (172.20.240.0/20), got %r" % (ip_range,)))
        elif subnet is not None and not ranged.subnet_of(subnet):
            errors.append(fmt(name, field + ".ip_range", "%s is not inside the subnet %s" % (ranged, subnet)))
    gateway = resolved.get("gateway")
    if gateway is not None:
        try:
            address = ipaddress.ip_address(gateway) if isinstance(gateway, str) else None
        except ValueError:
            address = None
        if address is None or address.version != 4:
            errors.append(fmt(name, field + ".gateway", "must be null or an IPv4 address, got %r" % (gateway,)))
        elif subnet is not None and (address not in subnet or address in (subnet.network_address,
                                                                          subnet.broadcast_address)):
            errors.append(fmt(name, field + ".gateway", "%s is not a host address of the subnet %s"
                              % (address, subnet)))


def _check_docker(name, entry, errors):
    """`docker`: the settings of the docker runtime (checked whenever given)."""
    if entry.get("docker") is None:
        return
    docker = entry["docker"]
    if not isinstance(docker, dict):
        errors.append(fmt(name, "docker", "must be a mapping {network, restart_policy}, got %s"
                          % type(docker).__name__))
        return
    unknown = sorted(str(key) for key in docker if key not in DOCKER_KEYS)
    if unknown:
        errors.append(fmt(name, "docker", "unknown key(s) %s (known: %s)" % (", ".join(unknown), ", ".join(DOCKER_KEYS))))
    if docker.get("network") is not None:
        _check_docker_network(name, docker["network"], errors)
    policy = docker.get("restart_policy")
    if policy is not None and policy not in DOCKER_RESTART_POLICIES:
        errors.append(fmt(name, "docker.restart_policy", "must be one of %s, got %r"
                          % (", ".join(DOCKER_RESTART_POLICIES), policy)))


# ---- port and listen_port ----------------------------------------------------

# Runtimes whose process binds on the host's network: it binds the port it is
# reached at. Only docker maps one port to another (published port ->
# container listen_port).
HOST_NETWORK_RUNTIMES = HOST_RUNTIMES


def _valid_port(value):
    return is_int(value) and 1 <= value <= 65535


def listen_port_problem(entry, runtime=None):
    """Why ``entry``'s ``listen_port`` cannot work with ``runtime`` (default:
    the entry's own), or None.

    ``port`` is where a service is reached on its host (firewall, health
    sweep, gates, dependants); ``listen_port`` what its process binds. Only
    the docker runtime maps the one to the other, so a host-network runtime
    needs them equal. Multi-instance services (their instances listen on
    ``instance_ports``) and the broker are not concerned; malformed ports
    are reported on their own field.
    """
    if not isinstance(entry, dict) or entry.get("kind", "service") != "service" or instance_count(entry):
        return None
    port, listen = entry.get("port"), entry.get("listen_port")
    if not _valid_port(port) or not _valid_port(listen) or listen == port:
        return None
    runtime = runtime or entry.get("runtime", "systemd")
    if runtime not in HOST_NETWORK_RUNTIMES:
        return None
    return ("listen_port %d differs from port %d, which only the docker runtime can map (runtime %s binds the port "
            "it is reached at: set port to %d, or drop listen_port)" % (listen, port, runtime, listen))


def _check_listen_port(name, entry, errors):
    problem = listen_port_problem(entry)
    if problem:
        errors.append(fmt(name, "listen_port", problem))


# ---- Runtime supervisor / manual: restart settings (all runtimes) ----------

# Seed 004's restart settings: consecutive failed starts before giving up
# (0: never give up), seconds between a stop and the next start, seconds a
# graceful stop (SIGTERM) may take before SIGKILL.
RESTART_KEYS = ("max_restarts", "restart_delay", "stop_timeout")


def restart_problems(restart):
    """(field, problem) pairs of a `restart` mapping; [] when it is valid."""
    if not isinstance(restart, dict):
        return [("restart", "must be a mapping of %s, got %s" % (", ".join(RESTART_KEYS), type(restart).__name__))]
    found = []
    unknown = sorted(str(key) for key in restart if key not in RESTART_KEYS)
    if unknown:
        found.append(("restart", "unknown key(s) %s (known: %s)" % (", ".join(unknown), ", ".join(RESTART_KEYS))))
    value = restart.get("max_restarts", 0)
    if not is_int(value) or not 0 <= value <= 1000:
        found.append(("restart.max_restarts", "must be a whole number 0-1000 (0: no limit), got %r" % (value,)))
    value = restart.get("restart_delay", 5)
    if not is_int(value) or not 0 <= value <= 3600:
        found.append(("restart.restart_delay", "must be a whole number of seconds 0-3600, got %r" % (value,)))
    value = restart.get("stop_timeout", 15)
    if not is_int(value) or not 1 <= value <= 3600:
        found.append(("restart.stop_timeout", "must be a whole number of seconds 1-3600, got %r" % (value,)))
    return found


# The runtimes a host variable (service_runtime) may force on every service
# of a host: the host-network ones (docker needs its network and images),
# HOST_RUNTIMES of _catalogue_base.


def host_runtime_errors(value, host=None, catalogue=None, group_names=None):
    """Problems of a host's ``service_runtime`` ("" or None: each entry's own runtime).

    With the resolved ``catalogue`` and the host's ``group_names``, each
    service of the host that the forced runtime cannot run is named: a
    multi-instance service under a runtime other than systemd (only systemd
    runs several instances), and a docker service whose ``listen_port``
    differs from its ``port`` (a host-network runtime binds the port it is
    reached at; only docker maps one to the other).
    """
    if value is None or value == "":
        return []
    where = " on host '%s'" % host if host else ""
    if not isinstance(value, str) or value not in HOST_RUNTIMES:
        return ["service_runtime%s: must be one of %s (or empty: each service's own runtime), got %r"
                % (where, ", ".join(HOST_RUNTIMES), value)]
    found = []
    if not isinstance(catalogue, dict):
        return found
    groups = set(group_names or [])
    for name, entry in catalogue.items():
        if (not isinstance(entry, dict) or entry.get("kind", "service") != "service"
                or entry.get("group") not in groups):
            continue
        if value != "systemd" and entry.get("instance_list"):
            found.append("service_runtime%s: %s cannot run service '%s': it has %d instances (field 'instances'), "
                         "which only the systemd runtime runs" % (where, value, name, len(entry["instance_list"])))
            continue
        # An entry of a host-network runtime of its own is reported by the catalogue checks.
        own = entry.get("runtime", "systemd")
        problem = None if own in HOST_NETWORK_RUNTIMES else listen_port_problem(entry, value)
        if problem:
            found.append("service_runtime%s: %s cannot run service '%s' (field 'listen_port'): %s"
                         % (where, value, name, problem))
    return found


def _check_restart(name, entry, errors):
    if entry.get("kind", "service") != "service" or entry.get("restart") is None:
        return
    for field, problem in restart_problems(entry["restart"]):
        errors.append(fmt(name, field, problem))


def _docker_network_clashes(catalogue, groups):
    """The docker-runtime services of one host share one network: the first one's
    definition is the host's, any other is reported on the service that differs.
    Without ``groups`` every entry shares one host."""
    found = []
    first = {}
    for name, entry in catalogue.items():
        if not is_docker_service(entry) or not isinstance(entry.get("docker") or {}, dict):
            continue
        if not isinstance((entry.get("docker") or {}).get("network") or {}, dict):
            continue
        network = docker_network(entry)
        for host in (hosts_of(entry, groups) if groups is not None else [None]):
            if host not in first:
                first[host] = (name, network)
            elif first[host][1] != network:
                other, theirs = first[host]
                where = "on host '%s'" % host if host is not None else "(services without an inventory share one host)"
                changed = ", ".join("%s %s instead of %s" % (key, network.get(key), theirs.get(key))
                                    for key in DOCKER_NETWORK_KEYS if network.get(key) != theirs.get(key))
                found.append(fmt(name, "docker.network", "differs from service '%s' %s (%s): the docker services "
                                 "of one host share one network" % (other, where, changed)))
                break
    return found


def _check_entry(name, entry, catalogue, groups, secrets, phases, runtimes, require_groups):
    found = []
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
        found.append(fmt(name, "name", "invalid name %r: use only a-z, 0-9 and _" % (name,)))
    if not isinstance(entry, dict):
        found.append(fmt(name, "entry", "must be a mapping, got %s" % type(entry).__name__))
        return found
    kind = entry.get("kind", "service")
    if kind not in KINDS:
        found.append(fmt(name, "kind", "unknown kind %r (known: %s)" % (kind, ", ".join(KINDS))))
    phase = entry.get("phase")
    if phase not in phases:
        found.append(fmt(name, "phase", "unknown phase %r (known: %s)" % (phase, ", ".join(phases))))
    if "port" not in entry or entry.get("port") is None:
        found.append(fmt(name, "port", "missing"))
    else:
        _check_port(name, "port", entry["port"], found)
    if entry.get("listen_port") is not None:
        _check_port(name, "listen_port", entry["listen_port"], found)
    _check_listen_port(name, entry, found)
    runtime = entry.get("runtime")
    if runtime not in runtimes:
        found.append(fmt(name, "runtime", "unknown runtime %r (known: %s)" % (runtime, ", ".join(runtimes))))
    instances = entry.get("instances", 1)
    if not is_int(instances) or instances < 1:
        found.append(fmt(name, "instances", "must be an integer >= 1, got %r" % (instances,)))
    _check_instances(name, entry, runtimes, found)
    _check_slots(name, entry, runtimes, found)
    _check_systemd(name, entry, found)
    _check_docker(name, entry, found)
    _check_restart(name, entry, found)
    _check_artifact(name, entry, runtimes, found)
    group = entry.get("group")
    if not isinstance(group, str) or not group:
        found.append(fmt(name, "group", "must be a non-empty inventory group name, got %r" % (group,)))
    elif require_groups and groups is not None and not hosts_of(entry, groups):
        found.append(fmt(name, "group", "inventory group '%s' has no hosts" % group))
    else:
        problem = phase_target_problem(entry, groups)
        if problem:
            found.append(fmt(name, "group", problem))
    _check_unit(name, entry, found)
    _check_health(name, entry.get("health"), found)
    _check_dependencies(name, entry, catalogue, phases, found)
    _check_resources(name, entry, found)
    _check_firewall(name, entry, found)
    _check_log(name, entry, found)
    _check_packages(name, entry, found)
    if kind != "broker":
        _check_env(name, entry.get("env"), found)
        _check_mqtt(name, entry.get("mqtt"), found)
        _check_secrets(name, entry, secrets, found)
    return found


def errors(catalogue, groups=None, secrets=None, phases=DEFAULT_PHASES, runtimes=DEFAULT_RUNTIMES,
           require_groups=False):
    """Return every problem of a resolved catalogue as a list of messages.

    Each message names the service and the field:
    ``catalogue: service 'voice_router' field 'depends_on': unknown dependency 'stt'``.

    ``groups`` (inventory group -> hosts) enables the per-host port clash
    check and, with ``require_groups``, the check that every group has hosts.
    Without ``groups`` every entry is taken to share one host, so every
    published port must be unique. ``secrets`` (service -> NAME -> value)
    enables the required-secret checks; values are never put in a message.
    """
    if not isinstance(catalogue, dict):
        return ["catalogue: the resolved catalogue must be a mapping of service name to entry, got %s"
                % type(catalogue).__name__]
    if isinstance(phases, str):
        return ["catalogue: phases must be a list of phase names, got %r" % (phases,)]
    if isinstance(runtimes, str):
        return ["catalogue: runtimes must be a list of runtime names, got %r" % (runtimes,)]
    phases = list(phases or DEFAULT_PHASES)
    runtimes = list(runtimes or DEFAULT_RUNTIMES)
    found = []
    for name, entry in catalogue.items():
        found.extend(_check_entry(name, entry, catalogue, groups, secrets, phases, runtimes, require_groups))

    for cycle in find_cycles(dict((n, e) for n, e in catalogue.items() if isinstance(e, dict)), phases):
        found.append(cycle_message(cycle))

    found.extend(_port_clashes(catalogue, groups))
    found.extend(_docker_network_clashes(catalogue, groups))
    found.extend(_username_clashes(catalogue))
    found.extend(_instance_name_clashes(catalogue))
    # Group the messages by service, in catalogue order (stable).
    position = dict((name, i) for i, name in enumerate(catalogue))

    def _key(message):
        if message.startswith("catalogue: service '"):
            return position.get(message.split("'")[1], len(position))
        return -1
    return sorted(found, key=_key)


def _bound_ports(entry):
    """(field, port) pairs an entry binds on each of its hosts.

    A single-instance service binds its ``port``: a host-network runtime's
    process binds it itself (its ``listen_port`` may not differ, see
    _check_listen_port), docker publishes it (``listen_port`` is inside the
    container). A multi-instance service binds its published ``port`` (the
    balancer) and each of its ``instance_ports`` (the instances, on the
    loopback address).
    """
    bound = [("port", entry["port"])]
    if entry.get("kind", "service") == "service" and instance_count(entry):
        ports = entry.get("instance_ports")
        for port in ports if is_list(ports) else []:
            if is_int(port) and 1 <= port <= 65535:
                bound.append(("instance_ports", port))
    if has_slots(entry):
        ports = entry.get("slot_ports")
        for port in ports if is_list(ports) else []:
            if is_int(port) and 1 <= port <= 65535:
                bound.append(("slot_ports", port))
    return bound


def _port_clashes(catalogue, groups):
    used = {}
    found = []
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or not is_int(entry.get("port")):
            continue
        hosts = hosts_of(entry, groups) if groups is not None else [None]
        for host in hosts:
            for field, port in _bound_ports(entry):
                key = (host, port)
                if key in used and used[key][0] != name:
                    where = "on host '%s'" % host if host is not None else "(services without an inventory share one host)"
                    theirs = "" if used[key][1] == "port" else " (its %s)" % used[key][1]
                    found.append(fmt(name, field, "port %d %s already used by service '%s'%s"
                                     % (port, where, used[key][0], theirs)))
                elif key not in used:
                    used[key] = (name, field)
    return found


def _username_clashes(catalogue):
    """One broker account per service: a username used twice names both services."""
    used = {}
    found = []
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or entry.get("kind", "service") != "service":
            continue
        mqtt = entry.get("mqtt")
        username = mqtt.get("username") if isinstance(mqtt, dict) else None
        if not isinstance(username, str) or not username:
            continue
        if username in used:
            found.append(fmt(name, "mqtt.username", "username '%s' already used by service '%s'"
                             % (username, used[username])))
        else:
            used[username] = name
    return found


def validate(catalogue, groups=None, secrets=None, phases=DEFAULT_PHASES, runtimes=DEFAULT_RUNTIMES,
             require_groups=False):
    """Raise CatalogueError listing every problem (one per line); return the catalogue."""
    found = errors(catalogue, groups=groups, secrets=secrets, phases=phases, runtimes=runtimes,
                   require_groups=require_groups)
    if found:
        first = found[0]
        service = field = None
        if first.startswith("catalogue: service '"):
            service = first.split("'")[1]
            field = first.split("'")[3]
        exc = CatalogueError("\n".join(found), service=service, field=field)
        exc.errors = found
        raise exc
    return catalogue
