# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Alicia service catalogue. The logic lives in
plugins/module_utils/catalogue.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def _catalogue():
    from ansible_collections.alicia.platform.plugins.module_utils import catalogue
    return catalogue


def _wrap(name, *args, **kwargs):
    """Call plugins/module_utils/catalogue.py's ``name``; its CatalogueError becomes a filter error."""
    catalogue = _catalogue()
    try:
        return getattr(catalogue, name)(*args, **kwargs)
    except catalogue.CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def catalogue_resolve(services, overrides=None, defaults=None, environment=None, phases=None, broker="mqtt_broker"):
    return _wrap("resolve", services, overrides=overrides, defaults=defaults, environment=environment,
                 phases=phases or _catalogue().DEFAULT_PHASES, broker=broker)


def catalogue_validate(catalogue, groups=None, secrets=None, phases=None, runtimes=None, require_groups=False):
    return _wrap("validate", catalogue, groups=groups, secrets=secrets, phases=phases or _catalogue().DEFAULT_PHASES,
                 runtimes=runtimes or _catalogue().DEFAULT_RUNTIMES, require_groups=require_groups)


def catalogue_errors(catalogue, groups=None, secrets=None, phases=None, runtimes=None, require_groups=False):
    return _wrap("errors", catalogue, groups=groups, secrets=secrets, phases=phases or _catalogue().DEFAULT_PHASES,
                 runtimes=runtimes or _catalogue().DEFAULT_RUNTIMES, require_groups=require_groups)


def catalogue_order(catalogue):
    return _wrap("order", catalogue)


def catalogue_phase(catalogue, phase, names_only=False):
    return _wrap("phase_services", catalogue, phase, names_only=names_only)


def catalogue_health_endpoints(catalogue, hostvars=None, groups=None, services=None, address_var="alicia_address",
                               hosts=None, scheme="http"):
    return _wrap("health_endpoints", catalogue, hostvars=hostvars, groups=groups, services=services,
                 address_var=address_var, hosts=hosts, scheme=scheme)


def catalogue_service_env(catalogue, name, secrets=None, broker_host=None, broker=None):
    return _wrap("service_env", catalogue, name, secrets=secrets, broker_host=broker_host, broker=broker)


def catalogue_host_services(catalogue, group_names, kind=None):
    return _wrap("host_services", catalogue, group_names, kind=kind)


def catalogue_host_packages(catalogue, group_names, base=None, runtime=None):
    return _wrap("host_packages", catalogue, group_names, base=None if base is None else _catalogue().native(base),
                 runtime=runtime or None)


def catalogue_balancer_services(catalogue, group_names):
    return _wrap("balancer_services", catalogue, group_names)


def catalogue_graph(catalogue, fmt="mermaid", broker_edges=False, title="Alicia platform"):
    return _wrap("graph", catalogue, fmt=fmt, broker_edges=broker_edges, title=title)


def catalogue_target_errors(catalogue, groups, service=None, host=None, operation="operation", require_service=False,
                            instance_name=None):
    # One instance of a multi-instance service. Not "instance": ansible-core 2.19
    # invokes filters through a function whose own first parameter has that name.
    from ansible_collections.alicia.platform.plugins.module_utils import _operations
    extra = {} if instance_name is None else {"instance": instance_name}
    try:
        return _operations.target_errors(catalogue, groups, service=service, host=host, operation=operation,
                                         require_service=require_service, **extra)
    except _catalogue().CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def catalogue_phase_failures(hostvars, hosts):
    # The facts playbooks/phase.yml records on each host (hostvars: read on
    # the controller, hosts that left the run included).
    from ansible_collections.alicia.platform.plugins.module_utils import _catalogue_hosts
    states = {}
    for host in hosts or []:
        try:
            facts = hostvars[host]
            states[host] = {"phase": facts.get("_alicia_phase_running"), "failure": facts.get("_alicia_phase_failure")}
        except (KeyError, TypeError):
            continue
    try:
        return _catalogue_hosts.phase_failures(states)
    except _catalogue().CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Service catalogue filters."""

    def filters(self):
        return {
            "catalogue_resolve": catalogue_resolve,
            "catalogue_validate": catalogue_validate,
            "catalogue_errors": catalogue_errors,
            "catalogue_order": catalogue_order,
            "catalogue_phase": catalogue_phase,
            "catalogue_health_endpoints": catalogue_health_endpoints,
            "catalogue_service_env": catalogue_service_env,
            "catalogue_graph": catalogue_graph,
            "catalogue_host_services": catalogue_host_services,
            "catalogue_target_errors": catalogue_target_errors,
            "catalogue_phase_failures": catalogue_phase_failures,
            "catalogue_host_packages": catalogue_host_packages,
            "catalogue_balancer_services": catalogue_balancer_services,
        }
