# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runtime supervisor: the program sections' `environment=` value, and the
reconcile of a list of supervisord programs through `supervisorctl` (one
`update` when sections changed, one `restart` for the programs whose own
files changed, one `start`/`stop`, per-program state from `status`).

Plain functions over a ``run(argv) -> (rc, stdout, stderr)`` callable, so
that the module and the unit tests (a fake supervisorctl) share them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

STATES = ("started", "stopped", "restarted", "absent")
# supervisorctl status states (supervisor/states.py ProcessStates).
RUNNING_STATES = ("RUNNING", "STARTING", "BACKOFF")
STOPPED_STATES = ("STOPPED", "EXITED", "FATAL", "UNKNOWN")
_STATUS_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<state>[A-Z]+)\s*(?P<description>.*)$")
_PID = re.compile(r"pid (\d+)")
# A program name supervisor accepts in `[program:x]` and supervisorctl.
_PROGRAM_NAME = re.compile(r"^[A-Za-z0-9_.-]+\Z")


class SupervisorError(Exception):
    """A supervisorctl call failed or an input cannot be expressed."""


# ---- environment= -----------------------------------------------------------


def environment_problem(name, value):
    """Why ``value`` cannot be written in supervisor's environment= (None when it can).

    supervisord parses the line with configparser (inline comments after a
    blank: ``;``, ``#``), expands ``%(...)s`` (``%`` is written ``%%``) and
    splits the pairs with a non-POSIX shlex: a value is one quoted token
    without escapes, from which every leading and trailing quote is stripped.
    Never includes the value (it may be a secret).
    """
    text = "" if value is None else str(value)
    if '"' in text and "'" in text:
        return "variable %s: a value holding both ' and \" cannot be written in supervisor's environment=" % name
    if text[:1] in ("'", '"') or text[-1:] in ("'", '"'):
        return "variable %s: a value starting or ending with a quote cannot be written in supervisor's environment=" % name
    if re.search(r"\s[;#]", text):
        return ("variable %s: a blank followed by ; or # starts a comment in supervisor's configuration file"
                % name)
    if any(c in text for c in "\n\r\0"):
        return "variable %s: a value with a line break or NUL cannot be written in supervisor's environment=" % name
    return None


def environment_value(env):
    """supervisor's environment= value for ``env`` (NAME -> value), names sorted.

    Each value is quoted with the quote it does not contain ("..." unless it
    holds a double quote) and ``%`` doubled; ``$``, commas, backslashes pass
    as they are (supervisord expands no ``$``). Raises SupervisorError naming
    the variable (never the value) when a value cannot be written.
    """
    if not isinstance(env, dict):
        raise SupervisorError("environment must be a mapping of variable name to value, got %s"
                              % type(env).__name__)
    pairs = []
    for name in sorted(env):
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", str(name)):
            raise SupervisorError("environment variable name %r is not an identifier" % (name,))
        value = env[name]
        text = "" if value is None else (("true" if value else "false") if isinstance(value, bool) else str(value))
        problem = environment_problem(name, text)
        if problem:
            raise SupervisorError(problem)
        quote = "'" if '"' in text else '"'
        pairs.append("%s=%s%s%s" % (name, quote, text.replace("%", "%%"), quote))
    return ",".join(pairs)


# ---- supervisorctl --------------------------------------------------------


def parse_status(text):
    """`supervisorctl status` output -> {program: {state, pid, description}}."""
    programs = {}
    for line in (text or "").splitlines():
        match = _STATUS_LINE.match(line.strip())
        if not match:
            continue
        description = match.group("description").strip()
        pid = _PID.search(description) if match.group("state") == "RUNNING" else None
        programs[match.group("name")] = {"state": match.group("state"), "pid": int(pid.group(1)) if pid else None,
                                         "description": description}
    return programs


def _names(value, field):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise SupervisorError("%s must be a list of program names, got %s" % (field, type(value).__name__))
    for name in value:
        if not isinstance(name, str) or not _PROGRAM_NAME.match(name):
            raise SupervisorError("%s: %r is not a supervisor program name (letters, digits, _ . -)" % (field, name))
    return list(dict.fromkeys(value))


class Supervisorctl:
    """supervisorctl calls through ``run(argv) -> (rc, stdout, stderr)``."""

    def __init__(self, run, supervisorctl="supervisorctl", config=None):
        self._run = run
        self.base = [supervisorctl] + (["-c", config] if config else [])
        self.commands = []

    def call(self, *args, **kwargs):
        argv = self.base + list(args)
        self.commands.append(" ".join(args))
        rc, out, err = self._run(argv)
        if rc != 0 and not kwargs.get("allow_fail"):
            raise SupervisorError("%s failed (rc %s): %s" % (" ".join(argv), rc, (err or out or "").strip()))
        # supervisorctl reports some failures with rc 0 ("ERROR (no such process)").
        if not kwargs.get("allow_fail"):
            errors = [line for line in (out or "").splitlines() if "ERROR" in line and "already started" not in line
                      and "not running" not in line]
            if errors:
                raise SupervisorError("%s: %s" % (" ".join(argv), "; ".join(errors)))
        return rc, out, err

    def status(self):
        # rc 3 when a program is not running (supervisor 4): still a status.
        rc, out, err = self.call("status", allow_fail=True)
        if rc not in (0, 3) or "refused connection" in (out or "") or "no such file" in (out or "").lower():
            raise SupervisorError("supervisorctl status failed (rc %s): %s" % (rc, (err or out or "").strip()))
        return parse_status(out)


def reconcile(ctl, programs, state="started", updated=None, restart=None, absent=None, check_mode=False):
    """Bring ``programs`` to ``state`` with as few supervisorctl calls as possible.

    - ``updated``: programs whose section changed (or appeared/went): one
      ``supervisorctl update`` (it rereads the configuration, adds, removes
      and restarts exactly the changed groups); none: no update.
    - ``restart``: programs whose own files changed (environment, release):
      one ``supervisorctl restart`` for those the update did not just restart.
    - ``absent``: programs to stop and forget (their section is gone).
    - ``state``: started (start what does not run), stopped, restarted
      (every program), absent (stop and remove every program).

    Returns {changed, actions (program -> [actions]), commands, programs
    (program -> status after)}.
    """
    if state not in STATES:
        raise SupervisorError("state must be one of %s, got %r" % (", ".join(STATES), state))
    programs = _names(programs, "programs")
    updated = _names(updated, "updated")
    restart = _names(restart, "restart")
    absent = _names(absent, "absent")
    if state == "absent":
        absent = list(dict.fromkeys(absent + programs))
        programs = []
    actions = {}

    def act(name, action):
        actions.setdefault(name, []).append(action)

    before = ctl.status()
    # 1. Sections changed: one update (reread included).
    if updated:
        for name in updated:
            if name in absent:
                continue
            act(name, "updated" if name in before else "added")
        if not check_mode:
            ctl.call("update")
    current = before if check_mode or not updated else ctl.status()
    # 2. Programs to forget: stop and remove what update left.
    gone = [name for name in absent if name in current]
    if gone:
        for name in gone:
            act(name, "removed")
        if not check_mode:
            running = [n for n in gone if current[n]["state"] in RUNNING_STATES]
            if running:
                ctl.call("stop", *running, allow_fail=True)
            ctl.call("remove", *gone, allow_fail=True)
            current = ctl.status()
    # 3. The programs' state.
    fresh = [n for n in updated if n in programs]
    if state == "restarted":
        targets = [n for n in programs if n not in fresh or check_mode]
    elif state == "started":
        targets = [n for n in restart if n in programs and n not in fresh]
    else:
        targets = []
    if state in ("started", "restarted"):
        missing = [n for n in programs if n not in current and n not in fresh]
        if missing and check_mode:
            for name in missing:
                act(name, "added")
        elif missing:
            raise SupervisorError("supervisord has no program %s: is its section in the configuration "
                                  "(conf.d) and was it updated?" % ", ".join(missing))
        restarted = [n for n in targets if n in current]
        if restarted:
            for name in restarted:
                act(name, "restarted")
            if not check_mode:
                ctl.call("restart", *restarted)
                current = ctl.status()
        stopped = [n for n in programs if n in current and n not in restarted
                   and current[n]["state"] not in RUNNING_STATES]
        if stopped:
            for name in stopped:
                act(name, "started")
            if not check_mode:
                ctl.call("start", *stopped)
                current = ctl.status()
    elif state == "stopped":
        running = [n for n in programs if n in current and current[n]["state"] in RUNNING_STATES]
        if running:
            for name in running:
                act(name, "stopped")
            if not check_mode:
                ctl.call("stop", *running)
                current = ctl.status()
    report = dict((n, current.get(n, {"state": "ABSENT", "pid": None, "description": ""}))
                  for n in programs + [a for a in absent if a not in programs])
    return {"changed": bool(actions), "actions": actions, "commands": list(ctl.commands), "programs": report}
