# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pre-deployment host checks (roles/service/tasks/plan.yml):
what the files module's ``report_host`` reads for a host's plan, and its
report judged into problems. The logic lives in
plugins/module_utils/_hostcheck.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native


def _hostcheck():
    # Imported when a filter is called, not with this file (see role_inputs.py).
    return importlib.import_module("ansible_collections.alicia.platform.plugins.module_utils._hostcheck")


def service_host_check_request(plan):
    try:
        return _hostcheck().request(native(plan))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("host checks: bad plan: %s" % exc)


def service_host_check_problems(plan, files=None, min_free_mb=0, memory=True, venvs=None):
    try:
        files = native(files) or {}
        venvs = native(venvs) or {}
        return _hostcheck().problems(native(plan), files.get("host") or {},
                                     min_free_mb=int(min_free_mb or 0), check_memory=bool(memory),
                                     changed_keys=files.get("changed_keys") or [],
                                     venvs=venvs.get("venvs") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("host checks: bad plan or report: %s" % exc)


class FilterModule(object):
    """The pre-deployment host checks."""

    def filters(self):
        return {
            "service_host_check_request": service_host_check_request,
            "service_host_check_problems": service_host_check_problems,
        }
