#!/usr/bin/env python3
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log report of the Alicia services on one host (seed 004, "Log Management").

Run by the log_rotation role (tasks_from: report) through
ansible.builtin.script, once per host for all its services. Reads only; the
one thing it writes is the export archive (a private temporary directory).

Argument: one JSON document
    {"window_minutes": 60, "error_pattern": "...", "journal_priority": 3,
     "threshold": 10, "thresholds": {"svc": 3}, "export": true,
     "export_max_lines": 20000,
     "services": [{"name": "svc", "path": "/var/log/alicia/svc.log",
                   "unit": "alicia-svc.service"}, ...]}

Prints one JSON document: the window, and per service the live log size, the
archives (count, bytes), the lines and errors within the window from the
file (and its newest archive, `<path>.1`) and from the unit's journal, the
threshold, whether it is passed, and the last error line. With export, the
window's lines go to <service>.log files in a .tar.gz whose path is
returned as `archive`.

Timestamps: ISO 8601 (`2024-05-01 12:00:00,123`, `2024-05-01T12:00:00Z`,
with or without offset; naive ones are local time), syslog (`May  1
12:00:00`) and epoch prefixes (`1714564800: `, Mosquitto). A line without a
timestamp (a traceback line) belongs to the line before it; lines before the
first timestamp of a file are outside every window (counted as `untimed`).
"""

from __future__ import absolute_import, division, print_function

import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from datetime import datetime, timedelta, timezone

ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?"
)
EPOCH_RE = re.compile(r"^\[?(\d{10})(?:\.\d+)?\]?:?\s")
SYSLOG_RE = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s")
MONTHS = dict((m, i + 1) for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]))
# Where to look for a timestamp in a line: its first characters.
HEAD = 48
# Files bigger than this are bisected on their timestamps instead of read whole.
BISECT_MIN = 1 << 20


def parse_ts(line, now):
    """Epoch seconds of the timestamp that starts ``line``, or None."""
    head = line[:HEAD]
    match = EPOCH_RE.match(head)
    if match:
        return float(match.group(1))
    match = ISO_RE.search(head)
    if match:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        frac = match.group(7)
        micro = int((frac + "000000")[:6]) if frac else 0
        zone = match.group(8)
        try:
            stamp = datetime(year, month, day, hour, minute, second, micro)
        except ValueError:
            return None
        if zone is None:
            return time.mktime(stamp.timetuple()) + micro / 1e6
        if zone == "Z":
            offset = timedelta(0)
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return stamp.replace(tzinfo=timezone(offset)).timestamp()
    match = SYSLOG_RE.match(head)
    if match and match.group(1) in MONTHS:
        year = time.localtime(now).tm_year
        parts = (MONTHS[match.group(1)], int(match.group(2)), int(match.group(3)),
                 int(match.group(4)), int(match.group(5)))
        try:
            stamp = time.mktime(datetime(year, *parts).timetuple())
        except ValueError:
            return None
        if stamp > now + 86400:  # December's lines read in January
            stamp = time.mktime(datetime(year - 1, *parts).timetuple())
        return stamp
    return None


def _first_ts_after(handle, offset, now, limit=200):
    """(timestamp, line offset) of the first timestamped line starting after ``offset``."""
    handle.seek(offset)
    if offset:
        handle.readline()  # finish the partial line
    for _ in range(limit):
        start = handle.tell()
        raw = handle.readline()
        if not raw:
            return None, start
        stamp = parse_ts(raw.decode("utf-8", "replace"), now)
        if stamp is not None:
            return stamp, start
    return None, handle.tell()


def window_start_offset(handle, size, since, now):
    """A byte offset at or before the first line of the window (bisection)."""
    low, high = 0, size
    while high - low > 65536:
        middle = (low + high) // 2
        stamp, _ = _first_ts_after(handle, middle, now)
        if stamp is None or stamp >= since:
            high = middle
        else:
            low = middle
    return low


def scan_file(path, since, now, pattern, export, max_lines):
    """Lines and errors of ``path`` within the window."""
    result = {"lines": 0, "errors": 0, "untimed": 0, "last_error": None}
    try:
        stat = os.stat(path)
    except OSError:
        return result
    if stat.st_mtime < since:
        return result  # nothing written within the window
    with open(path, "rb") as handle:
        offset = 0
        if stat.st_size > BISECT_MIN:
            offset = window_start_offset(handle, stat.st_size, since, now)
        handle.seek(offset)
        if offset:
            handle.readline()
        current = None
        for raw in handle:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            stamp = parse_ts(line, now)
            if stamp is not None:
                current = stamp
            if current is None:
                if not offset:
                    result["untimed"] += 1
                continue
            if current < since:
                continue
            result["lines"] += 1
            if export is not None:
                export.append(line)
                if len(export) > max_lines:
                    export.popleft()
            if pattern.search(line):
                result["errors"] += 1
                result["last_error"] = line[:500]
    return result


def scan_journal(units, since, pattern, priority, exports, max_lines):
    """Lines and errors per unit in the journal within the window (one journalctl)."""
    stats = dict((unit, {"lines": 0, "errors": 0, "last_error": None}) for unit in units)
    if not units or not shutil.which("journalctl"):
        return stats, False
    command = ["journalctl", "--no-pager", "--quiet", "--output=json", "--since=@%d" % int(since)]
    for unit in units:
        command.append("--unit=" + unit)
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return stats, False
    for raw in proc.stdout:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        unit = entry.get("_SYSTEMD_UNIT")
        own = unit in stats  # written by the service itself
        if not own:
            unit = entry.get("UNIT")  # systemd's messages about the unit
        if unit not in stats:
            continue
        message = entry.get("MESSAGE") or ""
        if isinstance(message, list):  # binary message: a list of bytes
            message = bytes(message).decode("utf-8", "replace")
        try:
            level = int(entry.get("PRIORITY", 6))
        except ValueError:
            level = 6
        stamp = int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1e6
        text = "%s %s[%s]: %s" % (
            datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S"),
            entry.get("SYSLOG_IDENTIFIER") or unit, entry.get("_PID", "-"), message)
        record = stats[unit]
        record["lines"] += 1
        if exports is not None:
            exports[unit].append(text)
            if len(exports[unit]) > max_lines:
                exports[unit].popleft()
        # systemd's own messages (they quote the command line) count by priority only.
        if level <= priority or (own and pattern.search(message)):
            record["errors"] += 1
            record["last_error"] = text[:500]
    proc.wait()
    return stats, proc.returncode == 0


def human(size):
    """1536 -> '1.5K'."""
    size = float(size or 0)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return ("%d%s" if unit == "B" else "%.1f%s") % (size, unit)
        size /= 1024.0


def archives_of(path):
    """Rotated archives of ``path`` (path.1, path.2.gz, path-20240501...)."""
    found = [p for p in glob.glob(glob.escape(path) + ".*") + glob.glob(glob.escape(path) + "-*")
             if os.path.isfile(p)]
    return sorted(set(found))


def main(argv):
    os.umask(0o077)  # the export holds log lines: private to root
    spec = json.loads(argv[1])
    now = time.time()
    window = float(spec.get("window_minutes", 60))
    since = now - window * 60
    pattern = re.compile(spec.get("error_pattern") or r"\b(ERROR|CRITICAL|FATAL)\b")
    priority = int(spec.get("journal_priority", 3))
    threshold = int(spec.get("threshold", 10))
    thresholds = spec.get("thresholds") or {}
    export = bool(spec.get("export", False))
    max_lines = int(spec.get("export_max_lines", 20000))
    services = spec.get("services") or []

    units = [s["unit"] for s in services if s.get("unit")]
    journal_exports = dict((unit, deque()) for unit in units) if export else None
    journal, journal_ok = scan_journal(units, since, pattern, priority, journal_exports, max_lines)

    report = {
        "now": datetime.fromtimestamp(now, timezone.utc).isoformat(),
        "since": datetime.fromtimestamp(since, timezone.utc).isoformat(),
        "window_minutes": window,
        "journal": journal_ok,
        "services": {},
        "over_threshold": [],
        "summary": [],
        "alerts": [],
        "archive": None,
    }
    workdir = tempfile.mkdtemp(prefix="alicia-logs-") if export else None
    for service in services:
        name = service["name"]
        path = service.get("path")
        lines = deque() if export else None
        file_stats = {"lines": 0, "errors": 0, "untimed": 0, "last_error": None}
        size = 0
        archives = []
        if path:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = None
            archives = archives_of(path)
            # The newest archive first: it holds the window's start after a rotation.
            for source in [p for p in (path + ".1",) if p in archives] + [path]:
                part = scan_file(source, since, now, pattern, lines, max_lines)
                for key in ("lines", "errors", "untimed"):
                    file_stats[key] += part[key]
                file_stats["last_error"] = part["last_error"] or file_stats["last_error"]
        unit = service.get("unit")
        jstats = journal.get(unit, {"lines": 0, "errors": 0, "last_error": None})
        errors = file_stats["errors"] + jstats["errors"]
        limit = int(thresholds.get(name, threshold))
        entry = {
            "path": path,
            "exists": size is not None and bool(path),
            "size": size or 0,
            "archives": len(archives),
            "archive_bytes": sum(os.path.getsize(p) for p in archives),
            "unit": unit,
            "file_lines": file_stats["lines"],
            "file_errors": file_stats["errors"],
            "untimed_lines": file_stats["untimed"],
            "journal_lines": jstats["lines"],
            "journal_errors": jstats["errors"],
            "lines": file_stats["lines"] + jstats["lines"],
            "errors": errors,
            "threshold": limit,
            "over": errors > limit,
            "last_error": jstats["last_error"] or file_stats["last_error"],
        }
        report["services"][name] = entry
        report["summary"].append(
            "%s: %s%s, %d archives (%s); last %g min: %d lines, %d errors (file %d, journal %d), threshold %d%s" % (
                name, human(entry["size"]), "" if entry["exists"] else " (no log file)",
                entry["archives"], human(entry["archive_bytes"]), window, entry["lines"], errors,
                entry["file_errors"], entry["journal_errors"], limit, " OVER" if entry["over"] else ""))
        if entry["over"]:
            report["over_threshold"].append(name)
            report["alerts"].append("%s: %d errors in the last %g min (threshold %d); last: %s" % (
                name, errors, window, limit, entry["last_error"]))
        if export:
            content = list(lines)
            if unit:
                content += list(journal_exports.get(unit, ()))
            with io.open(os.path.join(workdir, name + ".log"), "w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in content))
    if export:
        archive = workdir + ".tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for name in sorted(os.listdir(workdir)):
                tar.add(os.path.join(workdir, name), arcname=name)
        shutil.rmtree(workdir)
        report["archive"] = archive
    json.dump(report, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
