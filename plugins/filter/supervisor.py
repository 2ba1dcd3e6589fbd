# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runtime supervisor filters (documentation: supervisor_environment.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def supervisor_environment(env, service=None):
    from ansible_collections.alicia.platform.plugins.module_utils._supervisor import SupervisorError, environment_value
    try:
        return environment_value(dict(env or {}))
    except SupervisorError as exc:
        where = "service '%s' field 'env': " % service if service else ""
        raise AnsibleFilterError("supervisor: %s%s" % (where, to_native(exc)))


def service_runtime_errors(value, host=None, catalogue=None, group_names=None):
    from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import host_runtime_errors
    return host_runtime_errors(value, host, catalogue=native(catalogue), group_names=native(group_names))


class FilterModule(object):
    """Runtime supervisor filters."""

    def filters(self):
        return {"supervisor_environment": supervisor_environment, "service_runtime_errors": service_runtime_errors}
