# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment history of one host, as plain functions.

One JSON document per host (``/var/lib/alicia/deployments.json`` by
default), written atomically (a temporary file in the same directory,
flushed and renamed over the old one: a reader sees the old document or the
new one, never half of one), under an exclusive lock so two writers never
interleave::

    {"format": 1,
     "services": {<service>: {"current": <release>, "known_good": <release>,
                              "previous_good": [<release>, ...], "bad": [<digest>, ...]}},
     "deployments": [{"id", "service", "host", "from", "to", "strategy",
                      "start", "end", "result", "reason"}, ...]}

A *release* is ``{"version", "digest", "spec", "release"}``: the catalogue
entry that was deployed (``spec``, without secrets: they are rendered from
the vault at deploy time), its digest and the release directory it runs
from. "Last known-good" is the last release that passed its gate, never a
guess from modification times; a release whose gate failed is remembered as
bad and is never a rollback target.

``record_gate`` is the one writer: the health gate's outcome for the
services of a run. Standard library only; nothing prints or exits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import errno
import hashlib
import json
import os
import tempfile

FORMAT = 1
# Deployment records kept per host (the oldest are dropped first).
KEEP_RECORDS = 500
# Known-good releases remembered per service before the current one.
KEEP_GOOD = 5
RESULTS = ("ok", "failed", "rolled_back", "rollback_failed")


class HistoryError(Exception):
    """A history that cannot be read or written."""


def empty():
    return {"format": FORMAT, "services": {}, "deployments": []}


def digest(spec):
    """A stable digest of a catalogue entry (sorted JSON)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def release_of(record):
    """The release a gate record describes."""
    spec = record.get("spec") or {}
    return {"version": str(record.get("version") or spec.get("version") or ""), "digest": digest(spec),
            "spec": copy.deepcopy(spec), "release": record.get("release")}


def parse(text, path="history"):
    """The document in ``text`` (empty text: an empty history)."""
    if not text.strip():
        return empty()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise HistoryError("%s is not JSON: %s" % (path, exc))
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) \
            or not isinstance(doc.get("deployments"), list):
        raise HistoryError("%s is not a deployment history (services and deployments expected)" % path)
    doc.setdefault("format", FORMAT)
    return doc


def _version(release):
    return (release or {}).get("version")


def _service(doc, name):
    return doc["services"].setdefault(name, {"current": None, "known_good": None, "previous_good": [], "bad": []})


def rollback_target(doc, name, failed_digest, exists=os.path.isdir):
    """The release ``name`` goes back to after a release with ``failed_digest``
    failed: the last known-good one that is not bad and is another release;
    None when there is none (a first deployment) or its directory is gone."""
    entry = doc["services"].get(name) or {}
    bad = set(entry.get("bad") or [])
    for release in [entry.get("known_good")] + list(reversed(entry.get("previous_good") or [])):
        if not release or release["digest"] in bad or release["digest"] == failed_digest:
            continue
        if release.get("release") and not exists(release["release"]):
            continue
        return release
    return None


def _promote(entry, release):
    good = entry.get("known_good")
    if good and good["digest"] != release["digest"]:
        previous = [r for r in entry.get("previous_good") or [] if r["digest"] not in (good["digest"], release["digest"])]
        entry["previous_good"] = (previous + [good])[-KEEP_GOOD:]
    entry["known_good"] = release
    entry["current"] = release
    entry["bad"] = [d for d in entry.get("bad") or [] if d != release["digest"]]


def record_gate(doc, records, unhealthy, reasons, host, strategy, deployment_id, start, end, exists=os.path.isdir):
    """The gate's outcome in ``doc`` (changed in place), and the rollback targets.

    ``records``: one per service the gate covered, ``{service, version, spec,
    release}``. A healthy service whose release differs from its current one
    becomes known-good (a deployment record, result ``ok``, or
    ``rolled_back`` when ``strategy`` is ``rollback``); an unhealthy one whose
    release is new is marked bad (result ``failed``, or ``rollback_failed``),
    and its rollback target is returned. A service the run did not change
    (same release as current) adds no record. Returns ``(changed,
    {service: target release})``.
    """
    unhealthy = set(unhealthy or [])
    targets = {}
    changed = False
    for record in records:
        name = record["service"]
        release = release_of(record)
        entry = _service(doc, name)
        current = entry.get("current") or entry.get("known_good")
        same = current is not None and current["digest"] == release["digest"]
        if name not in unhealthy:
            if same and entry.get("known_good") and entry["known_good"]["digest"] == release["digest"]:
                continue
            result = "rolled_back" if strategy == "rollback" else "ok"
            if strategy == "rollback" and current is not None and current["digest"] != release["digest"] \
                    and current["digest"] not in entry["bad"]:
                # Rolled back from: never a rollback target again.
                entry["bad"].append(current["digest"])
            _promote(entry, release)
            reason = None
        else:
            result = "rollback_failed" if strategy == "rollback" else "failed"
            reason = reasons.get(name) or "unhealthy"
            # Only a new release is rolled back and marked bad: the known-good
            # one failing (a restart, a dependency down) has nothing to go back to.
            good = entry.get("known_good")
            if not (good and good["digest"] == release["digest"]):
                if strategy != "rollback":
                    target = rollback_target(doc, name, release["digest"], exists=exists)
                    if target is not None:
                        targets[name] = target
                if release["digest"] not in entry["bad"]:
                    entry["bad"].append(release["digest"])
            entry["current"] = release
        doc["deployments"].append({
            "id": deployment_id, "service": name, "host": host, "from": _version(current),
            "to": release["version"], "digest": release["digest"], "strategy": strategy,
            "start": start, "end": end, "result": result, "reason": reason,
        })
        changed = True
    doc["deployments"] = doc["deployments"][-KEEP_RECORDS:]
    return changed, targets


def summary(doc, last=10):
    """What status.yml shows: per service its current and known-good versions,
    the bad ones, and the last ``last`` deployments."""
    services = {}
    for name, entry in sorted(doc["services"].items()):
        services[name] = {"current": _version(entry.get("current")), "known_good": _version(entry.get("known_good")),
                          "previous_good": [_version(r) for r in entry.get("previous_good") or []],
                          "bad": list(entry.get("bad") or [])}
    return {"services": services, "deployments": doc["deployments"][-int(last):] if last else []}


def load(path):
    """The history at ``path`` (missing: empty)."""
    try:
        with open(path) as handle:
            return parse(handle.read(), path)
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return empty()
        raise HistoryError("cannot read %s: %s" % (path, exc))


def save(path, doc, mode=0o600):
    """``doc`` at ``path``, atomically (temporary file, fsync, rename, fsync of the directory)."""
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".deployments-", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), mode)
            json.dump(doc, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def update(path, change):
    """Read, ``change(doc)``, write when it returns a true ``changed`` first
    item, under an exclusive lock on ``<path>.lock``. Returns what ``change`` returned."""
    import fcntl

    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = load(path)
        outcome = change(doc)
        if outcome[0]:
            save(path, doc)
        return outcome
    finally:
        os.close(lock)
