# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that let the network_hardening role read a host's network state with
``ansible.builtin.raw``: the shell command, and the parser of its output. The
logic lives in plugins/module_utils/_netstate.py; these are thin wrappers.
Each filter is documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

from ansible.errors import AnsibleFilterError


def _netstate():
    # Imported when a filter is called, not with this file (see role_inputs.py).
    return importlib.import_module("ansible_collections.alicia.platform.plugins.module_utils._netstate")


def _request(request):
    request = dict(request or {})
    unknown = sorted(set(request) - {"sysctl", "table", "unit"})
    if unknown:
        raise AnsibleFilterError("network state request: unknown key(s) %s (sysctl, table, unit)" % ", ".join(unknown))
    return dict(sysctl=dict(request.get("sysctl") or {}), table=request.get("table") or None,
                unit=request.get("unit") or None)


def network_state_probe(request):
    return _netstate().probe_command(**_request(request))


def network_state_report(output, request):
    module = _netstate()
    try:
        return module.parse_report(str(output), **_request(request))
    except module.ReportError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """A host's network state read by one shell command."""

    def filters(self):
        return {
            "network_state_probe": network_state_probe,
            "network_state_report": network_state_report,
        }
