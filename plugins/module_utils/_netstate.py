# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only network state of a host, for the network_hardening role.

``probe_command`` and ``parse_report``: a POSIX shell command the role runs
with ``ansible.builtin.raw`` (a read needs no module, which costs several
times more per run), and the parser of what it prints into
``{sysctl, table, unit}``, through the filters network_state_probe and
network_state_report.
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


# ---------------------------------------------------------------------------
# One shell command (ansible.builtin.raw), and its parser
# ---------------------------------------------------------------------------

def _quote(text):
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


def _line(*fields):
    """A shell printf of a tab-separated report line; fields are shell words (quoted or "$var")."""
    return "printf '" + "\\t".join(["%s"] * len(fields)) + "\\n' " + " ".join(fields)


def probe_command(sysctl=None, table=None, unit=None, proc_root=PROC_SYS):
    """A POSIX shell command printing one tab-separated line per item asked.

    ``sysctl <key> <status> <readable 1|0> <value>``: status ``ok`` (writable),
    ``readonly`` (a read-only mount, as in a container: told from ``denied`` by
    the mount options findmnt(8) reports), ``denied`` or ``missing``;
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
    """``{sysctl, table, unit}`` from the output of ``probe_command``.

    sysctl: per key ``{status, live, drift}`` (``live`` whitespace-collapsed,
    None when missing or unreadable; ``drift``: a writable key whose live value
    differs from the wanted one); table: whether the ruleset has it; unit:
    ``{active, enabled}``; None for what was not asked.
    """
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
