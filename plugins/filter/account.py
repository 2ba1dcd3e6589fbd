# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that let a role read a system account with ``ansible.builtin.raw``, stop
on a conflict before changing anything, and run ``ansible.builtin.group`` and
``ansible.builtin.user`` only when something differs. The logic lives in
plugins/module_utils/_account.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib


def _account():
    # Imported when a filter is called, not with this file (see role_inputs.py).
    return importlib.import_module("ansible_collections.alicia.platform.plugins.module_utils._account")


def system_account_probe(name, uid=None):
    return _account().probe_command(str(name), None if uid is None or uid == "" else int(uid))


def system_account_changes(report, params):
    return _account().pending_changes(dict(params), str(report))


def system_account_problems(report, params):
    return _account().pending_problems(dict(params), str(report))


class FilterModule(object):
    """System account read by a shell command, compared with the wanted account."""

    def filters(self):
        return {
            "system_account_probe": system_account_probe,
            "system_account_changes": system_account_changes,
            "system_account_problems": system_account_problems,
        }
