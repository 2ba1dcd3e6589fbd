# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transitional: the health sweep now lives in _sweep_probe.py (on the host)
and _sweep_report.py (on the controller); this name re-exports both until
the last importer (the unit tests) moves. No plugin imports it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.alicia.platform.plugins.module_utils._sweep_probe import (  # noqa: F401
    HEALTHY, UNHEALTHY, UNREACHABLE, STATUSES, BODY_FIELDS, normalize, fetch, body_fields, check, sweep)
from ansible_collections.alicia.platform.plugins.module_utils._sweep_report import (  # noqa: F401
    FORMATS, BROKER_PHASE, BROKER_UNREACHABLE, COLUMNS, SweepError, errors, BALANCED, service_instances, endpoints, broker_check, rows, table, problems)
