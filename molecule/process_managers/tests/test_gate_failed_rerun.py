"""A failed deploy is never reported a success by the next run: a converge
that leaves a service unhealthy fails its phase's health gate, and running
the SAME playbook again (same settings) fails again instead of finding the
running, unchanged unit nothing to do (the gate's marker under
service_gate_failed_dir puts the service back in the platform plan, and the
phase restarts it and gates it again). The fault removed, the run passes and
removes the marker; the next run changes nothing. The service is restored
(the scenario's own settings) at the end, whatever happened."""
import os
import sys

import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, recaps, resolved_catalogue, run_playbook, wait_until  # noqa: E402

HOST = "alicia-process_managers"
CATALOGUE = resolved_catalogue()
# A systemd service of the advanced phase that no other service depends on.
NAME = "personality_system"
PHASE = "advanced"
UNIT = CATALOGUE[NAME]["unit"]
MARKER = "/var/lib/alicia/gate-failed/%s" % NAME


def scenario_overrides():
    """The scenario's catalogue_overrides (molecule.yml), as -e must repeat them ($$ is molecule's escaped $)."""
    with open(os.path.join(PROJECT, "molecule", "process_managers", "molecule.yml")) as handle:
        text = handle.read().replace("$$", "$")
    return yaml.safe_load(text)["provisioner"]["inventory"]["group_vars"]["all"]["catalogue_overrides"]


OVERRIDES = scenario_overrides()
# The faulty runs' gate gives up sooner (the service never turns healthy);
# no automatic rollback (test_rollback.py proves it): the markers are what
# a run without one, or without a known-good release to go back to, relies on.
SHORT_GATE = {"service_gate_timeout": 15, "service_rollback": False}
FAULTY = dict(OVERRIDES, **{NAME: dict(OVERRIDES.get(NAME) or {}, env={"ALICIA_FAULT_UNHEALTHY": "1"})})


def site(overrides, **settings):
    """playbooks/site.yml --tags <phase> with these overrides (and role settings): (rc, output, recap counts)."""
    # The module count callback reports elsewhere than the idempotence run's count (a test reads that).
    counts = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "gate_failed_count.json")
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", "site.yml"), "--tags", PHASE,
                           extra_vars=dict(settings, catalogue_overrides=overrides), count_file=counts)
    return rc, out, recaps(out).get(HOST, {})


def failures(out):
    """The failed tasks' messages of a run's output (for the assertion messages), then its end."""
    lines = out.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(("fatal:", "[ERROR]"))]
    return "\n".join("\n".join(lines[i:i + 12]) for i in found) + "\n...\n" + out[-1500:]


def changed_tasks(out):
    """The names of the tasks that reported a change on the host, from the default callback's output."""
    found, task = [], None
    for line in out.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith("changed: [%s]" % HOST) and task not in found:
            found.append(task)
    return found


def main_pid(host):
    return int(host.check_output("systemctl show --property=MainPID --value %s", UNIT))


def healthy(host):
    return (health_of(host, CATALOGUE[NAME]["listen_port"]) or {}).get("status") == "healthy"


def test_a_failed_gate_fails_the_same_run_again_until_the_service_is_healthy(host):
    assert healthy(host) and not host.file(MARKER).exists
    restored = False
    try:
        # 1. The converge leaves the service running but unhealthy: its gate fails, the marker is written.
        rc, out, recap = site(FAULTY, **SHORT_GATE)
        assert rc != 0 and recap.get("failed") == 1, out[-3000:]
        assert "is not healthy" in out and NAME in out, failures(out)
        assert host.file(MARKER).exists, out[-3000:]
        first = main_pid(host)
        assert host.run("systemctl is-active %s", UNIT).stdout.strip() == "active"

        # 2. The SAME run again: not a success with nothing changed; the service restarted and gated again.
        rc, out, recap = site(FAULTY, **SHORT_GATE)
        assert rc != 0 and recap.get("failed") == 1, out[-3000:]
        assert "is not healthy" in out and NAME in out, failures(out)
        assert host.file(MARKER).exists
        assert main_pid(host) != first

        # 3. The fault removed: the run passes, the marker is gone, the service is healthy.
        rc, out, recap = site(OVERRIDES)
        restored = rc == 0
        assert rc == 0 and recap.get("failed") == 0, out[-3000:]
        assert not host.file(MARKER).exists
        assert wait_until(lambda: healthy(host), 30)

        # 4. The next run changes nothing: the plan finds nothing for the phase, the service is left alone.
        pid = main_pid(host)
        rc, out, recap = site(OVERRIDES)
        changed = changed_tasks(out)
        assert rc == 0 and recap.get("failed") == 0, out[-3000:]
        assert recap.get("changed") == 0, (changed, out[-3000:])
        assert main_pid(host) == pid and not host.file(MARKER).exists
    finally:
        if not restored:
            site(OVERRIDES)
            host.run("rm -f %s", MARKER)
    assert wait_until(lambda: healthy(host), 60), "%s not healthy again" % NAME
    assert host.run("systemctl is-active %s", UNIT).stdout.strip() == "active"
