"""Pre-deployment host checks (roles/service/tasks/plan.yml, plugins/module_utils/_hostcheck.py)
on the converged platform: a foreign process on a service's port stops site.yml
before any change, naming the host, the service, the port, the holder's PID
and command; once it is gone the next run deploys; and the checks cost no
module execution of their own on a re-run."""
import json
import os
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, recap, resolved_catalogue, run_playbook, wait_until  # noqa: E402

HOST = "alicia-default"
# A leaf service (nothing depends on it) that no other test of the scenario reads.
SERVICE = "load_balancer"
PORT = resolved_catalogue()[SERVICE]["port"]
UNIT = "alicia-%s.service" % SERVICE
# What the run would change for the service (the unit it would start, its files).
WATCHED = ["/etc/alicia/%s.env" % SERVICE, "/etc/systemd/system/%s" % UNIT, "/opt/alicia/%s/current" % SERVICE]


def site(*args):
    """site.yml against the scenario's host: (rc, output)."""
    return run_playbook(os.path.join(PROJECT, "playbooks", "site.yml"), *args,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "hostcheck_count.json"))


def mtimes(host):
    return dict((path, host.check_output("stat -c %%Y.%%Z %s", path)) for path in WATCHED)


def listening(host):
    return host.run("ss -Htln 'sport = :%d'" % PORT).stdout.strip() != ""


def test_a_foreign_listener_stops_site_yml_before_any_change_then_the_run_deploys(host):
    host.check_output("systemctl stop %s", UNIT)
    assert wait_until(lambda: not listening(host), 20)
    # An operator's process on the service's port, in its own session, outlives this command.
    pid = int(host.check_output(
        "cd /tmp && setsid nohup python3 -m http.server %d --bind 0.0.0.0 >/tmp/foreign-http.log 2>&1 "
        "</dev/null & echo $!" % PORT))
    try:
        assert wait_until(lambda: listening(host), 20), host.run("cat /tmp/foreign-http.log").stdout
        before = mtimes(host)
        rc, out = site()
        assert rc != 0, out[-3000:]
        assert "Pre-deployment checks failed on %s" % HOST in out, out[-3000:]
        assert ("%s: service %s needs port %d (service), held by PID %d (python3 -m http.server %d --bind 0.0.0.0"
                % (HOST, SERVICE, PORT, pid, PORT)) in out, out[-3000:]
        # Stopped before any change: no task changed anything, no phase ran on the host,
        # the unit was not started and the service's files were not touched.
        assert recap(out, HOST)["changed"] == 0 and recap(out, HOST)["failed"] == 1, out[-3000:]
        after_checks = out.split("pre-deployment host checks]", 1)[1]
        assert "TASK [" not in after_checks, after_checks[:3000]
        assert host.service(UNIT).is_running is False
        assert mtimes(host) == before
        assert host.file("/proc/%d" % pid).is_directory
    finally:
        host.run("kill %d" % pid)
    assert wait_until(lambda: not listening(host), 20)
    rc, out = site()
    assert rc == 0, out[-3000:]
    assert "Pre-deployment checks failed" not in out
    assert host.service(UNIT).is_running
    assert (health_of(host, PORT) or {}).get("service") == SERVICE


def test_the_checks_cost_no_module_execution_on_a_rerun():
    """Molecule's idempotence re-run (module_count.json): the checks were read by the
    plan's one files execution; the failing task never ran, so costs nothing."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        tasks = json.load(handle)["hosts"][HOST]["tasks"]
    assert not [task for task in tasks if "pre-deployment host checks" in task], tasks
    assert [n for task, n in tasks.items() if "| plan | files of every service" in task] == [1], tasks
