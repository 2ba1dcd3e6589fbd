"""The balancer role on a host with three reference service instances
behind HAProxy (port 18100 -> 127.0.0.1:18101-18103).

Tests run in file order: the runtime-operation and reload tests leave every
server ready, at weight 100 and up for the next one.
"""

import json
import os
import re
import time

import pytest

from alicia_molecule import health_of, recap
from conftest import (HOST, INFLIGHT, LOAD, SERVICES, haproxy_pids, load, playbook, put_script,
                      servers_state, wait_all_up, wait_for)

MAX_EXPOSURE = 1.5


# ---- re-run budget ------------------------------------------------------------------------

def module_counts():
    """What alicia.platform.module_count wrote for the last run before
    verify: Molecule's idempotence re-run."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        return json.load(handle)


def test_rerun_costs_the_files_batch_and_the_units_call():
    counts = module_counts()["hosts"]["alicia-%s" % os.environ.get("MOLECULE_SCENARIO_NAME", "balancer")]
    balancer = dict((task, n) for task, n in counts["tasks"].items() if task.startswith("balancer : "))
    print("idempotence re-run: %d module executions: %s" % (counts["total"], counts["roles"]))
    assert sorted(balancer) == [
        "balancer : Balancer | haproxy enabled and running, restarted only when its drop-in changed (one units call)",
        "balancer : Balancer | haproxy.cfg (validated) and unit drop-in, one module execution",
    ], balancer
    assert counts["roles"]["balancer"] == 2, counts
    # The package step's dpkg look-up (free when the host's package step ran first, as in baseline.yml).
    assert counts["roles"].get("common", 0) <= 1, counts
    assert counts["total"] <= 3, counts


# ---- the unit and its files ---------------------------------------------------------

def test_haproxy_enabled_running_as_haproxy(lb):
    service = lb.service("haproxy")
    assert service.is_enabled and service.is_running
    master, workers = haproxy_pids(lb)
    assert workers, "no haproxy worker"
    for pid in [master] + workers:
        assert lb.check_output("ps -o user= -p %s", str(pid)).strip() == "haproxy"


def test_unit_sandbox(lb):
    props = lb.service("haproxy").systemd_properties
    assert props["User"] == "haproxy" and props["Group"] == "haproxy"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["PrivateDevices"] == "yes"
    # testinfra leaves empty properties out: no capabilities at all.
    assert lb.check_output("systemctl show --property=CapabilityBoundingSet haproxy.service") == \
        "CapabilityBoundingSet="
    assert set(props["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert props["RuntimeDirectory"] == "haproxy"
    assert props["DropInPaths"] == "/etc/systemd/system/haproxy.service.d/hardening.conf"
    report = lb.check_output("systemd-analyze security --no-pager haproxy.service")
    exposure = float(re.search(r"Overall exposure level for haproxy.service: ([0-9.]+)", report).group(1))
    print("haproxy.service: systemd-analyze security exposure %.1f" % exposure)
    assert exposure <= MAX_EXPOSURE, report


@pytest.mark.parametrize("path,owner,group,mode", [
    ("/etc/haproxy/haproxy.cfg", "root", "haproxy", 0o640),
    ("/etc/systemd/system/haproxy.service.d/hardening.conf", "root", "root", 0o644),
])
def test_file_modes(lb, path, owner, group, mode):
    f = lb.file(path)
    assert (f.user, f.group, f.mode) == (owner, group, mode)
    assert "Ansible managed" in "\n".join(f.content_string.splitlines()[:3])


def test_runtime_api_socket_is_private(lb):
    sock = lb.file("/run/haproxy/admin.sock")
    assert sock.is_socket
    assert (sock.user, sock.mode) == ("haproxy", 0o600)


def test_config_reads_the_json_status_and_retries(lb):
    config = lb.file("/etc/haproxy/haproxy.cfg").content_string
    assert 'http-check expect rstring "\\"status\\" *: *\\"healthy\\""' in config
    assert "option httpchk GET /health" in config
    assert "option redispatch 1" in config
    assert "stats socket /run/haproxy/admin.sock mode 600 level admin" in config
    assert "load-server-state-from-file global" in config


# ---- balancing -------------------------------------------------------------------------

def test_published_port_answers_healthy(lb):
    wait_all_up(lb)
    doc = health_of(lb, 18100)
    assert doc and doc["status"] == "healthy" and doc["service"] in ("demo_1", "demo_2", "demo_3"), doc


def test_instance_ports_are_not_published(lb):
    listening = lb.check_output("ss -Hltn")
    assert re.search(r"0\.0\.0\.0:18100\b", listening), listening
    for port in (18101, 18102, 18103):
        assert re.search(r"127\.0\.0\.1:%d\b" % port, listening), listening
        assert not re.search(r"(0\.0\.0\.0|\*|\[::\]):%d\b" % port, listening), listening


def test_requests_are_spread_over_the_instances(lb):
    wait_all_up(lb)
    result = load(lb, 30, 1.5)
    print("30 requests: %s" % result["by_instance"])
    assert result["failed"] == 0, result
    assert set(result["by_instance"]) == {"demo_1", "demo_2", "demo_3"}
    assert all(count >= 8 for count in result["by_instance"].values()), result


def test_an_unhealthy_instance_answering_200_leaves_rotation(lb):
    """The reference service answers /health with 200 even when unhealthy:
    the check reads the JSON status."""
    lb.run("echo ALICIA_FAULT_UNHEALTHY=1 > /etc/alicia-demo/2.env && systemctl restart alicia-demo@2")
    try:
        # The restarted instance answers once it listens (a loaded machine takes a moment).
        wait_for(lambda: instance_status(lb, 18102) == "unhealthy", 20, what="demo-2 answering unhealthy")
        wait_for(lambda: servers_state(lb)["demo-2"]["op"] == 0, 10, what="demo-2 down")
        result = load(lb, 20, 1)
        assert result["failed"] == 0, result
        assert "demo_2" not in result["by_instance"], result
    finally:
        lb.run("rm -f /etc/alicia-demo/2.env && systemctl restart alicia-demo@2")
    wait_all_up(lb)


def instance_status(host, port):
    """The "status" of an instance's /health, or None while it does not answer."""
    return (health_of(host, port) or {}).get("status")


def test_killed_instance_no_failed_request(lb):
    """kill -9 of one instance in the middle of 200 requests over 4 s:
    connection refused, retried on another instance, none fails."""
    wait_all_up(lb)
    try:
        result = load(lb, 200, 4, "--kill", "alicia-demo@1.service", "--server", "demo-1", "--at", "1")
        print("kill -9 of demo-1 at %.2f s: %d failed of %d requests over %.1f s; demo-1 out of rotation "
              "%.2f s after the kill; answers by instance: %s" % (
                  result["killed_at_s"], result["failed"], result["requests"], result["elapsed_s"],
                  result["down_after_s"] if result["down_after_s"] is not None else -1, result["by_instance"]))
        assert result["requests"] == 200
        assert result["failed"] == 0, result
        # Out of rotation on its own (the load script watches at most 10 s), after
        # exactly `fall` (2) failed checks of a refused connection, counted by
        # HAProxy: no wall-clock bound (the time is printed above, ~1.25 s quiet).
        assert result["down_after_s"] is not None, result
        assert (result["failed_checks"], result["went_down"]) == (2, 1), result
        assert result["check_status"].startswith("L4CON"), result
        assert not lb.service("alicia-demo@1").is_running
    finally:
        lb.run("systemctl start alicia-demo@1")
    wait_all_up(lb)


# ---- runtime operations (tasks_from: server) ----------------------------------------------

def ops(*entries):
    return {"balancer_server_ops": list(entries)}


def test_drain_through_the_runtime_api(lb):
    drain = ops({"service": "demo", "server": "demo-2", "state": "drain"})
    wait_all_up(lb)
    master, workers = haproxy_pids(lb)

    rc, out = playbook("server_ops.yml", drain, check=True)
    assert rc == 0, out
    assert recap(out, HOST)["changed"] == 1
    assert servers_state(lb)["demo-2"]["admin"] == 0, "check mode changed the server"

    rc, out = playbook("server_ops.yml", drain)
    assert rc == 0, out
    assert recap(out, HOST)["changed"] == 1
    assert "demo/demo-2: state=ready weight=100" in out and "state=drain weight=100" in out
    assert servers_state(lb)["demo-2"]["admin"] & 0x08

    rc, out = playbook("server_ops.yml", drain)
    assert rc == 0, out
    assert recap(out, HOST)["changed"] == 0, "a second drain changed something"

    try:
        result = load(lb, 30, 1)
        assert result["failed"] == 0, result
        assert "demo_2" not in result["by_instance"], result
        assert haproxy_pids(lb) == (master, workers), "the drain reloaded or restarted haproxy"
    finally:
        rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-2", "state": "ready"}))
        assert rc == 0, out
    assert servers_state(lb)["demo-2"]["admin"] == 0


def test_weight_change_shows_in_show_servers_state(lb):
    wait_all_up(lb)
    rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-3", "weight": 25},
                                                 {"service": "demo", "server": "demo-1", "weight": 100}))
    assert rc == 0, out
    try:
        state = servers_state(lb)
        assert (state["demo-3"]["uweight"], state["demo-3"]["iweight"]) == (25, 100)
        assert state["demo-1"]["uweight"] == 100
        result = load(lb, 45, 1.5)
        assert result["failed"] == 0, result
        # 100:100:25 -> about 20:20:5 of 45.
        assert result["by_instance"].get("demo_3", 0) <= 9, result
    finally:
        rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-3", "weight": 100}))
        assert rc == 0, out


def test_unknown_server_fails_and_changes_nothing(lb):
    rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-1", "state": "maint"},
                                                 {"service": "demo", "server": "demo-9", "state": "drain"}))
    assert rc != 0
    assert "backend 'demo' has no server 'demo-9' (known: demo-1, demo-2, demo-3)" in out
    assert servers_state(lb)["demo-1"]["admin"] == 0


# ---- reloads ------------------------------------------------------------------------------

def test_reload_keeps_an_in_flight_request(lb):
    wait_all_up(lb)
    script = put_script(lb, "alicia-inflight.py", INFLIGHT)
    result = json.loads(lb.check_output("python3 %s" % script))
    print("in-flight request across a reload: %s; haproxy pids %s -> %s" % (
        result["status_line"], result["pids_before"], result["pids_after"]))
    assert " 200 " in result["status_line"], result
    assert json.loads(result["body"])["status"] == "healthy"
    assert result["pids_before"][0] == result["pids_after"][0], "the master changed: a restart, not a reload"
    assert set(result["pids_after"][1:]) - set(result["pids_before"][1:]), "no new worker: no reload"


def test_config_change_reloads_keeps_runtime_state_drops_nothing(lb):
    """A changed haproxy.cfg is applied by a reload (same master, new worker)
    while requests flow (none fails); a server drained at runtime stays
    drained; a server whose weight the configuration changes takes the
    configuration's weight."""
    wait_all_up(lb)
    rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-2", "state": "drain"},
                                                 {"service": "demo", "server": "demo-3", "weight": 40}))
    assert rc == 0, out
    master, workers = haproxy_pids(lb)
    put_script(lb, "alicia-load.py", LOAD)
    lb.run("rm -f /tmp/alicia-stop /tmp/alicia-bg.json")
    lb.run("nohup python3 /tmp/alicia-load.py 0 120 --until /tmp/alicia-stop > /tmp/alicia-bg.json 2>&1 &")
    services = json.loads(json.dumps(SERVICES))
    services[0]["servers"][0]["weight"] = 60           # demo-1: the configuration changes its weight
    try:
        rc, out = playbook("converge.yml", {"balancer_services": services,
                                                "balancer_extra_defaults": ["timeout tarpit 5s"]})
        assert rc == 0, out
        assert "RUNNING HANDLER [alicia.platform.balancer : Balancer | reload haproxy]" in out
        time.sleep(1)
    finally:
        lb.run("touch /tmp/alicia-stop")
    background = json.loads(wait_for(lambda: lb.run("cat /tmp/alicia-bg.json").stdout.strip(), 15,
                                     what="the background load loop"))
    print("requests during the converge and its reload: %d, failed %d (%s)" % (
        background["requests"], background["failed"], background["by_instance"]))
    assert background["failed"] == 0, background
    assert background["requests"] > 50, background
    new_master, new_workers = haproxy_pids(lb)
    assert new_master == master, "haproxy was restarted"
    assert set(new_workers) - set(workers), "haproxy was not reloaded"
    assert "timeout tarpit 5s" in lb.file("/etc/haproxy/haproxy.cfg").content_string
    state = servers_state(lb)
    assert state["demo-2"]["admin"] & 0x08, "the runtime drain was lost in the reload: %s" % state
    assert state["demo-3"]["uweight"] == 40, "the runtime weight was lost in the reload: %s" % state
    assert (state["demo-1"]["uweight"], state["demo-1"]["iweight"]) == (60, 60), state

    # Back to the scenario's configuration: demo-1 weight 100 (the file wins again).
    rc, out = playbook("converge.yml")
    assert rc == 0, out
    rc, out = playbook("server_ops.yml", ops({"service": "demo", "server": "demo-2", "state": "ready"},
                                                 {"service": "demo", "server": "demo-3", "weight": 100}))
    assert rc == 0, out
    state = servers_state(lb)
    assert [(s, state[s]["admin"], state[s]["uweight"]) for s in sorted(state)] == [
        ("demo-1", 0, 100), ("demo-2", 0, 100), ("demo-3", 0, 100)]


def test_configuration_states_disabled_and_drain(lb):
    services = json.loads(json.dumps(SERVICES))
    services[0]["servers"][1]["state"] = "disabled"
    services[0]["servers"][2]["state"] = "drain"
    rc, out = playbook("converge.yml", {"balancer_services": services})
    assert rc == 0, out
    try:
        state = servers_state(lb)
        assert state["demo-2"]["admin"] & 0x01, state        # maintenance
        assert state["demo-3"]["uweight"] == 0, state        # drained: weight 0
        result = load(lb, 20, 1)
        assert result["failed"] == 0 and set(result["by_instance"]) == {"demo_1"}, result
    finally:
        rc, out = playbook("converge.yml")
        assert rc == 0, out
    state = servers_state(lb)
    assert [(s, state[s]["admin"] & 0x09, state[s]["uweight"]) for s in sorted(state)] == [
        ("demo-1", 0, 100), ("demo-2", 0, 100), ("demo-3", 0, 100)]


def test_rejected_configuration_leaves_haproxy_alone(lb):
    before = lb.file("/etc/haproxy/haproxy.cfg").sha256sum
    pids = haproxy_pids(lb)
    rc, out = playbook("converge.yml", {"balancer_extra_defaults": ["option no-such-option"]})
    assert rc != 0
    assert "validate failed for /etc/haproxy/haproxy.cfg" in out, out[-3000:]
    assert "no-such-option" in out
    assert lb.file("/etc/haproxy/haproxy.cfg").sha256sum == before
    assert haproxy_pids(lb) == pids


def test_preflight_names_the_server_and_field_before_touching_the_host(lb):
    before = lb.file("/etc/haproxy/haproxy.cfg").sha256sum
    services = json.loads(json.dumps(SERVICES))
    services[0]["servers"][2]["port"] = 18101
    rc, out = playbook("converge.yml", {"balancer_services": services})
    assert rc != 0
    assert ("balancer: port 18101 is used more than once on the host: service 'demo' server 'demo-1', "
            "service 'demo' server 'demo-3'") in out
    assert lb.file("/etc/haproxy/haproxy.cfg").sha256sum == before
