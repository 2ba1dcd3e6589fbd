# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only network state of a host, for the network_hardening role.

Two ways to the same result (``{sysctl, table, unit}``):
- ``network_state``: read in this process, given the /proc/sys root and a
  command runner (``run(argv) -> (rc, stdout)``), so the tests need neither
  root nor nft;
- ``probe_command`` and ``parse_report``: a POSIX shell command the role runs
  with ``ansible.builtin.raw`` (a read needs no module, which costs several
  times more per run), and the parser of what it prints, through the filters
  network_state_probe and network_state_report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

PROC_SYS = "/proc/sys"


def norm(value):
    """A sysctl value as the kernel prints it, whitespace collapsed; booleans as 1/0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return " ".join(str(value).split())


def sysctl_state(key, want, proc_root=PROC_SYS):
    """{status, live, drift} of one sysctl key.

    status: ok (writable), readonly (/proc/sys mounted read-only, as in a
    container), denied (present, not writable from this namespace) or
    missing (no such key in this kernel); drift: a writable key whose live
    value differs from ``want``.
    """
    path = os.path.join(proc_root, key.replace(".", "/"))
    if not os.path.exists(path):
        return {"status": "missing", "live": None, "drift": False}
    try:
        with open(path) as handle:
            live = norm(handle.read())
    except (IOError, OSError):
        live = None
    if os.access(path, os.W_OK):
        status = "ok"
    elif os.statvfs(path).f_flag & os.ST_RDONLY:
        status = "readonly"
    else:
        status = "denied"
    return {"status": status, "live": live, "drift": status == "ok" and live != norm(want)}


def table_present(run, table, family="inet"):
    """Whether the running ruleset has the table (a flushed ruleset has lost it)."""
    rc, dummy = run(["nft", "list", "table", family, table])
    return rc == 0


def unit_state(run, unit):
    """{active, enabled} of a systemd unit, from one systemctl show."""
    dummy, out = run(["systemctl", "show", "--property=ActiveState,UnitFileState", unit])
    props = dict(line.split("=", 1) for line in (out or "").splitlines() if "=" in line)
    return {"active": props.get("ActiveState") == "active", "enabled": props.get("UnitFileState") == "enabled"}


def network_state(run, sysctl=None, table=None, unit=None, proc_root=PROC_SYS):
    """Everything the network_hardening role needs to know, read in one go."""
    return {
        "sysctl": dict((key, sysctl_state(key, value, proc_root)) for key, value in (sysctl or {}).items()),
        "table": table_present(run, table) if table else None,
        "unit": unit_state(run, unit) if unit else None,
    }


# ---------------------------------------------------------------------------
# The same read as one shell command (ansible.builtin.raw), and its parser
# ---------------------------------------------------------------------------

def _quote(text):
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


def _line(*fields):
    """A shell printf of a tab-separated report line; fields are shell words (quoted or "$var")."""
    return "printf '" + "\\t".join(["%s"] * len(fields)) + "\\n' " + " ".join(fields)


def probe_command(sysctl=None, table=None, unit=None, proc_root=PROC_SYS):
    """A POSIX shell command printing, one tab-separated line each, what ``network_state`` reads.

    ``sysctl <key> <status> <readable 1|0> <value>``: status as ``sysctl_state``
    (read-only told from denied by the mount options findmnt(8) reports);
    ``table <yes|no>``; ``unit <Property=value>`` from one systemctl show.
    """
    parts = []
    for key in sorted(sysctl or {}):
        path = os.path.join(proc_root, key.replace(".", "/"))
        parts.append(
            "p=%s; s=missing; r=0; v=; if [ -e \"$p\" ]; then "
            "if [ -r \"$p\" ]; then r=1; v=$(tr -s '[:space:]' ' ' < \"$p\" 2>/dev/null) || r=0; fi; "
            "if [ -w \"$p\" ]; then s=ok; else "
            "case \",$(findmnt -n -o OPTIONS -T \"$p\" 2>/dev/null),\" in *,ro,*) s=readonly ;; *) s=denied ;; esac; "
            "fi; fi; %s" % (_quote(path), _line("sysctl", _quote(key), '"$s"', '"$r"', '"$v"')))
    if table:
        parts.append("if nft list table inet %s >/dev/null 2>&1; then t=yes; else t=no; fi; %s"
                     % (_quote(table), _line("table", '"$t"')))
    if unit:
        parts.append("systemctl show --property=ActiveState,UnitFileState -- %s 2>/dev/null "
                     "| while IFS= read -r l; do %s; done" % (_quote(unit), _line("unit", '"$l"')))
    return "; ".join(parts) or "true"


class ReportError(Exception):
    """The probe's output lacks what was asked."""


def parse_report(text, sysctl=None, table=None, unit=None):
    """``{sysctl, table, unit}`` as ``network_state`` returns it, from the output of ``probe_command``."""
    keys, table_seen, props = {}, None, {}
    for line in (text or "").splitlines():
        fields = line.rstrip("\r").split("\t")
        if fields[0] == "sysctl" and len(fields) == 5:
            keys[fields[1]] = (fields[2], fields[4] if fields[3] == "1" else None)
        elif fields[0] == "table" and len(fields) == 2:
            table_seen = fields[1] == "yes"
        elif fields[0] == "unit" and len(fields) == 2 and "=" in fields[1]:
            name, value = fields[1].split("=", 1)
            props[name] = value
    result = {"sysctl": {}, "table": None, "unit": None}
    for key, want in (sysctl or {}).items():
        if key not in keys:
            raise ReportError("the network probe printed nothing for sysctl key %s: %s" % (key, (text or "")[-500:]))
        status, live = keys[key]
        if status not in ("ok", "readonly", "denied", "missing"):
            raise ReportError("the network probe printed an unknown status %r for sysctl key %s" % (status, key))
        live = norm(live) if status != "missing" and live is not None else None
        result["sysctl"][key] = {"status": status, "live": live, "drift": status == "ok" and live != norm(want)}
    if table:
        if table_seen is None:
            raise ReportError("the network probe printed nothing for table %s: %s" % (table, (text or "")[-500:]))
        result["table"] = table_seen
    if unit:
        result["unit"] = {"active": props.get("ActiveState") == "active",
                          "enabled": props.get("UnitFileState") == "enabled"}
    return result
