# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs a health endpoint, read while the gate waits: is it crash-looping?

The health gate probes HTTP; a service that exits at start only ever answers
"connection refused", so without this the gate waits its whole timeout. Here,
plain functions over a ``run(argv) -> (rc, stdout, stderr)`` callable read the
state of the systemd units, docker containers and supervisor programs behind
the endpoints, one command per kind for all of them:

- ``systemctl show -p Id,NRestarts,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,MemoryMax U1 U2 ...``
- ``docker inspect --type container C1 C2 ...``
- ``supervisorctl status P1 P2 ...``

and :class:`CrashWatch` turns successive reads into verdicts: an endpoint
fails as soon as its process was restarted ``max_restarts`` times since the
watch began, or is in a state it will not leave by itself (a ``failed`` unit,
an ``exited`` container, a ``FATAL`` program). The verdict names the exit
status or signal (``status=1/FAILURE``, ``signal=KILL``), an out-of-memory
kill with its memory limit, and the restart count.

Reading is best effort: a missing command, an unknown unit or an unparsable
answer gives no state, never a verdict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

KINDS = ("unit", "container", "program")
SYSTEMD_PROPERTIES = ("Id", "NRestarts", "ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus",
                      "MemoryMax")
DEFAULT_MAX_RESTARTS = 2

# systemd's exit status names (systemd.exec(5), "Process Exit Codes").
_EXIT_NAMES = {
    0: "SUCCESS", 1: "FAILURE", 2: "INVALIDARGUMENT", 3: "NOTIMPLEMENTED", 4: "NOPERMISSION", 5: "NOTINSTALLED",
    6: "NOTCONFIGURED", 7: "NOTRUNNING", 200: "CHDIR", 201: "NICE", 202: "FDS", 203: "EXEC", 204: "MEMORY",
    205: "LIMITS", 206: "OOM_ADJUST", 207: "SIGNAL_MASK", 208: "STDIN", 209: "STDOUT", 210: "CHROOT",
    211: "IOPRIO", 212: "TIMERSLACK", 213: "SECUREBITS", 214: "SETSCHEDULER", 215: "CPUAFFINITY", 216: "GROUP",
    217: "USER", 218: "CAPABILITIES", 219: "CGROUP", 220: "SETSID", 221: "CONFIRM", 222: "STDERR", 224: "PAM",
    225: "NETWORK", 226: "NAMESPACE", 227: "NO_NEW_PRIVILEGES", 228: "SECCOMP", 229: "SELINUX_CONTEXT",
    230: "PERSONALITY", 231: "APPARMOR_PROFILE", 232: "ADDRESS_FAMILIES", 233: "RUNTIME_DIRECTORY", 235: "CHOWN",
    236: "SMACK_PROCESS_LABEL", 237: "KEYRING", 238: "STATE_DIRECTORY", 239: "CACHE_DIRECTORY",
    240: "LOGS_DIRECTORY", 241: "CONFIGURATION_DIRECTORY", 242: "NUMA_POLICY", 243: "CREDENTIALS", 245: "BPF",
}
# Linux signal numbers (x86, arm); the names systemd prints after signal=.
_SIGNAL_NAMES = {
    1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 10: "USR1",
    11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP",
    20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH",
    29: "IO", 30: "PWR", 31: "SYS",
}
# ExecMainCode: the CLD_* code of the main process's end (0: it has not ended).
_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED = 1, 2, 3
_STATUS_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<state>[A-Z]+)\s*(?P<description>.*)$")


def exit_text(code, status):
    """systemd's words for how a main process ended: ``status=1/FAILURE``, ``signal=KILL``, or None."""
    if code == _CLD_EXITED:
        name = _EXIT_NAMES.get(status)
        return "status=%d/%s" % (status, name) if name else "status=%d" % status
    if code in (_CLD_KILLED, _CLD_DUMPED):
        text = "signal=%s" % _SIGNAL_NAMES.get(status, status)
        return text + " (core dumped)" if code == _CLD_DUMPED else text
    return None


def docker_exit_text(code):
    """A container's exit code the same way: ``status=1``, ``status=137 (signal=KILL)``, or None for 0/unknown."""
    if not isinstance(code, int) or code == 0:
        return None
    if 128 < code < 160 and code - 128 in _SIGNAL_NAMES:
        return "status=%d (signal=%s)" % (code, _SIGNAL_NAMES[code - 128])
    return "status=%d" % code


def human_bytes(value):
    """67108864 -> '64M' (exact binary units), 'infinity'/None/0 -> None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number <= 0 or number >= 2 ** 63 - 1:
        return None
    for suffix, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if number % size == 0:
            return "%d%s" % (number // size, suffix)
    return "%d bytes" % number


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# ---- reading: one command per kind ---------------------------------------------


def parse_systemctl_show(text, units):
    """`systemctl show -p ... U1 U2` output (blocks in argument order) -> {unit: state}."""
    blocks = [block for block in re.split(r"\n\s*\n", (text or "").strip()) if block.strip()]
    states = {}
    if len(blocks) != len(units):
        return states
    for unit, block in zip(units, blocks):
        props = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key.strip()] = value.strip()
        if props.get("ActiveState") is None or props.get("LoadState", "loaded") == "not-found":
            continue
        states[unit] = {
            "kind": "unit",
            "name": unit,
            "restarts": _int(props.get("NRestarts")),
            "active": props.get("ActiveState"),
            "sub": props.get("SubState"),
            "restart_scheduled": props.get("SubState") == "auto-restart",
            "result": props.get("Result"),
            "exit": exit_text(_int(props.get("ExecMainCode"), 0), _int(props.get("ExecMainStatus"), 0)),
            "oom": props.get("Result") == "oom-kill",
            "memory_limit": human_bytes(props.get("MemoryMax")),
        }
    return states


def parse_docker_inspect(text, containers):
    """`docker inspect --type container C1 C2` output (a JSON list) -> {container: state}."""
    try:
        documents = json.loads(text or "[]")
    except ValueError:
        return {}
    if not isinstance(documents, list):
        return {}
    wanted = set(containers)
    states = {}
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        name = str(doc.get("Name") or "").lstrip("/")
        if name not in wanted:
            continue
        state = doc.get("State") or {}
        host_config = doc.get("HostConfig") or {}
        states[name] = {
            "kind": "container",
            "name": name,
            "restarts": _int(doc.get("RestartCount")),
            "active": state.get("Status"),
            "sub": "restarting" if state.get("Restarting") else state.get("Status"),
            "result": state.get("Error") or None,
            "exit": docker_exit_text(state.get("ExitCode")),
            "oom": bool(state.get("OOMKilled")),
            "memory_limit": human_bytes(host_config.get("Memory")),
        }
    return states


def parse_supervisorctl_status(text, programs):
    """`supervisorctl status P1 P2` output -> {program: state} (supervisor counts no restarts)."""
    wanted = set(programs)
    states = {}
    for line in (text or "").splitlines():
        match = _STATUS_LINE.match(line.strip())
        if not match or match.group("name") not in wanted:
            continue
        states[match.group("name")] = {
            "kind": "program",
            "name": match.group("name"),
            "restarts": None,
            "active": match.group("state"),
            "sub": match.group("state"),
            "result": match.group("description").strip() or None,
            "exit": None,
            "oom": False,
            "memory_limit": None,
        }
    return states


def module_run(module):
    """``run(argv) -> (rc, stdout, stderr)`` of a module for state reads: C locale,
    and a command missing on the host reads as nothing (rc 127)."""
    def run(argv):
        binary = module.get_bin_path(argv[0])
        if not binary:
            return 127, "", "%s: not found" % argv[0]
        return module.run_command([binary] + list(argv[1:]), environ_update={"LC_ALL": "C"})
    return run


def read_states(targets, run):
    """The state of every target, one command per kind: {(kind, name): state}.

    ``targets`` is an iterable of (kind, name); ``run(argv) -> (rc, stdout,
    stderr)``. Kinds whose command fails or is missing give nothing.
    """
    by_kind = dict((kind, []) for kind in KINDS)
    for kind, name in targets:
        if kind in by_kind and name and name not in by_kind[kind]:
            by_kind[kind].append(name)
    found = {}
    if by_kind["unit"]:
        units = by_kind["unit"]
        rc, out, _err = run(["systemctl", "show", "-p", ",".join(SYSTEMD_PROPERTIES + ("LoadState",))] + units)
        if rc == 0:
            found.update((("unit", k), v) for k, v in parse_systemctl_show(out, units).items())
    if by_kind["container"]:
        containers = by_kind["container"]
        # rc 1 when one of them does not exist: the others are still in the list.
        _rc, out, _err = run(["docker", "inspect", "--type", "container"] + containers)
        found.update((("container", k), v) for k, v in parse_docker_inspect(out, containers).items())
    if by_kind["program"]:
        programs = by_kind["program"]
        # supervisorctl status exits non-zero when a program is not RUNNING.
        _rc, out, _err = run(["supervisorctl", "status"] + programs)
        found.update((("program", k), v) for k, v in parse_supervisorctl_status(out, programs).items())
    return found


# ---- judging: successive reads -> verdicts ---------------------------------------


class _Track:
    """What one target showed across reads."""

    def __init__(self):
        self.baseline = None     # restart counter at the first read
        self.last_count = None   # restart counter at the last read
        self.done = 0            # restarts made since the first read
        self.scheduled = False   # a restart is scheduled (systemd: auto-restart)
        self.restarts = 0        # restarts since the first read
        self.exits = 0           # supervisor: times seen exiting (BACKOFF/EXITED after another state)
        self.backoff_reads = 0   # supervisor: reads that saw BACKOFF
        self.previous = None     # the last state's `sub`
        self.last_exit = None    # the last non-null exit text seen
        self.oom = False
        self.memory_limit = None
        self.reads = 0


def _restarts_update(track, state):
    """Restarts since the first read: the counter's growth, plus one the manager has scheduled.

    systemd counts a restart (NRestarts) when RestartSec has passed; while it
    waits (SubState auto-restart) the restart is decided, and counted here as
    docker counts it (RestartCount grows when the restart is scheduled).
    """
    count = state.get("restarts")
    if count is None:
        return
    if track.baseline is None:
        track.baseline = count
    elif count < track.last_count:  # the counter was reset (a start by hand): keep what was counted
        track.baseline = count - track.done
    track.last_count = count
    track.done = count - track.baseline
    track.scheduled = bool(state.get("restart_scheduled"))
    track.restarts = track.done + (1 if track.scheduled else 0)


def describe(kind, name, state, track, reason):
    """The verdict's text: what, how it ended, out-of-memory with its limit, restart count."""
    label = {"unit": "unit", "container": "container", "program": "supervisor program"}[kind]
    parts = ["%s %s %s" % (label, name, reason)]
    if track.oom:
        limit = track.memory_limit
        where = {"unit": "MemoryMax=%s", "container": "memory limit %s", "program": "limit %s"}[kind] % limit \
            if limit else "its memory limit"
        parts.append("killed by the out-of-memory killer at %s" % where)
    if track.last_exit:
        text = "last exit %s" % track.last_exit
        if not track.oom and kind == "unit" and track.last_exit == "signal=KILL" and track.memory_limit:
            # cgroup v1 hosts do not tell systemd of an OOM kill (Result=signal).
            text += " (out of memory at MemoryMax=%s, unless someone sent it)" % track.memory_limit
        parts.append(text)
    if kind == "program":
        if track.exits:
            parts.append("seen exiting %d time%s" % (track.exits, "" if track.exits == 1 else "s"))
        if track.backoff_reads > 1:
            parts.append("in BACKOFF at %d state reads" % track.backoff_reads)
    else:
        parts.append("%d restart%s since the gate started%s" % (
            track.restarts, "" if track.restarts == 1 else "s", " (the last one scheduled)" if track.scheduled else ""))
    return ", ".join(parts)


class CrashWatch:
    """Verdicts from successive state reads of the targets behind endpoints.

    ``observe(states)`` takes one :func:`read_states` answer and returns
    {(kind, name): message} for the targets that crash-loop: restarted
    ``max_restarts`` times since their first read, or in a state they will
    not leave by themselves. A target once judged keeps its verdict.
    """

    def __init__(self, max_restarts=DEFAULT_MAX_RESTARTS):
        if int(max_restarts) < 1:
            raise ValueError("max_restarts must be at least 1")
        self.max_restarts = int(max_restarts)
        self.tracks = {}
        self.verdicts = {}
        self.reads = 0

    def track(self, target):
        return self.tracks.get(target)

    def observe(self, states):
        self.reads += 1
        for target, state in states.items():
            if target in self.verdicts:
                continue
            track = self.tracks.setdefault(target, _Track())
            reason = self._judge(target[0], state, track)
            if reason:
                self.verdicts[target] = describe(target[0], target[1], state, track, reason)
        return dict(self.verdicts)

    def _judge(self, kind, state, track):
        first = track.reads == 0
        track.reads += 1
        previous, track.previous = track.previous, state.get("sub")
        if state.get("exit"):
            track.last_exit = state["exit"]
        if state.get("memory_limit"):
            track.memory_limit = state["memory_limit"]
        if state.get("oom"):
            track.oom = True
        _restarts_update(track, state)
        active, sub = state.get("active"), state.get("sub")
        if kind == "unit":
            if active == "failed":
                return "failed (%s)" % (state.get("result") or "failed")
        elif kind == "container":
            if active in ("exited", "dead"):
                return "%s" % active
        else:
            if active == "FATAL":
                return "FATAL (%s)" % (state.get("result") or "gave up")
            if active in ("BACKOFF", "EXITED") and (first or previous != sub):
                track.exits += 1
            if active == "BACKOFF":
                track.backoff_reads += 1
            # supervisor waits 1, 2, 3 ... s before each retry: a program seen in BACKOFF
            # at max_restarts + 1 reads (a second or more apart) has exited at least
            # twice, even when the reads missed its short STARTING in between.
            if track.exits >= self.max_restarts or track.backoff_reads > self.max_restarts:
                return "keeps exiting (%s: %s)" % (active, state.get("result") or "")
            return None
        if track.restarts >= self.max_restarts:
            return "keeps exiting"
        return None
