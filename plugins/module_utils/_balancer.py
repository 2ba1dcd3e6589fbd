# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs of the balancer role (the local HAProxy of the multi-instance
services), as plain functions:

* ``errors(services, settings, used_ports)``: every problem of
  ``balancer_services`` and of the role's other settings, one message each,
  naming the service, the server and the field (filter balancer_errors);
* ``backends(services)``: the services with every default filled in and
  what the configuration template needs computed (filter balancer_backends).

Nothing here touches a host; preflight runs ``errors`` on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import is_int, is_list, native

SERVICE_KEYS = ("name", "port", "bind", "balance", "health", "servers", "slots")
HEALTH_KEYS = ("path", "json_field", "json_value")
SERVER_KEYS = ("name", "address", "port", "weight", "state")
BALANCES = ("roundrobin", "leastconn")
SERVER_STATES = ("enabled", "disabled", "drain")
WEIGHT_MAX = 256

SERVICE_DEFAULTS = {"bind": "0.0.0.0", "balance": "roundrobin"}
HEALTH_DEFAULTS = {"path": "/health", "json_field": "status", "json_value": "healthy"}
SERVER_DEFAULTS = {"address": "127.0.0.1", "weight": 100, "state": "enabled"}

# The role's other settings, as balancer_errors takes them (without the
# balancer_ prefix), and what each must be.
TIMEOUT_NAMES = ("connect", "client", "server", "http-request", "http-keep-alive", "queue", "check",
                 "tunnel", "client-fin", "server-fin", "tarpit")
RETRY_ON = ("none", "conn-failure", "empty-response", "junk-response", "response-timeout", "0rtt-rejected",
            "all-retryable-errors", "401", "403", "404", "408", "425", "500", "501", "502", "503", "504")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
TIME_SETTINGS = ("check_inter", "check_fastinter", "check_downinter", "hard_stop_after")
COUNT_SETTINGS = {"check_rise": 1, "check_fall": 1, "retries": 0, "maxconn": 1}
LINE_SETTINGS = ("extra_global", "extra_defaults")
SETTINGS = TIME_SETTINGS + tuple(COUNT_SETTINGS) + LINE_SETTINGS + ("timeouts", "retry_on", "log_level")

# HAProxy proxy and server names: letters, digits, '-', '_', '.' (and ':',
# left out here: the runtime API writes <backend>/<server>).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# A health check path: no whitespace, quotes, backslash or '#' (a comment in haproxy.cfg).
_PATH = re.compile(r"/[A-Za-z0-9._~!$&()*+,;=:@%/?-]*\Z")
# The JSON field and value the check looks for: plain words, so the
# regular expression needs no escaping.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
# HAProxy times: a number and an optional unit (milliseconds without one).
_TIME = re.compile(r"[0-9]+(us|ms|s|m|h|d)?\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
LOOPBACK_NAMES = ("localhost",)


class BalancerError(ValueError):
    """``backends`` was given services that ``errors`` reports problems for."""


def _json(value):
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def whole_number(value):
    """An int from an int or a digit string (as Jinja's ``| int`` reads it), else None."""
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return value if is_int(value) else None


def ip_address(value):
    """The ipaddress object of an IPv4/IPv6 address (no CIDR, no zone), else None."""
    if not isinstance(value, str) or "%" in value or "/" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def address_problem(value):
    if ip_address(value) is not None:
        return None
    if isinstance(value, str) and _HOSTNAME.match(value):
        return None
    return "must be an IPv4 or IPv6 address or a host name, got %s" % _json(value)


def endpoint(address, port):
    """``address:port`` as haproxy.cfg writes it (IPv6 in brackets)."""
    found = ip_address(address)
    if found is not None and found.version == 6:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def is_local(address, binds):
    """Whether a server address is this host's: loopback, localhost, or one the services bind."""
    if address in LOOPBACK_NAMES or address in binds:
        return True
    found = ip_address(address)
    return found is not None and (found.is_loopback or found.is_unspecified)


def health_expect(field, value):
    """The ``http-check expect rstring`` argument, quoted for haproxy.cfg: the
    JSON member ``"<field>": "<value>"`` with any spaces around the colon."""
    pattern = '"%s" *: *"%s"' % (field, value)
    return '"%s"' % pattern.replace("\\", "\\\\").replace('"', '\\"')


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------

def _label(index, service):
    name = service.get("name") if isinstance(service, dict) else None
    if isinstance(name, str) and _NAME.match(name):
        return "balancer: service '%s'" % name
    return "balancer: balancer_services[%d]" % index


def _server_label(index, server):
    name = server.get("name") if isinstance(server, dict) else None
    if isinstance(name, str) and _NAME.match(name):
        return "server '%s'" % name
    return "servers[%d]" % index


def _unknown(keys, given):
    return sorted(str(key) for key in given if key not in keys)


def _health_errors(where, health):
    if health is None:
        return []
    if not isinstance(health, dict):
        return ["%s: health must be a mapping {path, json_field, json_value}, got %s" % (where, _json(health))]
    found = []
    unknown = _unknown(HEALTH_KEYS, health)
    if unknown:
        found.append("%s: health: unknown key(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(HEALTH_KEYS)))
    path = health.get("path", HEALTH_DEFAULTS["path"])
    if not isinstance(path, str) or not _PATH.match(path):
        found.append("%s: health.path must be an absolute URL path without spaces, quotes, backslashes or '#', "
                     "got %s" % (where, _json(path)))
    for key in ("json_field", "json_value"):
        value = health.get(key, HEALTH_DEFAULTS[key])
        if not isinstance(value, str) or not _TOKEN.match(value):
            found.append("%s: health.%s must be a word of A-Z, a-z, 0-9, '_' and '-', got %s"
                         % (where, key, _json(value)))
    return found


def _server_errors(where, servers):
    if not is_list(servers) or not servers:
        return ["%s: servers must be a non-empty list of {name, address, port, weight, state}, got %s"
                % (where, _json(servers))]
    found = []
    names = {}
    for index, server in enumerate(servers):
        label = "%s: %s" % (where, _server_label(index, server))
        if not isinstance(server, dict):
            found.append("%s: must be a mapping {name, address, port, weight, state}, got %s"
                         % (label, _json(server)))
            continue
        unknown = _unknown(SERVER_KEYS, server)
        if unknown:
            found.append("%s: unknown key(s) %s (known: %s)" % (label, ", ".join(unknown), ", ".join(SERVER_KEYS)))
        name = server.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            found.append("%s: name must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' and '-' (not starting "
                         "with '_', '.' or '-'), got %s" % (label, _json(name)))
        else:
            names.setdefault(name, []).append(index)
        problem = address_problem(server.get("address", SERVER_DEFAULTS["address"]))
        if problem:
            found.append("%s: address %s" % (label, problem))
        port = whole_number(server.get("port"))
        if port is None or not 1 <= port <= 65535:
            found.append("%s: port must be 1-65535, got %s" % (label, _json(server.get("port"))))
        weight = whole_number(server.get("weight", SERVER_DEFAULTS["weight"]))
        if weight is None or not 0 <= weight <= WEIGHT_MAX:
            found.append("%s: weight must be a whole number 0-%d, got %s"
                         % (label, WEIGHT_MAX, _json(server.get("weight"))))
        state = server.get("state", SERVER_DEFAULTS["state"])
        if state not in SERVER_STATES:
            found.append("%s: state must be one of %s, got %s" % (label, ", ".join(SERVER_STATES), _json(state)))
    for name, positions in names.items():
        if len(positions) > 1:
            found.append("%s: server name '%s' is used more than once (servers[%s])"
                         % (where, name, "], servers[".join(str(p) for p in positions)))
    return found


def _service_errors(index, service):
    where = _label(index, service)
    if not isinstance(service, dict):
        return ["%s: must be a mapping {name, port, bind, balance, health, servers}, got %s"
                % (where, _json(service))]
    found = []
    unknown = _unknown(SERVICE_KEYS, service)
    if unknown:
        found.append("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(SERVICE_KEYS)))
    name = service.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        found.append("%s: name must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' and '-' (not starting with "
                     "'_', '.' or '-'), got %s" % (where, _json(name)))
    port = whole_number(service.get("port"))
    if port is None or not 1 <= port <= 65535:
        found.append("%s: port (the published port) must be 1-65535, got %s" % (where, _json(service.get("port"))))
    bind = service.get("bind", SERVICE_DEFAULTS["bind"])
    if ip_address(bind) is None:
        found.append("%s: bind must be an IPv4 or IPv6 address (0.0.0.0 for every address), got %s"
                     % (where, _json(bind)))
    balance = service.get("balance", SERVICE_DEFAULTS["balance"])
    if balance not in BALANCES:
        found.append("%s: balance must be one of %s, got %s" % (where, ", ".join(BALANCES), _json(balance)))
    found.extend(_health_errors(where, service.get("health")))
    found.extend(_server_errors(where, service.get("servers")))
    slots = service.get("slots", False)
    if not isinstance(slots, bool):
        found.append("%s: slots must be true or false, got %s" % (where, _json(slots)))
    elif slots and is_list(service.get("servers")) and len(service["servers"]) != 2:
        found.append("%s: slots (blue-green) needs 2 servers, one per slot, got %d"
                     % (where, len(service["servers"])))
    return found


def _port_errors(services, used_ports):
    """No port used twice on the host: each published port once, each
    server port on a local address once and never a published one, none
    of them a port ``used_ports`` says something else listens on."""
    found = []
    valid = [s for s in services if isinstance(s, dict) and isinstance(s.get("name"), str)]
    binds = set(s.get("bind", SERVICE_DEFAULTS["bind"]) for s in valid)
    users = {}  # port -> ["service 'x' (published)", "service 'x' server 'y'", ...]
    for service in valid:
        port = whole_number(service.get("port"))
        if port is not None:
            users.setdefault(port, []).append("service '%s' (published)" % service["name"])
        for server in service.get("servers") if is_list(service.get("servers")) else []:
            if not isinstance(server, dict):
                continue
            port = whole_number(server.get("port"))
            if port is not None and is_local(server.get("address", SERVER_DEFAULTS["address"]), binds):
                users.setdefault(port, []).append("service '%s' server '%s'" % (service["name"], server.get("name")))
    others = {}
    for port, owner in (used_ports or {}).items():
        number = whole_number(port)
        if number is not None:
            others[number] = owner
    for port in sorted(users):
        owners = users[port]
        if len(owners) > 1:
            found.append("balancer: port %d is used more than once on the host: %s" % (port, ", ".join(owners)))
        if port in others:
            found.append("balancer: port %d of %s is already used on the host by %s"
                         % (port, " and ".join(owners), others[port]))
    return found


def _settings_errors(settings):
    if settings is None:
        return []
    if not isinstance(settings, dict):
        return ["balancer: settings must be a mapping of setting name to value, got %s" % type(settings).__name__]
    found = []
    unknown = _unknown(SETTINGS, settings)
    if unknown:
        found.append("balancer: unknown setting(s) %s (known: %s)" % (", ".join(unknown), ", ".join(SETTINGS)))
    for key in TIME_SETTINGS:
        if key in settings and (not isinstance(settings[key], str) or not _TIME.match(settings[key])):
            found.append("balancer: balancer_%s must be an HAProxy time (a number with us, ms, s, m, h or d), "
                         "got %s" % (key, _json(settings[key])))
    for key, minimum in COUNT_SETTINGS.items():
        if key in settings:
            number = whole_number(settings[key])
            if number is None or number < minimum:
                found.append("balancer: balancer_%s must be a whole number >= %d, got %s"
                             % (key, minimum, _json(settings[key])))
    for key in LINE_SETTINGS:
        if key not in settings:
            continue
        lines = settings[key]
        if not is_list(lines):
            found.append("balancer: balancer_%s must be a list of haproxy.cfg lines, got %s" % (key, _json(lines)))
            continue
        for position, line in enumerate(lines):
            if not isinstance(line, str) or not line.strip() or any(c in line for c in "\n\r\x00"):
                found.append("balancer: balancer_%s item %d must be one non-empty line, got %s"
                             % (key, position + 1, _json(line)))
    if "timeouts" in settings:
        timeouts = settings["timeouts"]
        if not isinstance(timeouts, dict):
            found.append("balancer: balancer_timeouts must be a mapping of HAProxy timeout name to time, got %s"
                         % _json(timeouts))
        else:
            for name in sorted(timeouts, key=str):
                value = timeouts[name]
                if name not in TIMEOUT_NAMES:
                    found.append("balancer: balancer_timeouts: unknown timeout %s (known: %s)"
                                 % (_json(name), ", ".join(TIMEOUT_NAMES)))
                elif not isinstance(value, str) or not _TIME.match(value):
                    found.append("balancer: balancer_timeouts.%s must be an HAProxy time (a number with us, ms, "
                                 "s, m, h or d), got %s" % (name, _json(value)))
    if "retry_on" in settings:
        words = settings["retry_on"].split() if isinstance(settings["retry_on"], str) else None
        bad = [word for word in words or [] if word not in RETRY_ON]
        if not words or bad:
            found.append("balancer: balancer_retry_on must be space-separated keywords of %s, got %s"
                         % (", ".join(RETRY_ON), _json(settings["retry_on"])))
    if "log_level" in settings and settings["log_level"] not in LOG_LEVELS:
        found.append("balancer: balancer_log_level must be one of %s, got %s"
                     % (", ".join(LOG_LEVELS), _json(settings["log_level"])))
    return found


def slot_backend(service_name, server_name):
    """The backend of one slot server of a blue-green service (what haproxy.cfg names it)."""
    return "%s_%s" % (service_name, server_name)


def canary_backend(service_name):
    """A blue-green service's backend holding both slots, named only while a canary is watched."""
    return "%s_canary" % service_name


def backend_names(service):
    """The HAProxy backends of one well-formed service: its name, or for a
    blue-green one (``slots``) ``<name>_<server>`` per slot server and
    ``<name>_canary`` (what ``backends`` writes)."""
    if not service.get("slots"):
        return [service["name"]]
    return ([slot_backend(service["name"], server.get("name")) for server in service.get("servers") or []
             if isinstance(server, dict)] + [canary_backend(service["name"])])


def _backend_clashes(services):
    """A backend name that two services would write (HAProxy refuses the configuration)."""
    found = []
    owners = {}
    for index, service in enumerate(services):
        if not isinstance(service, dict) or not isinstance(service.get("name"), str):
            continue
        for backend in backend_names(service):
            other = owners.setdefault(backend, index)
            # The same name twice is reported as such (errors).
            if other != index and services[other]["name"] != service["name"]:
                found.append("balancer: balancer_services[%d] (%s) field 'name': its backend %s is also the backend "
                             "of balancer_services[%d] (%s)"
                             % (index, service["name"], backend, other, services[other]["name"]))
    return found


def errors(services, settings=None, used_ports=None):
    """Every problem of ``balancer_services`` and the role's settings.

    ``services``: the list of ``balancer_services``. ``settings``: the
    role's other variables without their ``balancer_`` prefix (a key not
    given is not checked). ``used_ports``: ``{port: what}`` of the other
    things listening on this host (the catalogue's other services), which
    no published or local server port may take. Empty list: all good.
    """
    services = native(services)
    if not is_list(services):
        return ["balancer: balancer_services must be a list of services, got %s" % _json(services)]
    found = []
    names = {}
    for index, service in enumerate(services):
        found.extend(_service_errors(index, service))
        if isinstance(service, dict) and isinstance(service.get("name"), str):
            names.setdefault(service["name"], []).append(index)
    for name, positions in names.items():
        if len(positions) > 1:
            found.append("balancer: service name '%s' is used more than once (balancer_services[%s])"
                         % (name, "], balancer_services[".join(str(p) for p in positions)))
    found.extend(_backend_clashes(services))
    if used_ports is not None and not isinstance(used_ports, dict):
        found.append("balancer: used_ports must be a mapping of port to what uses it, got %s" % _json(used_ports))
        used_ports = None
    found.extend(_port_errors(services, native(used_ports)))
    found.extend(_settings_errors(native(settings)))
    return found


# ---------------------------------------------------------------------------
# Normalised services for the template
# ---------------------------------------------------------------------------

def backends(services):
    """The services with every default filled in, in the order given.

    Each gets ``listen`` (the frontend's bind address:port) and ``expect``
    (the quoted ``http-check expect rstring`` argument); each server gets
    ``endpoint`` (address:port) and ``config_weight`` (0 for a drained
    server: HAProxy has no drain keyword, weight 0 is its drain state). A
    blue-green service (``slots``) gets one backend per slot server
    (``<service>_<server>``, its ``backend``), the frontend choosing one by
    the slots map (alicia.platform.slots keeps the map), the first by default,
    and ``canary_backend`` (``<service>_canary``): both slot servers in one
    backend, which the map names only while a canary is watched (the new
    slot at a small weight beside the live one).
    Raises BalancerError when ``errors`` has something to say.
    """
    problems = errors(services)
    if problems:
        raise BalancerError("; ".join(problems))
    result = []
    for service in native(services):
        health = dict(HEALTH_DEFAULTS, **(service.get("health") or {}))
        port = whole_number(service["port"])
        bind = service.get("bind", SERVICE_DEFAULTS["bind"])
        entry = {
            "name": service["name"],
            "port": port,
            "bind": bind,
            "listen": endpoint(bind, port),
            "balance": service.get("balance", SERVICE_DEFAULTS["balance"]),
            "health": health,
            "expect": health_expect(health["json_field"], health["json_value"]),
            "slots": bool(service.get("slots", False)),
            "servers": [],
        }
        if entry["slots"]:
            entry["canary_backend"] = canary_backend(entry["name"])
        for server in service["servers"]:
            server = dict(SERVER_DEFAULTS, **server)
            server["port"] = whole_number(server["port"])
            server["weight"] = whole_number(server["weight"])
            server["endpoint"] = endpoint(server["address"], server["port"])
            server["config_weight"] = 0 if server["state"] == "drain" else server["weight"]
            server["backend"] = slot_backend(entry["name"], server["name"]) if entry["slots"] else entry["name"]
            entry["servers"].append(server)
        result.append(entry)
    return result
