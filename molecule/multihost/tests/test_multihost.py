"""The prod group layout on three lab hosts: the broker alone on one host,
core/management/voice on app1, devices/advanced/observability on app2; an
outsider container on the same network probes what the platform exposes.

Checked by behaviour: where each unit runs, /health over the services' own
broker connection (across hosts), MQTT credentials across hosts, firewalls
that trust only the platform addresses, the cross-host dependency gate of the
service role, a phase failed on one host stopping the next phase on the
other (unless alicia_partial_rollout), and the re-run budget of each host.
"""

import json
import os
import re
import sys
import uuid

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (  # noqa: E402
    docker_write, get_host, health_by_port, health_of, probe, recaps, resolved_catalogue, round_trip, run_playbook,
    wait_until)
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CONVERGE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")

BROKER, APP1, APP2, OUTSIDER = ("alicia-multihost-%s" % n for n in ("broker", "app1", "app2", "outsider"))
# The phase groups of each platform host (molecule.yml).
LAYOUT = {
    BROKER: [],
    APP1: ["alicia_core", "alicia_management", "alicia_voice"],
    APP2: ["alicia_devices", "alicia_advanced", "alicia_observability"],
}
PW_DIR = "/root/multihost-mqtt"


@pytest.fixture(scope="module")
def broker():
    return get_host(BROKER)


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def outsider():
    return get_host(OUTSIDER)


@pytest.fixture(scope="module")
def hosts(broker, app1, app2):
    return {BROKER: broker, APP1: app1, APP2: app2}


def ipv4(host):
    addresses = [a for a in host.interface("eth0").addresses if ":" not in a]
    assert addresses, "no IPv4 address on eth0"
    return addresses[0]


@pytest.fixture(scope="module")
def addresses(broker, app1, app2, outsider):
    return {BROKER: ipv4(broker), APP1: ipv4(app1), APP2: ipv4(app2), OUTSIDER: ipv4(outsider)}


# ---- the catalogue --------------------------------------------------------------

# The shipped catalogue with the scenario's overrides (two TTS instances).
CATALOGUE = resolved_catalogue(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml"))
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")


def services_of(name):
    """The catalogue services that run on platform host `name`."""
    return [s for s in SERVICES if CATALOGUE[s]["group"] in LAYOUT[name]]


def host_of(service):
    [name] = [h for h, groups in LAYOUT.items() if CATALOGUE[service]["group"] in groups]
    return name


# Required dependencies whose dependant and dependency run on different hosts
# in this layout: (dependant, dependency).
CROSS_HOST = sorted(
    (svc, dep) for svc in SERVICES for dep, spec in CATALOGUE[svc]["depends_on"].items()
    if spec["type"] == "required" and CATALOGUE.get(dep, {}).get("kind") == "service" and host_of(svc) != host_of(dep))


def test_the_layout_splits_the_22_services_between_the_two_app_hosts():
    assert len(SERVICES) == 22
    assert sorted(services_of(APP1) + services_of(APP2)) == SERVICES
    assert services_of(APP1) and services_of(APP2) and not services_of(BROKER)


# ---- re-run budget (first: later tests run the playbook again) -------------------

def module_counts():
    """What the callback alicia.platform.module_count wrote for the last
    playbook run before verify: Molecule's idempotence re-run."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_rerun_stays_within_the_module_execution_budget_of_each_host(name):
    # Preflight, baseline and broker: 16; the platform plan (two check-mode
    # reads) on a host that runs services; phases with nothing to do: none.
    budget = 16 + (2 if LAYOUT[name] else 0)
    counts = module_counts()["hosts"].get(name)
    assert counts, "the idempotence run counted nothing on %s" % name
    roles = ", ".join("%s %d" % item for item in sorted(counts["roles"].items(), key=lambda i: -i[1]))
    assert counts["total"] <= budget, "%s: %d module executions on a re-run (budget %d): %s" % (
        name, counts["total"], budget, roles)


def test_nothing_runs_on_the_outsider():
    # Preflight covers every inventory host, but contacts none.
    assert module_counts()["hosts"].get(OUTSIDER, {"total": 0})["total"] == 0


def test_rerun_touches_no_package_on_any_host():
    for name in LAYOUT:
        tasks = module_counts()["hosts"][name]["tasks"]
        assert not [t for t in tasks if "apt cache" in t or "install the missing packages" in t], (name, tasks)


# ---- what runs where -----------------------------------------------------------------

def test_broker_runs_only_on_the_broker_host(broker, app1, app2):
    assert broker.service("mosquitto").is_running
    assert broker.socket("tcp://0.0.0.0:1883").is_listening
    for app in (app1, app2):
        assert not app.package("mosquitto").is_installed
        assert not app.socket("tcp://0.0.0.0:1883").is_listening


def unit_states(host, services):
    """service -> (LoadState, ActiveState) of its unit (a multi-instance
    service's is its target); "not-found", "inactive" for a unit that does not exist."""
    units = [CATALOGUE[s]["unit"] for s in services]
    out = host.run("systemctl show --property=Id,ActiveState,LoadState" + " %s" * len(units), *units).stdout
    by_unit = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        by_unit[props["Id"]] = (props["LoadState"], props["ActiveState"])
    return dict((s, by_unit[CATALOGUE[s]["unit"]]) for s in services)


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_each_host_runs_exactly_the_services_of_its_phase_groups(hosts, name):
    host = hosts[name]
    states = unit_states(host, SERVICES)
    mine = services_of(name)
    assert {s: states[s] for s in mine} == dict.fromkeys(mine, ("loaded", "active")), name
    others = [s for s in SERVICES if s not in mine]
    assert {s: states[s] for s in others} == dict.fromkeys(others, ("not-found", "inactive")), name
    for service in others:
        assert not host.file("/etc/alicia/%s.env" % service).exists, (name, service)


def test_nothing_is_deployed_on_the_outsider(outsider):
    assert not outsider.user("alicia").exists
    assert not outsider.file("/etc/alicia").exists
    assert outsider.run("nft list table inet alicia_filter").rc != 0


def health(host, services):
    """service -> its /health JSON, read on ``host`` (127.0.0.1) on the port it is reached at."""
    out = health_by_port(host, [CATALOGUE[s]["port"] for s in services])
    return dict((s, out[str(CATALOGUE[s]["port"])]) for s in services)


@pytest.mark.parametrize("name", [APP1, APP2])
def test_every_service_answers_healthy_and_connected_to_the_remote_broker(hosts, name):
    for service, body in health(hosts[name], services_of(name)).items():
        assert (body.get("status"), body.get("service"), body.get("broker_connected")) == (
            "healthy", service, True), (name, service, body)


@pytest.mark.parametrize("name", [APP1, APP2])
def test_services_reach_the_broker_host_over_the_network(hosts, addresses, name):
    host = hosts[name]
    broker_address = addresses[BROKER]
    for service in services_of(name):
        # Only these two lines of the environment file (it holds secrets).
        lines = host.check_output("grep -E '^MQTT_(BROKER|PORT)=' /etc/alicia/%s.env", service).splitlines()
        assert sorted(lines) == ['MQTT_BROKER="%s"' % broker_address, 'MQTT_PORT="1883"'], (name, service, lines)
    # One established MQTT session per service, to the broker host.
    sessions = host.check_output("ss -Htn state established dst %s dport = :1883", broker_address).splitlines()
    assert len(sessions) >= len(services_of(name)), (name, sessions)


# ---- MQTT across hosts ---------------------------------------------------------------

@pytest.fixture(scope="module")
def mqtt_passwords():
    """Writes each service's password (and a wrong one) to a 0600 file on the
    app hosts; returns the path of a user's file."""
    with open(SECRETS) as handle:
        secrets = yaml.safe_load(handle)["catalogue_secrets"]
    for name in (APP1, APP2):
        for service in services_of(name):
            docker_write(name, "%s/%s" % (PW_DIR, service), secrets[service]["MQTT_PASSWORD"])
        docker_write(name, "%s/wrong" % PW_DIR, "not-the-password-%s" % uuid.uuid4().hex)
    return lambda user: "%s/%s" % (PW_DIR, user)


@pytest.mark.parametrize("name,service", [(APP1, "config_service"), (APP2, "device_manager")])
def test_a_service_publishes_and_subscribes_in_its_own_tree_on_the_broker_host(
        hosts, addresses, mqtt_passwords, name, service):
    topic = "alicia/%s/multihost-%s" % (service, uuid.uuid4().hex[:8])
    assert round_trip(hosts[name], addresses[BROKER], service, mqtt_passwords(service), topic) == "OK"


def test_a_wrong_password_is_refused_by_the_broker_host(app1, addresses, mqtt_passwords):
    result = round_trip(app1, addresses[BROKER], "config_service", mqtt_passwords("wrong"), "alicia/config_service/x")
    assert result == "CONNACK 5"


def test_a_service_gets_nothing_from_another_services_tree(app1, addresses, mqtt_passwords):
    # The ACL lets config_service neither subscribe nor publish under device_manager's tree.
    topic = "alicia/device_manager/multihost-%s" % uuid.uuid4().hex[:8]
    assert round_trip(app1, addresses[BROKER], "config_service", mqtt_passwords("config_service"), topic) == "timeout"


# ---- firewall ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def targets(addresses):
    return {
        "broker mqtt_broker 1883": "%s:1883" % addresses[BROKER],
        "app1 stt_service 8001 (platform)": "%s:8001" % addresses[APP1],
        "app1 security_gateway 8009 (clients)": "%s:8009" % addresses[APP1],
        "app2 device_manager 8006 (platform)": "%s:8006" % addresses[APP2],
    }


def test_the_outsider_is_dropped_by_every_platform_firewall(outsider, targets):
    # Its address is on the same network but not among the trusted /32s.
    states = probe(outsider, targets.values())
    assert {k: states[v] for k, v in targets.items()} == dict.fromkeys(targets, "timeout")


def test_platform_hosts_reach_each_other(app1, app2, targets):
    from_app2 = probe(app2, [v for k, v in targets.items() if not k.startswith("app2")])
    from_app1 = probe(app1, [v for k, v in targets.items() if not k.startswith("app1")])
    assert set(from_app2.values()) == {"open"}, from_app2
    assert set(from_app1.values()) == {"open"}, from_app1


def test_ssh_stays_reachable_from_the_outsider(outsider, addresses):
    # Lock-out guard: SSH is accepted from anywhere (no sshd here: refused, not dropped).
    assert probe(outsider, ["%s:22" % addresses[BROKER]]) == {"%s:22" % addresses[BROKER]: "refused"}


# ---- a dependency across hosts ---------------------------------------------------------

def test_the_layout_has_required_dependencies_across_hosts():
    # device_manager (devices, app2) requires device_registry (core, app1).
    assert ("device_manager", "device_registry") in CROSS_HOST, CROSS_HOST
    for dependant, dependency in CROSS_HOST:
        assert {host_of(dependant), host_of(dependency)} == {APP1, APP2}, (dependant, dependency)


@pytest.mark.parametrize("dependant,dependency", CROSS_HOST)
def test_a_cross_host_dependant_is_healthy_and_reaches_its_dependency(hosts, addresses, dependant, dependency):
    dependant_host = hosts[host_of(dependant)]
    assert health(dependant_host, [dependant])[dependant].get("status") == "healthy"
    # What the service role's remote gate probes from the dependant's host.
    body = health_of(dependant_host, CATALOGUE[dependency]["listen_port"], addresses[host_of(dependency)])
    assert body and (body["status"], body["service"]) == ("healthy", dependency), body


# ---- the remote dependency gate (changes the platform and puts it back; runs last) -----

def converge(*args, extra_vars=None):
    """converge.yml again (the address play, then site.yml): (rc, output).
    Its module counts go to a file of its own (module_count.json stays the
    idempotence run's)."""
    return run_playbook(CONVERGE, *args, extra_vars=extra_vars, inventory=INVENTORY)


GATE_TASK = "Service | required dependencies on other hosts are healthy before the units start"


def task_block(output, title):
    """The output of the task `title` (up to the next TASK / PLAY / RUNNING HANDLER header)."""
    match = re.search(r"^TASK \[[^\]]*%s\][^\n]*\n(.*?)(?=^(?:TASK|PLAY|RUNNING HANDLER) \[|\Z)" % re.escape(title),
                      output, re.M | re.S)
    return match.group(1) if match else None


def main_pid(host, service):
    return int(host.service("alicia-%s" % service).systemd_properties["MainPID"])


def test_a_remote_dependency_that_is_down_holds_back_its_dependant(app1, app2):
    """device_manager (app2) requires device_registry (app1). With
    device_registry stopped, a devices run that changes device_manager fails
    at the remote gate, before device_manager restarts; with it back, the
    gate passes and device_manager restarts with its new files."""
    change = {"catalogue_overrides": {
        "device_manager": {"env": {"MULTIHOST_GATE_TEST": "1"},
                           "depends_on": {"device_registry": {"timeout": 5}}},
        "grok_integration": {"depends_on": {"security_gateway": {"timeout": 5}}},
    }}
    before = main_pid(app2, "device_manager")
    app1.check_output("systemctl stop alicia-device_registry.service")
    try:
        rc, out = converge("--tags", "devices", extra_vars=change)
        gate = task_block(out, GATE_TASK)
        assert rc != 0, out[-3000:]
        assert gate is not None and "fatal: [%s]" % APP2 in gate and "device_registry" in gate, out[-3000:]
        assert not re.search(r"^TASK \[[^\]]*Service \| units enabled", out.split(GATE_TASK, 1)[1], re.M), \
            "units reconciled after the gate failed"
        assert main_pid(app2, "device_manager") == before, "device_manager restarted although its dependency was down"
    finally:
        app1.check_output("systemctl start alicia-device_registry.service")
    assert wait_until(lambda: health(app1, ["device_registry"])["device_registry"].get("status") == "healthy", 60)

    # Back to the converged state: the files change back, the gate passes, device_manager restarts.
    rc, out = converge("--tags", "devices")
    assert rc == 0, out[-3000:]
    gate = task_block(out, GATE_TASK)
    assert gate is not None and "ok: [%s]" % APP2 in gate, out[-3000:]
    assert main_pid(app2, "device_manager") not in (0, before)
    assert health(app2, ["device_manager"])["device_manager"].get("status") == "healthy"
    assert app2.run("grep -c MULTIHOST_GATE_TEST /etc/alicia/device_manager.env").stdout.strip() == "0"


def test_a_run_limited_to_one_application_host_touches_only_it():
    """--limit: preflight still checks the whole inventory, the broker's address and
    credentials come from a host outside the limit, and only app2 is touched."""
    rc, out = converge("--limit", "localhost,%s" % APP2)
    assert rc == 0, out[-3000:]
    recap = dict((host, (counts["changed"], counts["unreachable"], counts["failed"]))
                 for host, counts in recaps(out).items())
    assert recap.get(APP2) == (0, 0, 0), recap
    assert not set(recap) & {APP1, BROKER, OUTSIDER}, recap
    assert "PLAY [Phase 4 | devices]" in out and "skipping: no hosts matched" in out


# ---- phase by phase, each gated, across hosts (changes the platform and puts it back) ----

STOP_TASK = "Phase 4 | devices | stop here when an earlier phase failed on any host"
DEVICES_TASK = "Phase 4 | devices | the phase's services on this host, gated"
VOICE_PASSED_TASK = "Phase 3 | voice | this host passed the phase"


def phase_fault_overrides(run):
    """The scenario's overrides (two TTS instances) plus: the voice services in a
    group of app1 only (so that app2, added to alicia_voice by
    VOICE_ON_BOTH, runs the voice phase with nothing to deploy and passes it),
    stt_service (voice, app1) answering unhealthy, with an environment that
    differs from the last ``run``'s (a phase only gates what it changed), and
    device_manager (devices, app2) with a new environment variable, so a
    devices phase that runs on app2 changes and restarts it."""
    with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars", "catalogue_overrides.yml")) as handle:
        overrides = yaml.safe_load(handle)
    for name in SERVICES:
        if CATALOGUE[name]["phase"] == "voice":
            overrides.setdefault(name, {})["group"] = "multihost_voice_app1"
    overrides["stt_service"]["env"] = {"ALICIA_FAULT_UNHEALTHY": "1", "MULTIHOST_PHASE_RUN": str(run)}
    overrides["device_manager"] = {"env": {"MULTIHOST_PHASE_TEST": "1"}}
    return {"catalogue_overrides": overrides, "service_gate_timeout": 8}


# A second inventory source for those runs: the voice phase on both app hosts
# (app1 runs its services, app2 none), so that it can fail on one host and
# pass on the other: when a phase's every host fails, Ansible itself ends the run.
VOICE_ON_BOTH = {"all": {"children": {
    "alicia_voice": {"hosts": {APP2: None}},
    "multihost_voice_app1": {"hosts": {APP1: None}},
}}}


def phase_test_env(app2):
    return app2.run("grep -c MULTIHOST_PHASE_TEST /etc/alicia/device_manager.env").stdout.strip()


def test_a_phase_that_fails_on_one_host_stops_the_run_before_the_next_phase_on_every_host(app1, app2, tmp_path):
    """The voice phase fails its gate on app1 and passes on app2: the devices
    phase (app2) does not start, and the run names the host, the phase and
    the failure. With alicia_partial_rollout the devices phase goes on on app2
    (the control: the same run does change app2 when it is let through).
    Then everything back."""
    extra = tmp_path / "voice-on-both.yml"
    extra.write_text(yaml.safe_dump(VOICE_ON_BOTH))
    before = main_pid(app2, "device_manager")
    try:
        rc, out = converge("-i", str(extra), "--tags", "voice,devices", extra_vars=phase_fault_overrides(1))
        assert rc != 0, out[-3000:]
        passed = task_block(out, VOICE_PASSED_TASK)
        assert passed is not None and "ok: [%s]" % APP2 in passed, out[-3000:]
        stop = task_block(out, STOP_TASK)
        assert stop is not None and "fatal: [%s]" % APP2 in stop, out[-3000:]
        said = " ".join(stop.split())  # the YAML result format wraps long messages
        assert "Stopping before phase devices on every host: phase voice failed on %s" % APP1 in said, stop
        assert "stt_service" in said, stop
        assert task_block(out, DEVICES_TASK) is None, "the devices phase ran on app2"
        assert phase_test_env(app2) == "0" and main_pid(app2, "device_manager") == before

        # Partial rollout: the failed host is left out, the others go on.
        partial = dict(phase_fault_overrides(2), alicia_partial_rollout=True)
        rc, out = converge("-i", str(extra), "--tags", "voice,devices", extra_vars=partial)
        assert rc != 0, out[-3000:]  # app1 failed the voice phase again
        assert "phase voice failed on %s" % APP1 in " ".join(out.split()), out[-3000:]
        stop = task_block(out, STOP_TASK)
        assert stop is not None and "fatal:" not in stop, out[-3000:]
        assert task_block(out, DEVICES_TASK) is not None, out[-3000:]
        assert phase_test_env(app2) == "1" and main_pid(app2, "device_manager") not in (0, before)
    finally:
        # Back to the converged state on both hosts (the scenario's inventory only).
        rc, out = converge("--tags", "voice,devices")
    assert rc == 0, out[-3000:]
    assert health(app1, ["stt_service"])["stt_service"].get("status") == "healthy"
    assert health(app2, ["device_manager"])["device_manager"].get("status") == "healthy"
    assert phase_test_env(app2) == "0"
