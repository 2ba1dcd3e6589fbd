# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Alicia service catalogue. The logic lives in
plugins/module_utils/catalogue.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils import catalogue as _catalogue
from ansible_collections.alicia.platform.plugins.module_utils._operations import target_errors
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import (
    CatalogueError,
    DEFAULT_PHASES,
    DEFAULT_RUNTIMES,
    native,
    resolve,
)


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def catalogue_resolve(services, overrides=None, defaults=None, environment=None, phases=None, broker="mqtt_broker"):
    return _wrap(resolve, services, overrides=overrides, defaults=defaults, environment=environment,
                 phases=phases or DEFAULT_PHASES, broker=broker)


def catalogue_validate(catalogue, groups=None, secrets=None, phases=None, runtimes=None, require_groups=False):
    return _wrap(_catalogue.validate, catalogue, groups=groups, secrets=secrets, phases=phases or DEFAULT_PHASES,
                 runtimes=runtimes or DEFAULT_RUNTIMES, require_groups=require_groups)


def catalogue_errors(catalogue, groups=None, secrets=None, phases=None, runtimes=None, require_groups=False):
    return _wrap(_catalogue.errors, catalogue, groups=groups, secrets=secrets, phases=phases or DEFAULT_PHASES,
                 runtimes=runtimes or DEFAULT_RUNTIMES, require_groups=require_groups)


def catalogue_order(catalogue):
    return _wrap(_catalogue.order, catalogue)


def catalogue_phase(catalogue, phase, names_only=False):
    return _wrap(_catalogue.phase_services, catalogue, phase, names_only=names_only)


def catalogue_health_endpoints(catalogue, hostvars=None, groups=None, services=None, address_var="alicia_address",
                               hosts=None, scheme="http"):
    return _wrap(_catalogue.health_endpoints, catalogue, hostvars=hostvars, groups=groups, services=services,
                 address_var=address_var, hosts=hosts, scheme=scheme)


def catalogue_service_env(catalogue, name, secrets=None, broker_host=None, broker=None):
    return _wrap(_catalogue.service_env, catalogue, name, secrets=secrets, broker_host=broker_host, broker=broker)


def catalogue_host_services(catalogue, group_names, kind=None):
    return _wrap(_catalogue.host_services, catalogue, group_names, kind=kind)


def catalogue_host_packages(catalogue, group_names, base=None, runtime=None):
    return _wrap(_catalogue.host_packages, catalogue, group_names, base=None if base is None else native(base),
                 runtime=runtime or None)


def catalogue_balancer_services(catalogue, group_names):
    return _wrap(_catalogue.balancer_services, catalogue, group_names)


def catalogue_graph(catalogue, fmt="mermaid", broker_edges=False, title="Alicia platform"):
    return _wrap(_catalogue.graph, catalogue, fmt=fmt, broker_edges=broker_edges, title=title)


def catalogue_target_errors(catalogue, groups, service=None, host=None, operation="operation", require_service=False,
                            instance_name=None):
    # One instance of a multi-instance service. Not "instance": ansible-core 2.19
    # invokes filters through a function whose own first parameter has that name.
    extra = {} if instance_name is None else {"instance": instance_name}
    return _wrap(target_errors, catalogue, groups, service=service, host=host, operation=operation,
                 require_service=require_service, **extra)


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
            "catalogue_host_packages": catalogue_host_packages,
            "catalogue_balancer_services": catalogue_balancer_services,
        }
