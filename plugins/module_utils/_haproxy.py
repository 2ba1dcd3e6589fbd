# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy's runtime API (the stats socket at level admin), as plain
functions, for the alicia.platform.haproxy_server module.

Standard library only. ``RuntimeAPI`` sends one command per connection
(HAProxy's non-interactive mode: it answers and closes); ``reconcile``
reads every server with ONE ``show servers state``, checks every request
before anything changes, sends only the ``set server ... state`` and
``set weight`` commands whose value differs, and reads the servers again
to report (and check) what they became. Nothing here prints or exits;
errors are ``HAProxyError`` with the partial result attached.

Server states, from ``srv_admin_state`` (HAProxy's SRV_ADMF_* flags):

* ``maint``: forced into maintenance (FMAINT 0x01; a server ``disabled``
  in the configuration has it too, with CMAINT 0x04);
* ``drain``: forced into drain (FDRAIN 0x08), not in maintenance;
* ``ready``: neither. A server with weight 0 gets no new requests either:
  that is how the configuration drains one.

``effective`` is what traffic sees, inherited and DNS maintenance
(IMAINT 0x02, RMAINT 0x20) and inherited drain (IDRAIN 0x10) included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

STATES = ("ready", "drain", "maint")
WEIGHT_MAX = 256
FMAINT = 0x01
FDRAIN = 0x08
MAINT_MASK = 0x23   # FMAINT | IMAINT | RMAINT
DRAIN_MASK = 0x18   # FDRAIN | IDRAIN
# srv_op_state
OPERATIONAL = {0: "down", 1: "starting", 2: "up", 3: "stopping"}
READ_LIMIT = 4 * 1024 * 1024

SERVER_OPTIONS = dict(
    service=dict(type="str", required=True, aliases=["backend"]),
    server=dict(type="str", required=True),
    state=dict(type="str", choices=list(STATES)),
    weight=dict(type="int"),
)


def argument_spec():
    """The module's argument spec."""
    return dict(
        socket=dict(type="path", default="/run/haproxy/admin.sock"),
        servers=dict(type="list", elements="dict", required=True, options=SERVER_OPTIONS),
        timeout=dict(type="float", default=5.0),
    )


class HAProxyError(Exception):
    """A bad request, an unreachable socket or a command HAProxy refused; ``result`` holds what was done."""

    def __init__(self, msg, result=None):
        super(HAProxyError, self).__init__(msg)
        self.msg = msg
        self.result = result


class RuntimeAPI(object):
    """HAProxy's stats socket: ``command(line)`` returns the answer as text."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.timeout = timeout
        self.sent = []

    def command(self, line):
        if "\n" in line or ";" in line:
            raise HAProxyError("runtime API: one command per call, without ';' or a newline: %r" % line)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            try:
                sock.connect(self.path)
            except (IOError, OSError) as exc:
                raise HAProxyError("cannot connect to the HAProxy runtime API at %s: %s (is haproxy running, "
                                   "with 'stats socket %s level admin'?)" % (self.path, exc, self.path))
            self.sent.append(line)
            chunks = []
            size = 0
            try:
                sock.sendall((line + "\n").encode("utf-8"))
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > READ_LIMIT:
                        raise HAProxyError("runtime API: the answer to %r is larger than %d bytes" % (line, READ_LIMIT))
            except socket.timeout:
                raise HAProxyError("runtime API: no complete answer to %r within %.1f s" % (line, self.timeout))
            except (IOError, OSError) as exc:
                raise HAProxyError("runtime API: %r failed: %s" % (line, exc))
            return b"".join(chunks).decode("utf-8", "replace")
        finally:
            sock.close()


def send(api, line, result=None):
    """One command that answers nothing when HAProxy takes it (set weight, set
    server ... state); any answer is a refusal, raised with ``result``."""
    answer = api.command(line).strip()
    if answer:
        raise HAProxyError("HAProxy refused %r: %s" % (line, answer), result)


def parse_servers_state(text):
    """The rows of ``show servers state`` as dicts keyed by its header's names."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != "1":
        raise HAProxyError("runtime API: unexpected answer to 'show servers state' (no version 1 line): %s"
                           % (text.strip()[:300] or "empty"))
    header = None
    rows = []
    for line in lines[1:]:
        if line.startswith("#"):
            header = line.lstrip("#").split()
            continue
        if header is None:
            raise HAProxyError("runtime API: 'show servers state' has no header line: %s" % text.strip()[:300])
        rows.append(dict(zip(header, line.split())))
    return rows


def _int(row, key, default=0):
    try:
        return int(row.get(key, default))
    except (TypeError, ValueError):
        return default


def effective(state, weight, admin):
    """What traffic sees: maint (forced, inherited or DNS), drain (forced or
    inherited drain, or weight 0: no new requests) or ready."""
    if state == "maint" or admin & (MAINT_MASK & ~FMAINT):
        return "maint"
    if state == "drain" or admin & (DRAIN_MASK & ~FDRAIN) or weight == 0:
        return "drain"
    return "ready"


def view(row):
    """What a ``show servers state`` row says about a server."""
    admin = _int(row, "srv_admin_state")
    if admin & FMAINT:
        state = "maint"
    elif admin & FDRAIN:
        state = "drain"
    else:
        state = "ready"
    weight = _int(row, "srv_uweight")
    return {
        "state": state,
        "weight": weight,
        "initial_weight": _int(row, "srv_iweight"),
        "effective": effective(state, weight, admin),
        "operational": OPERATIONAL.get(_int(row, "srv_op_state", -1), "unknown"),
        "admin_state": admin,
        "address": row.get("srv_addr"),
        "port": _int(row, "srv_port", None) if row.get("srv_port") not in (None, "-") else None,
    }


def servers_by_name(rows):
    """{(backend, server): view} of every server HAProxy has."""
    return dict(((row.get("be_name"), row.get("srv_name")), view(row)) for row in rows)


def check_requests(requests):
    """Problems of the requested changes, before anything is read or sent."""
    found = []
    seen = {}
    for index, request in enumerate(requests or []):
        label = "servers[%d]" % index
        if not isinstance(request, dict):
            found.append("%s: must be a mapping {service, server, state, weight}" % label)
            continue
        service, server = request.get("service"), request.get("server")
        for key, value in (("service", service), ("server", server)):
            if not isinstance(value, str) or not value or any(c.isspace() or c in "/;" for c in value):
                found.append("%s: %s must be a name without spaces, '/' or ';', got %r" % (label, key, value))
        if isinstance(service, str) and isinstance(server, str):
            label = "%s (%s/%s)" % (label, service, server)
            seen.setdefault((service, server), []).append(index)
        state, weight = request.get("state"), request.get("weight")
        if state is None and weight is None:
            found.append("%s: give a state, a weight or both" % label)
        if state is not None and state not in STATES:
            found.append("%s: state must be one of %s, got %r" % (label, ", ".join(STATES), state))
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int)
                                   or not 0 <= weight <= WEIGHT_MAX):
            found.append("%s: weight must be a whole number 0-%d, got %r" % (label, WEIGHT_MAX, weight))
    for (service, server), positions in seen.items():
        if len(positions) > 1:
            found.append("%s/%s is named more than once (servers[%s])"
                         % (service, server, "], servers[".join(str(p) for p in positions)))
    return found


def plan(requests, current):
    """The runtime API commands each request needs, given ``current``
    (``servers_by_name``): [(request, commands)]. A server coming back
    (ready) gets its weight first; one leaving gets its state first."""
    missing = []
    planned = []
    backends = set(backend for backend, _server in current)
    for request in requests:
        key = (request["service"], request["server"])
        if key not in current:
            if request["service"] not in backends:
                missing.append("no backend '%s' (known: %s)" % (request["service"], ", ".join(sorted(backends)) or "none"))
            else:
                known = sorted(srv for backend, srv in current if backend == request["service"])
                missing.append("backend '%s' has no server '%s' (known: %s)"
                               % (request["service"], request["server"], ", ".join(known)))
            continue
        now = current[key]
        target = "%s/%s" % key
        state_cmd = weight_cmd = None
        if request.get("state") is not None and request["state"] != now["state"]:
            state_cmd = "set server %s state %s" % (target, request["state"])
        if request.get("weight") is not None and request["weight"] != now["weight"]:
            weight_cmd = "set weight %s %d" % (target, request["weight"])
        if request.get("state") == "ready":
            commands = [cmd for cmd in (weight_cmd, state_cmd) if cmd]
        else:
            commands = [cmd for cmd in (state_cmd, weight_cmd) if cmd]
        planned.append((request, commands))
    if missing:
        raise HAProxyError("unknown server(s), nothing changed: %s" % "; ".join(missing))
    return planned


def _line(key, info):
    return "%s/%s: state=%s weight=%d" % (key[0], key[1], info["state"], info["weight"])


def reconcile(params, api, check_mode=False, want_diff=False):
    """Bring each requested server to its state and weight; the module's result."""
    requests = params.get("servers") or []
    problems = check_requests(requests)
    if problems:
        raise HAProxyError("; ".join(problems))
    before = servers_by_name(parse_servers_state(api.command("show servers state")))
    planned = plan(requests, before)
    result = {"changed": False, "commands": [], "servers": []}
    for request, commands in planned:
        key = (request["service"], request["server"])
        result["servers"].append({"service": key[0], "server": key[1], "before": before[key], "after": None,
                                  "commands": commands, "changed": bool(commands)})
        if not commands:
            continue
        result["changed"] = True
        if check_mode:
            continue
        for command in commands:
            answer = api.command(command).strip()
            if answer:
                try:
                    _fill_after(result, before, servers_by_name(parse_servers_state(
                        api.command("show servers state"))))
                except HAProxyError:
                    pass
                raise HAProxyError("HAProxy refused %r: %s (commands sent before it: %s)"
                                   % (command, answer, ", ".join(result["commands"]) or "none"), result)
            result["commands"].append(command)
    after = None
    if result["changed"] and not check_mode:
        after = servers_by_name(parse_servers_state(api.command("show servers state")))
    _fill_after(result, before, after)
    wrong = []
    for entry, (request, _commands) in zip(result["servers"], planned):
        got = entry["after"]
        if (request.get("state") is not None and got["state"] != request["state"]) or \
                (request.get("weight") is not None and got["weight"] != request["weight"]):
            wrong.append("%s (wanted state=%s weight=%s)" % (_line((entry["service"], entry["server"]), got),
                                                             request.get("state") or "-",
                                                             "-" if request.get("weight") is None else request["weight"]))
    if wrong:
        raise HAProxyError("HAProxy did not apply every change: %s" % "; ".join(wrong), result)
    changed = [entry for entry in result["servers"] if entry["changed"]]
    if want_diff:
        result["diff"] = {
            "before_header": "haproxy servers (runtime API)",
            "after_header": "haproxy servers (runtime API)",
            "before": "".join(_line((e["service"], e["server"]), e["before"]) + "\n" for e in changed),
            "after": "".join(_line((e["service"], e["server"]), e["after"]) + "\n" for e in changed),
        }
    moves = ["%s -> state=%s weight=%d" % (_line((e["service"], e["server"]), e["before"]), e["after"]["state"],
                                           e["after"]["weight"]) for e in changed]
    result["msg"] = "%d of %d servers %s%s" % (len(changed), len(result["servers"]),
                                               "would change" if check_mode else "changed",
                                               (": " + ", ".join(moves)) if moves else "")
    return result


def _fill_after(result, before, after):
    """Each entry's ``after``: as read again when something was sent, else predicted from its commands."""
    for entry in result["servers"]:
        key = (entry["service"], entry["server"])
        if after is not None and key in after:
            entry["after"] = after[key]
            continue
        predicted = dict(before[key])
        for command in entry["commands"]:
            words = command.split()
            if words[:2] == ["set", "weight"]:
                predicted["weight"] = int(words[3])
            elif words[:2] == ["set", "server"]:
                predicted["state"] = words[4]
        predicted["effective"] = effective(predicted["state"], predicted["weight"], predicted["admin_state"])
        entry["after"] = predicted
