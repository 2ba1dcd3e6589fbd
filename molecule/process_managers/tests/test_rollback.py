"""A failed deploy leaves the previous version serving (issue 16, direct
strategy, site.yml's path): a new release of a systemd service that exits
at start fails its health gate; the same run rolls the service back to its
last known-good release from the deployment history (the current link, the
environment file and the unit), gates it again and FAILS, naming the
service, the host, both versions and the reason. The history records the
failed release (bad: never a rollback target) and the rollback; nothing in
the data directory is lost. A poller on the host measures the gap (one
instance, no balancer: printed, never asserted). The scenario's own
settings are restored at the end, whatever happened."""
import json
import os
import re
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alicia_molecule import health_of, resolved_catalogue, wait_until  # noqa: E402
from test_gate_failed_rerun import OVERRIDES, site  # noqa: E402

HOST = "alicia-process_managers"
CATALOGUE = resolved_catalogue()
NAME = "personality_system"
UNIT = CATALOGUE[NAME]["unit"]
PORT = CATALOGUE[NAME]["listen_port"]
GOOD = CATALOGUE[NAME]["version"]
BAD = "9.9.9-bad"
HISTORY = "/var/lib/alicia/deployments.json"
DATA = "/var/lib/alicia/%s/keep-me.txt" % NAME
CURRENT = "/opt/alicia/%s/current" % NAME
BROKEN = dict(OVERRIDES, **{NAME: dict(OVERRIDES.get(NAME) or {}, version=BAD,
                                       env={"ALICIA_FAULT_FAIL_AT_START": "1"})})
# A poller on the host, bounded: every 0.1 s for at most 240 s, stops when its stop file appears.
POLLER = r"""
import json, os, sys, time, urllib.request
url, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
ok = bad = 0; gap = longest = 0.0; down_since = None; versions = []
end = time.monotonic() + 240
while time.monotonic() < end and not os.path.exists(stop):
    now = time.monotonic()
    try:
        body = json.loads(urllib.request.urlopen(url, timeout=1).read().decode())
        ok += 1
        if body.get("version") not in versions: versions.append(body.get("version"))
        if down_since is not None:
            longest = max(longest, now - down_since); down_since = None
    except Exception:
        bad += 1
        if down_since is None: down_since = now
    time.sleep(0.1)
json.dump({"ok": ok, "failed": bad, "longest_gap_s": round(longest, 2), "versions": versions}, open(out, "w"))
"""


def health(host):
    return health_of(host, PORT) or {}


def history(host):
    return json.loads(host.file(HISTORY).content_string)


def test_a_release_that_fails_its_gate_is_rolled_back_in_the_same_run_and_the_run_fails(host):
    assert health(host).get("version") == GOOD
    before = history(host)
    assert before["services"][NAME]["known_good"]["version"] == GOOD, "the converge recorded the release"
    assert host.file(HISTORY).mode == 0o600
    host.run("echo precious > %s && chown alicia:alicia %s", DATA, DATA)
    host.run("rm -f /root/poll.stop /root/poll.json")
    restored = False
    try:
        write = subprocess.run(["docker", "exec", "-i", HOST, "sh", "-c", "cat > /root/poll.py"], input=POLLER,
                               universal_newlines=True, check=True)
        assert write.returncode == 0
        host.run("nohup python3 /root/poll.py http://127.0.0.1:%s/health /root/poll.json /root/poll.stop "
                 ">/dev/null 2>&1 &", str(PORT))

        rc, out, recap = site(BROKEN, service_gate_timeout=60)
        host.run("touch /root/poll.stop")
        assert rc != 0 and recap.get("failed") == 1, out[-4000:]
        assert "personality_system on alicia-process_managers is not healthy" in out or \
            "on %s is not healthy" % HOST in out, out[-4000:]
        assert "%s %s -> %s" % (NAME, BAD, GOOD) in out and "Rolled back to the last known-good release" in out, \
            out[-4000:]
        assert re.search(r"keeps exiting|connection refused", out), out[-4000:]
        # The previous version serves again, from its release; the data is there.
        assert wait_until(lambda: health(host).get("status") == "healthy", 30)
        assert health(host)["version"] == GOOD
        assert host.file(CURRENT).linked_to == "/opt/alicia/%s/releases/%s" % (NAME, GOOD)
        assert host.run("systemctl is-active %s", UNIT).stdout.strip() == "active"
        assert host.file(DATA).content_string.strip() == "precious"
        assert "ALICIA_FAULT_FAIL_AT_START" not in host.file("/etc/alicia/%s.env" % NAME).content_string
        # The history: the failed release (bad), then the rollback.
        after = history(host)
        mine = [d for d in after["deployments"] if d["service"] == NAME][-2:]
        assert [(d["from"], d["to"], d["result"]) for d in mine] == [(GOOD, BAD, "failed"), (BAD, GOOD, "rolled_back")]
        assert mine[0]["reason"] and mine[1]["strategy"] == "rollback"
        entry = after["services"][NAME]
        assert entry["known_good"]["version"] == GOOD and entry["current"]["version"] == GOOD
        assert mine[0]["digest"] in entry["bad"]

        assert wait_until(lambda: host.file("/root/poll.json").exists, 15)
        poll = json.loads(host.file("/root/poll.json").content_string)
        print("direct update to a release that exits at start, one instance, no balancer: %s" % poll)
        assert poll["versions"] == [GOOD], "only the known-good version ever answered"

        # The scenario's settings again: nothing to roll back, the service stays on its release.
        rc, out, recap = site(OVERRIDES)
        restored = rc == 0
        assert rc == 0 and recap.get("failed") == 0, out[-3000:]
        assert health(host)["version"] == GOOD
    finally:
        host.run("touch /root/poll.stop; rm -f %s", DATA)
        if not restored:
            site(OVERRIDES)
    assert wait_until(lambda: health(host).get("status") == "healthy", 60)
