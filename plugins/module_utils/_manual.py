# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runtime manual: drive the control script (roles/service/files/alicia-servicectl,
the one copy of the start/stop/status logic) for a list of services, in
dependency order, each at most once per verb: status first, then only what
differs (start what does not run or is unhealthy, restart what changed,
stop, remove). Plain functions over ``run(argv) -> (rc, stdout, stderr)``.
Every call names the configurations' and the pid files' directories
(``--config-dir``, ``--run-dir``): the role's settings, not the script's
defaults.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

STATES = ("started", "stopped", "restarted", "absent")
# The control script's own defaults (alicia-servicectl CONFIG_DIR, RUN_DIR).
CONFIG_DIR = "/etc/alicia/manual"
RUN_DIR = "/run/alicia"
_SERVICE = re.compile(r"^[a-z0-9_]+\Z")


class ManualError(Exception):
    def __init__(self, message, result=None):
        super(ManualError, self).__init__(message)
        self.result = result or {}


def argv(ctl, service, verb, config_dir=CONFIG_DIR, run_dir=RUN_DIR):
    """The control script's command line: always both directories."""
    return [ctl, service, verb, "--json", "--config-dir", config_dir, "--run-dir", run_dir]


def call(run, ctl, service, verb, config_dir=CONFIG_DIR, run_dir=RUN_DIR):
    """One control script call: its JSON result (rc in ``rc``)."""
    rc, out, err = run(argv(ctl, service, verb, config_dir, run_dir))
    try:
        result = json.loads((out or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ManualError("%s %s %s: no JSON answer (rc %s): %s" % (ctl, service, verb, rc, (err or out or "").strip()))
    result["rc"] = rc
    return result


def _names(value, field):
    if not isinstance(value, (list, tuple)):
        raise ManualError("%s must be a list of service names, got %s" % (field, type(value).__name__))
    for name in value:
        if not isinstance(name, str) or not _SERVICE.match(name):
            raise ManualError("%s: %r is not a catalogue service name" % (field, name))
    return list(dict.fromkeys(value))


def _directory(value, field):
    """An absolute directory path (the control script refuses anything else)."""
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise ManualError("%s must be an absolute directory path, got %r" % (field, value))
    return value.rstrip("/") or "/"


def reconcile(run, ctl, services, state="started", restart=None, absent=None, check_mode=False,
              config_dir=CONFIG_DIR, run_dir=RUN_DIR):
    """Bring ``services`` (in dependency order) to ``state``.

    started: a running, healthy service not in ``restart`` is left alone;
    one in ``restart`` (its files changed) is restarted; one not running or
    unhealthy is started. stopped/absent: stop what runs (absent also the
    ``absent`` services, whose configuration may be gone). restarted: every
    service. Every call passes ``config_dir`` (the services' JSON
    configurations) and ``run_dir`` (the default pid files' directory, used
    when a configuration is gone). Returns {changed, actions, services (name -> status after)};
    raises ManualError (with that result) naming the services that failed.
    """
    if state not in STATES:
        raise ManualError("state must be one of %s, got %r" % (", ".join(STATES), state))
    services = _names(services, "services")
    restart = _names(restart or [], "restart")
    absent = _names(absent or [], "absent")
    dirs = {"config_dir": _directory(config_dir, "config_dir"), "run_dir": _directory(run_dir, "run_dir")}
    if state == "absent":
        absent = list(dict.fromkeys(absent + services))
        services = []
    actions, report, failed = {}, {}, []
    for name in absent:
        if check_mode:
            current = call(run, ctl, name, "status", **dirs)
            if current.get("running"):
                actions[name] = ["stopped"]
            report[name] = current
            continue
        result = call(run, ctl, name, "stop", **dirs)
        if result.get("failed"):
            failed.append(result["message"])
        elif result.get("action") in ("stopped", "cleaned"):
            actions[name] = [result["action"]]
        report[name] = result
    for name in services:
        current = call(run, ctl, name, "status", **dirs)
        if current.get("failed"):
            if check_mode and state in ("started", "restarted"):
                actions[name] = ["started"]
                report[name] = current
                continue
            failed.append(current["message"])
            report[name] = current
            continue
        verb = None
        if state == "restarted" or (state == "started" and name in restart and current["running"]):
            verb = "restart"
        elif state == "started" and not (current["running"] and current["healthy"]):
            verb = "start"
        elif state == "stopped" and current["running"]:
            verb = "stop"
        if verb is None:
            report[name] = current
            continue
        actions[name] = [{"restart": "restarted", "start": "started", "stop": "stopped"}[verb]]
        if check_mode:
            report[name] = current
            continue
        result = call(run, ctl, name, verb, **dirs)
        report[name] = result
        if result.get("failed"):
            failed.append(result["message"])
            # A later service may require this one: stop here.
            if state in ("started", "restarted"):
                break
    result = {"changed": bool(actions), "actions": actions, "services": report}
    if failed:
        raise ManualError("\n".join(failed), result)
    return result
