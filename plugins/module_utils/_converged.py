# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge record: a host's state after a full, successful site.yml,
and one read of the host against it (site.yml's alicia_converged_shortcut).

Controller side, ``inputs_digest``: one digest of everything a run is
decided by that is not on the host: every host's inventory and extra
variables (not Ansible's own ``ansible_*``, not the run's private ``_*``
facts), the groups, and the collection's own files (roles, playbooks,
plugins: their defaults, templates and logic).

Host side, ``snapshot``: what the platform left on the host, read in one
pass: the signature (type, mode, owner, size, modification time, link
target) of every path under the platform's roots (/etc, /opt/alicia, the
package database), the state of its systemd units, its containers, its
supervisor programs and manual instances, the running nftables ruleset and
the kernel's values of the sysctl keys /etc/sysctl.d sets, and HAProxy's
servers as its runtime API has them (a drain set at run time). ``compare``
names what differs. A host whose record has the same inputs digest and
whose snapshot equals the recorded one has nothing to do: the run that
wrote the record left it converged, and nothing changed since.

Library only; nothing prints or exits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import stat

from ansible_collections.alicia.platform.plugins.module_utils._haproxy import (
    HAProxyError,
    RuntimeAPI,
    parse_servers_state,
    servers_by_name,
)

FORMAT = 1
RECORD_PATH = "/var/lib/alicia/converged.json"
ROOTS = ("/etc", "/opt/alicia", "/var/lib/dpkg/status")
# What changes on a host without the platform: the engine's own bind mounts
# and caches rebuilt by the package manager.
EXCLUDE = ("/etc/mtab", "/etc/ld.so.cache", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/etc/.pwd.lock")
UNITS = ("alicia-*", "mosquitto.service", "haproxy.service", "nftables.service", "supervisor.service",
         "logrotate.timer", "docker.service")
SYSCTL_DIR = "/etc/sysctl.d"
MANUAL_RUN_DIR = "/run/alicia"
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
CONTAINER_LABEL = "alicia.platform.managed=true"
CONFIG_LABEL = "alicia.platform.config"
# Variables that are not the desired state: Ansible's magic and connection
# variables, and where the inventory was read from.
_NOT_INPUTS = ("groups", "group_names", "hostvars", "inventory_hostname", "inventory_hostname_short",
               "inventory_dir", "inventory_file", "playbook_dir", "omit", "play_hosts", "role_names")
_TREE_DIRS = ("roles", "playbooks", "plugins", "meta")
REASONS_SHOWN = 20


class ConvergedError(Exception):
    """A record that cannot be read or written."""


# ---------------------------------------------------------------------------
# Controller: the inputs digest
# ---------------------------------------------------------------------------

def is_input(name):
    """A variable of the desired state (not ``ansible_*``, not private ``_*``, not magic)."""
    return (isinstance(name, str) and not name.startswith("ansible_") and not name.startswith("_")
            and name not in _NOT_INPUTS)


def tree_digest(root, dirs=_TREE_DIRS):
    """sha256 over the relative path and content of every file under ``root``/``dirs``
    (no ``__pycache__``, no compiled Python), in a stable order."""
    digest = hashlib.sha256()
    for top in dirs:
        base = os.path.join(root, top)
        for current, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(current, name)
                digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
                try:
                    with open(path, "rb") as handle:
                        digest.update(hashlib.sha256(handle.read()).digest())
                except (IOError, OSError):
                    digest.update(b"unreadable")
    return digest.hexdigest()


def inputs_digest(host_vars, groups, tree, version=""):
    """sha256 of the inputs of a run: ``host_vars`` ({host: {name: value}}, every
    host's variables; only ``is_input`` names count), ``groups`` ({group: [hosts]}),
    ``tree`` (``tree_digest`` of the collection) and ``version`` (ansible-core's)."""
    inputs = {}
    for host in sorted(host_vars):
        values = host_vars[host]
        inputs[host] = dict((name, values[name]) for name in sorted(values) if is_input(name))
    document = {"hosts": inputs, "groups": dict((g, sorted(h)) for g, h in sorted(groups.items())),
                "tree": tree, "version": version}
    text = json.dumps(document, sort_keys=True, default=_text, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value):
    return str(value)


# ---------------------------------------------------------------------------
# Host: the snapshot
# ---------------------------------------------------------------------------

def _signature(path, info):
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return "l %s" % target
    kind = "d" if stat.S_ISDIR(info.st_mode) else ("f" if stat.S_ISREG(info.st_mode) else "o")
    size = info.st_size if kind == "f" else 0
    mtime = info.st_mtime_ns if kind != "d" else 0
    return "%s %o %d %d %d %d" % (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, size, mtime)


def files(roots=ROOTS, exclude=EXCLUDE):
    """{path: signature} of every path under ``roots`` (symbolic links not followed),
    ``exclude`` left out. A directory's signature has no time: its entries have theirs."""
    found = {}
    excluded = set(exclude)
    for root in roots:
        try:
            info = os.lstat(root)
        except OSError:
            found[root] = "absent"
            continue
        found[root] = _signature(root, info)
        if not stat.S_ISDIR(info.st_mode):
            continue
        for current, subdirs, names in os.walk(root):
            kept = []
            for name in sorted(subdirs) + sorted(names):
                path = os.path.join(current, name)
                if path in excluded:
                    continue
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                found[path] = _signature(path, info)
                if name in subdirs and stat.S_ISDIR(info.st_mode):
                    kept.append(name)
            subdirs[:] = kept
    return found


def _lines(run, argv):
    """The output lines of a command; None when the command is missing or fails."""
    rc, out, _err = run(argv)
    if rc != 0:
        return None
    return [line.strip() for line in out.splitlines() if line.strip()]


def units(run, patterns=UNITS):
    """{unit: "load active sub enabled-state"} of the loaded units and unit files matching ``patterns``."""
    found = {}
    listed = _lines(run, ["systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager"] + list(patterns))
    if listed is None:
        return None
    for line in listed:
        fields = line.split()
        if len(fields) >= 4:
            found[fields[0]] = " ".join(fields[1:4])
    for line in _lines(run, ["systemctl", "list-unit-files", "--no-legend", "--no-pager"] + list(patterns)) or []:
        fields = line.split()
        if len(fields) >= 2:
            found[fields[0]] = ("%s %s" % (found.get(fields[0], "-"), fields[1])).strip()
    return found


def containers(run):
    """{name: "id state config-label"} of the platform's containers; None without a Docker engine."""
    listed = _lines(run, ["docker", "ps", "--all", "--no-trunc", "--filter", "label=" + CONTAINER_LABEL,
                          "--format", '{{.Names}} {{.ID}} {{.State}} {{.Label "%s"}}' % CONFIG_LABEL])
    if listed is None:
        return None
    return dict((line.split(" ", 1)[0], line.split(" ", 1)[1] if " " in line else "") for line in listed)


def programs(run):
    """{program: state} of supervisor's programs; None without supervisor."""
    rc, out, _err = run(["supervisorctl", "status"])
    # supervisorctl status exits 3 when a program is not running: still an answer.
    if rc not in (0, 3) or not out.strip():
        return None
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            found[fields[0]] = fields[1]
    return found


def manual(run_dir=MANUAL_RUN_DIR):
    """{pid file: "pid alive|gone"} of the manual runtime's instances."""
    found = {}
    try:
        names = sorted(n for n in os.listdir(run_dir) if n.endswith(".pid"))
    except OSError:
        return found
    for name in names:
        try:
            with open(os.path.join(run_dir, name)) as handle:
                pid = handle.read().strip()
        except (IOError, OSError):
            continue
        alive = pid.isdigit() and os.path.exists("/proc/%s" % pid)
        found[name] = "%s %s" % (pid, "alive" if alive else "gone")
    return found


def ruleset(run):
    """sha256 of the running nftables ruleset, stateless (``nft -s``: no counter or
    quota values, which change with every packet); None without nft."""
    rc, out, _err = run(["nft", "-s", "list", "ruleset"])
    if rc != 0:
        return None
    return hashlib.sha256(out.encode("utf-8")).hexdigest()


def sysctl(directory=SYSCTL_DIR, proc="/proc/sys"):
    """{key: the kernel's value} of every key a file of ``directory`` sets."""
    keys = set()
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".conf"))
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(directory, name)) as handle:
                for line in handle:
                    line = line.strip()
                    if line and not line.startswith(("#", ";")) and "=" in line:
                        keys.add(line.split("=", 1)[0].strip().lstrip("-"))
        except (IOError, OSError):
            continue
    found = {}
    for key in sorted(keys):
        try:
            with open(os.path.join(proc, *key.split("."))) as handle:
                found[key] = " ".join(handle.read().split())
        except (IOError, OSError):
            found[key] = None
    return found


def balancer(socket_path=HAPROXY_SOCKET, api=None):
    """{"backend/server": "state weight"} of HAProxy's servers as its runtime API has them
    (a drain or weight set at run time, not in the configuration); None without HAProxy."""
    if api is None:
        if not os.path.exists(socket_path):
            return None
        api = RuntimeAPI(socket_path)
    try:
        servers = servers_by_name(parse_servers_state(api.command("show servers state")))
    except HAProxyError:
        return None
    return dict(("%s/%s" % key, "%s %s" % (view["state"], view["weight"])) for key, view in servers.items())


def snapshot(run, roots=ROOTS, exclude=EXCLUDE, unit_patterns=UNITS, run_dir=MANUAL_RUN_DIR,
             sysctl_dir=SYSCTL_DIR, socket_path=HAPROXY_SOCKET):
    """Everything ``compare`` looks at, read now."""
    return {
        "balancer": balancer(socket_path),
        "files": files(roots, exclude),
        "units": units(run, unit_patterns),
        "containers": containers(run),
        "programs": programs(run),
        "manual": manual(run_dir),
        "ruleset": ruleset(run),
        "sysctl": sysctl(sysctl_dir),
    }


def _mapping_reasons(group, kind, recorded, current):
    if recorded == current:
        return []
    if recorded is None or current is None:
        return ["%s: %s" % (group, "now readable" if recorded is None else "no longer readable")]
    reasons = []
    for key in sorted(set(recorded) | set(current)):
        if key not in current:
            reasons.append("%s %s: gone" % (kind, key))
        elif key not in recorded:
            reasons.append("%s %s: new" % (kind, key))
        elif recorded[key] != current[key]:
            reasons.append("%s %s: %s, was %s" % (kind, key, current[key], recorded[key]))
    return reasons


def compare(recorded, current):
    """What differs between a recorded snapshot and the current one, a line each ([] when equal)."""
    reasons = []
    for kind, label in (("files", "path"), ("units", "unit"), ("containers", "container"),
                        ("programs", "program"), ("manual", "manual instance"), ("sysctl", "sysctl"),
                        ("balancer", "HAProxy server")):
        reasons.extend(_mapping_reasons(kind, label, recorded.get(kind), current.get(kind)))
    if recorded.get("ruleset") != current.get("ruleset"):
        reasons.append("nftables: the running ruleset changed")
    return reasons


# ---------------------------------------------------------------------------
# Host: the record
# ---------------------------------------------------------------------------

def read_record(path=RECORD_PATH):
    """The record at ``path``; None when there is none. Raises ConvergedError on a damaged one."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None
        raise ConvergedError("%s: %s" % (path, exc))
    except ValueError as exc:
        raise ConvergedError("%s: not JSON: %s" % (path, exc))
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    return record


def check(digest, current, record):
    """``(converged, reasons)`` of a host: its ``record`` against the inputs ``digest`` and its ``current`` snapshot."""
    if record is None:
        return False, ["no converge record (no full site.yml run recorded this host's state)"]
    if record.get("digest") != digest:
        return False, ["the inputs changed since the recorded converge (inventory, variables or the collection)"]
    reasons = compare(record.get("snapshot") or {}, current)
    return not reasons, reasons


def record_of(digest, current):
    """The record of inputs ``digest`` and snapshot ``current``, as written."""
    return {"format": FORMAT, "digest": digest, "snapshot": current}


def write_record(path, digest, current):
    """Write the record atomically (0600, its directory 0755 when new); False when it is already this one."""
    record = record_of(digest, current)
    try:
        if read_record(path) == record:
            return False
    except ConvergedError:
        pass
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    temporary = "%s.tmp.%d" % (path, os.getpid())
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(record, handle, sort_keys=True, separators=(",", ":"))
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return True
