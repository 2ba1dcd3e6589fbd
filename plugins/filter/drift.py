# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the drift report (playbooks/drift.yml): one host's findings
from its check-mode results, every host's as one document, that document as
JUnit XML, as console lines and as the failure message. The logic lives in
plugins/module_utils/_drift.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# ansible-core imports every file of plugins/filter in every worker process:
# the logic is imported when a filter is called, not with this file.


def _drift():
    from ansible_collections.alicia.platform.plugins.module_utils import _drift as module
    return module


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except _drift().DriftError as exc:
        raise AnsibleFilterError(str(exc))


def _keys(plan):
    """The files batch's every key (the plan's keys and the leftovers'), as the service role reads them."""
    if not plan:
        return {}
    from ansible_collections.alicia.platform.plugins.module_utils import _service_plan
    return _service_plan.all_keys(plan)


def drift_host(plan=None, batch=None, files=None, containers=None, venvs=None, supervisor=None, manual=None,
               components=None, broker=None, slots=None):
    plan = native(plan) or {}
    return _wrap(_drift().host_findings, plan, keys=_keys(plan), batch=native(batch), files=native(files),
                 containers=native(containers), venvs=native(venvs), supervisor=native(supervisor),
                 manual=native(manual), components=native(components), broker=native(broker),
                 slots=native(slots))


def _host_var(hostvars, host, name):
    try:
        value = hostvars[host].get(name)
    except (KeyError, TypeError, AttributeError):
        return None
    return native(value) if value is not None else None


def drift_report(hosts, hostvars, var="drift_host", generated=None):
    hosts = native(hosts)
    if not isinstance(hosts, list):
        raise AnsibleFilterError("drift: the hosts must be a list, got %r" % (hosts,))
    results = dict((host, _host_var(hostvars, host, native(var))) for host in hosts)
    return _wrap(_drift().report, hosts, results, generated=native(generated))


def drift_summary(doc):
    return _wrap(_drift().summary, native(doc))


def drift_failure(doc):
    return _wrap(_drift().failure, native(doc))


def drift_junit(doc, name="alicia drift"):
    return _wrap(_drift().junit, native(doc), name=native(name))


class FilterModule(object):
    """Drift report filters."""

    def filters(self):
        return {
            "drift_host": drift_host,
            "drift_report": drift_report,
            "drift_summary": drift_summary,
            "drift_failure": drift_failure,
            "drift_junit": drift_junit,
        }
