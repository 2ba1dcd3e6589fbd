# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that draw the platform an inventory describes. The logic lives in
plugins/module_utils/_topology.py; these are thin wrappers. Each filter is
documented in its own sidecar file plugins/filter/<filter name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

# The logic is imported when a filter is called, not with this file (see
# plugins/filter/catalogue.py): ansible-core imports every filter file of the
# collection to find one filter.


def _wrap(name, *args, **kwargs):
    from ansible_collections.alicia.platform.plugins.module_utils import _topology
    try:
        return getattr(_topology, name)(*args, **kwargs)
    except _topology.CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


def topology_model(catalogue, groups, hostvars=None, broker=None, address_var="alicia_address",
                   title="Alicia platform"):
    return _wrap("model", catalogue, groups, hostvars=hostvars, broker=broker, address_var=address_var, title=title)


def topology_svg(topology, columns=3):
    return _wrap("svg", topology, columns=columns)


class FilterModule(object):
    """Topology filters."""

    def filters(self):
        return {
            "topology_model": topology_model,
            "topology_svg": topology_svg,
        }
