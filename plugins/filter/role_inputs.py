# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles call on their inputs: the log rotation policies of a
host, and the preflight checks of the log_rotation, network_hardening and
broker roles' variables. The logic lives in plugins/module_utils
(_logpolicy.py, _network.py, _broker.py); these are thin wrappers. Each
filter is documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import CatalogueError, native

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def _wrap(module, name, *args, **kwargs):
    """Call ``name`` of plugins/module_utils/<module>.py; its CatalogueError becomes a filter error."""
    func = getattr(importlib.import_module("ansible_collections.alicia.platform.plugins.module_utils." + module), name)
    try:
        return func(*args, **kwargs)
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def log_rotation_policies(catalogue, group_names, defaults, overrides=None, all_services=False, broker_enabled=True,
                          broker_overrides=None, prefix="alicia-", broker_policy_file="/etc/logrotate.d/mosquitto"):
    return _wrap("_logpolicy", "log_rotation_policies", native(catalogue), native(group_names), native(defaults),
                 overrides=native(overrides), all_services=all_services, broker_enabled=broker_enabled,
                 broker_overrides=native(broker_overrides), prefix=prefix, broker_policy_file=broker_policy_file)


def log_rotation_errors(policies, overrides=None, catalogue=None):
    return _wrap("_logpolicy", "log_rotation_errors", native(policies), native(overrides), native(catalogue))


def network_hardening_errors(settings, services=None):
    return _wrap("_network", "network_hardening_errors", native(settings), native(services))


def broker_errors(catalogue, settings):
    return _wrap("_broker", "broker_errors", native(catalogue), native(settings))


class FilterModule(object):
    """Role-input filters: log rotation policies and preflight checks."""

    def filters(self):
        return {
            "log_rotation_policies": log_rotation_policies,
            "log_rotation_errors": log_rotation_errors,
            "network_hardening_errors": network_hardening_errors,
            "broker_errors": broker_errors,
        }
