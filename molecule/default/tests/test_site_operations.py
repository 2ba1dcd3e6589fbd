"""The operation playbooks on the converged platform (seed 000, "Service
Recovery Procedures"; seed 004, phased startup and shutdown): restart.yml,
restart_all.yml, teardown.yml, recover.yml. They run after test_site.py
(file order), each leaves the platform deployed and healthy again."""
import datetime
import json
import os
import re
import sys
import time

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, recap, resolved_catalogue, run_playbook  # noqa: E402

HOST = "alicia-default"
CATALOGUE = resolved_catalogue()
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")
PHASES = ["core", "management", "voice", "devices", "advanced", "observability"]
COUNT_FILE = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "operations_count.json")


def playbook(name, *args):
    """playbooks/<name>.yml against the scenario's host: (rc, output, module executions per host)."""
    if os.path.exists(COUNT_FILE):
        os.remove(COUNT_FILE)
    # Counted apart: module_count.json holds the idempotence re-run test_site.py reads.
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", name + ".yml"), *args, count_file=COUNT_FILE)
    counts = {}
    if os.path.exists(COUNT_FILE):
        with open(COUNT_FILE) as handle:
            counts = dict((host, c["total"]) for host, c in json.load(handle)["hosts"].items())
    return rc, out, counts


def prop(host, unit, name):
    return host.run("systemctl show -p %s --value %s", name, unit).stdout.strip()


def health(host, name):
    return health_of(host, CATALOGUE[name]["listen_port"]) or {"status": "down"}


def all_healthy(host, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        sick = [name for name in SERVICES if health(host, name)["status"] != "healthy"]
        if not sick or time.monotonic() > deadline:
            return sick
        time.sleep(1)


def unit(name):
    return CATALOGUE[name]["unit"]


# ---- refusals: before any host is touched -------------------------------------------

def test_every_operation_refuses_an_unknown_service_before_touching_a_host():
    for name in ("restart", "teardown"):
        rc, out, counts = playbook(name, "-e", "service=no_such_service")
        assert rc != 0, out[-2000:]
        assert "%s: service: unknown service 'no_such_service'" % name in out, out[-2000:]
        assert "tts_service" in out, "the message lists the catalogue's services"
        assert sum(counts.values()) == 0, "a host was touched: %s" % counts


def test_restart_needs_a_service_and_a_host_that_runs_it():
    rc, out, counts = playbook("restart")
    assert rc != 0 and "restart: service: required (-e service=<name>)" in out, out[-2000:]
    rc, out, counts = playbook("restart", "-e", "service=tts_service", "-e", "host=elsewhere")
    assert rc != 0 and "restart: host: unknown inventory host 'elsewhere'" in out, out[-2000:]
    assert sum(counts.values()) == 0, counts


# ---- restart.yml --------------------------------------------------------------------

def test_restart_restarts_exactly_one_service_and_gates_it(host):
    pids = dict((name, prop(host, unit(name), "MainPID")) for name in SERVICES)
    rc, out, counts = playbook("restart", "-e", "service=stt_service")
    assert rc == 0, out[-3000:]
    assert re.search(r"stt_service on %s: restarted, pid \d+, healthy \(HTTP 200 in [0-9.]+ ms\)" % HOST, out), out[-3000:]
    after = dict((name, prop(host, unit(name), "MainPID")) for name in SERVICES)
    assert after["stt_service"] != pids["stt_service"]
    assert dict((n, p) for n, p in after.items() if n != "stt_service") == \
        dict((n, p) for n, p in pids.items() if n != "stt_service"), "another service was restarted"
    assert health(host, "stt_service")["status"] == "healthy"
    # One restart and one gate (plus nothing for the other services).
    assert counts[HOST] == 2, counts


# ---- restart_all.yml ----------------------------------------------------------------

def stop_times(host, since):
    """{service: when it logged SIGTERM} after the epoch `since`, from the services' own logs
    (millisecond timestamps; a stopped unit may be unloaded, and its InactiveEnterTimestamp with it)."""
    times = {}
    for name in SERVICES:
        line = host.run("grep -h 'SIGTERM received: stopping' /var/log/alicia/%s.log", name).stdout.strip()
        for entry in line.splitlines():
            stamp = datetime.datetime.strptime(entry.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
            when = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
            if when >= since:
                times[name] = when
    return times


def test_restart_all_stops_phases_last_first_and_starts_them_in_order(host):
    since = int(host.check_output("date +%s"))
    rc, out, counts = playbook("restart_all")
    assert rc == 0, out[-3000:]
    started = dict((name, int(prop(host, unit(name), "ActiveEnterTimestampMonotonic"))) for name in SERVICES)
    stopped = stop_times(host, since)
    assert sorted(stopped) == SERVICES, "every service stopped once: %s" % sorted(stopped)
    by_phase = dict((phase, [n for n in SERVICES if CATALOGUE[n]["phase"] == phase]) for phase in PHASES)
    for earlier, later in zip(PHASES, PHASES[1:]):
        # Started: every service of a phase before any of the next one
        # (the phase was gated healthy in between).
        assert max(started[n] for n in by_phase[earlier]) < min(started[n] for n in by_phase[later]), (earlier, later)
        # Stopped: the later phase entirely before the earlier one.
        assert max(stopped[n] for n in by_phase[later]) < min(stopped[n] for n in by_phase[earlier]), (later, earlier)
    # Within a phase a service starts after its dependencies on the host
    # (After= in its unit): the voice router after speech to text and text to speech.
    assert started["voice_router"] > max(started["stt_service"], started["tts_service"])
    assert stopped["voice_router"] < min(stopped["stt_service"], stopped["tts_service"])
    assert not all_healthy(host)
    # The broker kept running.
    assert host.service("mosquitto").is_running


# ---- teardown.yml, then site.yml again ---------------------------------------------------

def test_teardown_removes_services_keeps_data_and_logs_and_is_idempotent(host):
    host.run("echo kept > /var/lib/alicia/tts_service/state.txt")
    rc, out, counts = playbook("teardown")
    assert rc == 0, out[-3000:]
    assert recap(out, HOST)["changed"] > 0
    for name in SERVICES:
        assert prop(host, unit(name), "LoadState") == "not-found", name
        assert not host.file("/etc/alicia/%s.env" % name).exists, name
        assert not host.file("/opt/alicia/%s" % name).exists, name
        assert host.file("/var/log/alicia/%s.log" % name).exists, "the log of %s was removed" % name
    assert host.file("/var/lib/alicia/tts_service/state.txt").content_string.strip() == "kept"
    assert host.run("ss -Hltn %s", "sport = :%d" % CATALOGUE["tts_service"]["listen_port"]).stdout.strip() == ""
    # The broker stays without include_broker.
    assert host.service("mosquitto").is_running

    rc, out, counts = playbook("teardown")
    assert rc == 0 and recap(out, HOST)["changed"] == recap(out, HOST)["failed"] == 0, out[-3000:]


def test_site_converges_again_after_a_teardown(host):
    rc, out, counts = playbook("site")
    assert rc == 0, out[-3000:]
    assert not all_healthy(host)
    assert host.file("/var/lib/alicia/tts_service/state.txt").content_string.strip() == "kept"
    rc, out, counts = playbook("site")
    assert rc == 0 and recap(out, HOST)["changed"] == recap(out, HOST)["failed"] == 0, out[-3000:]


# ---- recover.yml -----------------------------------------------------------------------

def test_recover_puts_back_what_was_lost_and_gates_everything(host):
    # Damage: a unit file and an environment file gone, a service disabled
    # and stopped, the firewall table deleted. Each command must succeed and
    # its damage must be seen before recover runs (else the test proves nothing).
    unit_file = "/etc/systemd/system/%s" % unit("device_manager")
    env_file = "/etc/alicia/ai_service.env"
    assert host.file(unit_file).exists and host.file(env_file).exists
    assert host.service(unit("metrics_collector")).is_enabled and host.service(unit("metrics_collector")).is_running
    assert host.run("nft list table inet alicia_filter").rc == 0
    host.check_output("rm %s %s", unit_file, env_file)
    host.check_output("systemctl daemon-reload")
    host.check_output("systemctl disable --now %s", unit("metrics_collector"))
    host.check_output("nft delete table inet alicia_filter")
    assert not host.file(unit_file).exists and not host.file(env_file).exists
    assert prop(host, unit("device_manager"), "LoadState") == "not-found"
    assert prop(host, unit("metrics_collector"), "UnitFileState") == "disabled"
    assert prop(host, unit("metrics_collector"), "ActiveState") in ("inactive", "failed")
    assert host.run("nft list table inet alicia_filter").rc != 0

    rc, out, counts = playbook("recover")
    assert rc == 0, out[-3000:]
    assert recap(out, HOST)["changed"] > 0, "recover changed nothing: " + out[-3000:]
    assert not all_healthy(host)
    assert host.file(unit_file).exists
    assert prop(host, unit("device_manager"), "LoadState") == "loaded"
    assert host.service(unit("device_manager")).is_enabled and host.service(unit("device_manager")).is_running
    assert host.file(env_file).mode == 0o640
    assert host.service(unit("metrics_collector")).is_enabled and host.service(unit("metrics_collector")).is_running
    assert host.run("nft list table inet alicia_filter").rc == 0
    rc, out, counts = playbook("site")
    assert rc == 0 and recap(out, HOST)["changed"] == recap(out, HOST)["failed"] == 0, out[-3000:]
