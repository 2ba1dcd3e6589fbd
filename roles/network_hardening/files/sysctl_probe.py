#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Read-only probe of sysctl keys (alicia.platform.network_hardening).

Usage: sysctl_probe.py JSON, JSON being {key: desired value}. Prints a JSON
object {key: {"status", "live", "drift"}} where status is ok (writable),
readonly (/proc/sys mounted read-only, as in a container), denied (present
but not writable from this namespace) or missing (no such key in this
kernel), and drift says whether the live value of a writable key differs
from the desired one. Nothing is written.
"""

import json
import os
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


def main():
    desired = json.loads(sys.argv[1])
    print(json.dumps(dict((key, probe(key, value)) for key, value in desired.items())))


if __name__ == "__main__":
    main()
