# -*- coding: utf-8 -*-
"""The units module run for real (a fresh Python per run) against a fake systemctl.

The fake is a small Python script written per test: it keeps the units in a
JSON file, answers show/enable/disable/start/stop/restart/reload/
daemon-reload/status/is-active with systemctl's output formats and logs
every invocation, so the tests assert the exact calls the module makes.
"""

import json
import os
import subprocess
import sys

import pytest

FAKE_SYSTEMCTL = r'''#!{python}
"""A fake systemctl keeping unit state in a JSON file."""
import json
import sys

STATE = {state!r}
LOG = {log!r}


def load():
    with open(STATE) as handle:
        return json.load(handle)


def save(data):
    with open(STATE, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)


def unit(data, name):
    """The unit's record; a unit not in the file is not-found (like systemd's stub for it)."""
    found = data["units"].get(name)
    if found is None:
        return dict(load="not-found", active="inactive", sub="dead", file="", pid=0)
    found.setdefault("pid", 0)
    found.setdefault("sub", "running" if found.get("active") == "active" else "dead")
    return found


def launch(data, name, rec):
    data["next_pid"] = data.get("next_pid", 1000) + 1
    rec["starts"] = rec.get("starts", 0) + 1
    if rec.get("fail"):
        rec.update(active="failed", sub="failed", pid=0)
        return ("Job for %s failed because the control process exited with error code.\n"
                "See \"systemctl status %s\" and \"journalctl -xeu %s\" for details.\n" % (name, name, name))
    if rec.get("crash"):  # Type=simple: the start job succeeds, the process dies right after
        rec.update(active="failed", sub="failed", pid=0)
    elif rec.get("auto_restart"):
        rec.update(active="activating", sub="auto-restart", pid=0)
    elif rec.get("activating"):
        rec.update(active="activating", sub="start", pid=data["next_pid"], pending=rec["activating"])
    else:
        rec.update(active="active", sub=rec.get("running_sub", "running"), pid=data["next_pid"])
    return ""


def main(argv):
    with open(LOG, "a") as handle:
        handle.write(json.dumps(argv) + "\n")
    data = load()
    verb, args = argv[0], argv[1:]
    names = [a for a in args if not a.startswith("-")]
    rc, out, err = 0, "", ""
    if verb == "daemon-reload":
        data["daemon_reloads"] = data.get("daemon_reloads", 0) + 1
    elif verb == "show":
        blocks = []
        for name in names:
            rec = unit(data, name)
            if rec.get("pending"):
                rec["pending"] -= 1
                if not rec["pending"]:
                    rec.update(active="active", sub="running")
            blocks.append("MainPID=%d\nId=%s\nLoadState=%s\nActiveState=%s\nSubState=%s\nUnitFileState=%s\n"
                          % (rec["pid"], name, rec["load"], rec["active"], rec["sub"], rec["file"]))
        out = "\n".join(blocks)
    elif verb in ("enable", "disable"):
        for name in names:
            rec = unit(data, name)
            if rec["load"] == "not-found":
                err += "Failed to %s unit: Unit file %s does not exist.\n" % (verb, name)
                rc = 1
            elif rec["file"] == "masked":
                err += "Failed to %s unit: Unit file /etc/systemd/system/%s is masked.\n" % (verb, name)
                rc = 1
        if rc == 0:
            for name in names:
                rec = unit(data, name)
                if verb == "enable" and rec["file"] != "enabled":
                    rec["file"] = "enabled"
                    err += ("Created symlink /etc/systemd/system/multi-user.target.wants/%s "
                            "\u2192 /etc/systemd/system/%s.\n" % (name, name))
                elif verb == "disable" and rec["file"] == "enabled":
                    rec["file"] = "disabled"
                    err += "Removed \"/etc/systemd/system/multi-user.target.wants/%s\".\n" % name
    elif verb in ("start", "restart"):
        for name in names:
            rec = unit(data, name)
            if rec["load"] == "not-found":
                err += "Failed to %s %s: Unit %s not found.\n" % (verb, name, name)
                rc = 5
                continue
            if verb == "start" and rec["active"] in ("active", "activating", "reloading"):
                continue
            message = launch(data, name, rec)
            if message:
                err += message
                rc = rc or 1
    elif verb == "stop":
        for name in names:
            rec = unit(data, name)
            if rec["active"] in ("active", "activating", "reloading"):
                rec.update(active="inactive", sub="dead", pid=0)
    elif verb == "reload":
        for name in names:
            rec = unit(data, name)
            if rec["active"] != "active":
                err += "%s is not active, cannot reload.\n" % name
                rc = 1
            elif rec.get("no_reload"):
                err += "Failed to reload %s: Job type reload is not applicable for unit %s.\n" % (name, name)
                rc = 1
            else:
                rec["reloads"] = rec.get("reloads", 0) + 1
    elif verb == "status":
        name = args[-1]
        rec = unit(data, name)
        if rec["load"] == "not-found":
            err, rc = "Unit %s could not be found.\n" % name, 4
        elif not rec.get("silent"):
            dot = {{"active": "\u25cf", "failed": "\u00d7"}}.get(rec["active"], "\u25cb")
            lines = ["%s %s - %s" % (dot, name, name.split(".")[0]),
                     "     Loaded: %s (/etc/systemd/system/%s; %s; preset: enabled)" % (rec["load"], name, rec["file"]),
                     "     Active: %s (%s) since Mon 2024-01-01 00:00:00 UTC; 1s ago" % (rec["active"], rec["sub"])]
            if rec["pid"]:
                lines.append("   Main PID: %d (python3)" % rec["pid"])
            lines.append("")
            lines += ["Jan 01 00:00:00 lab1 %s" % line for line in rec.get("journal", [])]
            out = "\n".join(lines) + "\n"
            rc = 0 if rec["active"] == "active" else 3
        else:
            rc = 3
    elif verb == "is-active":
        for name in names:
            rec = unit(data, name)
            out += rec["active"] + "\n"
            if rec["active"] != "active":
                rc = 3
    else:
        err, rc = "Unknown command verb '%s'.\n" % verb, 1
    save(data)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


sys.exit(main(sys.argv[1:]))
'''

FAKE_JOURNALCTL = r'''#!{python}
import json
import sys

with open({log!r}, "a") as handle:
    handle.write(json.dumps(["journalctl"] + sys.argv[1:]) + "\n")
with open({state!r}) as handle:
    data = json.load(handle)
name = sys.argv[sys.argv.index("-u") + 1]
for line in data["units"].get(name, {{}}).get("journal", []):
    print("Jan 01 00:00:00 lab1 " + line)
'''

SHOW = ["show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID"]
MUTATING = ("daemon-reload", "enable", "disable", "start", "stop", "restart", "reload")


class FakeSystemd(object):
    """Unit state in a JSON file and a fake systemctl (and journalctl) over it."""

    def __init__(self, directory, units, journalctl=False):
        self.state = str(directory / "units.json")
        self.log = str(directory / "calls.log")
        bindir = directory / "bin"
        bindir.mkdir()
        self.systemctl = str(bindir / "systemctl")
        self._write(self.systemctl, FAKE_SYSTEMCTL)
        if journalctl:
            self._write(str(bindir / "journalctl"), FAKE_JOURNALCTL)
        with open(self.state, "w") as handle:
            json.dump(dict(units=units), handle)

    def _write(self, path, template):
        with open(path, "w") as handle:
            handle.write(template.format(python=sys.executable, state=self.state, log=self.log))
        os.chmod(path, 0o755)

    def calls(self, clear=True):
        """The argv (without the binary) of every call since the last time, in order."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            calls = [json.loads(line) for line in handle if line.strip()]
        if clear:
            os.unlink(self.log)
        return calls

    def units(self):
        with open(self.state) as handle:
            return json.load(handle)["units"]

    def data(self):
        with open(self.state) as handle:
            return json.load(handle)


def svc(active="inactive", file="disabled", load="loaded", **extra):
    """A unit record of the fake: running units get a PID."""
    record = dict(load=load, active=active, file=file, sub="running" if active == "active" else "dead",
                  pid=4000 if active == "active" else 0)
    record.update(extra)
    return record


def show(*names):
    return SHOW + list(names)


@pytest.fixture
def systemd(tmp_path):
    """systemd(units, journalctl=False) -> FakeSystemd in a fresh directory."""
    def _make(units, journalctl=False):
        return FakeSystemd(tmp_path, units, journalctl=journalctl)
    return _make


@pytest.fixture
def units(run_module_file):
    """units(fake, check=False, diff=False, **args) -> (rc, result)."""
    def _run(fake, check=False, diff=False, **args):
        args = dict(args, systemctl=fake.systemctl, _ansible_check_mode=check, _ansible_diff=diff)
        return run_module_file("units", args)
    return _run


A, B, C = "alicia-a.service", "alicia-b.service", "alicia-c.service"


def started_enabled(*names):
    return [dict(name=name, enabled=True, state="started") for name in names]


# ---------------------------------------------------------------------------
# start, enable, idempotence, daemon-reload
# ---------------------------------------------------------------------------

def test_fresh_units_one_call_per_verb_then_idempotent(systemd, units):
    fake = systemd({A: svc(), B: svc(), C: svc(file="enabled")})
    rc, result = units(fake, daemon_reload=True, units=started_enabled(A, B, C))
    assert rc == 0, result
    assert fake.calls() == [["daemon-reload"], show(A, B, C), ["enable", A, B], ["start", A, B, C], show(A, B, C)]
    assert result["changed"] is True and result["daemon_reloaded"] is True
    assert (result["enabled"], result["started"]) == ([A, B], [A, B, C])
    assert (result["restarted"], result["stopped"], result["disabled"], result["reloaded"]) == ([], [], [], [])
    assert result["units"][A]["actions"] == ["enabled", "started"]
    assert result["units"][C]["actions"] == ["started"]
    before, after = result["units"][A]["before"], result["units"][A]["after"]
    assert before == dict(load_state="loaded", active_state="inactive", sub_state="dead", unit_file_state="disabled",
                          main_pid=0, active=False, enabled=False)
    assert (after["active_state"], after["sub_state"], after["unit_file_state"], after["active"], after["enabled"]) == (
        "active", "running", "enabled", True, True)
    assert after["main_pid"] > 1000, "the after state of a started unit is read again"
    assert "alicia-a.service inactive/disabled -> active/enabled (enabled, started)" in result["msg"]
    assert all(u["active"] == "active" and u["file"] == "enabled" for u in fake.units().values())

    rc, result = units(fake, daemon_reload=False, units=started_enabled(A, B, C))
    assert (rc, result["changed"], result["daemon_reloaded"]) == (0, False, False), result
    assert fake.calls() == [show(A, B, C)], "an idempotent run only reads"
    assert all(result["units"][n]["actions"] == [] for n in (A, B, C))
    assert all(result[k] == [] for k in ("started", "restarted", "stopped", "enabled", "disabled", "reloaded"))


def test_daemon_reload_alone_is_not_a_change(systemd, units):
    fake = systemd({A: svc("active", "enabled")})
    rc, result = units(fake, daemon_reload=True, units=started_enabled(A))
    assert (rc, result["changed"], result["daemon_reloaded"]) == (0, False, True), result
    assert fake.calls() == [["daemon-reload"], show(A)]
    assert fake.data()["daemon_reloads"] == 1

    rc, result = units(fake, daemon_reload=True)
    assert (rc, result["changed"], result["units"]) == (0, False, {})
    assert fake.calls() == [["daemon-reload"]], "nothing to read without units"


def test_only_what_is_asked_for(systemd, units):
    fake = systemd({A: svc("active", "disabled"), B: svc("inactive", "enabled"), C: svc("active", "static")})
    rc, result = units(fake, units=[dict(name=A, state="started"), dict(name=B, enabled=True),
                                    dict(name=C, enabled=True, state="started")])
    assert (rc, result["changed"]) == (0, False), result
    assert fake.calls() == [show(A, B, C)], "omitted enabled/state leave the unit as it is; static needs no enable"

    rc, result = units(fake, units=[dict(name=A, enabled=False), dict(name=B, enabled=False, state="stopped")])
    assert rc == 0, result
    assert fake.calls() == [show(A, B), ["disable", B]], "a disabled unit is not disabled again, a stopped one not stopped"
    assert (result["disabled"], result["stopped"], result["units"][A]["actions"]) == ([B], [], [])
    assert result["units"][B]["after"]["unit_file_state"] == "disabled"


# ---------------------------------------------------------------------------
# restart, reload, order of operations
# ---------------------------------------------------------------------------

def test_restart_list_in_order_and_a_stopped_one_is_started(systemd, units):
    fake = systemd({A: svc("active", "enabled"), B: svc("active", "enabled"), C: svc("inactive", "enabled")})
    rc, result = units(fake, units=started_enabled(A, B, C), restart=[B, A, C])
    assert rc == 0, result
    assert fake.calls() == [show(A, B, C), ["start", C], ["restart", B, A], show(C, B, A)]
    assert (result["started"], result["restarted"]) == ([C], [A, B])
    assert result["units"][C]["actions"] == ["started"], "a unit just started is not restarted as well"
    assert [fake.units()[n]["starts"] for n in (A, B, C)] == [1, 1, 1]

    rc, result = units(fake, restart=[C])
    assert rc == 0 and result["restarted"] == [C], "a unit only in restart is restarted"
    assert fake.calls() == [show(C), ["restart", C], show(C)]
    assert result["changed"] is True


def test_state_restarted_and_reloaded(systemd, units):
    fake = systemd({A: svc("active", "enabled"), B: svc("active", "enabled"), C: svc("inactive", "enabled")})
    rc, result = units(fake, units=[dict(name=A, state="restarted"), dict(name=B, state="reloaded"),
                                    dict(name=C, state="reloaded")])
    assert rc == 0, result
    assert fake.calls() == [show(A, B, C), ["start", C], ["restart", A], ["reload", B], show(C, A, B)]
    assert (result["started"], result["restarted"], result["reloaded"]) == ([C], [A], [B])
    assert fake.units()[B]["reloads"] == 1
    assert "alicia-b.service: active/enabled (reloaded)" in units(fake, diff=True, units=[
        dict(name=B, state="reloaded")])[1]["diff"]["after"]


def test_order_of_operations_one_call_each(systemd, units):
    old, gone = "alicia-old.service", "alicia-gone.service"
    fake = systemd({
        A: svc("active", "enabled"),          # to stop and disable
        B: svc("inactive", "disabled"),       # to enable and start
        C: svc("active", "enabled"),          # to restart
        "alicia-d.service": svc("active", "enabled"),  # to reload
        old: svc("active", "enabled"),        # absent: stop and disable
    })
    rc, result = units(fake, daemon_reload=True,
                       units=[dict(name=A, enabled=False, state="stopped"), dict(name=B, enabled=True, state="started"),
                              dict(name="alicia-d.service", state="reloaded")],
                       restart=[C], absent=[old, gone])
    assert rc == 0, result
    everything = [A, B, "alicia-d.service", C, old, gone]
    assert fake.calls() == [
        ["daemon-reload"], show(*everything), ["stop", A, old], ["disable", A, old], ["enable", B], ["start", B],
        ["restart", C], ["reload", "alicia-d.service"], show(B, C, "alicia-d.service")]
    assert result["units"][old]["actions"] == ["stopped", "disabled"]
    assert result["units"][gone] == dict(actions=[], before=result["units"][gone]["after"],
                                         after=result["units"][gone]["after"])
    assert result["units"][gone]["before"]["load_state"] == "not-found"
    assert fake.units()[old]["active"] == "inactive" and fake.units()[old]["file"] == "disabled"


def test_absent_units_that_do_not_exist_or_lost_their_file(systemd, units):
    orphan = "alicia-orphan.service"  # unit file removed while it still runs
    fake = systemd({orphan: svc("active", "", load="not-found"), A: svc("inactive", "disabled")})
    rc, result = units(fake, absent=["alicia-never.service", orphan, A])
    assert rc == 0, result
    assert fake.calls() == [show("alicia-never.service", orphan, A), ["stop", orphan]]
    assert (result["stopped"], result["disabled"], result["changed"]) == ([orphan], [], True)
    rc, result = units(fake, absent=["alicia-never.service", orphan, A])
    assert (rc, result["changed"]) == (0, False)
    assert fake.calls() == [show("alicia-never.service", orphan, A)]


# ---------------------------------------------------------------------------
# check mode and diff mode
# ---------------------------------------------------------------------------

def test_check_mode_reports_and_changes_nothing(systemd, units):
    new = "alicia-new.service"  # its unit file would be written by an earlier task
    fake = systemd({A: svc(), B: svc("active", "enabled"), "alicia-old.service": svc("active", "enabled")})
    before = fake.units()
    rc, result = units(fake, check=True, diff=True, daemon_reload=True, units=started_enabled(A, new, B),
                       restart=[B], absent=["alicia-old.service"])
    assert rc == 0, result
    calls = fake.calls()
    assert calls == [show(A, new, B, "alicia-old.service")]
    assert not [c for c in calls if c[0] in MUTATING]
    assert fake.units() == before
    assert result["changed"] is True and result["daemon_reloaded"] is True
    assert (result["enabled"], result["started"], result["restarted"]) == ([A, new], [A, new], [B])
    assert (result["stopped"], result["disabled"]) == (["alicia-old.service"], ["alicia-old.service"])
    assert result["units"][new]["actions"] == ["enabled", "started"]
    assert result["units"][new]["before"]["load_state"] == "not-found"
    assert result["units"][new]["after"]["active_state"] == "active"
    assert result["diff"]["before"] == ("alicia-a.service: inactive/disabled\n"
                                        "alicia-new.service: not-found\n"
                                        "alicia-b.service: active/enabled\n"
                                        "alicia-old.service: active/enabled\n")
    assert result["diff"]["after"] == ("alicia-a.service: active/enabled\n"
                                       "alicia-new.service: active/enabled\n"
                                       "alicia-b.service: active/enabled (restarted)\n"
                                       "alicia-old.service: inactive/disabled\n")


def test_check_mode_idempotent_run_is_unchanged(systemd, units):
    fake = systemd({A: svc("active", "enabled")})
    rc, result = units(fake, check=True, diff=True, units=started_enabled(A))
    assert (rc, result["changed"], result["diff"]["before"], result["diff"]["after"]) == (0, False, "", "")
    assert fake.calls() == [show(A)]


# ---------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------

def test_units_not_loaded_fail_before_anything_changes(systemd, units):
    fake = systemd({A: svc(), "alicia-masked.service": svc(file="masked", load="masked")})
    rc, result = units(fake, daemon_reload=True, units=started_enabled(A, "alicia-x.service", "alicia-masked.service"),
                       restart=["alicia-y.service"])
    assert rc == 1
    assert "alicia-x.service is not loaded (LoadState not-found" in result["msg"]
    assert "cannot enable/start it" in result["msg"]
    assert "alicia-y.service is not loaded (LoadState not-found" in result["msg"]
    assert "alicia-masked.service is masked" in result["msg"]
    assert result["failed_units"] == ["alicia-x.service", "alicia-masked.service", "alicia-y.service"]
    assert fake.calls() == [["daemon-reload"], show(A, "alicia-x.service", "alicia-masked.service",
                                                    "alicia-y.service")]
    assert fake.units()[A]["active"] == "inactive"

    rc, result = units(fake, check=True, units=started_enabled("alicia-masked.service"))
    assert rc == 1 and "alicia-masked.service is masked" in result["msg"], "only not-found is fine in check mode"


def test_a_unit_that_fails_to_start_is_named_with_its_status(systemd, units):
    fake = systemd({A: svc(), B: svc(fail=True, journal=["alicia-b[1001]: Error: /etc/alicia/b.env: no such file",
                                                           "systemd[1]: alicia-b.service: Failed with result "
                                                           "'exit-code'."]),
                    C: svc("active", "enabled")})
    rc, result = units(fake, units=started_enabled(A, B), restart=[C])
    assert rc == 1
    assert fake.calls() == [show(A, B, C), ["enable", A, B], ["start", A, B], show(A, B),
                            ["status", "--no-pager", "-n", "20", B]], "no restart after a failed start"
    msg = result["msg"]
    assert msg.startswith("units: systemctl start failed (rc 1) for alicia-b.service: Job for alicia-b.service failed")
    assert "alicia-b.service (failed/enabled, failed):" in msg
    assert "  \u00d7 alicia-b.service - alicia-b" in msg
    assert "Error: /etc/alicia/b.env: no such file" in msg
    assert result["failed_units"] == [B]
    assert (result["enabled"], result["started"], result["restarted"]) == ([A, B], [A], [])
    assert result["units"][B]["after"]["active_state"] == "failed"
    assert fake.units()[A]["active"] == "active"


def test_a_unit_that_dies_after_a_successful_start(systemd, units):
    fake = systemd({A: svc(file="enabled"), B: svc(file="enabled", crash=True, journal=["boom: port 8001 in use"])})
    rc, result = units(fake, units=started_enabled(A, B))
    assert rc == 1
    assert fake.calls() == [show(A, B), ["start", A, B], show(A, B), ["status", "--no-pager", "-n", "20", B]]
    assert result["msg"].startswith("units: alicia-b.service failed after start\nalicia-b.service (failed/enabled")
    assert "boom: port 8001 in use" in result["msg"]
    assert (result["failed_units"], result["started"]) == ([B], [A, B])


def test_status_fallback_to_the_journal(systemd, units):
    fake = systemd({A: svc(file="enabled", crash=True, silent=True, journal=["only in the journal"])},
                   journalctl=True)
    rc, result = units(fake, restart=[A])
    assert rc == 1 and "only in the journal" in result["msg"], result
    assert fake.calls()[-2:] == [["status", "--no-pager", "-n", "20", A],
                                 ["journalctl", "-u", A, "-n", "20", "--no-pager"]]


def test_reload_failure_names_the_unit(systemd, units):
    fake = systemd({A: svc("active", "enabled"), B: svc("active", "enabled", no_reload=True, journal=["reload?"])})
    rc, result = units(fake, units=[dict(name=A, state="reloaded"), dict(name=B, state="reloaded")])
    assert rc == 1
    assert fake.calls() == [show(A, B), ["reload", A, B], show(A, B), ["status", "--no-pager", "-n", "20", A],
                            ["status", "--no-pager", "-n", "20", B]]
    assert "systemctl reload failed (rc 1) for alicia-a.service, alicia-b.service: Failed to reload alicia-b.service: " \
        "Job type reload is not applicable" in result["msg"]
    assert "alicia-b.service (active/enabled, running):" in result["msg"] and "reload?" in result["msg"]
    assert result["reloaded"] == [] and result["changed"] is False


# ---------------------------------------------------------------------------
# wait
# ---------------------------------------------------------------------------

def test_wait_polls_until_active(systemd, units):
    fake = systemd({A: svc(file="enabled", activating=2), B: svc(file="enabled")})
    rc, result = units(fake, units=started_enabled(A, B), wait=10)
    assert rc == 0, result
    assert fake.calls() == [show(A, B), ["start", A, B], show(A, B), show(A, B)]
    assert result["units"][A]["after"]["active_state"] == "active"

    fake = systemd_again(fake, {A: svc(file="enabled", activating=2)})
    rc, result = units(fake, units=started_enabled(A))
    assert rc == 0, "without wait an activating unit is not waited for"
    assert fake.calls() == [show(A), ["start", A], show(A)]
    assert result["units"][A]["after"]["active_state"] == "activating"


def test_wait_fails_naming_a_unit_that_never_settles(systemd, units):
    fake = systemd({A: svc(file="enabled"), B: svc(file="enabled", auto_restart=True, journal=["exit 1, restarting"])})
    rc, result = units(fake, units=started_enabled(A, B), wait=1)
    assert rc == 1
    assert result["msg"].startswith("units: alicia-b.service not active after 1 s\n"
                                    "alicia-b.service (activating/enabled, auto-restart):")
    assert "exit 1, restarting" in result["msg"] and result["failed_units"] == [B]
    calls = fake.calls()
    assert calls[:2] == [show(A, B), ["start", A, B]]
    assert calls.count(show(A, B)) - 1 >= 1, "read again after the start"
    assert calls[-1] == ["status", "--no-pager", "-n", "20", B]


def test_wait_polls_every_half_second_until_the_wait_is_over(systemd):
    """The same fake systemctl, run in process with a fake clock: reads at 0, 0.5 and 1 s of a 1 s wait."""
    from ansible_collections.alicia.platform.plugins.module_utils import _units
    from ansible_collections.alicia.platform.tests.unit.plugins.fake_clock import FakeClock

    fake = systemd({A: svc(file="enabled"), B: svc(file="enabled", auto_restart=True, journal=["exit 1, restarting"])})

    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    clock = FakeClock()
    with pytest.raises(_units.UnitsError) as info:
        _units.reconcile(dict(units=started_enabled(A, B), wait=1), _units.Systemctl(fake.systemctl, run),
                         sleep=clock.sleep, clock=clock)
    assert info.value.failed_units == [B]
    calls = fake.calls()
    assert calls[:2] == [show(A, B), ["start", A, B]]
    assert calls.count(show(A, B)) - 1 == 3 and clock.sleeps == [0.5, 0.5]


def systemd_again(fake, units_):
    with open(fake.state, "w") as handle:
        json.dump(dict(units=units_), handle)
    fake.calls()
    return fake


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (dict(units=[dict(name=A), dict(name=A)]), "units[1]: alicia-a.service is listed twice in units"),
    (dict(units=[dict(name=A)], absent=[A]), "alicia-a.service is both in units and in absent"),
    (dict(restart=[A], absent=[A]), "alicia-a.service is both in restart and in absent"),
    (dict(units=[dict(name=A, state="stopped")], restart=[A]), "alicia-a.service is in restart but has state stopped"),
    (dict(units=[dict(name="alicia-*.service")]), "must not be a pattern"),
    (dict(absent=["two words.service"]), "must not contain white space"),
    (dict(units=[dict(name=A)], wait=-1), "wait must be 0 or more seconds"),
])
def test_bad_arguments_fail_without_any_call(systemd, units, args, expected):
    fake = systemd({A: svc()})
    rc, result = units(fake, daemon_reload=True, **args)
    assert rc == 1 and expected in result["msg"], result
    assert fake.calls() == []
