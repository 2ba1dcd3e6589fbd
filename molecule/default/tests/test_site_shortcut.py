"""site.yml's converge shortcut (alicia_converged_shortcut: true) on the
converged platform: a full run records the host's state; the next run is
one module execution and changes nothing; a hand edit, a stopped unit or
a changed variable makes the run a full one again, which repairs the host.
Runs after test_site_operations.py (file order), on the platform it leaves
deployed and healthy."""
import json
import os
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import docker_write, health_of, recap, resolved_catalogue, run_playbook, task_status  # noqa: E402

HOST = "alicia-default"
SITE = os.path.join(PROJECT, "playbooks", "site.yml")
COUNT_FILE = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "shortcut_count.json")
READ = "Converged | one read of this host against its converge record"
RECORD = "Converged | record this host's state and the run's inputs digest"
CATALOGUE = resolved_catalogue()


def site(*args):
    """site.yml with the shortcut on: (rc, output, this host's module executions, its changed count)."""
    if os.path.exists(COUNT_FILE):
        os.remove(COUNT_FILE)
    rc, out = run_playbook(SITE, "-e", "alicia_converged_shortcut=true", *args, count_file=COUNT_FILE)
    with open(COUNT_FILE) as handle:
        executions = json.load(handle)["hosts"].get(HOST, {}).get("total", 0)
    return rc, out, executions, recap(out, HOST)["changed"]


def test_an_unchanged_host_costs_one_read_and_a_changed_one_is_repaired(host):
    # The first run with the shortcut: no record yet, a full run, recorded at its end.
    rc, out, executions, _ = site()
    assert rc == 0, out[-3000:]
    assert "no converge record" in out, out[-3000:]
    assert task_status(out, RECORD, HOST) == "changed"
    assert executions > 5
    assert host.file("/var/lib/alicia/converged.json").mode == 0o600

    # Nothing changed since: one read, every later play ended for the host, nothing changed.
    rc, out, executions, changed = site()
    assert rc == 0, out[-3000:]
    assert (executions, changed) == (1, 0), out[-3000:]
    assert task_status(out, READ, HOST) == "ok"
    assert task_status(out, "Baseline | the service user and the directory layout", HOST) is None
    assert task_status(out, RECORD, HOST) == "skipping"

    # A hand edit and a stopped unit: named, then repaired by the full run that follows.
    env = "/etc/alicia/stt_service.env"
    original = host.file(env).content_string
    docker_write(HOST, env, original + "HAND_EDIT=1\n")
    host.run("chmod 0640 %s && chgrp alicia %s", env, env)
    assert host.run("systemctl stop alicia-stt_service.service").rc == 0
    rc, out, executions, _ = site()
    assert rc == 0, out[-3000:]
    assert "path %s: " % env in out and "unit alicia-stt_service.service: loaded inactive dead" in out, out[-3000:]
    assert host.file(env).content_string == original
    assert host.service("alicia-stt_service").is_running
    assert (health_of(host, CATALOGUE["stt_service"]["listen_port"]) or {}).get("status") == "healthy"
    assert task_status(out, RECORD, HOST) == "changed"

    # An input changed (here an extra variable): a full run again, which changes nothing but the record.
    rc, out, executions, changed = site("-e", "alicia_shortcut_test_marker=1")
    assert rc == 0, out[-3000:]
    assert "the inputs changed since the recorded converge" in out, out[-3000:]
    assert executions > 5 and changed == 1, out[-3000:]

    # In check mode an unchanged host is one read too, and nothing is written.
    rc, out, executions, changed = site("-e", "alicia_shortcut_test_marker=1", "--check")
    assert rc == 0, out[-3000:]
    assert (executions, changed) == (1, 0), out[-3000:]


def test_a_tagged_run_neither_reads_nor_records(host):
    before = host.file("/var/lib/alicia/converged.json").mtime
    rc, out, executions, changed = site("--tags", "core")
    assert rc == 0, out[-3000:]
    assert task_status(out, READ, HOST) == "skipping" and task_status(out, RECORD, HOST) == "skipping"
    assert changed == 0 and executions > 1
    assert host.file("/var/lib/alicia/converged.json").mtime == before
