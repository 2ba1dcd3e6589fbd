"""The whole platform as site.yml deploys it on one host in every group: the
baseline, the broker and the 22 services of the six phases."""
import json
import os
import re
import sys

import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (  # noqa: E402
    docker_write, health_of, resolved_catalogue, round_trip, run_playbook, wait_until)

SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
HOST = "alicia-default"
PW_DIR = "/root/.alicia-test"


def secrets():
    with open(SECRETS) as handle:
        return yaml.safe_load(handle)


def password_file(name, password):
    """The password in a 0600 file on the lab host (never on a command line)."""
    path = "%s/%s" % (PW_DIR, name)
    docker_write(HOST, path, password)
    return path


def test_preflight_passed_and_baseline_applied(host):
    user = host.user("alicia")
    assert user.shell == "/usr/sbin/nologin"
    assert host.file("/etc/alicia").mode == 0o750
    assert host.file("/etc/alicia").group == "alicia"


def test_firewall_default_drop_is_loaded(host):
    ruleset = host.run("nft list table inet alicia_filter")
    assert ruleset.rc == 0, ruleset.stderr
    assert "policy drop" in ruleset.stdout
    assert "dport 1883" in ruleset.stdout


def test_broker_serves_with_catalogue_credentials(host):
    assert host.service("mosquitto").is_running
    assert host.socket("tcp://0.0.0.0:1883").is_listening
    password = password_file("voice_router", secrets()["catalogue_secrets"]["voice_router"]["MQTT_PASSWORD"])
    assert round_trip(host, "127.0.0.1", "voice_router", password, "alicia/voice_router/site-test") == "OK"


def test_broker_refuses_anonymous_and_wrong_password(host):
    assert round_trip(host, "127.0.0.1", "-", "-", "alicia/x") == "CONNACK 5"
    wrong = password_file("wrong", "wrong-password")
    assert round_trip(host, "127.0.0.1", "voice_router", wrong, "alicia/voice_router/x") == "CONNACK 5"


def test_broker_log_is_rotated_by_the_baseline_policy(host):
    check = host.run("logrotate -d /etc/logrotate.d/mosquitto")
    assert check.rc == 0, check.stderr
    assert "/var/log/mosquitto/mosquitto.log" in check.stdout + check.stderr


# ---- re-run budget ------------------------------------------------------------

# Module executions per host that a re-run of site.yml may cost: every
# execution costs about 0.5 s on the build machine. Preflight, baseline and
# broker: 16; each phase at most 3 whatever its services (the issue's
# budget). The platform plan (plan.yml) reads every phase of the host in two
# executions (one more per runtime or virtualenv kind in use), and a phase it
# finds nothing to do for costs none.
RERUN_BUDGET = 16 + 6 * 3
# Here 3: the host also runs a python_app, whose virtualenv the plan reads.
RERUN_BUDGET_UNCHANGED = 16 + 3


def module_counts():
    """What the callback alicia.platform.module_count wrote for the last
    playbook run before verify: Molecule's idempotence re-run."""
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")
    with open(path) as handle:
        return json.load(handle)


def test_rerun_stays_within_the_module_execution_budget():
    hosts = module_counts()["hosts"]
    assert hosts, "the idempotence run counted no host"
    for name, counts in hosts.items():
        roles = ", ".join("%s %d" % item for item in sorted(counts["roles"].items(), key=lambda i: -i[1]))
        assert counts["total"] <= RERUN_BUDGET, "%s: %d module executions on a re-run (budget %d): %s" % (
            name, counts["total"], RERUN_BUDGET, roles)


def test_rerun_that_changes_nothing_costs_the_plan_and_no_phase():
    counts = module_counts()["hosts"]["alicia-default"]
    assert counts["total"] <= RERUN_BUDGET_UNCHANGED, counts
    service = dict((task, n) for task, n in counts["tasks"].items() if task.startswith("service : "))
    # Exactly the plan's check-mode reads; no phase applied files or units.
    assert sorted(service) == [
        "service : Service | plan | files of every service of this host that differ, and the state of its units (check mode)",
        "service : Service | plan | virtualenvs of this host missing or stale (check mode)",
    ], service
    assert all(n == 1 for n in service.values()), service


def test_rerun_touches_no_package_and_no_apt_cache():
    tasks = module_counts()["hosts"]["alicia-default"]["tasks"]
    assert not [task for task in tasks if "apt cache" in task or "install the missing packages" in task], tasks


# ---- the 22 services ---------------------------------------------------------

CATALOGUE = resolved_catalogue()


def catalogue():
    """The resolved catalogue, as the roles see it (the shipped defaults)."""
    return CATALOGUE


SERVICES = sorted(n for n, e in catalogue().items() if e["kind"] == "service")


def test_all_22_services_are_deployed():
    assert len(SERVICES) == 22


def test_every_service_runs_as_a_hardened_unit_of_the_service_user(host):
    for name in SERVICES:
        service = host.service("alicia-%s" % name)
        assert service.is_running and service.is_enabled, name
        props = service.systemd_properties
        assert props["User"] == "alicia", name
        assert (props["ProtectSystem"], props["PrivateTmp"], props["NoNewPrivileges"]) == ("strict", "yes", "yes"), name
        assert props["Restart"] == "on-failure" and props["StartLimitIntervalUSec"] == "0", name
        assert int(props["MemoryMax"]) > 0 and props["CPUQuotaPerSecUSec"] != "infinity", name
        pid = int(props["MainPID"])
        assert host.check_output("ps -o user= -p %d" % pid).strip() == "alicia", name


def test_every_service_listens_and_answers_healthy_json(host):
    entries = catalogue()
    for name in SERVICES:
        port = entries[name]["listen_port"]
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening, name
        body = health_of(host, port)
        assert body and body["status"] == "healthy" and body["service"] == name and body["broker_connected"] is True, \
            (name, body)


def test_unit_exposure_is_below_3(host):
    for name in SERVICES:
        out = host.check_output("systemd-analyze security --no-pager alicia-%s.service", name)
        exposure = float(out.split("Overall exposure level for alicia-%s.service: " % name)[1].split()[0])
        assert exposure < 3.0, (name, exposure)


def test_env_files_hold_secrets_with_tight_modes(host):
    for name in SERVICES:
        env = host.file("/etc/alicia/%s.env" % name)
        assert (env.user, env.group, env.mode) == ("root", "alicia", 0o640), name
        assert 'SERVICE_NAME="%s"' % name in env.content_string
        assert "MQTT_PASSWORD=" in env.content_string


def test_python_apps_with_the_same_requirements_share_one_virtualenv(host):
    """advanced_voice runs the same application as personality_system (molecule.yml)."""
    venvs = set()
    for name in ("personality_system", "advanced_voice"):
        props = host.service("alicia-%s" % name).systemd_properties
        match = re.search(r"path=(/opt/alicia/venvs/[0-9a-f]{16})/bin/python ", props["ExecStart"])
        assert match and "/opt/alicia/%s/current/main.py" % name in props["ExecStart"], props["ExecStart"]
        venvs.add(match.group(1))
        assert health(host, name)["status"] == "healthy", name
    assert len(venvs) == 1, venvs
    # Besides it, only multi_language's (other requirements: test_wheelhouses.py).
    listed = host.check_output("ls /opt/alicia/venvs").split()
    assert venvs.pop().rsplit("/", 1)[1] in listed and len(listed) == 2, listed


def test_a_command_artifact_runs_the_given_executable_without_a_release(host):
    """event_scheduler's catalogue artifact is a command (molecule.yml)."""
    props = host.service("alicia-event_scheduler").systemd_properties
    assert "/opt/alicia/metrics_collector/current/alicia_reference_service.py" in props["ExecStart"]
    assert props["WorkingDirectory"] == "/var/lib/alicia/event_scheduler"
    assert not host.file("/opt/alicia/event_scheduler").exists
    assert health(host, "event_scheduler")["status"] == "healthy"


def test_a_python_app_runs_its_release_in_the_virtualenv_of_its_requirements(host):
    """personality_system's artifact is a python_app (molecule.yml, converge.yml): an
    entry script with a sibling module and a dependency from the controller's wheelhouse."""
    props = host.service("alicia-personality_system").systemd_properties
    match = re.search(r"path=(/opt/alicia/venvs/[0-9a-f]{16})/bin/python ", props["ExecStart"])
    assert match and "/opt/alicia/personality_system/current/main.py" in props["ExecStart"], props["ExecStart"]
    venv = match.group(1)
    assert props["WorkingDirectory"] == "/opt/alicia/personality_system/current"
    # The dependency came from the shipped wheelhouse, into the virtualenv only.
    assert host.run("%s/bin/python -c 'import alicia_demo_dep; print(alicia_demo_dep.VERSION)'", venv).stdout.strip() == "1.0"
    assert host.run("/usr/bin/python3 -c 'import alicia_demo_dep'").rc != 0
    assert host.file("/opt/alicia/wheelhouse/%s/alicia_demo_dep-1.0-py3-none-any.whl" % venv.rsplit("/", 1)[1]).exists
    marker = json.loads(host.file(venv + "/.alicia-venv.json").content_string)
    assert marker["packages"] == ["alicia-demo-dep==1.0"] and marker["system_site_packages"] is True, marker
    link = host.file("/opt/alicia/personality_system/current")
    assert link.is_symlink and link.linked_to == "/opt/alicia/personality_system/releases/1.0.0"
    for name in ("main.py", "app_settings.py", "alicia_reference_service.py", "requirements.txt"):
        assert host.file("/opt/alicia/personality_system/releases/1.0.0/" + name).user == "root", name
    log = host.file("/var/log/alicia/personality_system.log").content_string
    assert "personality_system: python_app release 1.0.0, alicia_demo_dep 1.0" in log
    body = health(host, "personality_system")
    assert body["status"] == "healthy" and body["broker_connected"] is True, body


def test_env_values_reach_the_process_exactly(host):
    """Quotes, backslashes, $ and % in a catalogue env value (molecule.yml) arrive unchanged."""
    pid = int(host.service("alicia-stt_service").systemd_properties["MainPID"])
    environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid)).splitlines()
    assert 'ALICIA_TRICKY=say "hi" \\ C:\\path $HOME ${USER} %h' in environ, environ


def test_service_logs_are_written_to_the_rotated_files(host):
    for name in SERVICES:
        log = host.file("/var/log/alicia/%s.log" % name)
        assert (log.user, log.mode) == ("alicia", 0o640), name
        assert "GET /health" in log.content_string or "access" in log.content_string, name


def test_releases_are_switched_by_a_link(host):
    link = host.file("/opt/alicia/stt_service/current")
    assert link.is_symlink and link.linked_to == "/opt/alicia/stt_service/releases/1.0.0"


# ---- faults (these change the platform and put it back; they run last) ---------

def health(host, name):
    return health_of(host, catalogue()[name]["listen_port"]) or {"status": "down"}


def test_a_killed_service_is_restarted_and_healthy_again(host):
    unit = host.service("alicia-tts_service")
    before = int(unit.systemd_properties["MainPID"])
    host.check_output("kill -9 %d" % before)

    def back():
        pid = int(host.service("alicia-tts_service").systemd_properties["MainPID"])
        return pid not in (0, before) and health(host, "tts_service")["status"] == "healthy"
    assert wait_until(back, 40), "tts_service was not restarted and healthy within 40 s"


# molecule.yml: these exit once the broker is out of reach for 5 s, as the real services do.
EXIT_WITHOUT_BROKER = ("sonos_service", "device_manager")


def test_a_broker_outage_leaves_every_service_healthy_again(host):
    def restarts(name):
        return int(host.service("alicia-%s" % name).systemd_properties["NRestarts"])
    before = dict((name, restarts(name)) for name in EXIT_WITHOUT_BROKER)
    host.check_output("systemctl stop mosquitto")
    try:
        assert wait_until(lambda: health(host, "voice_router")["broker_connected"] is False, 20)
        # The broker stays away until each service that exits without it was restarted 3 times
        # (exit after 5 s, RestartSec 5 s: about 30 s; at most 120 s).
        assert wait_until(lambda: all(restarts(name) - before[name] >= 3 for name in EXIT_WITHOUT_BROKER), 120), \
            dict((name, restarts(name) - before[name]) for name in EXIT_WITHOUT_BROKER)
        staying = [name for name in SERVICES if name not in EXIT_WITHOUT_BROKER]
        states = dict((name, host.service("alicia-%s" % name).systemd_properties["ActiveState"]) for name in staying)
        assert set(states.values()) == {"active"}, states
        # The ones that exit were restarted again and again (exit after 5 s, RestartSec 5 s) and
        # never locked out by a start limit.
        for name in EXIT_WITHOUT_BROKER:
            props = host.service("alicia-%s" % name).systemd_properties
            assert restarts(name) - before[name] >= 3, (name, before[name], props["NRestarts"])
            assert props["Result"] != "start-limit-hit" and props["ActiveState"] != "failed", (name, props["Result"])
            assert "no broker connection for 5.0 s" in host.file("/var/log/alicia/%s.log" % name).content_string
    finally:
        host.check_output("systemctl start mosquitto")
    unhealthy = lambda: [name for name in SERVICES if health(host, name)["status"] != "healthy"]  # noqa: E731
    assert wait_until(lambda: not unhealthy(), 60), "still unhealthy after the broker came back: %s" % unhealthy()
    for name in EXIT_WITHOUT_BROKER:
        assert host.service("alicia-%s" % name).is_running, name


def test_the_log_report_counts_each_error_of_a_real_unit_once(tmp_path):
    """playbooks/logs.yml over the deployed units, after the outage above: the exits were
    logged to the service's file (its unit appends stdout and stderr there), and the
    report counts them from that one source, never again from the journal."""
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", "logs.yml"), extra_vars={
        "logs_window_minutes": 30, "logs_export_dir": str(tmp_path),
        "logs_error_thresholds": dict.fromkeys(SERVICES + ["mqtt_broker"], 1000)},
        count_file=str(tmp_path / "count.json"), timeout=300)
    assert rc == 0, out[-3000:]
    report = json.loads((tmp_path / HOST / "report.json").read_text())
    assert set(report["services"]) == set(SERVICES) | {"mqtt_broker"}
    for name in EXIT_WITHOUT_BROKER:
        entry = report["services"][name]
        assert entry["journal_errors"] == 0 and entry["errors"] == entry["file_errors"] >= 3, (name, entry)
        exported = (tmp_path / HOST / ("%s.log" % name)).read_text().splitlines()
        assert len([line for line in exported if re.search(r"\b(ERROR|CRITICAL|FATAL)\b", line)]) == entry["errors"]
        assert len([line for line in exported if "no broker connection for 5.0 s" in line]) >= 3, (name, entry)


def site(*args):
    """site.yml again against the scenario's host: (rc, output)."""
    # Counted elsewhere: module_count.json holds the idempotence re-run.
    return run_playbook(os.path.join(PROJECT, "playbooks", "site.yml"), *args, timeout=600,
                        count_file=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "faults_count.json"))


def main_pids(host):
    return dict((name, int(host.service("alicia-%s" % name).systemd_properties["MainPID"])) for name in SERVICES)


def test_an_unhealthy_service_fails_its_phase_gate_and_stops_the_run(host):
    pids = main_pids(host)
    # These extra vars replace molecule.yml's catalogue_overrides for the run: in the voice
    # phase, tts_service gets the fault and stt_service loses ALICIA_TRICKY; the next run puts
    # both back. ai_service and voice_router, whose files stay the same, must never restart.
    unhealthy = {"catalogue_overrides": {"tts_service": {"env": {"ALICIA_FAULT_UNHEALTHY": "1"}}},
                 "service_gate_timeout": 8}
    rc, out = site("--tags", "voice,devices", "-e", json.dumps(unhealthy))
    try:
        assert rc != 0, out[-3000:]
        assert "phase voice on alicia-default is not healthy" in out, out[-3000:]
        assert "tts_service" in out and "/var/log/alicia/tts_service.log" in out, out[-3000:]
        assert "PLAY [Phase 4 | devices]" not in out, "the run went on to the next phase"
        # The same run rolled tts_service back to its known-good release (the
        # scenario's settings): the previous version serves again.
        assert "Rolled back to the last known-good release" in out and "tts_service 1.0.0 -> 1.0.0" in out, out[-3000:]
        assert health(host, "tts_service")["status"] == "healthy"
        assert "ALICIA_FAULT_UNHEALTHY" not in host.file("/etc/alicia/tts_service.env").content_string
    finally:
        rc, out = site("--tags", "voice")
    assert rc == 0, out[-3000:]
    assert health(host, "tts_service")["status"] == "healthy"
    # Only the services whose files changed were restarted (twice each); no other service of the
    # phase, nor of any other phase.
    after = main_pids(host)
    restarted = sorted(name for name in SERVICES if after[name] != pids[name])
    assert restarted == ["stt_service", "tts_service"], restarted
    # That last run changed the voice phase: the phase cost at most 3 module executions
    # (one files batch, one units reconcile, one gate) beside the plan's reads.
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "faults_count.json")) as handle:
        tasks = json.load(handle)["hosts"][HOST]["tasks"]
    phase = dict((task, n) for task, n in tasks.items() if task.startswith("service : ") and "| plan |" not in task)
    assert 0 < sum(phase.values()) <= 3, phase


MQTT_USERNAMES = {"ha_bridge": "ha-bridge-svc", "event_scheduler": "scheduler-cmd",
                  "personality_system": "personality-app"}  # molecule.yml


def test_a_service_logs_in_with_the_mqtt_username_the_catalogue_gives_it(host):
    """One per artifact kind: reference (ha_bridge), command (event_scheduler), python_app (personality_system)."""
    passwords = secrets()["catalogue_secrets"]
    for name, user in sorted(MQTT_USERNAMES.items()):
        assert 'MQTT_USERNAME="%s"' % user in host.file("/etc/alicia/%s.env" % name).content_string, name
        document = health(host, name)
        assert document["status"] == "healthy" and document["broker_connected"] is True, (name, document)
        log = host.file("/var/log/alicia/%s.log" % name).content_string
        assert re.search(r"connected to the broker \S+ as '%s'" % re.escape(user), log), name
        password = password_file(name, passwords[name]["MQTT_PASSWORD"])
        # The broker knows the service by that username only, with the service's own topic tree.
        assert round_trip(host, "127.0.0.1", user, password, "alicia/%s/login-test" % name) == "OK", name
        assert round_trip(host, "127.0.0.1", name, password, "alicia/%s/login-test" % name) == "CONNACK 5", name


def test_a_unit_option_overridden_for_one_service_only(host):
    """device_registry's catalogue entry sets PrivateDevices=no (molecule.yml) over the hardening."""
    for name in SERVICES:
        expected = "no" if name == "device_registry" else "yes"
        assert host.service("alicia-%s" % name).systemd_properties["PrivateDevices"] == expected, name


def test_tags_select_one_phase():
    rc, out = site("--tags", "voice", "--list-tasks")
    assert rc == 0, out
    # One phase play (playbooks/phase.yml) per phase: --list-tasks prints its task
    # names unrendered, so each phase is read from the tasks listed under its play.
    plays = dict((block.split("\n", 1)[0].split(": ", 1)[1].split("\t")[0].strip(), block)
                 for block in out.split("\n  play #")[1:])
    assert "the phase's services on this host, gated" in plays["Phase 3 | voice"]
    for number, other in ((1, "core"), (2, "management"), (4, "devices"), (5, "advanced"), (6, "observability")):
        assert "the phase's services" not in plays["Phase %d | %s" % (number, other)], other
    # The platform plan runs under any phase's tag.
    assert "Plan | the phases with something to do on this host (check mode)" in out
    # Preflight always runs; the baseline and the broker do not.
    assert "Catalogue | check the catalogue, the inventory and the secrets" in out
    assert "Baseline | every package this host needs" not in out
