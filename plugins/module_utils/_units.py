# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many systemd units reconciled in one module execution, as plain functions.

Used by the alicia.platform.units module. Standard library only; every
systemctl call goes through a ``Systemctl`` object built on a ``run``
callable (``module.run_command`` in the module, anything in tests).

Flow: ``check_args`` (every problem with the arguments), ``Systemctl.show``
(ONE ``systemctl show`` for every unit named), ``plan`` (the actions per
unit and the problems that stop the run before anything changes), then
``reconcile`` runs at most one systemctl call per verb, in the order
daemon-reload, stop, disable, enable, start, restart, reload, and checks
the units it started, restarted or reloaded. Nothing here prints or exits;
errors are ``UnitsError`` with the partial result attached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID")
SHOW_ARGS = ("show", "--property=" + ",".join(PROPERTIES))
STATES = ("started", "stopped", "restarted", "reloaded")

# ActiveState values of a unit that runs (or is about to): no start needed, a stop is.
RUNNING = ("active", "activating", "reloading")
# ActiveState values of a unit in the middle of a job: polled while O(wait) lasts.
TRANSITIONAL = ("activating", "deactivating", "reloading")
# UnitFileState values reported as enabled.
ENABLED = ("enabled", "enabled-runtime")
# UnitFileState values for which enabled=true needs no `systemctl enable`
# (the ones `systemctl is-enabled` answers 0 for).
NO_ENABLE_NEEDED = ENABLED + ("static", "indirect", "generated", "transient", "alias")
MASKED = ("masked", "masked-runtime")
# What `systemctl disable` undoes; runtime enablement (enabled-runtime) is left alone.
DISABLE = ("enabled",)

# The order of the systemctl calls, and of the actions of a unit.
OPERATIONS = (("stop", "stopped"), ("disable", "disabled"), ("enable", "enabled"), ("start", "started"),
              ("restart", "restarted"), ("reload", "reloaded"))
ACTIONS = tuple(action for _verb, action in OPERATIONS)
VERBS = dict((action, verb) for verb, action in OPERATIONS)

STATUS_LINES = 20
POLL_INTERVAL = 0.5
OUTPUT_LIMIT = 2000
GLOB_CHARACTERS = "*?[]"

UNIT_OPTIONS = dict(
    name=dict(type="str", required=True),
    enabled=dict(type="bool"),
    state=dict(type="str", choices=list(STATES)),
)


def argument_spec():
    """The module's argument spec."""
    return dict(
        units=dict(type="list", elements="dict", default=[], options=UNIT_OPTIONS),
        restart=dict(type="list", elements="str", default=[]),
        absent=dict(type="list", elements="str", default=[]),
        daemon_reload=dict(type="bool", default=False),
        wait=dict(type="float", default=0),
        systemctl=dict(type="path"),
    )


class UnitsError(Exception):
    """A problem with the arguments, the units or a systemctl call; ``result`` holds what was done before it."""

    def __init__(self, msg, result=None, failed_units=None):
        super(UnitsError, self).__init__(msg)
        self.msg = msg
        self.result = result
        self.failed_units = list(failed_units or [])


def _trim(text, limit=OUTPUT_LIMIT):
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def _name_problem(where, name):
    if not isinstance(name, str) or not name.strip():
        return "%s: a unit name is required" % where
    if name != name.strip() or any(c.isspace() for c in name):
        return "%s: unit name %r must not contain white space" % (where, name)
    if any(c in GLOB_CHARACTERS for c in name):
        return "%s: unit name %r must not be a pattern" % (where, name)
    if name.startswith("-"):
        return "%s: unit name %r must not start with -" % (where, name)
    return None


def check_args(units, restart=None, absent=None, wait=0):
    """Every problem with the arguments as a list of messages (empty when fine); no systemctl call."""
    errors = []
    restart, absent = list(restart or []), list(absent or [])
    states = {}
    for index, entry in enumerate(units or []):
        where = "units[%d]" % index
        name = entry.get("name")
        problem = _name_problem(where, name)
        if problem:
            errors.append(problem)
            continue
        if name in states:
            errors.append("%s: %s is listed twice in units" % (where, name))
            continue
        state = entry.get("state")
        if state is not None and state not in STATES:
            errors.append("%s (%s): state must be one of %s, got %r" % (where, name, ", ".join(STATES), state))
        states[name] = state
    for option, names in (("restart", restart), ("absent", absent)):
        seen = set()
        for index, name in enumerate(names):
            where = "%s[%d]" % (option, index)
            problem = _name_problem(where, name)
            if problem:
                errors.append(problem)
                continue
            if name in seen:
                errors.append("%s: %s is listed twice in %s" % (where, name, option))
            seen.add(name)
    absent_set = set(absent)
    for name in states:
        if name in absent_set:
            errors.append("%s is both in units and in absent" % name)
    for name in restart:
        if name in absent_set:
            errors.append("%s is both in restart and in absent" % name)
        elif states.get(name) == "stopped":
            errors.append("%s is in restart but has state stopped in units" % name)
    if wait is not None and wait < 0:
        errors.append("wait must be 0 or more seconds, got %s" % wait)
    return errors


def unit_names(units, restart=None, absent=None):
    """Every unit named, each once: units, then restart, then absent."""
    names = []
    for name in [entry["name"] for entry in units or []] + list(restart or []) + list(absent or []):
        if name not in names:
            names.append(name)
    return names


# ---------------------------------------------------------------------------
# Unit state
# ---------------------------------------------------------------------------

def unit_state(props):
    """The state of one unit from its ``systemctl show`` properties."""
    try:
        main_pid = int(props.get("MainPID") or 0)
    except ValueError:
        main_pid = 0
    state = dict(
        load_state=props.get("LoadState", ""),
        active_state=props.get("ActiveState", ""),
        sub_state=props.get("SubState", ""),
        unit_file_state=props.get("UnitFileState", ""),
        main_pid=main_pid,
    )
    return _with_flags(state)


def _with_flags(state):
    state["active"] = state["active_state"] in RUNNING
    state["enabled"] = state["unit_file_state"] in ENABLED
    return state


def parse_show(text, names):
    """name -> unit_state for ``systemctl show`` output: one block per name, blank-line separated, in order."""
    blocks = []
    current = None
    for line in (text or "").splitlines():
        if not line.strip():
            current = None
            continue
        if current is None:
            current = {}
            blocks.append(current)
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if len(blocks) != len(names):
        raise UnitsError("systemctl show printed %d unit(s) for %d asked (%s): %s"
                         % (len(blocks), len(names), " ".join(names), _trim(text, 500) or "no output"))
    return dict((name, unit_state(block)) for name, block in zip(names, blocks))


def describe(state):
    """How a state shows in messages and diffs: active/enabled, inactive/disabled, not-found."""
    if state["load_state"] == "not-found" and state["active_state"] in ("inactive", ""):
        return "not-found"
    return "%s/%s" % (state["active_state"] or "unknown", state["unit_file_state"] or state["load_state"] or "unknown")


# ---------------------------------------------------------------------------
# systemctl
# ---------------------------------------------------------------------------

class Systemctl(object):
    """systemctl through ``run(argv) -> (rc, stdout, stderr)``; ``calls`` records every argv run."""

    def __init__(self, binary, run, journalctl=None):
        self.binary = binary
        self.run = run
        self.journalctl = journalctl
        self.calls = []

    def _run(self, args, binary=None):
        argv = [binary or self.binary] + list(args)
        self.calls.append(argv)
        return self.run(argv)

    def show(self, names):
        """name -> unit_state for every name, in ONE systemctl show call."""
        if not names:
            return {}
        rc, out, err = self._run(list(SHOW_ARGS) + list(names))
        if rc != 0:
            raise UnitsError("systemctl show %s failed (rc %d): %s"
                             % (" ".join(names), rc, _trim(err or out) or "no output"))
        return parse_show(out, names)

    def call(self, verb, names=()):
        return self._run([verb] + list(names))

    def status_lines(self, name):
        """The last lines of ``systemctl status`` (or, when it prints nothing, the journal) of a unit."""
        rc, out, err = self._run(["status", "--no-pager", "-n", str(STATUS_LINES), name])
        lines = [line.rstrip() for line in (out or "").splitlines() if line.strip()]
        if not lines and self.journalctl:
            rc, out, err = self._run(["-u", name, "-n", str(STATUS_LINES), "--no-pager"], binary=self.journalctl)
            lines = [line.rstrip() for line in (out or "").splitlines() if line.strip()]
        if not lines:
            lines = [line.rstrip() for line in (err or "").splitlines() if line.strip()]
        return lines[-(STATUS_LINES + 10):]


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------

def _load_problem(name, state, what, check_mode):
    """Why a unit cannot be acted on (None when it can); not-found is fine in check mode."""
    load = state["load_state"]
    if load == "masked" or state["unit_file_state"] in MASKED:
        return "%s is masked: cannot %s it" % (name, what)
    if load == "not-found":
        if check_mode:
            return None
        return "%s is not loaded (LoadState not-found: no such unit file): cannot %s it" % (name, what)
    if load != "loaded":
        return "%s is not loaded (LoadState %s): cannot %s it" % (name, load or "unknown", what)
    return None


def _enable_needed(state, enabled):
    if enabled is True:
        if state["unit_file_state"] in NO_ENABLE_NEEDED:
            return False
        # a loaded unit without a unit file (UnitFileState empty) cannot be enabled
        return not (state["load_state"] == "loaded" and not state["unit_file_state"])
    return False


def plan(units, restart, absent, states, check_mode=False):
    """(actions, problems): name -> [actions in OPERATIONS order] for every unit, and [(name, why)] the run
    cannot go on.

    ``restart`` units and units with state restarted are restarted when
    they run and started when they do not; state reloaded reloads a
    running unit and starts one that does not run.
    """
    restart = list(restart or [])
    actions = dict((name, []) for name in states)
    problems = []
    wanted = []  # (name, enabled, state) for units and restart-only units
    by_name = dict((entry["name"], entry) for entry in units or [])
    for entry in units or []:
        state = entry.get("state")
        if entry["name"] in restart:
            state = "restarted"
        wanted.append((entry["name"], entry.get("enabled"), state))
    for name in restart:
        if name not in by_name:
            wanted.append((name, None, "restarted"))

    for name, enabled, want in wanted:
        current = states[name]
        todo = []
        if _enable_needed(current, enabled):
            todo.append("enabled")
        elif enabled is False and current["unit_file_state"] in DISABLE:
            todo.append("disabled")
        if want in ("started", "restarted", "reloaded"):
            if current["active_state"] not in RUNNING:
                todo.append("started")
            elif want == "restarted":
                todo.append("restarted")
            elif want == "reloaded":
                todo.append("reloaded")
        elif want == "stopped" and current["active_state"] in RUNNING:
            todo.append("stopped")
        needs_unit = [VERBS[a] for a in todo if a in ("enabled", "started", "restarted", "reloaded")]
        if needs_unit:
            problem = _load_problem(name, current, "/".join(needs_unit), check_mode)
            if problem:
                problems.append((name, problem))
        actions[name] = todo

    for name in absent or []:
        current = states[name]
        todo = []
        if current["active_state"] in RUNNING:
            todo.append("stopped")
        if current["unit_file_state"] in DISABLE:
            todo.append("disabled")
        actions[name] = todo
    for name in actions:
        actions[name] = [a for a in ACTIONS if a in actions[name]]
    return actions, problems


def operations(actions, restart_order):
    """[(verb, action, [names])] for the systemctl calls to make, in OPERATIONS order; restart in ``restart_order``."""
    ops = []
    for verb, action in OPERATIONS:
        names = [name for name in actions if action in actions[name]]
        if action == "restarted":
            names = [n for n in restart_order if n in names] + [n for n in names if n not in restart_order]
        if names:
            ops.append((verb, action, names))
    return ops


def predict(state, actions):
    """The state a unit will have after its actions."""
    after = dict(state)
    for action in actions:
        if action == "enabled":
            after["unit_file_state"] = "enabled"
            if after["load_state"] == "not-found":
                after["load_state"] = "loaded"
        elif action == "disabled":
            after["unit_file_state"] = "disabled"
        elif action in ("started", "restarted", "reloaded"):
            after.update(active_state="active", sub_state="running")
            if after["load_state"] == "not-found":
                after["load_state"] = "loaded"
        elif action == "stopped":
            after.update(active_state="inactive", sub_state="dead", main_pid=0)
    return _with_flags(after)


# ---------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------

class Outcome(object):
    """The result being built: per unit before/after/actions, the lists per action, the diff."""

    def __init__(self, names, states, want_diff):
        self.names = list(names)
        self.want_diff = want_diff
        self.before = dict((name, dict(states[name])) for name in self.names)
        self.after = dict((name, dict(states[name])) for name in self.names)
        self.done = dict((name, []) for name in self.names)
        self.daemon_reloaded = False

    def record(self, name, action, after=None):
        if action not in self.done[name]:
            self.done[name].append(action)
        self.after[name] = after if after is not None else predict(self.after[name], [action])

    def result(self):
        units = {}
        lists = dict((action, []) for action in ACTIONS)
        changed_lines = []
        before_lines, after_lines = [], []
        for name in self.names:
            done = [a for a in ACTIONS if a in self.done[name]]
            units[name] = dict(actions=done, before=self.before[name], after=self.after[name])
            for action in done:
                lists[action].append(name)
            if done:
                before_text, after_text = describe(self.before[name]), describe(self.after[name])
                if "restarted" in done or "reloaded" in done:
                    after_text += " (%s)" % ", ".join(a for a in done if a in ("restarted", "reloaded"))
                before_lines.append("%s: %s\n" % (name, describe(self.before[name])))
                after_lines.append("%s: %s\n" % (name, after_text))
                changed_lines.append("%s %s -> %s (%s)" % (name, before_text, after_text, ", ".join(done)))
        changed = bool(changed_lines)
        result = dict(changed=changed, units=units, daemon_reloaded=self.daemon_reloaded)
        result.update(lists)
        if changed:
            result["msg"] = "%d of %d units changed: %s" % (len(changed_lines), len(self.names),
                                                            "; ".join(changed_lines))
        else:
            result["msg"] = "%d units in the desired state" % len(self.names)
        if self.want_diff:
            result["diff"] = dict(before_header="systemd units", after_header="systemd units",
                                  before="".join(before_lines), after="".join(after_lines))
        return result


# ---------------------------------------------------------------------------
# Reconciling
# ---------------------------------------------------------------------------

def _status_report(systemctl, names, states):
    """Lines naming each unit with its state and its status/journal lines."""
    report = []
    for name in names:
        report.append("%s (%s%s):" % (name, describe(states[name]),
                                      ", %s" % states[name]["sub_state"] if states[name]["sub_state"] else ""))
        report.extend("  " + line for line in systemctl.status_lines(name))
    return report


def _failed_call(systemctl, outcome, verb, action, names, rc, out, err):
    """The UnitsError for a systemctl call that failed; units it did act on are recorded first."""
    output = _trim(err or out) or "no output"
    failing = list(names)
    report = []
    if action in ("started", "restarted", "reloaded"):
        try:
            now = systemctl.show(names)
        except UnitsError:
            now = None
        if now is not None:
            if action != "reloaded":  # a unit that runs after a failed start/restart call did start
                failing = [n for n in names if now[n]["active_state"] not in RUNNING] or list(names)
            for name in names:
                if name in failing:
                    outcome.after[name] = now[name]
                else:
                    outcome.record(name, action, now[name])
            report = _status_report(systemctl, failing, now)
    msg = "systemctl %s failed (rc %d) for %s: %s" % (verb, rc, ", ".join(failing), output)
    if report:
        msg += "\n" + "\n".join(report)
    return UnitsError(msg, result=outcome.result(), failed_units=failing)


def _settle(systemctl, names, wait, sleep, clock):
    """Read the units until none is in a transitional state or ``wait`` seconds have passed."""
    deadline = clock() + (wait or 0)
    while True:
        states = systemctl.show(names)
        pending = [n for n in names if states[n]["active_state"] in TRANSITIONAL]
        remaining = deadline - clock()
        if not pending or remaining <= 0:
            return states, pending
        sleep(min(POLL_INTERVAL, remaining))


def _verify(systemctl, outcome, checked, wait, sleep, clock):
    """Check the units started, restarted or reloaded; fail naming each failed one with its status lines."""
    names = [name for name, _action in checked]
    states, pending = _settle(systemctl, names, wait, sleep, clock)
    for name, _action in checked:
        outcome.after[name] = _with_flags(dict(states[name]))
    failed = [n for n in names if states[n]["active_state"] == "failed"]
    late = [n for n in pending if wait and n not in failed]
    if not failed and not late:
        return
    parts = []
    if failed:
        parts.append("%s failed after %s" % (", ".join(failed), "/".join(
            sorted(set(VERBS[a] for n, a in checked if n in failed)))))
    if late:
        parts.append("%s not active after %s s" % (", ".join(late), ("%g" % wait)))
    report = _status_report(systemctl, failed + late, states)
    raise UnitsError("; ".join(parts) + "\n" + "\n".join(report), result=outcome.result(),
                     failed_units=failed + late)


def reconcile(params, systemctl, check_mode=False, want_diff=False, sleep=time.sleep, clock=time.monotonic):
    """Bring the units of ``params`` (the module's options) to their desired state; the result dict.

    Raises UnitsError for bad arguments or units (before anything changes)
    and for a failed systemctl call or unit (with the partial result).
    """
    units = params.get("units") or []
    restart = params.get("restart") or []
    absent = params.get("absent") or []
    wait = params.get("wait") or 0
    errors = check_args(units, restart, absent, wait)
    if errors:
        raise UnitsError("; ".join(errors))

    reloaded = False
    if params.get("daemon_reload"):
        if not check_mode:
            rc, out, err = systemctl.call("daemon-reload")
            if rc != 0:
                raise UnitsError("systemctl daemon-reload failed (rc %d): %s" % (rc, _trim(err or out) or "no output"))
        reloaded = True

    names = unit_names(units, restart, absent)
    states = systemctl.show(names)
    actions, problems = plan(units, restart, absent, states, check_mode)
    outcome = Outcome(names, states, want_diff)
    outcome.daemon_reloaded = reloaded
    if problems:
        raise UnitsError("; ".join(why for _name, why in problems), result=outcome.result(),
                         failed_units=[name for name, _why in problems])

    ops = operations(actions, restart + [e["name"] for e in units if e.get("state") == "restarted"])
    if check_mode:
        for _verb, action, op_names in ops:
            for name in op_names:
                outcome.record(name, action)
        return outcome.result()

    checked = []
    for verb, action, op_names in ops:
        rc, out, err = systemctl.call(verb, op_names)
        if rc != 0:
            raise _failed_call(systemctl, outcome, verb, action, op_names, rc, out, err)
        for name in op_names:
            outcome.record(name, action)
            if action in ("started", "restarted", "reloaded"):
                checked.append((name, action))
    if checked:
        _verify(systemctl, outcome, checked, wait, sleep, clock)
    return outcome.result()
