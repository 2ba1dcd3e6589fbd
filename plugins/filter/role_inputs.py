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

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._broker import broker_errors as _broker_errors
from ansible_collections.alicia.platform.plugins.module_utils._logpolicy import (
    log_rotation_errors as _log_rotation_errors,
    log_rotation_policies as _log_rotation_policies,
)
from ansible_collections.alicia.platform.plugins.module_utils._network import (
    network_hardening_errors as _network_hardening_errors,
)
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError, native


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def log_rotation_policies(catalogue, group_names, defaults, overrides=None, all_services=False, broker_enabled=True,
                          broker_overrides=None, prefix="alicia-", broker_policy_file="/etc/logrotate.d/mosquitto"):
    return _wrap(_log_rotation_policies, native(catalogue), native(group_names), native(defaults),
                 overrides=native(overrides), all_services=all_services, broker_enabled=broker_enabled,
                 broker_overrides=native(broker_overrides), prefix=prefix, broker_policy_file=broker_policy_file)


def log_rotation_errors(policies, overrides=None, catalogue=None):
    return _wrap(_log_rotation_errors, native(policies), native(overrides), native(catalogue))


def network_hardening_errors(settings, services=None):
    return _wrap(_network_hardening_errors, native(settings), native(services))


def broker_errors(catalogue, settings):
    return _wrap(_broker_errors, native(catalogue), native(settings))


class FilterModule(object):
    """Role-input filters: log rotation policies and preflight checks."""

    def filters(self):
        return {
            "log_rotation_policies": log_rotation_policies,
            "log_rotation_errors": log_rotation_errors,
            "network_hardening_errors": network_hardening_errors,
            "broker_errors": broker_errors,
        }
