"""playbooks/deploy.yml, status.yml and rollback.yml against the scenario's
host: a service updated to a new version (direct strategy) serves it and the
history records it under one deployment identifier; status.yml shows it;
rollback.yml puts the previous release back, gated, and marks the one it
left bad, so a second rollback has nothing to go back to and fails naming
the service and the host. The scenario's release is back at the end."""
import json
import os
import re
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alicia_molecule import health_of, resolved_catalogue, run_playbook, wait_until  # noqa: E402
from test_gate_failed_rerun import OVERRIDES, site  # noqa: E402

HOST = "alicia-process_managers"
CATALOGUE = resolved_catalogue()
NAME = "personality_system"
PORT = CATALOGUE[NAME]["listen_port"]
GOOD = CATALOGUE[NAME]["version"]
NEW = "1.1.0-test"
HISTORY = "/var/lib/alicia/deployments.json"
CURRENT = "/opt/alicia/%s/current" % NAME


def playbook(name, *args):
    return run_playbook(os.path.join(PROJECT, "playbooks", name), *args, timeout=600,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "deploy_count.json"))


def version(host):
    return (health_of(host, PORT) or {}).get("version")


def mine(host):
    doc = json.loads(host.file(HISTORY).content_string)
    return doc, [d for d in doc["deployments"] if d["service"] == NAME]


def test_deploy_a_new_version_see_it_in_status_and_roll_it_back(host):
    assert version(host) == GOOD
    try:
        rc, out = playbook("deploy.yml", "-e", "services=%s" % NAME, "-e", "version=%s" % NEW)
        assert rc == 0, out[-4000:]
        assert version(host) == NEW
        assert host.file(CURRENT).linked_to == "/opt/alicia/%s/releases/%s" % (NAME, NEW)
        doc, records = mine(host)
        last = records[-1]
        assert (last["from"], last["to"], last["strategy"], last["result"]) == (GOOD, NEW, "direct", "ok"), last
        assert re.match(r"^\d{8}T\d{6}Z$", last["id"]), last
        # Backed up before it changed, under the deployment's identifier (0600).
        backup = host.file("/var/backups/alicia/%s/%s.tar.gz" % (NAME, last["id"]))
        assert backup.exists and backup.mode == 0o600
        assert doc["services"][NAME]["known_good"]["version"] == NEW

        rc, out = playbook("status.yml")
        assert rc == 0, out[-4000:]
        # HOST SERVICE CURRENT SLOT (- : not blue-green) KNOWN-GOOD BAD HEALTH RUNNING
        row = re.search(r"%s\s+%s\s+%s\s+-\s+%s\s+\d+\s+healthy\s+%s" % (
            HOST, NAME, re.escape(NEW), re.escape(NEW), re.escape(NEW)), out)
        assert row, out[-4000:]
        assert "%s %s -> %s (direct): ok" % (NAME, GOOD, NEW) in out, out[-4000:]

        rc, out = playbook("rollback.yml", "-e", "services=%s" % NAME)
        assert rc == 0, out[-4000:]
        assert wait_until(lambda: version(host) == GOOD, 30)
        assert host.file(CURRENT).linked_to == "/opt/alicia/%s/releases/%s" % (NAME, GOOD)
        doc, records = mine(host)
        assert (records[-1]["from"], records[-1]["to"], records[-1]["result"]) == (NEW, GOOD, "rolled_back")
        assert last["digest"] in doc["services"][NAME]["bad"], "the release rolled back from is never a target again"

        rc, out = playbook("rollback.yml", "-e", "services=%s" % NAME)
        assert rc != 0 and "nothing to go back to for %s on %s" % (NAME, HOST) in out.replace("\n", " "), out[-4000:]
        assert version(host) == GOOD
    finally:
        if version(host) != GOOD:
            site(OVERRIDES)
    # The scenario's settings: the release already there, nothing restarted.
    rc, out, recap = site(OVERRIDES)
    assert rc == 0 and recap.get("changed") == 0, out[-3000:]
    assert version(host) == GOOD


def test_a_backup_that_does_not_fit_stops_the_deployment_before_the_host_changes(host):
    """backup_dir on /dev/shm (the container's 64 MB tmpfs) and a data file larger than its free space
    (sparse: its apparent size is what a backup archives): the pre-deployment play fails, naming the
    service and the directory; no batch ran (same process, same release, no history record, no archive)."""
    shm = "/dev/shm/alicia-backups-test"
    big = "/var/lib/alicia/%s/backup-does-not-fit.bin" % NAME
    free = int(host.check_output("df -B1 --output=avail /dev/shm | tail -1").strip())
    pid = host.check_output("systemctl show -p MainPID --value alicia-%s.service" % NAME).strip()
    before = mine(host)[1]
    try:
        host.run("truncate -s %s %s", str(free + 16 * 1024 * 1024), big)
        rc, out = playbook("deploy.yml", "-e", "services=%s" % NAME, "-e", "version=%s" % NEW,
                           "-e", "backup_dir=%s" % shm)
    finally:
        host.run("rm -f %s", big)
        host.run("rm -rf %s", shm)
    flat = " ".join(out.split())
    assert rc != 0, out[-4000:]
    assert "%s: not enough space in %s for its backup" % (NAME, shm) in flat, out[-4000:]
    assert "room in backup_dir for this host's backups" in flat.split("fatal:", 1)[0].rsplit("TASK [", 1)[1], \
        out[-4000:]
    assert "Deploy | batches" not in out and "TASK [Deploy | this host's services backed up" not in out, out[-4000:]
    assert version(host) == GOOD
    assert host.file(CURRENT).linked_to == "/opt/alicia/%s/releases/%s" % (NAME, GOOD)
    assert host.check_output("systemctl show -p MainPID --value alicia-%s.service" % NAME).strip() == pid
    assert mine(host)[1] == before
