# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the service role's derived state (roles/service/vars/main.yml):
the plan of a host, its files batch, the follow-ups of what the modules
reported, the platform plan's work, the restart report and the logs of a
failed gate. The logic lives in plugins/module_utils/_service_plan.py and
_service_layout.py; these are thin wrappers. Each filter is documented in
its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def _plan():
    from ansible_collections.alicia.platform.plugins.module_utils import _service_plan
    return _service_plan


def _wrap(name, *args, **kwargs):
    module = _plan()
    try:
        return getattr(module, name)(*args, **kwargs)
    except (module.ServicePlanError, module.CatalogueError) as exc:
        raise AnsibleFilterError(str(exc))


def service_plan(catalogue, names, group_names, host, groups=None, settings=None):
    return _wrap("plan", native(catalogue), native(names), native(group_names), native(host),
                 groups=native(groups), settings=native(settings))


def service_files(plan, catalogue, secrets=None, mqtt_broker=None, docker_mqtt_broker=None, hostvars=None,
                  groups=None, rollback=None):
    return _wrap("files", native(plan), native(catalogue), secrets=native(secrets), mqtt_broker=native(mqtt_broker),
                 docker_mqtt_broker=native(docker_mqtt_broker), hostvars=hostvars, groups=native(groups),
                 rollback=native(rollback))


def service_followups(plan, files=None, venvs=None):
    return _wrap("followups", native(plan), native(files), native(venvs))


def service_plan_work(plan, files=None, containers=None, venvs=None, supervisor=None, manual=None, slots=None):
    return _wrap("plan_work", native(plan), files=native(files), containers=native(containers), venvs=native(venvs),
                 supervisor=native(supervisor), manual=native(manual), slots=native(slots))


def service_failed_services(roll_failure=None, slots=None, rollback=False):
    return _wrap("failed_services", native(roll_failure), native(slots), rollback=bool(rollback))


def service_restart_report(plan, units=None, supervisor=None, manual=None, gate=None, slots=None):
    return _wrap("restart_report", native(plan), units=native(units), supervisor=native(supervisor),
                 manual=native(manual), gate=native(gate), slots=native(slots))


def service_unhealthy_logs(plan, unhealthy=None, containers=None):
    return _wrap("unhealthy_logs", native(plan), native(unhealthy), native(containers))


def service_gate_failed_argv(plan, unhealthy=None, containers=None, lines=15):
    return _wrap("gate_failed_argv", native(plan), native(unhealthy), native(containers), native(lines))


def service_remote_endpoints(plan, catalogue, hostvars=None, groups=None):
    return _wrap("remote_endpoints", native(plan), native(catalogue), hostvars=hostvars, groups=native(groups))


def service_history_records(plan):
    return _wrap("history_records", native(plan))


def service_rollback_catalogue(catalogue, targets=None):
    return _wrap("rollback_catalogue", native(catalogue), native(targets))


def service_gate_failure(plan, failed_result, logs="", rollback=True, touched=None, units=None):
    return _wrap("gate_failure", native(plan), native(failed_result), native(logs), rollback=bool(native(rollback)),
                 touched=native(touched), units=native(units))


def service_gate_failure_message(failure, host, scope, rollback_to=None, rollback_msg=""):
    return _wrap("gate_failure_message", native(failure), native(host), native(scope), native(rollback_to),
                 native(rollback_msg))


def service_roll(plan, followups, units=None, canary=False, canary_weight=None):
    weight = native(canary_weight)
    return _wrap("roll", native(plan), native(followups), native(units), canary=bool(native(canary)),
                 canary_weight=None if weight in (None, "") else int(weight))


def service_roll_outcome(canaries=None, watches=None, rest=None):
    return _wrap("roll_outcome", native(canaries), native(watches), native(rest))


class FilterModule(object):
    """The service role's derived state."""

    def filters(self):
        return {
            "service_plan": service_plan,
            "service_files": service_files,
            "service_followups": service_followups,
            "service_plan_work": service_plan_work,
            "service_restart_report": service_restart_report,
            "service_failed_services": service_failed_services,
            "service_roll_outcome": service_roll_outcome,
            "service_unhealthy_logs": service_unhealthy_logs,
            "service_gate_failed_argv": service_gate_failed_argv,
            "service_remote_endpoints": service_remote_endpoints,
            "service_history_records": service_history_records,
            "service_rollback_catalogue": service_rollback_catalogue,
            "service_gate_failure": service_gate_failure,
            "service_gate_failure_message": service_gate_failure_message,
            "service_roll": service_roll,
        }
