"""The two process-manager runtimes next to systemd (issue 10 §1), on one
host running the whole platform: the voice phase under supervisor, the
observability phase under manual (molecule.yml), the rest systemd units."""
import json
import os
import sys
import time

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, resolved_catalogue, run_playbook, wait_until  # noqa: E402

CATALOGUE = resolved_catalogue()
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")
SUPERVISED = ["stt_service", "ai_service", "tts_service", "voice_router"]
MANUAL = ["metrics_collector", "event_scheduler"]
SYSTEMD = [n for n in SERVICES if n not in SUPERVISED + MANUAL]
# The scenario's manual directories (molecule.yml), not the script's defaults.
MANUAL_CONFIG_DIR = "/etc/alicia/manual-lab"
MANUAL_RUN_DIR = "/run/alicia-manual"
# The command line (testinfra quotes %s arguments: CTL goes into the command string itself).
CTL = "/usr/local/sbin/alicia-servicectl --config-dir %s --run-dir %s" % (MANUAL_CONFIG_DIR, MANUAL_RUN_DIR)
# The scenario's overrides (molecule.yml), as a test passes them again with -e.
OVERRIDES = {
    "stt_service": {"runtime": "supervisor", "env": {"ALICIA_TRICKY": 'say "hi", C:\\path $HOME ${USER} %h 100%'}},
    "ai_service": {"runtime": "supervisor"},
    "tts_service": {"runtime": "supervisor", "restart": {"max_restarts": 3, "restart_delay": 2, "stop_timeout": 10}},
    "voice_router": {"runtime": "supervisor"},
    "metrics_collector": {"runtime": "manual"},
    "event_scheduler": {"runtime": "manual", "restart": {"max_restarts": 1, "restart_delay": 1, "stop_timeout": 8}},
}


def health(host, name):
    return health_of(host, CATALOGUE[name]["listen_port"]) or {"status": "down"}


def programs(host):
    """supervisorctl status: program -> (state, pid)."""
    out = host.run("supervisorctl status").stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            pid = int(parts[3].rstrip(",")) if parts[1] == "RUNNING" else None
            result[parts[0]] = (parts[1], pid)
    return result


def manual_pid(host, name):
    pid_file = host.file("%s/%s.pid" % (MANUAL_RUN_DIR, name))
    return int(pid_file.content_string.strip()) if pid_file.exists else None


def site(*args):
    return run_playbook(os.path.join(PROJECT, "playbooks", "site.yml"), *args,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "tests_count.json"))


# ---- re-run budget (the idempotence run) ---------------------------------------

# As the default scenario (16 + 2 for a re-run that changes nothing), plus
# one check-mode read per runtime the host uses beyond systemd: the plan
# asks supervisord and the control script too.
RERUN_BUDGET_UNCHANGED = 16 + 2 + 2


def module_counts():
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        return json.load(handle)["hosts"]["alicia-process_managers"]


def test_rerun_that_changes_nothing_costs_the_plan_and_no_phase():
    counts = module_counts()
    assert counts["total"] <= RERUN_BUDGET_UNCHANGED, counts
    service = sorted(task for task in counts["tasks"] if task.startswith("service : "))
    assert service == [
        "service : Service | plan | files of every service of this host that differ, and the state of its units (check mode)",
        "service : Service | plan | manual instances of this host not running or unhealthy (check mode)",
        "service : Service | plan | supervisor programs of this host not running or to add (check mode)",
    ], counts["tasks"]


# ---- supervisor ------------------------------------------------------------------

def test_supervisord_enabled_and_running(host):
    unit = host.service("supervisor")
    assert unit.is_running and unit.is_enabled


def test_supervisor_programs_run_as_the_service_user_without_units(host):
    status = programs(host)
    for name in SUPERVISED:
        state, pid = status["alicia-%s" % name]
        assert state == "RUNNING", (name, status)
        assert host.check_output("ps -o user= -p %d" % pid).strip() == "alicia", name
        assert not host.file("/etc/systemd/system/alicia-%s.service" % name).exists, name
        assert health(host, name)["status"] == "healthy", name


def test_sections_and_env_files_are_0640(host):
    for name in SUPERVISED:
        section = host.file("/etc/supervisor/conf.d/alicia-%s.conf" % name)
        assert (section.user, section.group, section.mode) == ("root", "root", 0o640), name
        env = host.file("/etc/alicia/%s.env" % name)
        assert (env.user, env.group, env.mode) == ("root", "alicia", 0o640), name
    text = host.file("/etc/supervisor/conf.d/alicia-tts_service.conf").content_string
    for line in ("user=alicia", "command=/usr/bin/python3 /opt/alicia/tts_service/current/alicia_reference_service.py",
                 "directory=/opt/alicia/tts_service/current", "autorestart=true", "startretries=3",
                 "stopwaitsecs=10", "stopsignal=TERM", "stopasgroup=true", "killasgroup=true",
                 "redirect_stderr=true", "stdout_logfile=/var/log/alicia/tts_service.log",
                 "stdout_logfile_maxbytes=0"):
        assert line in text.splitlines(), line
    # max_restarts 0 (the catalogue default): no practical limit.
    assert "startretries=1000000" in host.file("/etc/supervisor/conf.d/alicia-stt_service.conf").content_string


def test_tricky_env_value_reaches_the_program_exactly(host):
    pid = programs(host)["alicia-stt_service"][1]
    environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid)).splitlines()
    assert 'ALICIA_TRICKY=say "hi", C:\\path $HOME ${USER} %h 100%' in environ, environ


def test_supervisor_program_logs_to_the_catalogue_log(host):
    log = host.file("/var/log/alicia/tts_service.log")
    assert log.exists and "tts_service" in log.content_string


def test_a_killed_program_is_restarted_by_supervisor(host):
    before = programs(host)["alicia-tts_service"][1]
    host.check_output("kill -9 %d" % before)

    def back():
        state, pid = programs(host).get("alicia-tts_service", (None, None))
        return state == "RUNNING" and pid not in (None, before) and health(host, "tts_service")["status"] == "healthy"
    assert wait_until(back, 40), "tts_service was not restarted and healthy within 40 s: %s" % programs(host)


# ---- manual ------------------------------------------------------------------

def test_manual_instances_run_detached_as_the_service_user(host):
    for name in MANUAL:
        pid = manual_pid(host, name)
        assert pid, name
        assert host.check_output("ps -o user= -p %d" % pid).strip() == "alicia", name
        assert not host.file("/etc/systemd/system/alicia-%s.service" % name).exists, name
        assert "alicia-%s" % name not in programs(host), name
        config = host.file("%s/%s.json" % (MANUAL_CONFIG_DIR, name))
        assert (config.user, config.group, config.mode) == ("root", "alicia", 0o640), name
        assert json.loads(config.content_string)["pid_file"] == "%s/%s.pid" % (MANUAL_RUN_DIR, name)
        assert not host.file("/etc/alicia/manual/%s.json" % name).exists, name
        assert not host.file("/run/alicia/%s.pid" % name).exists, name
        env = host.file("/etc/alicia/%s.env" % name)
        assert (env.user, env.group, env.mode) == ("root", "alicia", 0o640), name
        status = host.run(CTL + " %s status --json", name)
        assert status.rc == 0 and json.loads(status.stdout)["healthy"] is True, status.stdout


def test_manual_stop_is_graceful_within_stop_timeout(host):
    pid = manual_pid(host, "event_scheduler")
    stopped = json.loads(host.check_output(CTL + " event_scheduler stop --json"))
    try:
        # graceful: the process ended on SIGTERM before the stop_timeout (8 s), where
        # alicia-servicectl would have sent SIGKILL and reported graceful false.
        assert stopped["action"] == "stopped" and stopped["graceful"] is True, stopped
        assert not host.file(MANUAL_RUN_DIR + "/event_scheduler.pid").exists
        log = host.file("/var/log/alicia/event_scheduler.log").content_string
        assert "[%d] SIGTERM received: stopping" % pid in log, log[-2000:]
        assert host.run(CTL + " event_scheduler status").rc == 3
    finally:
        started = host.run(CTL + " event_scheduler start --json")
    assert started.rc == 0 and json.loads(started.stdout)["healthy"] is True, started.stdout


def test_a_killed_manual_instance_stays_down_until_the_next_site_run(host):
    before = manual_pid(host, "metrics_collector")
    others = programs(host), manual_pid(host, "event_scheduler")
    host.check_output("kill -9 %d" % before)
    time.sleep(8)
    assert health(host, "metrics_collector")["status"] == "down"
    assert host.run(CTL + " metrics_collector status").rc == 3
    rc, out = site()
    assert rc == 0, out[-3000:]
    after = manual_pid(host, "metrics_collector")
    assert after not in (None, before) and health(host, "metrics_collector")["status"] == "healthy"
    # Nothing else was touched: the supervisor programs and the other manual instance kept their pids.
    assert (programs(host), manual_pid(host, "event_scheduler")) == others


# ---- both: only the changed service restarts; --tags voice ----------------------

def test_tags_voice_restarts_only_the_program_whose_env_changed(host):
    before = programs(host)
    manual = dict((name, manual_pid(host, name)) for name in MANUAL)
    changed = dict(OVERRIDES, tts_service=dict(OVERRIDES["tts_service"], env={"ALICIA_PROBE": "one, 50% $x"}))
    rc, out = site("--tags", "voice", "-e", json.dumps({"catalogue_overrides": changed}))
    assert rc == 0, out[-3000:]
    after = programs(host)
    assert after["alicia-tts_service"][1] != before["alicia-tts_service"][1]
    for name in ("stt_service", "ai_service", "voice_router"):
        assert after["alicia-%s" % name][1] == before["alicia-%s" % name][1], name
    assert dict((name, manual_pid(host, name)) for name in MANUAL) == manual
    rc, out = site("--tags", "voice")
    assert rc == 0, out[-3000:]
    assert health(host, "tts_service")["status"] == "healthy"


def test_systemd_services_are_still_units(host):
    for name in SYSTEMD:
        unit = host.service("alicia-%s" % name)
        assert unit.is_running and unit.is_enabled, name
        assert unit.systemd_properties["StartLimitIntervalUSec"] == "0", name
        assert health(host, name)["status"] == "healthy", name
