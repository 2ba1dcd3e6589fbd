# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-deployment host checks, in plain Python (standard library only).

Two halves:

- the read, on the target (``report``: the files module's ``report_host``,
  run in check mode by the platform plan, in the execution that already
  reads the files and the units): who listens on each port asked about
  (``/proc/net/tcp`` and ``tcp6`` sockets in state LISTEN, mapped to their
  processes through the ``socket:[inode]`` links of ``/proc/<pid>/fd``; per
  holder its PID, command line, systemd unit from ``/proc/<pid>/cgroup`` and
  only the ``SERVICE_NAME`` and ``SUPERVISOR_PROCESS_NAME`` values of its
  environment, never the rest), the free space of each path's file system
  (``statvfs`` of the path or its nearest existing parent) and
  ``MemAvailable``; after the files are applied (or, in check mode, judged),
  what the entries that change write below each path (``with_needed_space``);
- the judging, on the controller (``request``: what to ask for a host's
  plan; ``problems``: the report turned into messages naming the host, the
  service, the port and the holder's PID and command, or the path and the
  figures: a file system needs ``min_free_mb`` plus the new release's files
  and the virtualenvs the venvs module would build, ``space_needs``).

"Ours" (a holder that is not a problem) for a port of service S: a process
whose environment says ``SERVICE_NAME=S`` (every runtime's process gets it
from its environment file), or whose systemd unit is S's unit, its
single-instance unit or one of its instances' units, or S's supervisor
program (``SUPERVISOR_PROCESS_NAME``); for a multi-instance service's
balanced port also the balancer's unit; for a docker service's published
port also ``docker-proxy`` (or a process of the docker engine's unit).
Anything else holding the port is foreign. A listener whose process could
not be found (root without CAP_SYS_PTRACE, in a container, cannot read the
descriptors of another user's process) is judged by its socket's owner: the
service user's is the service's (its processes run as that user); on the
balanced port root's or haproxy's is HAProxy's; any other is foreign.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re

LISTEN = "0A"
ENV_KEYS = ("SERVICE_NAME", "SUPERVISOR_PROCESS_NAME")
COMMAND_MAX = 200
MB = 1024 * 1024
# What a directory created takes (one block of the usual 4 KiB).
DIRECTORY_BYTES = 4096
_SOCKET = re.compile(r"^socket:\[(\d+)\]$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


# ---- The read (target) ------------------------------------------------------------

def _read(path, mode="r"):
    try:
        with open(path, mode) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _address(hex_address):
    """The text of a /proc/net/tcp{,6} address (hex, host byte order words)."""
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i:i + 2], 16)) for i in (6, 4, 2, 0))
    words = [hex_address[i:i + 8] for i in range(0, 32, 8)]
    raw = "".join(w[6:8] + w[4:6] + w[2:4] + w[0:2] for w in words).lower()
    if raw == "0" * 32:
        return "::"
    if raw.startswith("0" * 20 + "ffff"):
        return "::ffff:" + ".".join(str(int(raw[i:i + 2], 16)) for i in range(24, 32, 2))
    return ":".join(raw[i:i + 4].lstrip("0") or "0" for i in range(0, 32, 4))


def listening_sockets(ports, proc="/proc"):
    """inode -> {port, address} of every TCP socket in state LISTEN on one of ``ports``."""
    wanted = set(int(p) for p in ports)
    found = {}
    for table in ("tcp", "tcp6"):
        text = _read(os.path.join(proc, "net", table)) or ""
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            address, _sep, port = fields[1].partition(":")
            port = int(port, 16)
            if port in wanted and fields[9] != "0":
                found[fields[9]] = {"port": port, "address": _address(address), "uid": int(fields[7])}
    return found


def socket_holders(inodes, proc="/proc"):
    """inode -> [pid, ...] of the processes holding each socket of ``inodes`` (pids in order)."""
    inodes = set(inodes)
    found = dict((inode, []) for inode in inodes)
    if not inodes:
        return found
    try:
        pids = sorted(int(name) for name in os.listdir(proc) if name.isdigit())
    except OSError:
        return found
    for pid in pids:
        fd_dir = os.path.join(proc, str(pid), "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            match = _SOCKET.match(target)
            if match and match.group(1) in inodes and pid not in found[match.group(1)]:
                found[match.group(1)].append(pid)
    return found


def unit_of_cgroup(text):
    """The systemd unit (a .service or .scope) of a /proc/<pid>/cgroup text, or None.

    cgroup v2: ``0::/system.slice/haproxy.service``; v1: the ``name=systemd``
    hierarchy's line. The innermost unit of the path wins.
    """
    paths = []
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            paths.insert(0, parts[2])
        elif parts[1] == "name=systemd":
            paths.append(parts[2])
    for path in paths:
        units = [part for part in path.split("/") if part.endswith((".service", ".scope"))]
        if units:
            return units[-1]
    return None


def process_info(pid, proc="/proc"):
    """{pid, command, unit, env} of one process (env: only ENV_KEYS)."""
    base = os.path.join(proc, str(pid))
    raw = _read(os.path.join(base, "cmdline"), "rb") or b""
    argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
    if not argv:
        comm = (_read(os.path.join(base, "comm")) or "?").strip()
        argv = ["[%s]" % comm]
    command = " ".join(argv)
    if len(command) > COMMAND_MAX:
        command = command[:COMMAND_MAX - 3] + "..."
    env = {}
    environ = _read(os.path.join(base, "environ"), "rb") or b""
    for item in environ.split(b"\0"):
        name, sep, value = item.partition(b"=")
        name = name.decode("utf-8", "replace")
        if sep and name in ENV_KEYS:
            env[name] = value.decode("utf-8", "replace")
    return {"pid": pid, "command": command, "name": os.path.basename(argv[0]),
            "unit": unit_of_cgroup(_read(os.path.join(base, "cgroup"))), "env": env}


def listeners(ports, proc="/proc"):
    """str(port) -> [{port, address, pid, command, name, unit, env}] for each of ``ports`` (``[]``: free).

    A socket whose process was not found is listed with ``pid`` None."""
    sockets = listening_sockets(ports, proc)
    holders = socket_holders(list(sockets), proc)
    found = dict((str(int(p)), []) for p in ports)
    infos = {}
    for inode in sorted(sockets, key=lambda i: (sockets[i]["port"], sockets[i]["address"])):
        sock = sockets[inode]
        pids = holders.get(inode) or [None]
        for pid in pids:
            if pid is None:
                info = {"pid": None, "command": "?", "name": "?", "unit": None, "env": {}}
            else:
                info = infos.setdefault(pid, process_info(pid, proc))
            entry = dict(info, port=sock["port"], address=sock["address"], uid=sock["uid"],
                         user=_user_name(sock["uid"]))
            found[str(sock["port"])].append(entry)
    return found


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)


def _device(path):
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def free_space(paths, statvfs=os.statvfs):
    """path -> {checked, free_mb, device} (``checked``: the path or its nearest existing parent;
    ``device``: its file system's ``st_dev``, so paths sharing one file system are judged together)."""
    found = {}
    for path in paths:
        checked = os.path.abspath(path)
        while not os.path.exists(checked) and checked != os.path.dirname(checked):
            checked = os.path.dirname(checked)
        try:
            st = statvfs(checked)
        except OSError:
            found[path] = {"checked": checked, "free_mb": None, "device": _device(checked)}
            continue
        found[path] = {"checked": checked, "free_mb": int(st.f_bavail * st.f_frsize // MB), "device": _device(checked)}
    return found


def containing_path(path, paths):
    """The one of ``paths`` that holds ``path`` (itself or a parent; the deepest wins), None when none does."""
    path = os.path.normpath(path)
    best = None
    for candidate in paths:
        norm = os.path.normpath(candidate)
        if path == norm or path.startswith(norm.rstrip("/") + "/"):
            if best is None or len(norm) > len(os.path.normpath(best)):
                best = candidate
    return best


def written_bytes(entry, action):
    """The bytes a files module entry (``_files.prepare``'s) needs on disk when applied with ``action``.

    A file created or updated: its content's length (a copy's ``src`` and a
    tree's files arrive as content, so the source's size); a directory
    created: one block; anything else (a link, a touched file, an entry
    unchanged or whose attributes only change, a removal): 0."""
    if action not in ("created", "updated"):
        return 0
    if entry.get("state") == "file":
        return len(entry.get("data") or b"")
    if entry.get("state") == "directory":
        return DIRECTORY_BYTES
    return 0


def needed_space(entries, files, paths):
    """path -> {key: bytes} for each of ``paths``: what the entries that change (``files``: the files
    result's per path item) would write below it, by the entries' ``key`` (``""`` for none).

    A path below none of ``paths`` is not counted; below two, the deepest one counts it."""
    found = dict((path, {}) for path in paths)
    for entry in entries:
        item = files.get(entry["path"]) or {}
        size = written_bytes(entry, item.get("action", "unchanged"))
        path = containing_path(entry["path"], paths) if size else None
        if path is None:
            continue
        key = entry.get("key") or ""
        found[path][key] = found[path].get(key, 0) + size
    return found


def with_needed_space(host, entries, files):
    """``host`` (``report``'s) with each path's ``needed_bytes`` (total) and ``needed_by_key``."""
    needed = needed_space(entries, files, list(host.get("paths") or {}))
    for path, space in (host.get("paths") or {}).items():
        space["needed_by_key"] = needed[path]
        space["needed_bytes"] = sum(needed[path].values())
    return host


def mem_available_mb(proc="/proc"):
    """MemAvailable of /proc/meminfo in MB, or None."""
    for line in (_read(os.path.join(proc, "meminfo")) or "").splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            try:
                return int(parts[1]) // 1024
            except (IndexError, ValueError):
                return None
    return None


def report(ports=None, paths=None, proc="/proc", statvfs=os.statvfs):
    """The files module's ``host`` result: {listeners, paths, mem_available_mb}."""
    return {"listeners": listeners(ports or [], proc), "paths": free_space(paths or [], statvfs),
            "mem_available_mb": mem_available_mb(proc)}


# ---- The judging (controller) ----------------------------------------------------------

def size_mb(value):
    """A catalogue size (``256M``, ``1G``, ``512``: bytes) in MB."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / MB
    match = _SIZE.match(str(value or ""))
    if not match:
        return 0.0
    number, unit = float(match.group(1)), match.group(2).upper()
    factor = {"": 1.0 / MB, "K": 1.0 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 * 1024}[unit]
    return number * factor


def _instances(svc):
    found = svc.get("instance_list")
    return list(found) if isinstance(found, list) else []


def service_ports(svc):
    """[(port, role)] a service needs on its host: role ``service``, ``instance`` or ``balanced``.

    A docker service: its published ``port`` (docker-proxy holds it); a
    multi-instance service: each instance's ``listen_port`` and the balanced
    ``port``; any other: its ``port`` (bound by the process itself)."""
    instances = _instances(svc) if svc.get("runtime") != "docker" else []
    if instances:
        return [(int(inst["listen_port"]), "instance") for inst in instances] + [(int(svc["port"]), "balanced")]
    slots = svc.get("slot_list") if isinstance(svc.get("slot_list"), list) else []
    if slots:
        # Blue-green: each slot's port (the idle one is free) and the balanced port.
        return [(int(slot["listen_port"]), "instance") for slot in slots] + [(int(svc["port"]), "balanced")]
    if svc.get("port") is None:
        return []
    return [(int(svc["port"]), "service")]


def request(the_plan):
    """What the files module's ``report_host`` reads for a host's plan: {ports, paths}."""
    s = the_plan["settings"]
    ports = []
    for svc in the_plan["entries"]:
        for port, _role in service_ports(svc):
            if port not in ports:
                ports.append(port)
    paths = []
    for path in (s.get("install_dir"), s.get("data_dir")):
        if path and path not in paths:
            paths.append(path)
    return {"ports": sorted(ports), "paths": paths}


def is_ours(svc, role, holder, settings):
    """Whether ``holder`` (a listener of ``report``) is service ``svc``'s own process for a port of ``role``."""
    name = svc["name"]
    env = holder.get("env") or {}
    if holder.get("pid") is None:
        # Its process not found: root without CAP_SYS_PTRACE (a container) cannot read the
        # descriptors of another user's process. The socket's owner decides: the service
        # user's (the services run as it), or on the balanced port root's or haproxy's
        # (HAProxy binds as root, its workers run as haproxy).
        users = [settings.get("user")] + (["root", "haproxy"] if role == "balanced" else [])
        return holder.get("user") in users
    if env.get("SERVICE_NAME") == name:
        return True
    units = set([svc.get("unit"), "alicia-%s.service" % name] + [i.get("unit") for i in _instances(svc)]
                + [slot.get("unit") for slot in svc.get("slot_list") or []])
    if holder.get("unit") and holder["unit"] in units:
        return True
    program = (settings.get("supervisor_prefix") or "") + name
    if env.get("SUPERVISOR_PROCESS_NAME") == program:
        return True
    if role == "balanced" and (holder.get("unit") == settings.get("balancer_unit") or holder.get("name") == "haproxy"):
        return True
    # Docker's proxy of a published port: the service's container, also while a
    # runtime switch away from docker has not removed it yet (the phase does, first).
    if holder.get("name") == "docker-proxy" or holder.get("unit") == settings.get("docker_unit"):
        return True
    return False


def _holder_text(holder):
    pid = holder.get("pid")
    text = "PID %s (%s" % (pid if pid is not None else "unknown", holder.get("command") or "?")
    if holder.get("unit"):
        text += ", unit %s" % holder["unit"]
    if holder.get("pid") is None and holder.get("user"):
        text += ", socket of user %s" % holder["user"]
    return text + ")"


def _services_of_key(the_plan, key):
    """The services a files ``key`` belongs to (the plan's keys table; else the key's text before ``:``)."""
    info = (the_plan.get("keys") or {}).get(key) or {}
    if info.get("service"):
        return [info["service"]]
    if info.get("services"):
        return list(info["services"])
    return [key.split(":", 1)[0]] if key else []


def space_needs(the_plan, paths, venvs=None):
    """path -> {service: {"files": bytes, "virtualenv": bytes}}: what the host's new release needs below
    each of ``paths`` (the report's), from the files report's ``needed_by_key`` and the venvs check-mode
    result's items (``venvs``: each ``path``, ``changed``, ``estimate_bytes``; a venv counts for the
    services that use it, ``the_plan["venv_of"]``). Bytes shared by several services (a wheelhouse, a
    virtualenv) count once, under their names joined by ``/``; files without a key as ``other files``."""
    found = dict((path, {}) for path in paths)

    def add(path, name, kind, size):
        if size:
            slot = found[path].setdefault(name, {"files": 0, "virtualenv": 0})
            slot[kind] += size
    for path, space in paths.items():
        for key, size in sorted((space.get("needed_by_key") or {}).items()):
            add(path, "/".join(_services_of_key(the_plan, key)) or "other files", "files", int(size))
    venv_of = the_plan.get("venv_of") or {}
    for item in venvs or []:
        if not item.get("changed") or not item.get("estimate_bytes"):
            continue
        path = containing_path(item["path"], list(paths))
        if path is None:
            continue
        names = sorted(name for name, venv in venv_of.items() if venv == item["path"])
        add(path, "/".join(names) or item["path"], "virtualenv", int(item["estimate_bytes"]))
    return found


def _mb_up(size):
    """Bytes in MB, rounded up (1 byte needs 1 MB)."""
    return int(-(-int(size) // MB))


def _needs_text(needs):
    parts = []
    for name, kinds in sorted(needs.items()):
        what = ", ".join("%s %d MB" % (kind, _mb_up(kinds[kind])) for kind in ("files", "virtualenv") if kinds[kind])
        parts.append("%s (%s)" % (name, what))
    return ", ".join(parts)


def _disk_problems(host, paths, needs, min_free_mb):
    """The free-space messages, per file system: the paths of the report sharing a ``device`` (in the
    report's order, the install directory first) judged together - free below ``min_free_mb`` plus what
    the new release needs on any of them, in one message naming them all; without such a need, each
    path free below ``min_free_mb``."""
    margin = int(min_free_mb or 0)
    found = []
    groups, index = [], {}
    for path, space in paths.items():
        if space.get("free_mb") is None:
            found.append("%s: the free space of %s could not be read (at %s)" % (host, path, space.get("checked")))
            continue
        key = ("path", path) if space.get("device") is None else ("device", space["device"])
        if key not in index:
            index[key] = len(groups)
            groups.append([])
        groups[index[key]].append(path)
    for group in groups:
        first = paths[group[0]]
        merged = {}
        for member in group:
            for name, kinds in needs.get(member, {}).items():
                slot = merged.setdefault(name, {"files": 0, "virtualenv": 0})
                for kind, size in kinds.items():
                    slot[kind] += size
        need_mb = _mb_up(sum(sum(kinds.values()) for kinds in merged.values()))
        if merged and first["free_mb"] < margin + need_mb:
            found.append("%s: %s (file system of %s) has %d MB free, %d MB needed: %d MB for the new releases "
                         "and virtualenvs of %s, plus %d MB (service_host_check_min_free_mb)"
                         % (host, " and ".join(group), first.get("checked"), first["free_mb"], margin + need_mb,
                            need_mb, _needs_text(merged), margin))
            continue
        for path in group:
            if paths[path]["free_mb"] < margin:
                found.append("%s: %s (file system of %s) has %d MB free, %d MB needed (service_host_check_min_free_mb)"
                             % (host, path, paths[path].get("checked"), paths[path]["free_mb"], margin))
    return found


def problems(the_plan, report, min_free_mb=0, check_memory=True, changed_keys=(), venvs=None):
    """The report of ``report`` judged for the host of ``the_plan``: a list of messages ([]: ready).

    - a port a service needs held by a process that is not its own (``is_ours``);
    - a path (install, data directory) whose file system has less than ``min_free_mb`` free, plus what
      the new release needs on it (``space_needs``: the files that would change, each path's
      ``needed_by_key``, and the virtualenvs to build, ``venvs``, the venvs module's check-mode items;
      paths on one file system, the same ``device``, add up);
    - the memory reservations of the services not running yet (none of their
      ports held by their own process), and of the new slot of each running
      blue-green service whose files would change (``changed_keys``, the
      check-mode files result's: its new release starts beside the live
      one), above MemAvailable (``check_memory``)."""
    if not report:
        return []
    s = the_plan["settings"]
    host = the_plan["host"]
    held = report.get("listeners") or {}
    found = []
    starting = []
    for svc in the_plan["entries"]:
        running = False
        for port, role in service_ports(svc):
            for holder in held.get(str(port)) or []:
                if is_ours(svc, role, holder, s):
                    running = True
                    continue
                found.append("%s: service %s needs port %s (%s), held by %s on %s, not by the service"
                             % (host, svc["name"], port, role, _holder_text(holder), holder.get("address", "?")))
        if not running:
            starting.append(svc)
        elif svc.get("slot_list") and any(key == svc["name"] or key.startswith(svc["name"] + ":")
                                          for key in changed_keys or ()):
            starting.append(dict(svc, name="%s (its new slot)" % svc["name"]))
    paths = report.get("paths") or {}
    found += _disk_problems(host, paths, space_needs(the_plan, paths, venvs), min_free_mb)
    available = report.get("mem_available_mb")
    if check_memory and starting and available is not None:
        need = sum(size_mb((svc.get("resources") or {}).get("memory_reservation")) for svc in starting)
        if need > available:
            found.append("%s: the services about to start (%s) reserve %d MB of memory (catalogue "
                         "resources.memory_reservation), MemAvailable is %d MB"
                         % (host, ", ".join(svc["name"] for svc in starting), int(round(need)), available))
    return found


def failure_message(found, host):
    """The one message that stops the run: every problem, one a line."""
    return ("Pre-deployment checks failed on %s, nothing was changed by the phases (%d problem(s)):\n- %s"
            % (host, len(found), "\n- ".join(found)))
