# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the health sweep (playbooks/health.yml): its options checked,
each host's endpoints, the broker check, the report's rows, table and
problems. The logic lives in plugins/module_utils/_sweep_report.py (the
controller's half of the sweep; the host's is _sweep_probe.py); these are thin
wrappers. Each filter is documented in its own sidecar file
plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def _sweep():
    from ansible_collections.alicia.platform.plugins.module_utils import _sweep_report
    return _sweep_report


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except _sweep().SweepError as exc:
        raise AnsibleFilterError(str(exc))


def health_sweep_errors(catalogue, service=None, groups=None, health_format="table", check_service=None):
    return _wrap(_sweep().errors, native(catalogue), service=native(service), groups=native(groups),
                 health_format=native(health_format), check_service=native(check_service) or None)


def health_sweep_endpoints(catalogue, group_names, host, service=None, address="127.0.0.1"):
    return _wrap(_sweep().endpoints, native(catalogue), native(group_names), native(host), service=native(service),
                 address=native(address))


def health_sweep_broker_check(catalogue, check_service=None, runtime="systemd", listen_address="0.0.0.0",
                              docker_host_port=1884):
    return _wrap(_sweep().broker_check, native(catalogue), check_service=native(check_service) or None,
                 runtime=native(runtime), listen_address=native(listen_address),
                 docker_host_port=native(docker_host_port))


def _host_vars(hostvars, host, name):
    try:
        value = hostvars[host].get(name)
    except (KeyError, TypeError, AttributeError):
        return None
    return native(value) if value is not None else None


def health_sweep_rows(catalogue, hostvars, hosts, groups, service=None, broker=None, sweep_var="_health_sweep",
                      broker_var="_health_broker_check"):
    groups = native(groups)
    if not isinstance(groups, dict):
        raise AnsibleFilterError("health sweep: groups must be the inventory's groups mapping, got %r" % (groups,))
    data = {}
    for host in native(hosts) or []:
        data[host] = {
            "groups": sorted(name for name, members in groups.items() if host in (members or [])),
            "sweep": _host_vars(hostvars, host, sweep_var),
            "broker": _host_vars(hostvars, host, broker_var),
        }
    return _wrap(_sweep().rows, native(catalogue), data, service=native(service) or None, broker=native(broker))


def health_sweep_table(rows):
    return _wrap(_sweep().table, native(rows))


def health_sweep_problems(rows):
    return _wrap(_sweep().problems, native(rows))


class FilterModule(object):
    """Health sweep filters."""

    def filters(self):
        return {
            "health_sweep_errors": health_sweep_errors,
            "health_sweep_endpoints": health_sweep_endpoints,
            "health_sweep_broker_check": health_sweep_broker_check,
            "health_sweep_rows": health_sweep_rows,
            "health_sweep_table": health_sweep_table,
            "health_sweep_problems": health_sweep_problems,
        }
