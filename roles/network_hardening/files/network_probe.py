#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only probe of the host's network state (alicia.platform.network_hardening).

Usage: network_probe.py JSON, JSON being {"sysctl": {key: desired value},
"table": nft table name or null, "unit": systemd unit or null}. Prints a
JSON object:
- "sysctl": {key: {"status", "live", "drift"}} where status is ok
  (writable), readonly (/proc/sys mounted read-only, as in a container),
  denied (present but not writable from this namespace) or missing (no such
  key in this kernel), and drift says whether the live value of a writable
  key differs from the desired one;
- "table": whether `nft list table inet <table>` finds the table (a flushed
  ruleset has lost it);
- "unit": {"active", "enabled"} from systemctl.
One execution for what the role needs to know; nothing is written.
"""

import json
import os
import subprocess
import sys


def norm(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return " ".join(str(value).split())


def probe(key, want):
    proc = os.path.join("/proc/sys", key.replace(".", "/"))
    if not os.path.exists(proc):
        return {"status": "missing", "live": None, "drift": False}
    try:
        with open(proc) as handle:
            live = norm(handle.read())
    except OSError:
        live = None
    if os.access(proc, os.W_OK):
        status = "ok"
    elif os.statvfs(proc).f_flag & os.ST_RDONLY:
        status = "readonly"
    else:
        status = "denied"
    return {"status": status, "live": live, "drift": status == "ok" and live != norm(want)}


def run(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                              check=False)
    except OSError:
        return None


def table_present(table):
    proc = run(["nft", "list", "table", "inet", table])
    return proc is not None and proc.returncode == 0


def unit_state(unit):
    proc = run(["systemctl", "show", "--property=ActiveState,UnitFileState", unit])
    props = dict(line.split("=", 1) for line in (proc.stdout if proc else "").splitlines() if "=" in line)
    return {"active": props.get("ActiveState") == "active", "enabled": props.get("UnitFileState") == "enabled"}


def main():
    request = json.loads(sys.argv[1])
    print(json.dumps({
        "sysctl": dict((key, probe(key, value)) for key, value in (request.get("sysctl") or {}).items()),
        "table": table_present(request["table"]) if request.get("table") else None,
        "unit": unit_state(request["unit"]) if request.get("unit") else None,
    }))


if __name__ == "__main__":
    main()
