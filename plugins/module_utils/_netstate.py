# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only network state of a host (alicia.platform.network_state).

Plain functions: the module passes the /proc/sys root and a command runner
(``run(argv) -> (rc, stdout)``), so the tests need neither root nor nft.
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
