# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A roll of instances behind HAProxy (module alicia.platform.roll), as plain functions.

Each instance of ``instances``, in order, in one module execution:

1. drained at the balancer (``set server <backend>/<server> state drain``:
   no new request; those in flight finish, the unit's graceful stop waits
   for them);
2. restarted (``systemctl restart <unit>``);
3. gated on its own port (``health.gate``: ``healthy_reads`` healthy answers
   in a row; a crash loop of its unit fails at once);
4. back in rotation (``state ready``), at ``weight`` when the instance names
   one (a canary's small weight), else at the weight it had.

An instance that does not turn healthy stays drained and ends the roll: the
instances after it are not touched, and the other instances of its service
keep serving. The failure is returned (``failed_instance``), not raised: the service
role's gate fails the service and rolls back exactly the instances this roll
restarted (``rolled``). A refused HAProxy command or systemctl call is an
error (``RollError``, with what was done before it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.module_utils import _haproxy

INSTANCE_KEYS = ("service", "instance", "unit", "backend", "server", "endpoint")


class RollError(Exception):
    """A bad request, or a command the host or HAProxy refused; ``result`` is what was done before."""

    def __init__(self, msg, result=None):
        super(RollError, self).__init__(msg)
        self.msg = msg
        self.result = result


def check_instances(instances):
    """Every problem of the request, one message each ([]: good)."""
    problems = []
    if not isinstance(instances, list):
        return ["instances must be a list"]
    seen = set()
    for index, inst in enumerate(instances):
        where = "instances[%d]" % index
        if not isinstance(inst, dict):
            problems.append("%s must be a mapping" % where)
            continue
        missing = [key for key in INSTANCE_KEYS if not inst.get(key)]
        if missing:
            problems.append("%s (%s) lacks %s" % (where, inst.get("instance") or "?", ", ".join(missing)))
            continue
        if inst["instance"] in seen:
            problems.append("%s: instance %s is listed twice" % (where, inst["instance"]))
        seen.add(inst["instance"])
        weight = inst.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int)
                                   or not 0 <= weight <= _haproxy.WEIGHT_MAX):
            problems.append("%s (%s): weight must be an integer from 0 to %d"
                            % (where, inst["instance"], _haproxy.WEIGHT_MAX))
    return problems


def _server(api, inst, state, weight=None):
    """One server to ``state`` (and ``weight``) through alicia.platform.haproxy_server's logic."""
    request = {"service": inst["backend"], "server": inst["server"], "state": state, "weight": weight}
    return _haproxy.reconcile({"servers": [request]}, api)


def roll(params, api, run, check_mode=False, gate=None, clock=time.monotonic, sleep=time.sleep):
    """Roll ``params["instances"]`` one at a time (see the module's docstring); the module's result."""
    instances = params.get("instances") or []
    problems = check_instances(instances)
    if problems:
        raise RollError("; ".join(problems))
    if gate is None:
        def gate(endpoint):
            return health.gate([endpoint], timeout=float(params["timeout"]), interval=float(params["interval"]),
                               healthy_reads=int(params["healthy_reads"]),
                               healthy_interval=float(params["healthy_interval"]), run=run, clock=clock, sleep=sleep)
    result = {"changed": False, "rolled": [], "failed_instance": None, "instances": [], "actions": {}}
    if check_mode:
        result["changed"] = bool(instances)
        result["instances"] = [{"instance": inst["instance"], "service": inst["service"], "rolled": False,
                                "healthy": None} for inst in instances]
        result["msg"] = "would roll %s" % (", ".join(inst["instance"] for inst in instances) or "nothing")
        return result
    for inst in instances:
        started = clock()
        entry = {"instance": inst["instance"], "service": inst["service"], "rolled": False, "healthy": False}
        result["instances"].append(entry)
        try:
            _server(api, inst, "drain")
        except _haproxy.HAProxyError as exc:
            raise RollError("%s: not drained at the balancer, not restarted: %s" % (inst["instance"], exc), result)
        result["changed"] = True
        rc, out, err = run(["systemctl", "restart", inst["unit"]])
        # Restarted or not, the unit may have stopped: it counts as touched (the rollback restarts it).
        result["rolled"].append(inst["instance"])
        entry["rolled"] = True
        result["actions"][inst["unit"]] = ["restarted"]
        if rc != 0:
            verdict = {"healthy": False, "elapsed": 0.0,
                       "msg": "systemctl restart %s failed: %s" % (inst["unit"], (err or out or "").strip())}
        else:
            verdict = gate(inst["endpoint"])
        entry["healthy"] = bool(verdict["healthy"])
        entry["gate_seconds"] = verdict.get("elapsed")
        if not verdict["healthy"]:
            # Left drained: the other instances keep serving the previous release.
            entry["seconds"] = round(clock() - started, 3)
            msg = "%s: not healthy after its restart, left drained at the balancer: %s" % (
                inst["instance"], verdict.get("msg") or "unhealthy")
            result["failed_instance"] = {"service": inst["service"], "instance": inst["instance"], "msg": msg}
            break
        try:
            _server(api, inst, "ready", inst.get("weight"))
        except _haproxy.HAProxyError as exc:
            raise RollError("%s: healthy but not put back in rotation: %s" % (inst["instance"], exc), result)
        entry["seconds"] = round(clock() - started, 3)
    done = ["%s (%.1f s)" % (e["instance"], e.get("seconds", 0.0)) for e in result["instances"] if e["healthy"]]
    result["msg"] = "rolled %s" % (", ".join(done) or "nothing")
    if result["failed_instance"]:
        result["msg"] += "; " + result["failed_instance"]["msg"]
    return result
