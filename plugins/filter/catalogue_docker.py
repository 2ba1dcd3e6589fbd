# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalogue filters of the docker runtime. The logic lives in
plugins/module_utils/_catalogue_hosts.py; documented in the sidecar file
plugins/filter/catalogue_docker_network.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import CatalogueError

# ansible-core finds one filter of a collection by importing every file of
# its plugins/filter, in every worker process (a fresh fork per task): the
# logic (plugins/module_utils) is imported when a filter is called, not with
# this file, so a task pays only for the logic it uses.


def catalogue_docker_network(catalogue, group_names):
    from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import host_docker_network
    try:
        return host_docker_network(catalogue, group_names)
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Docker runtime filters over the service catalogue."""

    def filters(self):
        return {"catalogue_docker_network": catalogue_docker_network}
