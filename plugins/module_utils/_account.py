# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A system group and user read by one shell command, and what differs from the wanted account.

Used by the filters system_account_probe, system_account_changes and
system_account_problems (plugins/filter/account.py): the role
alicia.platform.service_user reads the account with ``ansible.builtin.raw``
(no module is sent), stops on a conflict before anything changes, and runs
``ansible.builtin.group`` and ``ansible.builtin.user`` only when something
differs, so a re-run that changes nothing runs no module for the account.

``probe_command`` is the shell command (``getent group``, ``getent passwd
NAME [UID]``, and ``getent shadow NAME`` cut on the host to the user name and
a lock flag: no password hash leaves the host); ``read_report`` parses its
output; ``changes`` and ``problems`` compare it with the wanted account
(the arguments the role gives the builtins). Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REPORT_MARK = "@@alicia-account@@"
# getent: 0 every key found, 2 some key not found (fine: we look up what may not exist).
GETENT_OK = (0, 2)
DEFAULT_SHELL = "/usr/sbin/nologin"


class AccountError(Exception):
    """A probe output that cannot be read."""


def _quote(text):
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


def probe_command(name, uid=None):
    """A POSIX shell command for ``ansible.builtin.raw`` that prints the entries ``read_report`` reads.

    Each ``getent`` call's output follows a ``<REPORT_MARK> <database> <rc>``
    line. The shadow entry is cut to the user name and a lock flag (``!`` or
    ``*``): the hash never leaves the host.
    """
    keys = _quote(name) + (" " + _quote(int(uid)) if uid is not None else "")
    section = "printf '%%s %s %%s\\n%%s\\n' " + _quote(REPORT_MARK) + ' "$r" "$o"'
    return "; ".join([
        "o=$(getent group); r=$?",
        section % "group",
        "o=$(getent passwd %s); r=$?" % keys,
        section % "passwd",
        "o=$(getent shadow %s); r=$?" % _quote(name),
        "o=$(printf '%s\\n' \"$o\" | awk -F: 'NF > 1 { print $1 \":\" (substr($2, 1, 1) == \"!\" ? \"!\" : \"*\") }')",
        section % "shadow",
    ])


def _int(text, what, line):
    try:
        return int(text)
    except ValueError:
        raise AccountError("getent printed a %s entry with a non-numeric id: %r" % (what, line))


def parse_group_line(line):
    """``name:passwd:gid:member,member`` -> dict(name, gid, members)."""
    fields = line.split(":")
    if len(fields) != 4:
        raise AccountError("getent printed a group entry that is not name:password:gid:members: %r" % line)
    return dict(name=fields[0], gid=_int(fields[2], "group", line), members=[m for m in fields[3].split(",") if m])


def parse_passwd_line(line):
    """``name:passwd:uid:gid:comment:home:shell`` -> dict(name, uid, gid, comment, home, shell)."""
    fields = line.split(":")
    if len(fields) != 7:
        raise AccountError("getent printed a passwd entry that is not name:password:uid:gid:gecos:home:shell: %r"
                           % line)
    return dict(name=fields[0], uid=_int(fields[2], "passwd", line), gid=_int(fields[3], "passwd", line),
                comment=fields[4], home=fields[5], shell=fields[6])


def _sections(text):
    """database -> (rc, [lines]) from the output of ``probe_command``."""
    sections, current = {}, None
    for line in (text or "").splitlines():
        if line.startswith(REPORT_MARK + " "):
            fields = line.split()
            if len(fields) != 3 or not fields[2].isdigit():
                raise AccountError("the account probe printed a malformed section line: %r" % line)
            current = [int(fields[2]), []]
            sections[fields[1]] = current
        elif current is not None and line.strip():
            current[1].append(line)
    missing = [database for database in ("group", "passwd", "shadow") if database not in sections]
    if missing:
        raise AccountError("the account probe printed no %s section: %s" % (", ".join(missing), (text or "")[-500:]))
    for database, (rc, lines) in sections.items():
        if rc not in GETENT_OK or (database == "group" and rc != 0):
            raise AccountError("getent %s failed on the host (rc %d)" % (database, rc))
    return sections


def read_report(text, name, uid=None):
    """The host's entries from the probe's output.

    ``groups``: every group, in the order printed, the first entry of a name
    winning like getgrnam(3); ``user``: the passwd entry of ``name`` or None;
    ``uid_owner``: another user that has ``uid`` (None when free or not
    asked); ``locked``: whether the user's password is locked (None when the
    user does not exist).
    """
    sections = _sections(text)
    groups, seen = [], set()
    for line in sections["group"][1]:
        entry = parse_group_line(line)
        if entry["name"] not in seen:
            seen.add(entry["name"])
            groups.append(entry)
    user, uid_owner = None, None
    for line in sections["passwd"][1]:
        entry = parse_passwd_line(line)
        if entry["name"] == name:
            user = user or entry
        elif uid is not None and entry["uid"] == uid and uid_owner is None:
            uid_owner = entry["name"]
    locked = None
    if user is not None:
        shadow = [line.split(":") for line in sections["shadow"][1]]
        if not shadow or shadow[0][0] != name:
            raise AccountError("user %s has no shadow entry the probe could read: it must run as root" % name)
        locked = shadow[0][1] == "!"
    return dict(groups=groups, user=user, uid_owner=uid_owner, locked=locked)


def desired(params):
    """The wanted account from the role's arguments: the group defaults to the user name, the shell to
    nologin; supplementary groups once each, in order; ``None`` means "left as it is"."""
    extra = []
    for other in params.get("groups") or []:
        if other not in extra:
            extra.append(other)

    def number(key):
        value = params.get(key)
        return None if value is None or str(value) in ("", "None") else int(value)
    return dict(name=params["name"], group=params.get("group") or params["name"], uid=number("uid"),
                gid=number("gid"), groups=extra, comment=params.get("comment"),
                shell=params.get("shell") or DEFAULT_SHELL, home=params.get("home"))


def _find(groups, name):
    return next((entry for entry in groups if entry["name"] == name), None)


def problems(want, state):
    """What ansible.builtin.group and ansible.builtin.user would refuse, or do half: an id another account
    holds, a supplementary group that does not exist. The role stops on these before changing anything."""
    found = []
    if want["gid"] is not None:
        holder = next((e["name"] for e in state["groups"] if e["gid"] == want["gid"] and e["name"] != want["group"]),
                      None)
        if holder is not None:
            found.append("gid %d is already used by group %s: pick another gid or leave it to the system"
                         % (want["gid"], holder))
    if want["uid"] is not None and state["uid_owner"]:
        found.append("uid %d is already used by user %s: pick another uid or leave it to the system"
                     % (want["uid"], state["uid_owner"]))
    missing = [g for g in want["groups"] if g != want["group"] and _find(state["groups"], g) is None]
    if missing:
        found.append("supplementary group%s %s do%s not exist: create %s first (only the primary group %s is "
                     "created)" % ("s" if len(missing) > 1 else "", ", ".join(missing),
                                   "" if len(missing) > 1 else "es", "them" if len(missing) > 1 else "it",
                                   want["group"]))
    return found


def changes(want, state):
    """What differs between the host and the wanted account, in words; empty when the group and the user
    are as wanted (a system group and user, the wanted ids when fixed, primary group, comment, shell and
    home when given, in every supplementary group asked for, password locked)."""
    name, group = want["name"], want["group"]
    found = []
    entry = _find(state["groups"], group)
    if entry is None:
        found.append("group %s: create (system group)" % group)
    elif want["gid"] is not None and entry["gid"] != want["gid"]:
        found.append("group %s: gid %d -> %d" % (group, entry["gid"], want["gid"]))
    user = state["user"]
    if user is None:
        found.append("user %s: create (system user, group %s, shell %s, password locked)" % (name, group, want["shell"]))
        return found
    if want["uid"] is not None and user["uid"] != want["uid"]:
        found.append("user %s: uid %d -> %d" % (name, user["uid"], want["uid"]))
    if entry is None or user["gid"] != entry["gid"]:
        found.append("user %s: primary group -> %s" % (name, group))
    for key in ("comment", "shell", "home"):
        if want[key] is not None and user[key] != want[key]:
            found.append("user %s: %s %r -> %r" % (name, key, user[key], want[key]))
    missing = [g for g in want["groups"] if _find(state["groups"], g) is None
               or name not in _find(state["groups"], g)["members"]]
    if missing:
        found.append("user %s: add to supplementary groups %s" % (name, ", ".join(missing)))
    if not state["locked"]:
        found.append("user %s: lock the password" % name)
    return found


def _read(params, report):
    want = desired(params)
    return want, read_report(report, want["name"], want["uid"])


def pending_changes(params, report):
    """``changes`` for the role's arguments and the probe's output; a probe that cannot be read is a change
    too (the builtins then run and read the host themselves)."""
    try:
        want, state = _read(params, report)
    except AccountError as exc:
        return [str(exc)]
    return changes(want, state)


def pending_problems(params, report):
    """``problems`` for the role's arguments and the probe's output."""
    try:
        want, state = _read(params, report)
    except AccountError:
        return []
    return problems(want, state)
