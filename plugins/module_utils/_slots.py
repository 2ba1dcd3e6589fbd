# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green slots (module alicia.platform.slots), as plain functions.

A blue-green service runs in one of two slots, each a systemd unit on its
own loopback port running its own release (a link ``<install>/<service>/<slot>``
to ``releases/<version>``) with its own frozen copy of the service's
environment file. HAProxy publishes the service's port and sends every
request to the backend of the live slot, which the slots map
(``<service> <service>_<slot>`` per line) names. The idle slot is stopped
but installed.

``reconcile`` brings each service to its wanted release in one pass:

* the live slot already runs it (same release link, same environment,
  nothing in ``refresh``): kept, the units' states fixed (live running and
  enabled, idle stopped and disabled);
* otherwise the idle slot gets the release and a copy of the environment,
  is (re)started and gated on its own port (consecutive healthy reads, a
  crash loop fails at once); HAProxy must see it up; then one runtime API
  command (``set map``) switches the frontend to it, the map file is
  rewritten (a reload or restart reads it), the old slot finishes its
  requests (its backend's sessions reach 0, bounded by ``drain_timeout``)
  and is stopped but stays installed. A switch back (a rollback) is the
  same step towards the other slot.

A slot that fails its gate is stopped again: the live slot has served
throughout. The failure is returned (``failed``), not raised: the service
role fails its gate for that service, which records it and rolls the
service's files back.

With ``canary`` (strategy canary), a switch goes through a canary first:
the gated new slot gets a small weight in the service's canary backend (both
slot servers, ``canary_backend``), the live map entry names that backend,
and the new slot is watched beside the live one for a window
(``_canary.watch``: its health, too little traffic or a higher error rate
fail it). A good canary is switched in as above; a bad one is taken out (the
map names the live slot again, the new slot stops) and its service fails.
The map file keeps naming the live slot during the window, so a reload or a
restart of HAProxy then sends everything to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.module_utils._canary import parse_stat
from ansible_collections.alicia.platform.plugins.module_utils._canary import watch as watch_canary
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import HAProxyError, parse_servers_state, send

# `show servers state`'s srv_op_state of a server that is up.
SRV_RUNNING = 2


class SlotsError(Exception):
    """A bad request, or something on the host that refused (a systemctl or file error)."""


# ---- The map file ----------------------------------------------------------------

def parse_map(text):
    """``{key: value}`` of a HAProxy map file (comments and blank lines skipped)."""
    found = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            found[parts[0]] = parts[1].strip()
    return found


def render_map(entries):
    """A map file's text, one ``key value`` line per entry, sorted."""
    lines = ["# Blue-green: the live slot's backend of each service (alicia.platform.slots)."]
    lines += ["%s %s" % (key, entries[key]) for key in sorted(entries)]
    return "\n".join(lines) + "\n"


# ---- The request -----------------------------------------------------------------

SLOT_KEYS = ("name", "unit", "port", "link", "env", "backend", "server")


def check_services(services, canary=None):
    """Every problem of the ``services`` option, one message each (``[]`` when all is well)."""
    problems = []
    seen = set()
    for index, svc in enumerate(services or []):
        where = "services[%d]" % index
        if not isinstance(svc, dict) or not svc.get("service"):
            problems.append("%s: must be a mapping with a service name" % where)
            continue
        where = "service %s" % svc["service"]
        if svc["service"] in seen:
            problems.append("%s: listed more than once" % where)
        seen.add(svc["service"])
        for key in ("release", "env", "health"):
            if not svc.get(key):
                problems.append("%s: %s is required" % (where, key))
        slots = svc.get("slots")
        if not isinstance(slots, list) or len(slots) != 2:
            problems.append("%s: slots must list 2 slots" % where)
            continue
        for slot in slots:
            missing = [key for key in SLOT_KEYS if not (isinstance(slot, dict) and slot.get(key))]
            if missing:
                problems.append("%s: a slot lacks %s" % (where, ", ".join(missing)))
        if canary and not svc.get("canary_backend"):
            problems.append("%s: canary_backend is required with canary" % where)
    return problems


CANARY_KEYS = ("weight", "window", "interval", "min_requests", "max_error_rate")


def check_canary(canary):
    """Problems of the ``canary`` option (``[]`` when it is well formed or not given)."""
    if not canary:
        return []
    missing = [key for key in CANARY_KEYS if canary.get(key) is None]
    if missing:
        return ["canary: %s required" % ", ".join(missing)]
    if not 0 < int(canary["weight"]) <= 256:
        return ["canary: weight must be 1-256, got %r" % (canary["weight"],)]
    return []


def decide(svc, state, refresh=False):
    """What to do for one service: ``{action, to, from}``.

    ``state`` is what ``read_state`` found: ``live`` (the live slot's name or
    None), ``links`` (slot -> link target or None), ``env_same`` (slot ->
    whether its environment copy equals the service's file). ``action`` is
    ``keep`` (the live slot runs the wanted release), ``switch`` (to the other
    slot) or ``install`` (no live slot yet: the first slot).
    """
    names = [slot["name"] for slot in svc["slots"]]
    live = state.get("live")
    if live in names:
        if state["links"].get(live) == svc["release"] and state["env_same"].get(live) and not refresh:
            return {"action": "keep", "to": live, "from": live}
        return {"action": "switch", "to": names[1 - names.index(live)], "from": live}
    return {"action": "install", "to": names[0], "from": None}


# ---- The host ----------------------------------------------------------------------

def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _readlink(path):
    try:
        return os.readlink(path)
    except (IOError, OSError):
        return None


def _atomic_link(path, target):
    temp = "%s.alicia-new" % path
    if os.path.lexists(temp):
        os.unlink(temp)
    os.symlink(target, temp)
    os.rename(temp, path)


def _atomic_write(path, data, like=None, mode=0o644):
    """``data`` written to a temporary file beside ``path``, renamed over it;
    owner, group and mode those of ``like`` when given (the environment's 0640 root:alicia)."""
    temp = "%s.alicia-new" % path
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if like is not None:
        info = os.stat(like)
        os.chown(temp, info.st_uid, info.st_gid)
        os.chmod(temp, info.st_mode & 0o7777)
    else:
        os.chmod(temp, mode)
    os.rename(temp, path)


def read_units(run, units):
    """``{unit: {active, enabled, state}}`` in one ``systemctl show``."""
    if not units:
        return {}
    rc, out, err = run(["systemctl", "show", "--property=Id,ActiveState,UnitFileState"] + list(units))
    if rc != 0:
        raise SlotsError("systemctl show %s failed: %s" % (" ".join(units), (err or out).strip()))
    found = {}
    for block, unit in zip(out.strip().split("\n\n"), units):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        found[unit] = {"active": props.get("ActiveState") in ("active", "activating", "reloading"),
                       "enabled": props.get("UnitFileState") == "enabled",
                       "state": props.get("ActiveState", "")}
    return found


def systemctl(run, verb, unit):
    rc, out, err = run(["systemctl", verb, unit])
    if rc != 0:
        raise SlotsError("systemctl %s %s failed: %s" % (verb, unit, (err or out).strip()))


def read_state(svc, live_backends, units):
    """The live slot (from the map's backend), each slot's link target and
    whether its environment copy equals the service's environment file."""
    shared = _read(svc["env"])
    live = None
    for slot in svc["slots"]:
        if live_backends.get(svc["service"]) == slot["backend"]:
            live = slot["name"]
    return {
        "live": live,
        "links": dict((slot["name"], _readlink(slot["link"])) for slot in svc["slots"]),
        "env_same": dict((slot["name"], shared is not None and _read(slot["env"]) == shared) for slot in svc["slots"]),
        "units": dict((slot["name"], units.get(slot["unit"], {})) for slot in svc["slots"]),
    }


# ---- HAProxy -------------------------------------------------------------------------

def server_up(api, backend, server):
    """Whether HAProxy's checks see ``backend/server`` up (None: HAProxy does not know the backend yet)."""
    text = api.command("show servers state %s" % backend)
    if "Can't find backend" in text:
        return None
    for row in parse_servers_state(text):
        if row.get("srv_name") == server:
            return int(row.get("srv_op_state", 0) or 0) == SRV_RUNNING
    return None


def sessions(api, backend):
    """The current sessions of ``backend`` (its BACKEND row's ``scur``), 0 when it is unknown."""
    for row in parse_stat(api.command("show stat")):
        if row.get("pxname") == backend and row.get("svname") == "BACKEND":
            try:
                return int(row.get("scur") or 0)
            except ValueError:
                return 0
    return 0


def set_map(api, path, key, value):
    """The live map entry of ``key`` set to ``value`` (added when missing). False when
    HAProxy has not loaded the map yet (its reload reads the file written before)."""
    answer = api.command("set map %s %s %s" % (path, key, value)).strip()
    if not answer:
        return True
    if answer.lower().startswith("unknown map"):
        return False
    if "not found" in answer.lower():
        answer = api.command("add map %s %s %s" % (path, key, value)).strip()
        if not answer:
            return True
    raise HAProxyError("runtime API: set map %s %s %s: %s" % (path, key, value, answer))


def _wait(test, timeout, clock, sleep, interval=0.1):
    """Poll ``test()`` until it is true or ``timeout`` seconds passed; its last answer."""
    deadline = clock() + timeout
    while True:
        answer = test()
        if answer or clock() >= deadline:
            return answer
        sleep(interval)


# ---- One service -----------------------------------------------------------------------

def _endpoint(svc, slot, host):
    """The slot's health endpoint on its own port, naming its unit (a crash loop fails the gate at once)."""
    spec = dict(svc["health"])
    path = spec.pop("path", None) or "/health"
    endpoint = dict(spec, service="%s/%s" % (svc["service"], slot["name"]), host=host, unit=slot["unit"],
                    url="http://127.0.0.1:%s%s" % (slot["port"], path))
    return endpoint


def _fix_units(svc, state, live, run, check_mode):
    """The live slot running and enabled, the idle one stopped and disabled: the verbs it took."""
    done = []
    for slot in svc["slots"]:
        unit = state["units"].get(slot["name"], {})
        wanted = slot["name"] == live
        for verb, needed in (("start", wanted and not unit.get("active")),
                             ("enable", wanted and not unit.get("enabled")),
                             ("stop", not wanted and unit.get("active")),
                             ("disable", not wanted and unit.get("enabled"))):
            if needed:
                done.append("%s %s" % (verb, slot["unit"]))
                if not check_mode:
                    systemctl(run, verb, slot["unit"])
    return done


def switch(svc, state, plan, ctx):
    """Carry out ``plan`` (``decide``) for one service; its result."""
    by_name = dict((slot["name"], slot) for slot in svc["slots"])
    target, old = by_name[plan["to"]], by_name.get(plan["from"]) if plan["from"] else None
    result = {"service": svc["service"], "action": plan["action"], "from_slot": plan["from"], "to_slot": plan["to"],
              "from_release": state["links"].get(plan["from"]) if plan["from"] else None,
              "to_release": svc["release"], "switched": False, "failed": False, "msg": ""}
    if ctx["check_mode"]:
        result["switched"] = True
        result["msg"] = "%s: would switch to slot %s (%s)" % (svc["service"], plan["to"], svc["release"])
        return result
    run, api, clock, sleep = ctx["run"], ctx["api"], ctx["clock"], ctx["sleep"]
    started = clock()
    # The idle slot gets the release and the environment; nothing serves from it yet.
    _atomic_link(target["link"], svc["release"])
    _atomic_write(target["env"], _read(svc["env"]) or b"", like=svc["env"])
    systemctl(run, "restart", target["unit"])
    gate = ctx["gate"]([_endpoint(svc, target, ctx["host"])])
    result["gate"] = {"healthy": gate["healthy"], "elapsed": gate["elapsed"], "msg": gate["msg"]}
    if gate["healthy"] and old is not None:
        # HAProxy switches only to a backend its checks see up (and only a running HAProxy switches).
        try:
            up = ctx["haproxy"] and _wait(lambda: server_up(api, target["backend"], target["server"]),
                                          ctx["up_timeout"], clock, sleep)
            problem = "HAProxy's checks did not see %s/%s up within %.0f s" % (
                target["backend"], target["server"], ctx["up_timeout"])
        except HAProxyError as exc:
            up, problem = False, "HAProxy: %s" % exc
        if not up:
            gate = dict(gate, healthy=False, msg=problem if ctx["haproxy"] else
                        "HAProxy's runtime API does not answer: no switch without it")
    if gate["healthy"] and plan.get("canary"):
        try:
            watched = canary_stage(svc, target, old, ctx)
        except HAProxyError as exc:
            watched = {"passed": False, "reason": "HAProxy: %s" % exc, "msg": "HAProxy: %s" % exc}
            try:
                _canary_out(svc, old, ctx)
            except HAProxyError as again:
                watched["reason"] += "; taking the canary out: %s" % again
        result["canary"] = dict((key, watched.get(key)) for key in (
            "passed", "reason", "seconds", "canary_counts", "baseline_counts") if key in watched)
        if not watched["passed"]:
            systemctl(run, "stop", target["unit"])
            result["failed"] = True
            result["msg"] = ("%s: the canary in slot %s (%s) failed its window, taken out and stopped; slot %s (%s) "
                             "kept serving: %s" % (svc["service"], target["name"], svc["release"], old["name"],
                                                   result["from_release"], watched.get("reason") or watched["msg"]))
            return result
    if not gate["healthy"]:
        systemctl(run, "stop", target["unit"])
        result["failed"] = True
        serving = ("slot %s (%s) kept serving" % (old["name"], result["from_release"]) if old is not None
                   else "nothing served it before")
        result["msg"] = ("%s: slot %s (%s) failed its gate, stopped again; %s: %s"
                         % (svc["service"], target["name"], svc["release"], serving, gate["msg"]))
        return result
    before = dict(ctx["live"])
    ctx["live"][svc["service"]] = target["backend"]
    _atomic_write(ctx["map"], render_map(ctx["live"]).encode("utf-8"))
    try:
        applied = set_map(api, ctx["map"], svc["service"], target["backend"]) if ctx["haproxy"] else False
    except HAProxyError as exc:
        # Refused: the map file says what HAProxy serves again, the new slot stops.
        ctx["live"].clear()
        ctx["live"].update(before)
        _atomic_write(ctx["map"], render_map(ctx["live"]).encode("utf-8"))
        systemctl(run, "stop", target["unit"])
        result["failed"] = True
        result["msg"] = "%s: slot %s (%s) not switched in, stopped again: %s" % (
            svc["service"], target["name"], svc["release"], exc)
        return result
    result["switched"] = True
    result["switch_seconds"] = round(clock() - started, 3)
    systemctl(run, "enable", target["unit"])
    if old is not None:
        if applied:
            # The old slot finishes what it was answering (bounded), then stops; after a
            # canary, also what the canary backend sent it.
            backends = [old["backend"]] + ([svc["canary_backend"]] if plan.get("canary") else [])
            result["drained"] = _wait(lambda: all(sessions(api, backend) == 0 for backend in backends),
                                      ctx["drain_timeout"], clock, sleep)
        systemctl(run, "stop", old["unit"])
        systemctl(run, "disable", old["unit"])
    else:
        # A first slot (or a lost map): any other slot still running stops.
        for slot in svc["slots"]:
            unit = state["units"].get(slot["name"], {})
            if slot is not target and unit.get("active"):
                systemctl(run, "stop", slot["unit"])
            if slot is not target and unit.get("enabled"):
                systemctl(run, "disable", slot["unit"])
    result["msg"] = ("%s: slot %s now serves %s%s" % (svc["service"], target["name"], svc["release"],
                     (" (slot %s, %s, stopped, installed)" % (old["name"], result["from_release"]))
                     if old is not None else ""))
    if result.get("canary"):
        result["msg"] += "; its canary passed first: %s" % result["canary"].get("reason")
    return result


def canary_stage(svc, target, old, ctx):
    """The gated new slot (``target``) watched beside the live one (``old``) in the service's
    canary backend: the ``_canary.watch`` result (``passed``, ``reason``...). A failed
    canary is already taken out (``_canary_out``) when this returns."""
    api, settings = ctx["api"], ctx["canary"]
    backend = svc["canary_backend"]
    # Both slot servers must be seen up in the canary backend before it takes traffic.
    up = _wait(lambda: server_up(api, backend, target["server"]), ctx["up_timeout"], ctx["clock"], ctx["sleep"])
    if not up:
        return {"passed": False, "msg": "", "reason": "HAProxy's checks did not see %s/%s up within %.0f s"
                % (backend, target["server"], ctx["up_timeout"])}
    send(api, "set server %s/%s state ready" % (backend, target["server"]))
    send(api, "set weight %s/%s %d" % (backend, target["server"], int(settings["weight"])))
    # The live entry only: the map file keeps the live slot (a reload mid-window serves it alone).
    if not set_map(api, ctx["map"], svc["service"], backend):
        raise HAProxyError("the slots map %s is not loaded: no canary without it" % ctx["map"])
    endpoint = _endpoint(svc, target, ctx["host"])
    watched = watch_canary(dict(settings, service=backend, canary=target["server"], baseline=[old["server"]]), api,
                           probe=lambda: ctx["probe"](endpoint), clock=ctx["clock"], sleep=ctx["sleep"])
    if not watched["passed"]:
        _canary_out(svc, old, ctx)
    return watched


def _canary_out(svc, old, ctx):
    """A failed canary taken out: the live slot's backend named again, the canary backend drained (bounded)."""
    api = ctx["api"]
    set_map(api, ctx["map"], svc["service"], old["backend"])
    _wait(lambda: sessions(api, svc["canary_backend"]) == 0, ctx["drain_timeout"], ctx["clock"], ctx["sleep"])


def actions_of(result):
    """The report's actions of one service's result."""
    if result["failed"]:
        return []
    if result["action"] == "switch" and result["switched"]:
        return ["restarted"] if result.get("restart") else ["updated"]
    if result["action"] == "install" and result["switched"]:
        return ["started"]
    verbs = [fix.split()[0] for fix in result.get("fixed") or []]
    return [{"start": "started", "stop": "stopped"}.get(verb, verb + "d") for verb in verbs]


def reconcile(params, run, api, check_mode=False, clock=time.monotonic, sleep=time.sleep, gate=None, host="localhost",
              probe=None):
    """Every service of ``params["services"]`` at its wanted release (see the module's docstring)."""
    canary = params.get("canary") or None
    problems = check_services(params.get("services"), canary) + check_canary(canary)
    if problems:
        raise SlotsError("; ".join(problems))
    services = params["services"]
    refresh = set(params.get("refresh") or [])
    restart = set(params.get("restart") or [])
    live = parse_map((_read(params["map"]) or b"").decode("utf-8", "replace"))
    units = read_units(run, [slot["unit"] for svc in services for slot in svc["slots"]])
    haproxy = True
    try:
        api.command("show info")
    except HAProxyError:
        haproxy = False
    if gate is None:
        def gate(endpoints):
            return health.gate(endpoints, timeout=float(params["timeout"]), interval=float(params["interval"]),
                               healthy_reads=int(params["healthy_reads"]),
                               healthy_interval=float(params["healthy_interval"]), run=run, clock=clock, sleep=sleep)
    if probe is None:
        def probe(endpoint):
            return health.probe(health.normalize(endpoint))
    ctx = {"run": run, "api": api, "clock": clock, "sleep": sleep, "gate": gate, "host": host, "live": live,
           "map": params["map"], "haproxy": haproxy, "check_mode": check_mode, "canary": canary, "probe": probe,
           "up_timeout": float(params.get("up_timeout", 10)), "drain_timeout": float(params["drain_timeout"])}
    results, changed = [], False
    for svc in services:
        state = read_state(svc, live, units)
        restarted = svc["service"] in restart and state["links"].get(state["live"]) is not None
        if restarted:
            # A restart: the live slot's own release goes to the idle slot (never the catalogue's newer one).
            svc = dict(svc, release=state["links"][state["live"]])
        plan = decide(svc, state, refresh=svc["service"] in refresh or restarted)
        # A new release replacing a live one goes through the canary (a restart, a first slot never).
        plan["canary"] = bool(canary) and plan["action"] == "switch" and not restarted
        if plan["action"] == "keep":
            fixes = _fix_units(svc, state, plan["to"], run, check_mode)
            changed = changed or bool(fixes)
            results.append({"service": svc["service"], "action": "keep", "from_slot": plan["to"],
                            "to_slot": plan["to"], "from_release": state["links"].get(plan["to"]),
                            "to_release": svc["release"], "switched": False, "failed": False, "restart": False,
                            "fixed": fixes,
                            "msg": "%s: slot %s serves %s" % (svc["service"], plan["to"], svc["release"])})
            continue
        changed = True
        results.append(dict(switch(svc, state, plan, ctx), restart=restarted))
    return {
        "changed": changed,
        "services": results,
        # What the deployment report reads (plugins/callback/deploy_report.py): a switch
        # updates the service, a first slot starts it, a fixed unit is started or stopped.
        "actions": dict((r["service"], actions_of(r)) for r in results if actions_of(r)),
        "failed_services": dict((r["service"], r["msg"]) for r in results if r["failed"]),
        "live": dict((r["service"], r["from_slot"] if r["failed"] else r["to_slot"]) for r in results),
    }
