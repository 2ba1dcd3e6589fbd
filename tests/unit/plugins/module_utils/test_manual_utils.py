# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_manual.py: which control-script calls each case makes
(a fake script answering from a dict of service states)."""

import json

import pytest

from ansible_collections.alicia.platform.plugins.module_utils._manual import CONFIG_DIR, RUN_DIR, ManualError, reconcile


class FakeCtl(object):
    def __init__(self, **states):
        # name -> {"running", "healthy", "fail"}
        self.states = states
        self.calls = []
        self.dirs = []
        self.pid = 100

    def run(self, argv):
        _ctl, name, verb, as_json, config_opt, config_dir, run_opt, run_dir = argv
        assert (as_json, config_opt, run_opt) == ("--json", "--config-dir", "--run-dir"), argv
        self.calls.append([name, verb])
        self.dirs.append((config_dir, run_dir))
        state = self.states.setdefault(name, {"running": False, "healthy": False})
        if state.get("fail") and verb in ("start", "restart"):
            return 1, json.dumps({"service": name, "failed": True, "message": "%s: exited with code 3" % name}), ""
        if verb in ("start", "restart"):
            self.pid += 1
            state.update(running=True, healthy=True, pid=self.pid)
            return 0, json.dumps(dict(state, service=name, action=verb + "ed" if verb == "restart" else "started")), ""
        if verb == "stop":
            action = "stopped" if state["running"] else "none"
            state.update(running=False, healthy=False, pid=None)
            return 0, json.dumps(dict(state, service=name, action=action, message="")), ""
        rc = 0 if state["healthy"] else (1 if state["running"] else 3)
        return rc, json.dumps(dict(state, service=name, message="")), ""


UP = {"running": True, "healthy": True, "pid": 7}


def test_healthy_unchanged_left_alone():
    ctl = FakeCtl(a=dict(UP), b=dict(UP))
    result = reconcile(ctl.run, "ctl", ["a", "b"])
    assert ctl.calls == [["a", "status"], ["b", "status"]] and not result["changed"]


def test_changed_restarted_stopped_started_unhealthy_started():
    ctl = FakeCtl(a=dict(UP), b={"running": False, "healthy": False}, c={"running": True, "healthy": False})
    result = reconcile(ctl.run, "ctl", ["a", "b", "c"], restart=["a"])
    assert ctl.calls == [["a", "status"], ["a", "restart"], ["b", "status"], ["b", "start"],
                         ["c", "status"], ["c", "start"]]
    assert result["actions"] == {"a": ["restarted"], "b": ["started"], "c": ["started"]}


def test_changed_but_not_running_is_started_not_restarted():
    ctl = FakeCtl(a={"running": False, "healthy": False})
    reconcile(ctl.run, "ctl", ["a"], restart=["a"])
    assert ctl.calls == [["a", "status"], ["a", "start"]]


def test_check_mode_only_status():
    ctl = FakeCtl(a=dict(UP), b={"running": False, "healthy": False})
    result = reconcile(ctl.run, "ctl", ["a", "b"], restart=["a"], check_mode=True)
    assert ctl.calls == [["a", "status"], ["b", "status"]]
    assert result["actions"] == {"a": ["restarted"], "b": ["started"]}


def test_failure_stops_at_the_failed_service_and_names_it():
    ctl = FakeCtl(a={"running": False, "healthy": False, "fail": True}, b={"running": False, "healthy": False})
    with pytest.raises(ManualError) as exc:
        reconcile(ctl.run, "ctl", ["a", "b"])
    assert "a: exited with code 3" in str(exc.value)
    assert ctl.calls == [["a", "status"], ["a", "start"]]
    assert exc.value.result["actions"] == {"a": ["started"]}


def test_stopped_and_absent():
    ctl = FakeCtl(a=dict(UP), b={"running": False, "healthy": False})
    result = reconcile(ctl.run, "ctl", ["a", "b"], state="stopped")
    assert ctl.calls == [["a", "status"], ["a", "stop"], ["b", "status"]] and result["actions"] == {"a": ["stopped"]}
    ctl = FakeCtl(a=dict(UP))
    result = reconcile(ctl.run, "ctl", [], absent=["a", "gone"])
    assert ctl.calls == [["a", "stop"], ["gone", "stop"]] and result["actions"] == {"a": ["stopped"]}
    ctl = FakeCtl(a=dict(UP))
    assert reconcile(ctl.run, "ctl", ["a"], state="absent")["actions"] == {"a": ["stopped"]}


def test_restarted_state_restarts_all():
    ctl = FakeCtl(a=dict(UP), b={"running": False, "healthy": False})
    reconcile(ctl.run, "ctl", ["a", "b"], state="restarted")
    assert ctl.calls == [["a", "status"], ["a", "restart"], ["b", "status"], ["b", "restart"]]


def test_every_call_names_both_directories():
    """The role's settings reach every call (status, start, restart, stop, absent's stop), not only some."""
    ctl = FakeCtl(a=dict(UP), b={"running": False, "healthy": False})
    reconcile(ctl.run, "ctl", ["a", "b"], restart=["a"], absent=["gone"],
              config_dir="/srv/alicia/conf", run_dir="/srv/alicia/run")
    reconcile(ctl.run, "ctl", ["a", "b"], state="stopped", config_dir="/srv/alicia/conf", run_dir="/srv/alicia/run")
    assert set(verb for _name, verb in ctl.calls) == {"status", "start", "restart", "stop"}
    assert len(ctl.dirs) == 9 and set(ctl.dirs) == {("/srv/alicia/conf", "/srv/alicia/run")}, ctl.calls
    ctl = FakeCtl(a=dict(UP))
    reconcile(ctl.run, "ctl", ["a"], check_mode=True)
    assert ctl.dirs == [(CONFIG_DIR, RUN_DIR)] == [("/etc/alicia/manual", "/run/alicia")]


def test_bad_input():
    for field in ("config_dir", "run_dir"):
        with pytest.raises(ManualError, match="%s must be an absolute directory path" % field):
            reconcile(FakeCtl().run, "ctl", ["a"], **{field: "relative/dir"})
    with pytest.raises(ManualError, match="not a catalogue service name"):
        reconcile(FakeCtl().run, "ctl", ["Bad-Name"])
    with pytest.raises(ManualError, match="state must be one of"):
        reconcile(FakeCtl().run, "ctl", ["a"], state="up")
    with pytest.raises(ManualError, match="no JSON answer"):
        reconcile(lambda argv: (127, "", "not found"), "ctl", ["a"])
