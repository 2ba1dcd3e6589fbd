# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: preload
type: aggregate
short_description: Import the collection's controller-side logic once, before the first task
version_added: 0.3.0
description:
  - Ansible runs every task of every host in a fresh fork of the controller process. A task whose
    templates call one of this collection's filters imports, in that fork, the collection's filter
    plugins and the logic they call (C(plugins/module_utils)), and throws the imports away when the
    fork ends; a run of the platform pays it again in most of its tasks (about 0.05 to 0.15 s each,
    the same order as a module execution).
  - Enabled, this callback imports them once in the controller process when the run starts, so that
    every fork inherits them. It prints nothing and changes nothing else; without it the collection
    works the same, only slower.
  - Measured on the idempotent re-run of the multi-host lab (C(molecule/multihost), 3 hosts) - see
    the collection's C(benchmarks/README.md).
author:
  - Alicia platform engineers (@alicia-platform)
requirements:
  - Enable it in C(callbacks_enabled) (the collection's C(ansible.cfg) does).
"""

import importlib
import os

from ansible.plugins.callback import CallbackBase

PACKAGE = "ansible_collections.alicia.platform.plugins"
# The packages whose every module is imported, in this order (the filters' logic first).
PACKAGES = ("module_utils", "filter")


def modules(root=None):
    """The dotted names of the collection's modules under PACKAGES, found next to this file."""
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = []
    for package in PACKAGES:
        directory = os.path.join(root, package)
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py") and name != "__init__.py":
                found.append("%s.%s.%s" % (PACKAGE, package, name[:-3]))
    return found


def preload(names, importer=importlib.import_module):
    """Import each of ``names``; returns ``(imported, failed)``: a module that does not import
    (an optional dependency missing on this controller) is left to fail where it is used."""
    imported, failed = [], {}
    for name in names:
        try:
            importer(name)
            imported.append(name)
        except Exception as exc:  # pylint: disable=broad-except
            failed[name] = "%s: %s" % (type(exc).__name__, exc)
    return imported, failed


class CallbackModule(CallbackBase):
    """Imports the collection's filters and their logic in the controller process."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "alicia.platform.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.imported, self.failed = preload(modules())
        for name, error in sorted(self.failed.items()):
            self._display.vvv("alicia.platform.preload: %s not preloaded (%s)" % (name, error))
