# -*- coding: utf-8 -*-
"""module_utils._units: parsing systemctl show, planning, and reconcile over a scripted systemctl."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _units as u

# As systemd 252 prints it: service properties (MainPID) first, one blank line between units.
SHOW_OUTPUT = """MainPID=612
Id=alicia-a.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled

MainPID=0
Id=alicia-gone.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
"""


def state(active="inactive", file="disabled", load="loaded", sub=None, pid=0):
    return u.unit_state(dict(LoadState=load, ActiveState=active, UnitFileState=file, MainPID=str(pid),
                             SubState=sub or ("running" if active == "active" else "dead")))


def test_parse_show_blocks_in_order():
    states = u.parse_show(SHOW_OUTPUT, ["alicia-a.service", "alicia-gone.service"])
    assert states["alicia-a.service"] == dict(load_state="loaded", active_state="active", sub_state="running",
                                              unit_file_state="enabled", main_pid=612, active=True, enabled=True)
    assert states["alicia-gone.service"]["load_state"] == "not-found"
    assert states["alicia-gone.service"]["unit_file_state"] == ""
    assert u.describe(states["alicia-gone.service"]) == "not-found"
    assert u.describe(states["alicia-a.service"]) == "active/enabled"


def test_parse_show_refuses_a_block_count_that_does_not_match():
    with pytest.raises(u.UnitsError, match=r"printed 2 unit\(s\) for 3 asked"):
        u.parse_show(SHOW_OUTPUT, ["a.service", "b.service", "c.service"])


def test_enable_decision_by_unit_file_state():
    names = ["disabled", "static", "enabled-runtime", "linked", "indirect"]
    states = dict((n + ".service", state(file=n)) for n in names)
    actions, problems = u.plan([dict(name=n + ".service", enabled=True) for n in names], [], [], states)
    assert problems == []
    assert dict((n, a) for n, a in actions.items() if a) == {"disabled.service": ["enabled"],
                                                            "linked.service": ["enabled"]}


def test_plan_not_found_only_fine_in_check_mode():
    states = {"new.service": state(load="not-found", file="")}
    units = [dict(name="new.service", enabled=True, state="started")]
    assert u.plan(units, [], [], states, check_mode=True) == ({"new.service": ["enabled", "started"]}, [])
    actions, problems = u.plan(units, [], [], states)
    assert problems == [("new.service", "new.service is not loaded (LoadState not-found: no such unit file): "
                                        "cannot enable/start it")]
    assert u.plan([dict(name="new.service", enabled=False, state="stopped")], [], [], states) == (
        {"new.service": []}, []), "nothing to do on a missing unit that should be off"


def test_operations_order_and_restart_order():
    actions = {"a": ["stopped", "disabled"], "b": ["enabled", "started"], "c": ["restarted"], "d": ["restarted"],
               "e": ["reloaded"]}
    assert u.operations(actions, ["d", "c"]) == [
        ("stop", "stopped", ["a"]), ("disable", "disabled", ["a"]), ("enable", "enabled", ["b"]),
        ("start", "started", ["b"]), ("restart", "restarted", ["d", "c"]), ("reload", "reloaded", ["e"])]


class Scripted(object):
    """A systemctl whose show answers come from a list of per-call states."""

    def __init__(self, shows):
        self.shows = list(shows)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv[1:])
        if argv[1] == "show":
            names = argv[3:]
            current = self.shows.pop(0) if len(self.shows) > 1 else self.shows[0]
            return 0, "\n".join("Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\nUnitFileState=enabled\n"
                                % ((n,) + current[n]) for n in names), ""
        if argv[1] == "status":
            return 3, "status of %s\n" % argv[-1], ""
        return 0, "", ""


class Clock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_with_the_interval_until_settled():
    run = Scripted([{"a.service": ("inactive", "dead")}, {"a.service": ("activating", "start")},
                    {"a.service": ("activating", "start")}, {"a.service": ("active", "running")}])
    clock = Clock()
    result = u.reconcile(dict(units=[dict(name="a.service", state="started")], wait=5),
                         u.Systemctl("systemctl", run), sleep=clock.sleep, clock=clock)
    assert result["started"] == ["a.service"] and result["units"]["a.service"]["after"]["sub_state"] == "running"
    assert clock.sleeps == [u.POLL_INTERVAL, u.POLL_INTERVAL]
    assert [c[0] for c in run.calls] == ["show", "start", "show", "show", "show"]


def test_wait_gives_up_at_the_deadline():
    run = Scripted([{"a.service": ("inactive", "dead")}, {"a.service": ("activating", "auto-restart")}])
    clock = Clock()
    with pytest.raises(u.UnitsError) as info:
        u.reconcile(dict(restart=["a.service"], wait=1.2), u.Systemctl("systemctl", run), sleep=clock.sleep,
                    clock=clock)
    assert str(info.value).splitlines() == ["a.service not active after 1.2 s",
                                            "a.service (activating/enabled, auto-restart):", "  status of a.service"]
    assert clock.sleeps == [0.5, 0.5, pytest.approx(0.2)]
    assert info.value.failed_units == ["a.service"]
    assert info.value.result["started"] == ["a.service"]
