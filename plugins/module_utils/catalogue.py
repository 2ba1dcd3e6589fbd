# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service catalogue logic shared by the filter plugins and the modules.

Plain functions over plain data: no Ansible objects in, no Ansible objects
out, so the unit tests call them directly. Errors are raised as
CatalogueError with a message that names the service and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import heapq

DEFAULT_PHASES = ("core", "management", "voice", "devices", "advanced", "observability")


class CatalogueError(ValueError):
    """A catalogue entry is malformed; the message names service and field."""

    def __init__(self, message, service=None, field=None):
        super(CatalogueError, self).__init__(message)
        self.service = service
        self.field = field


def native(value):
    """A deep copy made of plain dicts, lists, str, int, float, bool and None.

    Ansible 2.19 hands filters tagged (and lazily templated) containers;
    ``copy.deepcopy`` of those copies every tag and is thousands of times
    slower than this. Iterating renders nested templates, so the copy is
    plain, final data.
    """
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        return dict((native(key), native(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [native(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    return copy.deepcopy(value)


def merge(base, override):
    """Recursively merge ``override`` into a copy of ``base`` (dicts only)."""
    result = native(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = native(value)
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

    depends = native(entry.get("depends_on") or {})
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


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

DEFAULT_RUNTIMES = ("systemd", "supervisor", "docker")
DEPENDENCY_TYPES = ("required", "optional")
KINDS = ("service", "broker")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _fmt(service, field, text):
    return "catalogue: service '%s' field '%s': %s" % (service, field, text)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rank(entry, phases=None):
    """Phase rank of a resolved entry; unknown phases sort last."""
    if phases is not None:
        phase = entry.get("phase")
        return list(phases).index(phase) if phase in phases else len(phases)
    index = entry.get("phase_index", -1)
    return index if _is_int(index) and index >= 0 else 1000


def _edges(catalogue, phases=None):
    """Ordering edges: name -> [dependencies that must come first].

    Every dependency that is in the catalogue counts, except an optional one
    on a later phase (a service may use a later service when it is there).
    """
    edges = {}
    for name, entry in catalogue.items():
        deps = []
        depends = entry.get("depends_on") if isinstance(entry, dict) else None
        for dep, spec in (depends or {}).items() if isinstance(depends, dict) else []:
            if dep not in catalogue or not isinstance(catalogue[dep], dict):
                continue
            dep_type = spec.get("type", "required") if isinstance(spec, dict) else "required"
            if dep_type == "optional" and _rank(catalogue[dep], phases) > _rank(entry, phases):
                continue
            deps.append(dep)
        edges[name] = deps
    return edges


def find_cycles(catalogue, phases=None):
    """Return the dependency cycles, each as a list of names [a, b, ..., a].

    One cycle per strongly connected component, starting at the member that
    comes first in the catalogue, so the output is stable.
    """
    edges = _edges(catalogue, phases)
    position = dict((name, i) for i, name in enumerate(catalogue))
    # Tarjan's strongly connected components, iteratively.
    index = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = [0]
    for root in catalogue:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter[0]
                counter[0] += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            deps = edges.get(node, [])
            while i < len(deps):
                dep = deps[i]
                i += 1
                if dep not in index:
                    work.append((node, i))
                    work.append((dep, 0))
                    recurse = True
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles = []
    for component in components:
        members = set(component)
        start = min(component, key=lambda n: position[n])
        # Depth-first walk inside the component back to the start.
        path = [start]
        seen = set([start])
        found = _walk_back(start, start, edges, members, path, seen)
        cycles.append(found)
    cycles.sort(key=lambda c: position[c[0]])
    return cycles


def _walk_back(start, node, edges, members, path, seen):
    for dep in edges.get(node, []):
        if dep not in members:
            continue
        if dep == start:
            return path + [start]
        if dep in seen:
            continue
        seen.add(dep)
        found = _walk_back(start, dep, edges, members, path + [dep], seen)
        if found:
            return found
    return None


def _check_port(name, field, value, errors):
    if not _is_int(value) or not 1 <= value <= 65535:
        errors.append(_fmt(name, field, "port %r out of range 1-65535" % (value,)))
        return False
    return True


def _check_health(name, health, errors):
    if health is None:
        return
    if not isinstance(health, dict):
        errors.append(_fmt(name, "health", "must be a mapping or null, got %s" % type(health).__name__))
        return
    unknown = sorted(set(health) - set(["path", "status", "json_field", "json_value", "timeout"]))
    if unknown:
        errors.append(_fmt(name, "health", "unknown key(s) %s" % ", ".join(unknown)))
    path = health.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        errors.append(_fmt(name, "health.path", "must be a string starting with '/', got %r" % (path,)))
    status = health.get("status", 200)
    if not _is_int(status) or not 100 <= status <= 599:
        errors.append(_fmt(name, "health.status", "must be an HTTP status 100-599, got %r" % (status,)))
    timeout = health.get("timeout", 5)
    if not _is_number(timeout) or timeout <= 0:
        errors.append(_fmt(name, "health.timeout", "must be a positive number of seconds, got %r" % (timeout,)))
    field = health.get("json_field")
    if field is not None and (not isinstance(field, str) or not field):
        errors.append(_fmt(name, "health.json_field", "must be a non-empty string or null, got %r" % (field,)))


def _hosts_of(entry, groups):
    hosts = groups.get(entry.get("group")) if hasattr(groups, "get") else None
    return list(hosts or [])


def errors(catalogue, groups=None, secrets=None, phases=DEFAULT_PHASES, runtimes=DEFAULT_RUNTIMES,
           require_groups=False):
    """Return every problem of a resolved catalogue as a list of messages.

    Each message names the service and the field:
    ``catalogue: service 'voice_router' field 'depends_on': unknown dependency 'stt'``.

    ``groups`` (inventory group -> hosts) enables the per-host port clash
    check and, with ``require_groups``, the check that every group has hosts.
    Without ``groups`` every entry is taken to share one host, so every
    published port must be unique. ``secrets`` (service -> NAME -> value)
    enables the required-secret check; values are never put in a message.
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
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            found.append(_fmt(name, "name", "invalid name %r: use only a-z, 0-9 and _" % (name,)))
        if not isinstance(entry, dict):
            found.append(_fmt(name, "entry", "must be a mapping, got %s" % type(entry).__name__))
            continue
        kind = entry.get("kind", "service")
        if kind not in KINDS:
            found.append(_fmt(name, "kind", "unknown kind %r (known: %s)" % (kind, ", ".join(KINDS))))
        phase = entry.get("phase")
        if phase not in phases:
            found.append(_fmt(name, "phase", "unknown phase %r (known: %s)" % (phase, ", ".join(phases))))
        if "port" not in entry or entry.get("port") is None:
            found.append(_fmt(name, "port", "missing"))
        else:
            _check_port(name, "port", entry["port"], found)
        if entry.get("listen_port") is not None:
            _check_port(name, "listen_port", entry["listen_port"], found)
        runtime = entry.get("runtime")
        if runtime not in runtimes:
            found.append(_fmt(name, "runtime", "unknown runtime %r (known: %s)" % (runtime, ", ".join(runtimes))))
        instances = entry.get("instances", 1)
        if not _is_int(instances) or instances < 1:
            found.append(_fmt(name, "instances", "must be an integer >= 1, got %r" % (instances,)))
        group = entry.get("group")
        if not isinstance(group, str) or not group:
            found.append(_fmt(name, "group", "must be a non-empty inventory group name, got %r" % (group,)))
        elif require_groups and groups is not None and not _hosts_of(entry, groups):
            found.append(_fmt(name, "group", "inventory group '%s' has no hosts" % group))
        _check_health(name, entry.get("health"), found)
        depends = entry.get("depends_on") or {}
        if not isinstance(depends, dict):
            found.append(_fmt(name, "depends_on", "must be a mapping of service name to {type, timeout}"))
            depends = {}
        for dep, spec in depends.items():
            if dep not in catalogue:
                found.append(_fmt(name, "depends_on", "unknown dependency '%s'" % dep))
                continue
            if not isinstance(spec, dict):
                found.append(_fmt(name, "depends_on", "dependency '%s' must be a mapping {type, timeout}" % dep))
                continue
            dep_type = spec.get("type")
            if dep_type not in DEPENDENCY_TYPES:
                found.append(_fmt(name, "depends_on", "dependency '%s' has type %r: use required or optional"
                                  % (dep, dep_type)))
            timeout = spec.get("timeout", 30)
            if not _is_number(timeout) or timeout <= 0:
                found.append(_fmt(name, "depends_on", "dependency '%s' timeout must be a positive number, got %r"
                                  % (dep, timeout)))
            dep_entry = catalogue[dep]
            if (dep_type == "required" and isinstance(dep_entry, dict) and phase in phases
                    and dep_entry.get("phase") in phases
                    and phases.index(dep_entry["phase"]) > phases.index(phase)):
                found.append(_fmt(name, "depends_on", "required dependency '%s' is in later phase '%s' "
                                  "(this service is in phase '%s'); make it optional or move it"
                                  % (dep, dep_entry["phase"], phase)))
        if secrets is not None and kind != "broker":
            own = secrets.get(name) if hasattr(secrets, "get") else None
            for secret in entry.get("secrets") or []:
                value = own.get(secret) if hasattr(own, "get") else None
                if value is None or (isinstance(value, str) and not value.strip()):
                    found.append(_fmt(name, "secrets", "missing required secret '%s' (set catalogue_secrets.%s.%s)"
                                      % (secret, name, secret)))

    for cycle in find_cycles(dict((n, e) for n, e in catalogue.items() if isinstance(e, dict)), phases):
        found.append(_fmt(cycle[0], "depends_on", "dependency cycle %s" % " -> ".join(cycle)))

    found.extend(_port_clashes(catalogue, groups))
    # Group the messages by service, in catalogue order (stable).
    position = dict((name, i) for i, name in enumerate(catalogue))

    def _key(message):
        if message.startswith("catalogue: service '"):
            return position.get(message.split("'")[1], len(position))
        return -1
    return sorted(found, key=_key)


def _port_clashes(catalogue, groups):
    used = {}
    found = []
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or not _is_int(entry.get("port")):
            continue
        hosts = _hosts_of(entry, groups) if groups is not None else [None]
        for host in hosts:
            key = (host, entry["port"])
            if key in used:
                where = "on host '%s'" % host if host is not None else "(services without an inventory share one host)"
                found.append(_fmt(name, "port", "port %d %s already used by service '%s'"
                                  % (entry["port"], where, used[key])))
            else:
                used[key] = name
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


# ---------------------------------------------------------------------------
# Ordering and selection
# ---------------------------------------------------------------------------

def order(catalogue):
    """Deployment order: phase by phase, dependencies first, catalogue order on ties.

    Raises CatalogueError on a dependency cycle.
    """
    if not isinstance(catalogue, dict):
        raise CatalogueError("catalogue: the resolved catalogue must be a mapping of service name to entry")
    entries = dict((n, e) for n, e in catalogue.items() if isinstance(e, dict))
    cycles = find_cycles(entries)
    if cycles:
        cycle = cycles[0]
        raise CatalogueError(_fmt(cycle[0], "depends_on", "dependency cycle %s" % " -> ".join(cycle)),
                             service=cycle[0], field="depends_on")
    edges = _edges(entries)
    position = dict((name, i) for i, name in enumerate(entries))
    waiting = dict((name, len(set(deps))) for name, deps in edges.items())
    dependants = dict((name, []) for name in entries)
    for name, deps in edges.items():
        for dep in set(deps):
            dependants[dep].append(name)
    ready = [(_rank(entries[n]), position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result = []
    while ready:
        _rank_, _pos, name = heapq.heappop(ready)
        result.append(name)
        for other in dependants[name]:
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, (_rank(entries[other]), position[other], other))
    return result


def phase_services(catalogue, phase, names_only=False):
    """The entries of one phase, in deployment order (names with names_only)."""
    if not isinstance(catalogue, dict):
        raise CatalogueError("catalogue: the resolved catalogue must be a mapping of service name to entry")
    known = _unique([e.get("phase") for e in catalogue.values() if isinstance(e, dict)])
    if phase not in known:
        raise CatalogueError("catalogue: unknown phase %r (phases in the catalogue: %s)"
                             % (phase, ", ".join(str(p) for p in known)))
    names = [n for n in order(catalogue) if catalogue[n].get("phase") == phase]
    if names_only:
        return names
    return [catalogue[n] for n in names]


def _address(host, hostvars, address_var):
    hv = {}
    if hostvars is not None:
        try:
            hv = hostvars[host]
        except (KeyError, TypeError):
            hv = {}
    for var in (address_var, "ansible_host"):
        try:
            value = hv.get(var) if var else None
        except Exception:  # pylint: disable=broad-except  # HostVars may fail to template one var
            value = None
        if value:
            return str(value)
    return str(host)


def health_endpoints(catalogue, hostvars=None, groups=None, services=None, address_var="alicia_address",
                     hosts=None, scheme="http"):
    """One health endpoint per (service, host running it), in deployment order.

    ``groups`` maps inventory groups to hosts; each entry runs on the hosts of
    its ``group``. ``address_var`` names the hostvar that holds the address
    to probe (default ``alicia_address``, the collection's convention, set by
    inventories/lab; falls back to ansible_host, then the inventory name).
    ``services`` restricts to those names (a phase name selects the phase);
    ``hosts`` restricts to those hosts (for example ansible_play_hosts).
    """
    if not isinstance(catalogue, dict):
        raise CatalogueError("catalogue: the resolved catalogue must be a mapping of service name to entry")
    if isinstance(services, str):
        services = [services]
    selected = order(catalogue)
    if services is not None:
        wanted = []
        for item in services:
            if item in catalogue:
                wanted.append(item)
            elif any(isinstance(e, dict) and e.get("phase") == item for e in catalogue.values()):
                wanted.extend(n for n in selected if catalogue[n].get("phase") == item)
            else:
                raise CatalogueError("catalogue: unknown service or phase '%s' in services" % item)
        selected = [n for n in selected if n in wanted]
    limit = None if hosts is None else set(hosts)
    result = []
    for name in selected:
        entry = catalogue[name]
        health = entry.get("health")
        if not health:
            continue
        if groups is None:
            targets = ["localhost"]
        else:
            targets = _hosts_of(entry, groups)
        for host in targets:
            if limit is not None and host not in limit:
                continue
            address = _address(host, hostvars, address_var)
            if ":" in address and not address.startswith("["):
                address = "[%s]" % address
            result.append({
                "service": name,
                "host": host,
                "url": "%s://%s:%s%s" % (scheme, address, entry["port"], health.get("path", "/health")),
                "expect_status": health.get("status", 200),
                "json_field": health.get("json_field"),
                "json_value": health.get("json_value"),
                "timeout": health.get("timeout", 5),
            })
    return result


def service_env(catalogue, name, secrets=None, broker_host=None, broker=None):
    """The full environment of one service: its env, the broker address and its secrets."""
    if not isinstance(catalogue, dict) or name not in catalogue:
        raise CatalogueError("catalogue: unknown service '%s'" % name, service=name)
    entry = catalogue[name]
    if not broker:
        brokers = [n for n, e in catalogue.items() if isinstance(e, dict) and e.get("kind") == "broker"]
        if not brokers:
            raise CatalogueError(_fmt(name, "depends_on", "no broker entry (kind: broker) in the catalogue"),
                                 service=name, field="depends_on")
        broker = brokers[0]
    if broker not in catalogue:
        raise CatalogueError(_fmt(name, "depends_on", "unknown broker '%s'" % broker), service=name, field="depends_on")
    if not broker_host:
        raise CatalogueError(_fmt(name, "env", "broker_host is required (the address of the MQTT broker)"),
                             service=name, field="env")
    env = dict(entry.get("env") or {})
    env["MQTT_BROKER"] = str(broker_host)
    env["MQTT_PORT"] = str(catalogue[broker].get("port"))
    own = (secrets or {}).get(name) or {}
    for secret in entry.get("secrets") or []:
        value = own.get(secret) if hasattr(own, "get") else None
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CatalogueError(_fmt(name, "secrets", "missing required secret '%s' (set catalogue_secrets.%s.%s)"
                                      % (secret, name, secret)), service=name, field="secrets")
        env[secret] = str(value)
    return env


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------

def _phase_list(catalogue):
    entries = [e for e in catalogue.values() if isinstance(e, dict)]
    phases = sorted(_unique([e.get("phase") for e in entries]),
                    key=lambda p: min(_rank(e) for e in entries if e.get("phase") == p))
    return phases


def _graph_edges(catalogue, broker_edges):
    brokers = set(n for n, e in catalogue.items() if e.get("kind") == "broker")
    edges = []
    for name in order(catalogue):
        for dep, spec in (catalogue[name].get("depends_on") or {}).items():
            if dep not in catalogue or (dep in brokers and not broker_edges):
                continue
            edges.append((dep, name, (spec or {}).get("type", "required")))
    return edges


def graph(catalogue, fmt="mermaid", broker_edges=False, title="Alicia platform"):
    """The dependency graph as Mermaid or Graphviz DOT text.

    Phases are subgraphs/clusters in phase order; an edge points from a
    dependency to the service that needs it (deploy order); required edges
    are solid, optional ones dashed. Edges to the broker, which every service
    requires, are left out unless ``broker_edges``.
    """
    if fmt not in ("mermaid", "dot"):
        raise CatalogueError("catalogue: graph format must be 'mermaid' or 'dot', got %r" % (fmt,))
    catalogue = dict((n, e) for n, e in catalogue.items() if isinstance(e, dict))
    names = order(catalogue)
    phases = _phase_list(catalogue)
    edges = _graph_edges(catalogue, broker_edges)
    brokers = [n for n in names if catalogue[n].get("kind") == "broker"]
    if fmt == "mermaid":
        lines = ["---", "title: %s" % title, "---", "flowchart TD"]
        for i, phase in enumerate(phases):
            lines.append('  subgraph phase_%s["%d. %s"]' % (phase, i + 1, phase))
            for name in names:
                entry = catalogue[name]
                if entry.get("phase") != phase:
                    continue
                label = "%s<br/>:%s" % (name, entry.get("port"))
                if entry.get("kind") == "broker":
                    lines.append('    svc_%s[("%s")]' % (name, label))
                else:
                    lines.append('    svc_%s["%s"]' % (name, label))
            lines.append("  end")
        for before, after in zip(phases, phases[1:]):
            lines.append("  phase_%s ~~~ phase_%s" % (before, after))  # keeps the phases in order
        for dep, name, dep_type in edges:
            arrow = "-.->" if dep_type == "optional" else "-->"
            lines.append("  svc_%s %s svc_%s" % (dep, arrow, name))
        if brokers and not broker_edges:
            lines.append("  %%%% every service also requires %s" % ", ".join(brokers))
        return "\n".join(lines) + "\n"

    lines = [
        "digraph alicia {",
        '  label="%s: deploy order (solid: required, dashed: optional%s)";'
        % (title, "; every service requires %s" % ", ".join(brokers) if brokers and not broker_edges else ""),
        "  labelloc=t;",
        "  rankdir=TB;",
        "  newrank=true;",
        '  fontname="Helvetica";',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
        '  edge [color="#445566", arrowsize=0.7];',
    ]
    for i, phase in enumerate(phases):
        lines.append("  subgraph cluster_%s {" % phase)
        lines.append('    label="%d. %s";' % (i + 1, phase))
        lines.append('    style="rounded,filled"; fillcolor="#f7f7f7"; color="#bbbbbb";')
        for name in names:
            entry = catalogue[name]
            if entry.get("phase") != phase:
                continue
            shape = ', shape=cylinder, fillcolor="#fdf2d0"' if entry.get("kind") == "broker" else ""
            lines.append('    %s [label="%s\\n:%s"%s];' % (name, name, entry.get("port"), shape))
        lines.append("  }")
    # Keep the phases in order, top to bottom: invisible edges from every
    # service of a phase to the services of the next phase that depend on
    # nothing in their own phase.
    ranks = dict((n, _rank(catalogue[n])) for n in names)
    for before, after in zip(phases, phases[1:]):
        upper = [n for n in names if catalogue[n].get("phase") == before]
        lower = [n for n in names if catalogue[n].get("phase") == after]
        roots = [n for n in lower if not any(dep in lower for dep in (catalogue[n].get("depends_on") or {}))]
        for top in upper:
            for bottom in roots:
                lines.append("  %s -> %s [style=invis];" % (top, bottom))
    for dep, name, dep_type in edges:
        attrs = ["style=dashed"] if dep_type == "optional" else []
        if ranks.get(dep, 0) > ranks.get(name, 0):
            attrs.append("constraint=false")  # an optional dependency on a later phase
        lines.append("  %s -> %s%s;" % (dep, name, " [%s]" % ", ".join(attrs) if attrs else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"
