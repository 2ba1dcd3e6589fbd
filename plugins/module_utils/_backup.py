# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of services' configuration and data (plugins/modules/backup.py).

A backup of service ``S`` is one archive ``<dir>/S/<id>.tar.gz`` (mode
0600: the environment files hold secrets) holding:

- ``manifest.json``: the service, the id, when, the files and whether the
  data directory was there;
- ``config/<name>``: the service's environment and settings files
  (``<config_dir>/S.env``, ``S.json`` and, for a multi-instance service,
  each instance's ``.env`` and ``.json``), those that exist;
- ``data`` and ``data/...``: the data directory ``<data_dir>/S`` and its
  content (directories, regular files, symbolic links, hard links; owners,
  modes and mtimes as tar records them).

An archive is written to a temporary file in the service's backup directory
and renamed to its name once complete: a reader never sees half an archive.
Ids are UTC timestamps (``20261207T004735Z``, ``-2`` and on when taken in
the same second); they sort in time order, newest first in listings, and
retention removes the oldest beyond ``keep``.

A restore reads and checks the whole archive first (no absolute name, no
``..``, no link leading outside the data directory, no device or fifo), then
extracts the data into a sibling temporary directory of the data directory,
writes each config file to a temporary file beside it, and only then swaps:
the old data directory is renamed aside, the new one renamed in, the old one
removed, the config files renamed over theirs. A failure before the swap
leaves the old data and files as they were.

Standard library only (runs on the targets). File contents never appear in
a result or a message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import io
import json
import os
import pwd
import re
import shutil
import stat
import tarfile
import tempfile
import time

FORMAT = 1
MANIFEST = "manifest.json"
SUFFIX = ".tar.gz"
ID_RE = re.compile(r"\A[0-9]{8}T[0-9]{6}Z(?:-[0-9]{1,4})?\Z")
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
ACTIONS = ("create", "list", "restore")
# Room kept on top of an archive's estimated size (gzip headers, tar end blocks).
SLACK = 64 * 1024
DIR_MODE = 0o700
ARCHIVE_MODE = 0o600


class BackupError(Exception):
    """A backup or restore that cannot be done; ``result`` is what was done before."""

    def __init__(self, msg, result=None):
        super(BackupError, self).__init__(msg)
        self.msg = msg
        self.result = result


# ---- arguments ----

def argument_spec():
    return dict(
        action=dict(type="str", default="create", choices=list(ACTIONS)),
        services=dict(type="list", elements="str", required=True),
        instances=dict(type="dict", default={}),
        backup=dict(type="str"),
        id=dict(type="str"),
        dir=dict(type="path", default="/var/backups/alicia"),
        keep=dict(type="int", default=5),
        config_dir=dict(type="path", default="/etc/alicia"),
        data_dir=dict(type="path", default="/var/lib/alicia"),
    )


def check_args(params):
    """Problems with the arguments, each naming the field (and the service)."""
    errors = []
    services = params.get("services") or []
    if not services:
        errors.append("services: at least one service")
    seen = set()
    for name in services:
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append("services: %r is not a service name" % (name,))
        elif name in seen:
            errors.append("services: %s given twice" % name)
        seen.add(name)
    instances = params.get("instances") or {}
    for name, names in sorted(instances.items()):
        if name not in seen:
            errors.append("instances: %s is not one of services" % name)
        if not isinstance(names, list) or not all(isinstance(i, str) and NAME_RE.match(i) for i in names):
            errors.append("instances: %s: a list of instance names expected" % name)
    for field in ("dir", "config_dir", "data_dir"):
        if not os.path.isabs(params.get(field) or ""):
            errors.append("%s: an absolute path expected, got %r" % (field, params.get(field)))
    action = params.get("action")
    if action == "create":
        if not isinstance(params.get("keep"), int) or params["keep"] < 1:
            errors.append("keep: at least 1 (got %r)" % (params.get("keep"),))
        if params.get("id") is not None and not ID_RE.match(params["id"]):
            errors.append("id: %r is not a backup id (YYYYMMDDTHHMMSSZ)" % params["id"])
    if action == "restore":
        if len(services) != 1:
            errors.append("services: restore takes exactly one service (got %d)" % len(services))
        if params.get("backup") not in (None, "") and not ID_RE.match(params["backup"]):
            errors.append("backup: %r is not a backup id (YYYYMMDDTHHMMSSZ)" % params["backup"])
    return errors


# ---- paths and ids ----

def config_files(name, instances, config_dir):
    """The config files of service ``name`` that a backup holds when they exist."""
    paths = []
    for own in [name] + list(instances or []):
        paths += [os.path.join(config_dir, own + ".env"), os.path.join(config_dir, own + ".json")]
    return paths


def service_dir(backup_dir, name):
    return os.path.join(backup_dir, name)


def id_key(backup_id):
    """Sort key of an id: its timestamp, then its sequence number."""
    base, _sep, seq = backup_id.partition("-")
    return (base, int(seq or 0))


def new_id(now, taken):
    """The id of a backup made at ``now`` (seconds since the epoch) that is not in ``taken``."""
    base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    candidate, seq = base, 1
    while candidate in taken:
        seq += 1
        candidate = "%s-%d" % (base, seq)
    return candidate


def next_id(wanted, taken):
    """``wanted``, or its next free sequence (``-2`` and on) when a backup already has it."""
    base, _sep, _seq = wanted.partition("-")
    candidate, seq = wanted, id_key(wanted)[1] or 1
    while candidate in taken:
        seq += 1
        candidate = "%s-%d" % (base, seq)
    return candidate


def list_ids(backup_dir, name):
    """The ids of the backups of ``name``, newest first."""
    directory = service_dir(backup_dir, name)
    try:
        entries = os.listdir(directory)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise BackupError("cannot read %s: %s" % (directory, exc.strerror))
    ids = [e[:-len(SUFFIX)] for e in entries if e.endswith(SUFFIX) and ID_RE.match(e[:-len(SUFFIX)])
           and os.path.isfile(os.path.join(directory, e))]
    return sorted(ids, key=id_key, reverse=True)


def archive_path(backup_dir, name, backup_id):
    return os.path.join(service_dir(backup_dir, name), backup_id + SUFFIX)


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the file system of ``path``
    (or of its nearest existing parent)."""
    probe = path
    while not os.path.exists(probe) and probe != os.path.dirname(probe):
        probe = os.path.dirname(probe)
    st = os.statvfs(probe)
    return st.f_bavail * st.f_frsize


def _block(size):
    return (size + 511) // 512 * 512


# ---- create ----

def _walk(top):
    """(path, lstat) of ``top`` and everything below it, directories before their content, in name order."""
    found = [(top, os.lstat(top))]
    for directory, dirs, names in os.walk(top):
        dirs.sort()
        for entry in sorted(dirs + names):
            full = os.path.join(directory, entry)
            found.append((full, os.lstat(full)))
    return found


def collect(name, instances, config_dir, data_dir):
    """What a backup of ``name`` holds: its existing config files, its data
    entries (symlinks not followed; sockets, fifos and devices skipped), and
    an upper bound of the archive's size."""
    files = [p for p in config_files(name, instances, config_dir) if os.path.isfile(p)]
    data = os.path.join(data_dir, name)
    entries, skipped = [], []
    if os.path.isdir(data):
        for path, st in _walk(data):
            if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                entries.append((path, st))
            else:
                skipped.append(path)
    size = 2 * 512 + 4096  # the end blocks and the manifest
    for path in files:
        size += 512 + _block(os.path.getsize(path))
    for _path, st in entries:
        size += 512 + (_block(st.st_size) if stat.S_ISREG(st.st_mode) else 0)
    estimate = size + size // 1000 + SLACK
    return {"files": files, "data": data if os.path.isdir(data) else None, "entries": entries,
            "skipped": skipped, "estimate": estimate}


def _write_archive(handle, name, backup_id, now, found):
    manifest = {"format": FORMAT, "service": name, "id": backup_id,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "files": found["files"], "data_dir": found["data"]}
    with tarfile.open(fileobj=handle, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        text = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(text), 0o600, int(now)
        tar.addfile(info, io.BytesIO(text))
        for path in found["files"]:
            tar.add(path, arcname="config/" + os.path.basename(path), recursive=False)
        if found["data"]:
            top = found["data"]
            for path, _st in found["entries"]:
                rel = os.path.relpath(path, top)
                arcname = "data" if rel == "." else "data/" + rel.replace(os.sep, "/")
                tar.add(path, arcname=arcname, recursive=False)


def _ensure_dir(path):
    if not os.path.isdir(path):
        os.makedirs(path, DIR_MODE)
    os.chmod(path, DIR_MODE)


def create(services, instances, backup_dir, keep, config_dir, data_dir, check_mode=False, now=None,
           backup_id=None, free=free_bytes):
    """Back up each service of ``services`` (see the module's documentation)."""
    now = time.time() if now is None else now
    plans, needed = [], 0
    for name in services:
        found = collect(name, (instances or {}).get(name) or [], config_dir, data_dir)
        taken = set(list_ids(backup_dir, name))
        plans.append((name, found, next_id(backup_id, taken) if backup_id else new_id(now, taken), taken))
    results = []
    available = free(backup_dir)
    for name, found, bid, _taken in plans:
        if not found["files"] and not found["data"]:
            continue
        needed += found["estimate"]
        if needed > available:
            raise BackupError("%s: not enough space in %s for its backup: %d bytes needed (%d for the services "
                              "before it), %d free" % (name, backup_dir, found["estimate"],
                                                       needed - found["estimate"], available))
    if not check_mode:
        _ensure_dir(backup_dir)
    for name, found, bid, taken in plans:
        result = {"service": name, "id": None, "path": None, "size": 0, "files": found["files"],
                  "data_dir": found["data"], "entries": len(found["entries"]), "skipped": found["skipped"],
                  "pruned": [], "changed": False}
        if not found["files"] and not found["data"]:
            result["reason"] = "nothing to back up (no config file, no data directory)"
            results.append(result)
            continue
        path = archive_path(backup_dir, name, bid)
        result.update(id=bid, path=path, changed=True, reason=None)
        existing = sorted(taken, key=id_key, reverse=True)
        result["pruned"] = ([bid] + existing)[keep:]
        if check_mode:
            result["size"] = found["estimate"]
            results.append(result)
            continue
        directory = service_dir(backup_dir, name)
        try:
            _ensure_dir(directory)
            fd, tmp = tempfile.mkstemp(prefix=".%s." % bid, suffix=".tmp", dir=directory)
        except OSError as exc:
            raise BackupError("%s: cannot write to %s: %s" % (name, directory, exc.strerror),
                              result={"backups": results})
        try:
            os.fchmod(fd, ARCHIVE_MODE)
            with os.fdopen(fd, "wb") as handle:
                _write_archive(handle, name, bid, now, found)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, path)
        except (OSError, tarfile.TarError) as exc:
            _unlink(tmp)
            raise BackupError("%s: backup failed: %s" % (name, getattr(exc, "strerror", None) or exc),
                              result={"backups": results})
        result["size"] = os.path.getsize(path)
        for old in result["pruned"]:
            _unlink(archive_path(backup_dir, name, old))
        results.append(result)
    return results


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ---- list ----

def list_backups(services, backup_dir):
    """{service: [{id, path, size}] newest first}."""
    found = {}
    for name in services:
        found[name] = [{"id": bid, "path": archive_path(backup_dir, name, bid),
                        "size": os.path.getsize(archive_path(backup_dir, name, bid))}
                       for bid in list_ids(backup_dir, name)]
    return found


# ---- restore ----

def _safe_name(name):
    """The member name normalized, or None when absolute or escaping with ``..``."""
    if not name or name.startswith("/") or "\\" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _link_problem(name, target, links):
    """Why symlink ``name`` -> ``target`` is refused (None when it stays inside ``data``
    without passing through another link of the archive)."""
    if not target or target.startswith("/"):
        return "an absolute link (%r)" % target
    parts = name.split("/")[:-1]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if len(parts) <= 1:
                return "a link pointing outside the data directory (%r)" % target
            parts.pop()
            continue
        parts.append(part)
        if "/".join(parts) in links and "/".join(parts) != name:
            return "a link through another link (%r)" % target
    return None


def check_members(members, allowed_config):
    """Problems with an archive's members (none means it can be extracted safely).

    Names must be ``manifest.json``, ``config/<one of allowed_config>``
    (regular files) or ``data``/``data/...``, each once; no member may lie
    below a symbolic link of the archive; symbolic links must be relative and
    stay inside ``data`` (not through another link); hard links must name an
    earlier file of ``data``; nothing else than directories, files and links.
    """
    problems = []
    names = set()
    links = set(_safe_name(m.name) for m in members if m.issym() and _safe_name(m.name))
    for member in members:
        name = _safe_name(member.name)
        if name is None:
            problems.append("%r: absolute or outside the archive" % member.name)
            continue
        if name in names:
            problems.append("%r: in the archive twice" % member.name)
            continue
        names.add(name)
        if name == MANIFEST:
            continue
        if name.startswith("config/"):
            if not member.isreg() or name[len("config/"):] not in allowed_config:
                problems.append("%r: not a config file of this service" % member.name)
            continue
        if name != "data" and not name.startswith("data/"):
            problems.append("%r: neither a config file nor in the data directory" % member.name)
            continue
        parents = name.split("/")[:-1]
        if any("/".join(parents[:i]) in links for i in range(1, len(parents) + 1)):
            problems.append("%r: below a symbolic link" % member.name)
            continue
        if name == "data" and not member.isdir():
            problems.append("%r: the data directory is not a directory" % member.name)
        elif member.issym():
            why = _link_problem(name, member.linkname, links)
            if why:
                problems.append("%r: %s" % (member.name, why))
        elif member.islnk():
            target = _safe_name(member.linkname)
            if target is None or not target.startswith("data/") or target not in names or target in links:
                problems.append("%r: a hard link to %r, not an earlier file of the data directory"
                                % (member.name, member.linkname))
        elif not (member.isdir() or member.isreg()):
            problems.append("%r: not a file, directory or link" % member.name)
    return problems


def _owner(member):
    uid, gid = member.uid, member.gid
    try:
        uid = pwd.getpwnam(member.uname).pw_uid if member.uname else uid
    except KeyError:
        pass
    try:
        gid = grp.getgrnam(member.gname).gr_gid if member.gname else gid
    except KeyError:
        pass
    return uid, gid


def _apply_meta(path, member, can_chown, link=False):
    uid, gid = _owner(member)
    if link:
        if can_chown:
            os.lchown(path, uid, gid)
        return
    if can_chown:
        os.chown(path, uid, gid)
    os.chmod(path, member.mode & 0o7777)
    os.utime(path, (member.mtime, member.mtime))


def _copy_member(tar, member, dest):
    source = tar.extractfile(member)
    with open(dest, "wb") as out:
        shutil.copyfileobj(source, out)


def _extract_data(tar, members, root, can_chown):
    """The ``data`` members extracted into the new directory ``root`` (directories' metadata last)."""
    dirs = []
    for member in members:
        name = _safe_name(member.name)
        if name != "data" and not name.startswith("data/"):
            continue
        rel = name[len("data/"):] if name != "data" else ""
        dest = os.path.join(root, *rel.split("/")) if rel else root
        if member.isdir():
            if rel:
                if not os.path.isdir(dest):
                    os.makedirs(dest, 0o700)
            dirs.append((dest, member))
            continue
        parent = os.path.dirname(dest)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o700)
        if member.issym():
            os.symlink(member.linkname, dest)
            _apply_meta(dest, member, can_chown, link=True)
        elif member.islnk():
            target = os.path.join(root, *_safe_name(member.linkname)[len("data/"):].split("/"))
            os.link(target, dest)
        else:
            _copy_member(tar, member, dest)
            _apply_meta(dest, member, can_chown)
    for dest, member in reversed(dirs):
        _apply_meta(dest, member, can_chown)


def open_archive(path):
    """The archive at ``path``, its members and its manifest."""
    try:
        tar = tarfile.open(path, mode="r:gz")
        members = tar.getmembers()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError("cannot read %s: %s" % (path, exc))
    manifest = {}
    for member in members:
        if member.name == MANIFEST and member.isreg():
            try:
                manifest = json.loads(tar.extractfile(member).read().decode("utf-8"))
            except ValueError:
                raise BackupError("%s: its manifest is not JSON" % path)
    return tar, members, manifest


def restore(name, instances, backup_dir, config_dir, data_dir, backup_id=None, check_mode=False, free=free_bytes):
    """Put backup ``backup_id`` (default the newest) of service ``name`` back."""
    ids = list_ids(backup_dir, name)
    if not ids:
        raise BackupError("%s: no backup in %s" % (name, service_dir(backup_dir, name)))
    if backup_id and backup_id not in ids:
        raise BackupError("%s: unknown backup %s; its backups are: %s" % (name, backup_id, ", ".join(ids)))
    bid = backup_id or ids[0]
    path = archive_path(backup_dir, name, bid)
    allowed = [os.path.basename(p) for p in config_files(name, instances, config_dir)]
    tar, members, manifest = open_archive(path)
    with tar:
        if manifest.get("service") not in (None, name):
            raise BackupError("%s: backup %s is a backup of %s" % (name, bid, manifest.get("service")))
        problems = check_members(members, allowed)
        if problems:
            raise BackupError("%s: backup %s refused, unsafe members: %s" % (name, bid, "; ".join(problems)))
        config = [m for m in members if _safe_name(m.name).startswith("config/")]
        data_members = [m for m in members if _safe_name(m.name) == "data" or _safe_name(m.name).startswith("data/")]
        has_data = any(_safe_name(m.name) == "data" for m in data_members)
        data = os.path.join(data_dir, name)
        restored = [os.path.join(config_dir, _safe_name(m.name)[len("config/"):]) for m in config]
        removed = [p for p in config_files(name, instances, config_dir) if p not in restored and os.path.lexists(p)]
        result = {"service": name, "id": bid, "path": path, "files": restored, "removed": removed,
                  "data_dir": data if has_data else None,
                  "entries": len(data_members), "changed": True}
        needed = sum(m.size for m in data_members if m.isreg()) + 4096 * len(data_members)
        available = free(data_dir)
        if has_data and needed > available:
            raise BackupError("%s: not enough space in %s to restore backup %s: %d bytes needed, %d free"
                              % (name, data_dir, bid, needed, available))
        if check_mode:
            return result
        can_chown = os.geteuid() == 0
        staged, new_data = [], None
        try:
            if has_data:
                if not os.path.isdir(data_dir):
                    os.makedirs(data_dir, 0o755)
                new_data = tempfile.mkdtemp(prefix=".%s.restore-" % name, dir=data_dir)
                _extract_data(tar, data_members, new_data, can_chown)
            for member in config:
                dest = os.path.join(config_dir, _safe_name(member.name)[len("config/"):])
                fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), suffix=".tmp", dir=config_dir)
                os.close(fd)
                staged.append((tmp, dest))
                os.chmod(tmp, 0o600)
                _copy_member(tar, member, tmp)
                _apply_meta(tmp, member, can_chown)
        except (OSError, tarfile.TarError, EOFError) as exc:
            for tmp, _dest in staged:
                _unlink(tmp)
            if new_data:
                shutil.rmtree(new_data, ignore_errors=True)
            raise BackupError("%s: restore of backup %s failed, nothing changed: %s"
                              % (name, bid, getattr(exc, "strerror", None) or exc))
    # The swap: nothing above touched the live data or files.
    try:
        if new_data:
            old = None
            if os.path.lexists(data):
                old = tempfile.mkdtemp(prefix=".%s.old-" % name, dir=data_dir)
                os.rmdir(old)
                os.rename(data, old)
            os.rename(new_data, data)
            if old:
                if os.path.isdir(old) and not os.path.islink(old):
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    _unlink(old)
        for tmp, dest in staged:
            os.rename(tmp, dest)
        for stale in removed:
            _unlink(stale)
    except OSError as exc:
        raise BackupError("%s: restore of backup %s failed while swapping in: %s" % (name, bid, exc.strerror),
                          result={"restored": result})
    return result
