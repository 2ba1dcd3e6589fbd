# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/deploy.yml, rollback.yml and status.yml: the checked
deployment request, a host's share of it, the releases a rollback goes back
to, the hosts whose deployment failed, and the status rows and table. The
logic lives in plugins/module_utils/_deploy.py; each filter is documented in
its sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native


def _wrap(name, *args, **kwargs):
    from ansible_collections.alicia.platform.plugins.module_utils import _deploy, _history
    try:
        return getattr(_deploy, name)(*args, **kwargs)
    except (_deploy.DeployError, _history.HistoryError) as exc:
        raise AnsibleFilterError(str(exc))


def deploy_request(catalogue, services=None, phase=None, version=None, strategy="direct", serial=None,
                   max_fail_percentage=0, canary=None):
    return _wrap("request", native(catalogue), services=native(services), phase=native(phase),
                 version=native(version), strategy=native(strategy), serial=native(serial),
                 max_fail_percentage=native(max_fail_percentage), canary=native(canary))


def deploy_host_services(request, group_names):
    return _wrap("host_services", native(request), native(group_names))


def deploy_backup_instances(catalogue, services):
    return _wrap("backup_instances", native(catalogue), native(services))


def deploy_rollback_targets(history, services, deployment_id=None):
    return _wrap("rollback_targets", native(history), native(services), deployment_id=native(deployment_id))


def deploy_failures(hostvars, hosts):
    return _wrap("failures", hostvars, native(hosts))


def deploy_verdict(failures, rolled_back=None):
    return _wrap("verdict", native(failures), native(rolled_back))


def deploy_stopped(hostvars, hosts, max_fail_percentage=0):
    return _wrap("stopped", hostvars, native(hosts), native(max_fail_percentage))


def deploy_status(history, host, health=None, last=5, slots_map=""):
    return _wrap("status", native(host), native(history), health=native(health), last=native(last),
                 slots_map=native(slots_map) or "")


def deploy_status_table(rows):
    return _wrap("status_table", native(rows))


class FilterModule(object):
    """Deployments: request, rollback targets, failures, status."""

    def filters(self):
        return {
            "deploy_request": deploy_request,
            "deploy_host_services": deploy_host_services,
            "deploy_rollback_targets": deploy_rollback_targets,
            "deploy_backup_instances": deploy_backup_instances,
            "deploy_failures": deploy_failures,
            "deploy_stopped": deploy_stopped,
            "deploy_verdict": deploy_verdict,
            "deploy_status": deploy_status,
            "deploy_status_table": deploy_status_table,
        }
