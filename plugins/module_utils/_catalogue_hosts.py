# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue seen from the hosts: which entries a host runs, the
packages it needs, the health endpoints per host, one service's full
environment, the Docker network of a host's docker-runtime services and
the balancer's input for a host's multi-instance services.

Private: import the public names from module_utils/catalogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    CatalogueError,
    KINDS,
    fmt,
    hosts_of,
    is_list,
    merge,
    native,
    require_catalogue,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_order import order
from ansible_collections.alicia.platform.plugins.module_utils._validation import has_line_break, package_problem


def _group_names(group_names):
    if isinstance(group_names, str) or not (is_list(group_names) or isinstance(group_names, (set, frozenset))):
        raise CatalogueError("catalogue: group_names must be a list of inventory group names, got %r"
                             % (group_names,))
    return set(group_names)


def host_services(catalogue, group_names, kind=None):
    """The resolved entries a host runs (their ``group`` is one of ``group_names``), in catalogue order.

    ``kind`` (``service`` or ``broker``) keeps only the entries of that kind.
    """
    require_catalogue(catalogue)
    if kind is not None and kind not in KINDS:
        raise CatalogueError("catalogue: kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    groups = _group_names(group_names)
    return [entry for entry in catalogue.values()
            if isinstance(entry, dict) and entry.get("group") in groups
            and (kind is None or entry.get("kind", "service") == kind)]


def host_packages(catalogue, group_names, base=None, runtime=None):
    """The Debian packages a host needs: ``base`` plus the ``packages`` of every entry it runs, sorted, once each.

    ``runtime`` (the host's ``service_runtime``), when set, runs every service of the host.
    """
    base = [] if base is None else base
    if not is_list(base):
        raise CatalogueError("catalogue: base packages must be a list of Debian package names, got %r" % (base,))
    for package in base:
        problem = package_problem(package)
        if problem:
            raise CatalogueError("catalogue: base packages: %s" % problem)
    packages = set(base)
    for entry in host_services(catalogue, group_names):
        listed = entry.get("packages") or []
        if not is_list(listed) or not all(isinstance(p, str) for p in listed):
            raise CatalogueError(fmt(entry.get("name"), "packages", "must be a list of Debian package names, got %r"
                                     % (listed,)), service=entry.get("name"), field="packages")
        if runtime and entry.get("kind", "service") == "service":
            entry = dict(entry, runtime=runtime)
        if entry.get("kind", "service") == "service" and entry.get("runtime") == "supervisor":
            # Runtime supervisor: Debian's supervisord runs the program.
            packages.update(SUPERVISOR_PACKAGES)
        if (entry.get("kind", "service") == "service" and isinstance(entry.get("artifact"), dict)
                and entry["artifact"].get("type") == "python_app"):
            # Artifact python_app: its virtualenv (python -m venv needs ensurepip).
            packages.update(PYTHON_APP_PACKAGES)
        if has_instances(entry):
            # Several instances behind the balancer role's HAProxy (its packages).
            packages.update(BALANCER_PACKAGES)
        if is_docker_service(entry):
            # Runtime docker: the entry's packages go into its image; the host needs the engine.
            packages.update(DOCKER_PACKAGES)
        else:
            packages.update(listed)
    return sorted(packages)


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
    require_catalogue(catalogue)
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
            targets = hosts_of(entry, groups)
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
            raise CatalogueError(fmt(name, "depends_on", "no broker entry (kind: broker) in the catalogue"),
                                 service=name, field="depends_on")
        broker = brokers[0]
    if broker not in catalogue:
        raise CatalogueError(fmt(name, "depends_on", "unknown broker '%s'" % broker), service=name, field="depends_on")
    if not broker_host:
        raise CatalogueError(fmt(name, "env", "broker_host is required (the address of the MQTT broker)"),
                             service=name, field="env")
    env = dict(entry.get("env") or {})
    env["MQTT_BROKER"] = str(broker_host)
    env["MQTT_PORT"] = str(catalogue[broker].get("port"))
    own = (secrets or {}).get(name) or {}
    for secret in entry.get("secrets") or []:
        value = native(own.get(secret)) if hasattr(own, "get") else None
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CatalogueError(fmt(name, "secrets", "missing required secret '%s' (set catalogue_secrets.%s.%s)"
                                     % (secret, name, secret)), service=name, field="secrets")
        if has_line_break(value):
            raise CatalogueError(fmt(name, "secrets", "secret '%s' contains a newline, carriage return or NUL "
                                     "(not allowed in an environment file)" % secret), service=name, field="secrets")
        env[secret] = str(value)
    return env


# ---- Runtime supervisor ----------------------------------------------------

# What a host needs to run supervisor-runtime services (Debian's supervisord).
SUPERVISOR_PACKAGES = ("supervisor",)
# Artifact python_app: Debian's venv module (ensurepip) for its virtualenv.
PYTHON_APP_PACKAGES = ("python3-venv",)


# ---- runtime docker --------------------------------------------------------

# What a host needs to run docker-runtime services (the Debian engine; the
# role drives it with the docker CLI only).
DOCKER_PACKAGES = ("docker.io",)

# The bridge every docker-runtime service joins unless its `docker.network`
# says otherwise (seed 000's isolated network: docker network create --driver
# bridge --subnet=172.20.0.0/16 --ip-range=172.20.240.0/20 alicia_network).
# The gateway (the host's address on the bridge, where containers reach
# services of the host such as the broker) defaults to the subnet's first address.
DOCKER_NETWORK = {"name": "alicia_network", "driver": "bridge", "subnet": "172.20.0.0/16",
                  "ip_range": "172.20.240.0/20", "gateway": None}
DOCKER_NETWORK_KEYS = tuple(DOCKER_NETWORK)


def is_docker_service(entry):
    """A service entry run by the docker runtime."""
    return (isinstance(entry, dict) and entry.get("kind", "service") == "service"
            and entry.get("runtime") == "docker")


def _first_address(subnet):
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except (TypeError, ValueError):
        return None
    return str(network.network_address + 1) if network.num_addresses > 2 else None


def docker_network(entry):
    """The Docker network of one docker-runtime entry: DOCKER_NETWORK, then its
    ``docker.network`` keys, the gateway filled in (the subnet's first address)."""
    own = (entry.get("docker") or {}) if isinstance(entry, dict) else {}
    network = merge(DOCKER_NETWORK, own.get("network") if isinstance(own, dict) and
                    isinstance(own.get("network"), dict) else {})
    if not network.get("gateway") and network.get("subnet"):
        network["gateway"] = _first_address(network["subnet"])
    return network


def host_docker_network(catalogue, group_names):
    """The Docker network of the host's docker-runtime services (they share one:
    preflight checks it), or None when the host runs none."""
    for entry in host_services(catalogue, group_names, kind="service"):
        if is_docker_service(entry):
            return docker_network(entry)
    return None


# ---- Multi-instance services ---------------------------------------------------

# What the balancer role (HAProxy in front of the instances) installs: a host
# running a multi-instance service gets them in its one package step.
BALANCER_PACKAGES = ("haproxy", "socat")
# Where HAProxy listens for a balanced service (its published port) and how it
# spreads requests; the instances listen on the loopback address.
BALANCER_BIND = "0.0.0.0"
BALANCER_BALANCE = "roundrobin"
BALANCER_SERVER_ADDRESS = "127.0.0.1"


def has_instances(entry):
    """A service entry that runs several instances (a non-empty resolved ``instance_list``)."""
    return (isinstance(entry, dict) and entry.get("kind", "service") == "service"
            and is_list(entry.get("instance_list")) and len(entry["instance_list"]) > 0)


def balancer_services(catalogue, group_names):
    """The balancer role's ``balancer_services`` for one host: one service per
    multi-instance service of the host (its ``group`` in ``group_names``), in
    catalogue order, published on the entry's ``port`` and balanced over its
    instances on the loopback address, checked on the entry's ``health``; and
    one per blue-green service (``slots: true``, a server per slot)."""
    result = []
    for entry in host_services(catalogue, group_names, kind="service"):
        slots = entry.get("slot_list") if is_list(entry.get("slot_list")) else []
        if not has_instances(entry) and not slots:
            continue
        health = entry.get("health") if isinstance(entry.get("health"), dict) else {}
        # Blue-green: a server per slot, one backend each, the frontend switched
        # between them (alicia.platform.slots); otherwise a server per instance.
        servers = [{"name": member["name"], "address": BALANCER_SERVER_ADDRESS, "port": member["listen_port"]}
                   for member in slots or entry["instance_list"]]
        service = {
            "name": entry.get("name"),
            "port": entry.get("port"),
            "bind": BALANCER_BIND,
            "balance": BALANCER_BALANCE,
            "health": {"path": health.get("path"), "json_field": health.get("json_field"),
                       "json_value": health.get("json_value")},
            "servers": servers,
        }
        if slots:
            service["slots"] = True
        result.append(service)
    return result


# ---- phases and their plays (playbooks/phase.yml) ----

# The inventory group a phase play targets is this prefix and the phase's
# name (playbooks/phase.yml: hosts "alicia_{{ alicia_phase }}").
PHASE_GROUP_PREFIX = "alicia_"


def phase_group(phase):
    """The inventory group whose hosts the play of ``phase`` runs on: ``alicia_<phase>``."""
    if not isinstance(phase, str) or not phase:
        raise CatalogueError("catalogue: a phase must be a non-empty name, got %r" % (phase,))
    return PHASE_GROUP_PREFIX + phase


def phase_target_problem(entry, groups):
    """Why the phase play of a service never deploys it on some host of its ``group``, or None.

    A service of phase P is deployed by P's play, on the hosts of ``alicia_P``
    that are also in the service's ``group`` (the service role picks the
    phase's services whose group is one of the host's groups). The platform
    plan, on every host of the group, would list it all the same: planned,
    never deployed. Fine: ``group`` is ``alicia_P`` itself (with or without
    hosts: an inventory may leave a phase out), or a group whose hosts are
    all in ``alicia_P`` (a child group). ``groups`` maps inventory group to
    hosts (Ansible's ``groups``); without it, only ``alicia_P`` passes.
    Entries of another kind than ``service`` (the broker) have no phase play.
    """
    if not isinstance(entry, dict) or entry.get("kind", "service") != "service":
        return None
    phase, group = entry.get("phase"), entry.get("group")
    if not isinstance(phase, str) or not phase or not isinstance(group, str) or not group:
        return None  # reported by the checks of those fields
    target = phase_group(phase)
    if group == target:
        return None
    where = "the play of phase '%s' runs on the hosts of group '%s' only" % (phase, target)
    if not hasattr(groups, "get"):
        return "group '%s' is not targeted by any phase play (%s)" % (group, where)
    hosts = list(groups.get(group) or [])
    if not hosts:
        return "group '%s' has no hosts and is not targeted by any phase play (%s)" % (group, where)
    reached = set(groups.get(target) or [])
    missed = [host for host in hosts if host not in reached]
    if missed:
        return ("group '%s' is not targeted by any phase play on host(s) %s (%s): the service would be planned "
                "there and never deployed" % (group, ", ".join(sorted(missed)), where))
    return None


def phase_failures(states):
    """The phases that failed, one message per host, sorted by host.

    ``states`` maps each host to ``{"phase": the phase the host entered and
    did not pass (empty or None when it passed every phase it entered),
    "failure": the failed task's message}`` (playbooks/phase.yml records
    them as the host facts ``_alicia_phase_running`` and
    ``_alicia_phase_failure``).
    """
    if not hasattr(states, "items"):
        raise CatalogueError("catalogue: phase states must be a mapping of host to state, got %r" % (states,))
    found = []
    for host in sorted(states, key=str):
        state = states[host] or {}
        phase = state.get("phase") if hasattr(state, "get") else None
        if not phase:
            continue
        failure = state.get("failure") or "failed before its tasks ended (unreachable, or outside the phase's tasks)"
        found.append("phase %s failed on %s: %s" % (phase, host, " ".join(str(failure).split())))
    return found
