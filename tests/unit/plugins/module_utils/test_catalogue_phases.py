# -*- coding: utf-8 -*-
"""Phases and their plays: the group a phase play targets, the preflight
check that every service's group is reached by its phase play, and the
failures of earlier phases that stop a run (plugins/module_utils/_catalogue_hosts.py,
the catalogue_phase_failures filter)."""

import pytest

from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _catalogue_hosts as hosts
from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError

FAILURES = FilterModule().filters()["catalogue_phase_failures"]

# Two hosts: app1 runs core and voice, app2 voice only; alicia_core_eu is a
# child group of alicia_core, alicia_edge holds app2 only.
GROUPS = {
    "all": ["app1", "app2"],
    "alicia": ["app1", "app2"],
    "alicia_core": ["app1"],
    "alicia_core_eu": ["app1"],
    "alicia_voice": ["app1", "app2"],
    "alicia_edge": ["app2"],
    "alicia_empty": [],
}


def test_phase_group_is_the_prefix_and_the_phase():
    assert [hosts.phase_group(p) for p in cat.DEFAULT_PHASES] == ["alicia_" + p for p in cat.DEFAULT_PHASES]
    for bad in ("", None, 3):
        with pytest.raises(CatalogueError, match="phase must be a non-empty name"):
            hosts.phase_group(bad)


@pytest.mark.parametrize("phase, group, groups, expected", [
    # The phase's own group, with hosts or left out of the inventory.
    ("core", "alicia_core", GROUPS, None),
    ("devices", "alicia_devices", GROUPS, None),
    ("core", "alicia_core", None, None),
    # A group whose hosts are all in the phase's group.
    ("core", "alicia_core_eu", GROUPS, None),
    ("voice", "alicia_edge", GROUPS, None),
    # Hosts outside the phase's group: planned there, never deployed.
    ("core", "alicia_voice", GROUPS, "group 'alicia_voice' is not targeted by any phase play on host(s) app2 (the play "
                                     "of phase 'core' runs on the hosts of group 'alicia_core' only): the service would "
                                     "be planned there and never deployed"),
    ("core", "alicia_edge", GROUPS, "group 'alicia_edge' is not targeted by any phase play on host(s) app2"),
    # No hosts at all, or no inventory to tell.
    ("core", "alicia_extras", GROUPS, "group 'alicia_extras' has no hosts and is not targeted by any phase play (the "
                                      "play of phase 'core' runs on the hosts of group 'alicia_core' only)"),
    ("core", "alicia_empty", GROUPS, "group 'alicia_empty' has no hosts and is not targeted by any phase play"),
    ("core", "alicia_core_eu", None, "group 'alicia_core_eu' is not targeted by any phase play (the play of phase "
                                     "'core' runs on the hosts of group 'alicia_core' only)"),
])
def test_phase_target_problem(phase, group, groups, expected):
    problem = hosts.phase_target_problem({"kind": "service", "phase": phase, "group": group}, groups)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected), problem


def test_the_broker_and_broken_entries_are_not_phase_checked():
    assert hosts.phase_target_problem({"kind": "broker", "phase": "core", "group": "alicia_broker"}, GROUPS) is None
    # A missing phase or group is the business of those fields' own checks.
    assert hosts.phase_target_problem({"kind": "service", "group": "alicia_x"}, GROUPS) is None
    assert hosts.phase_target_problem({"kind": "service", "phase": "core", "group": ""}, GROUPS) is None
    assert hosts.phase_target_problem("not an entry", GROUPS) is None


def test_preflight_names_the_service_and_the_group(shipped):
    groups = dict(("alicia_%s" % p, ["app1"]) for p in cat.DEFAULT_PHASES)
    groups.update({"all": ["app1", "app2", "mqtt1"], "alicia_broker": ["mqtt1"], "alicia_devices": ["app2"]})
    assert cat.errors(shipped, groups=groups) == []
    shipped["ai_service"]["group"] = "alicia_devices"   # a voice service on the devices host
    shipped["sonos_service"]["group"] = "alicia_extras"  # a group no phase play targets
    found = [e for e in cat.errors(shipped, groups=groups) if "field 'group'" in e]
    assert found == [
        "catalogue: service 'ai_service' field 'group': group 'alicia_devices' is not targeted by any phase play on "
        "host(s) app2 (the play of phase 'voice' runs on the hosts of group 'alicia_voice' only): the service would "
        "be planned there and never deployed",
        "catalogue: service 'sonos_service' field 'group': group 'alicia_extras' has no hosts and is not targeted by "
        "any phase play (the play of phase 'devices' runs on the hosts of group 'alicia_devices' only)",
    ]
    with pytest.raises(CatalogueError, match="service 'ai_service' field 'group'"):
        cat.validate(shipped, groups=groups)


def test_require_groups_reports_an_empty_group_once(shipped):
    groups = {"all": ["app1"], "alicia_core": ["app1"]}
    shipped["security_gateway"]["group"] = "alicia_nowhere"
    found = [e for e in cat.errors(shipped, groups=groups, require_groups=True) if "'security_gateway'" in e]
    assert found == ["catalogue: service 'security_gateway' field 'group': inventory group 'alicia_nowhere' has no "
                     "hosts"]


def test_phase_failures_one_message_per_failed_host_sorted():
    states = {
        "app2": {"phase": "voice", "failure": "service: phase voice on app2 is not healthy:\n  stt_service refused"},
        "app1": {"phase": "", "failure": None},           # passed every phase it entered
        "app3": {"phase": None},                          # never entered a phase
        "app0": {"phase": "core", "failure": None},       # left the run without a task failure
    }
    assert hosts.phase_failures(states) == [
        "phase core failed on app0: failed before its tasks ended (unreachable, or outside the phase's tasks)",
        "phase voice failed on app2: service: phase voice on app2 is not healthy: stt_service refused",
    ]
    assert hosts.phase_failures({}) == []
    with pytest.raises(CatalogueError, match="phase states must be a mapping"):
        hosts.phase_failures(["app1"])


class FakeHostVars(dict):
    """hostvars: host -> that host's variables (a mapping with get)."""


def test_the_filter_reads_the_recorded_facts_of_the_hosts_asked_for():
    hostvars = FakeHostVars({
        "app1": {"_alicia_phase_running": "core", "_alicia_phase_failure": "boom"},
        "app2": {"_alicia_phase_running": ""},
        "app3": {},
    })
    assert FAILURES(hostvars, ["app1", "app2", "app3"]) == ["phase core failed on app1: boom"]
    # Only the hosts asked for; one unknown to hostvars is skipped.
    assert FAILURES(hostvars, ["app2", "app3", "nowhere"]) == []
    assert FAILURES(hostvars, None) == []
