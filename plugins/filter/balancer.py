# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the balancer role (the local HAProxy of the multi-instance
services): the preflight check of its inputs and the services as the
configuration template reads them. The logic lives in
plugins/module_utils/_balancer.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def _balancer():
    from ansible_collections.alicia.platform.plugins.module_utils import _balancer as balancer
    return balancer


def balancer_errors(services, settings=None, used_ports=None):
    return _balancer().errors(native(services), settings=native(settings), used_ports=native(used_ports))


def balancer_backends(services):
    try:
        return _balancer().backends(native(services))
    except _balancer().BalancerError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Balancer filters: input problems and normalised services."""

    def filters(self):
        return {
            "balancer_errors": balancer_errors,
            "balancer_backends": balancer_backends,
        }
