# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters over the Alicia service catalogue. The logic lives in
plugins/module_utils/catalogue.py; these are thin wrappers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import (
    CatalogueError,
    DEFAULT_PHASES,
    resolve,
)


def catalogue_resolve(services, overrides=None, defaults=None, environment=None, phases=None, broker="mqtt_broker"):
    try:
        return resolve(services, overrides=overrides, defaults=defaults, environment=environment,
                       phases=phases or DEFAULT_PHASES, broker=broker)
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Service catalogue filters."""

    def filters(self):
        return {
            "catalogue_resolve": catalogue_resolve,
        }
