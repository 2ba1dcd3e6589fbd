# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of site.yml's converge shortcut: the inputs digest of a run
(plugins/module_utils/_converged.py holds the logic). Documented in its
sidecar file plugins/filter/converge_digest.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import native

# The collection's root: plugins/filter/ is two levels below it.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def converge_digest(hostvars, groups, hosts=None):
    """sha256 of every host's input variables, the groups and the collection's files."""
    from ansible.release import __version__
    from ansible_collections.alicia.platform.plugins.module_utils import _converged

    if not hasattr(hostvars, "keys"):
        raise AnsibleFilterError("converge_digest: the input must be hostvars, got %s" % type(hostvars).__name__)
    groups = native(groups)
    if not isinstance(groups, dict):
        raise AnsibleFilterError("converge_digest: groups must be the groups mapping, got %s" % type(groups).__name__)
    names = sorted(groups.get("all") or []) if hosts is None else sorted(native(hosts))
    if any(not isinstance(name, string_types) for name in names):
        raise AnsibleFilterError("converge_digest: hosts must be a list of host names")
    host_vars = {}
    for name in names:
        values = hostvars[name]
        host_vars[name] = dict((key, native(values[key])) for key in values.keys() if _converged.is_input(key))
    return _converged.inputs_digest(host_vars, groups, _converged.tree_digest(_ROOT), __version__)


class FilterModule(object):
    """The converge shortcut's inputs digest."""

    def filters(self):
        return {"converge_digest": converge_digest}
