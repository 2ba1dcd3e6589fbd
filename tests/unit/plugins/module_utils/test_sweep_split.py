# -*- coding: utf-8 -*-
"""The health sweep's two halves: what the health_sweep module ships to the
host (_sweep_probe.py) imports no controller code; the report
(_sweep_report.py, the filters') shares the probe's statuses."""

import subprocess
import sys

from ansible_collections.alicia.platform.plugins.module_utils import _sweep_probe as probe
from ansible_collections.alicia.platform.plugins.module_utils import _sweep_report as report

PREFIX = "ansible_collections.alicia.platform.plugins."


def _loaded_by(module):
    """The collection's modules and ansible's packages a fresh Python loads importing `module`."""
    code = ("import sys, %s; print('\\n'.join(sorted(m for m in sys.modules "
            "if m.startswith(('ansible_collections.alicia', 'ansible.')))))" % module)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_probe_loads_no_controller_code():
    loaded = _loaded_by(PREFIX + "module_utils._sweep_probe")
    assert PREFIX + "module_utils.health" in loaded
    controller = sorted(m for m in loaded if m.startswith((PREFIX + "filter", PREFIX + "module_utils._sweep_report",
                                                           PREFIX + "module_utils._catalogue"))
                        or (m.startswith("ansible.") and not m.startswith("ansible.module_utils")))
    assert not controller, "the probe (shipped to hosts) loads controller code: %s" % controller


def test_the_health_sweep_module_ships_the_probe_not_the_report():
    loaded = _loaded_by(PREFIX + "modules.health_sweep")
    assert PREFIX + "module_utils._sweep_probe" in loaded
    assert PREFIX + "module_utils._sweep_report" not in loaded


def test_the_report_judges_with_the_probe_s_statuses():
    assert report.STATUSES is probe.STATUSES and report.BODY_FIELDS is probe.BODY_FIELDS
    assert (report.HEALTHY, report.UNHEALTHY, report.UNREACHABLE) == probe.STATUSES
