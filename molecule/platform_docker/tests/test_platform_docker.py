"""The whole platform with every service on the docker runtime: site.yml on one
lab host whose own Docker engine runs the 22 containers, the broker on the
host (systemd), an outsider container on the same network.

Checked by behaviour: what `docker inspect` says of each container (user,
limits, restart policy, health check, logs), /health JSON on the published
ports, the services' own broker connection from inside their containers,
Docker's HEALTHCHECK, a crashed container restarted by its policy, the
firewall of the published ports seen from the outsider, the re-run budget,
and a service switched to systemd and back.
"""

import json
import os
import re
import sys

import pytest
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import (  # noqa: E402
    get_host, HEALTH, health_by_port, probe, recap, resolved_catalogue, run_playbook, wait_until)

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CONVERGE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
SECRETS = os.path.join(PROJECT, ".lab", "secrets.yml")
HOST, OUTSIDER = "alicia-docker-host", "alicia-docker-outsider"
SUBNET = "10.213."

CATALOGUE = resolved_catalogue()
# ---- Artifact container ---- (converge.yml: its context on the controller)
CONTAINER_SERVICE = "multi_language"
CONTEXT = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "images", CONTAINER_SERVICE)
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")


@pytest.fixture(scope="module")
def host():
    return get_host(HOST)


@pytest.fixture(scope="module")
def outsider():
    return get_host(OUTSIDER)


def ipv4(node):
    addresses = [a for a in node.interface("eth0").addresses if ":" not in a]
    assert addresses, "no IPv4 address on eth0"
    return addresses[0]


def inspect(node, names):
    """name -> docker inspect document, one call for all."""
    out = node.check_output("docker inspect" + " %s" * len(names), *names)
    return dict((doc["Name"].lstrip("/"), doc) for doc in json.loads(out))


def container(service):
    return "alicia_%s" % service


# ---- re-run budget (first: later tests run the playbook again) ---------------------

def module_counts():
    """What alicia.platform.module_count wrote for the last playbook run before
    verify: Molecule's idempotence re-run."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        return json.load(handle)


def test_rerun_stays_within_the_module_execution_budget():
    counts = module_counts()["hosts"][HOST]
    roles = ", ".join("%s %d" % item for item in sorted(counts["roles"].items(), key=lambda i: -i[1]))
    # Preflight, baseline and broker: 16; each phase at most 3 whatever its services.
    assert counts["total"] <= 16 + 6 * 3, "%d module executions on a re-run: %s" % (counts["total"], roles)
    # In fact: the platform plan reads every phase in three executions (files,
    # units, containers) and no phase has anything to do.
    assert counts["total"] <= 16 + 3, "%d module executions on a re-run: %s" % (counts["total"], roles)
    service = sorted(task for task in counts["tasks"] if task.startswith("service : "))
    assert service == [
        "service : Service | plan | containers of this host that would change (check mode)",
        "service : Service | plan | files of every service of this host that differ, and the state of its units (check mode)",
    ], service


def test_nothing_runs_on_the_outsider():
    assert module_counts()["hosts"].get(OUTSIDER, {"total": 0})["total"] == 0


# ---- the containers --------------------------------------------------------------------

def test_all_22_services_run_as_containers_and_no_unit(host):
    assert len(SERVICES) == 22
    docs = inspect(host, [container(s) for s in SERVICES])
    assert sorted(docs) == sorted(container(s) for s in SERVICES)
    assert all(d["State"]["Status"] == "running" for d in docs.values()), \
        dict((n, d["State"]["Status"]) for n, d in docs.items())
    units = host.run("systemctl list-units --all --plain --no-legend 'alicia-*.service'").stdout
    assert units.strip() == "", units
    assert host.service("docker").is_running and host.service("docker").is_enabled
    assert host.service("mosquitto").is_running


def test_containers_run_as_the_service_user_with_the_catalogue_limits(host):
    alicia = host.user("alicia")
    docs = inspect(host, [container(s) for s in SERVICES])
    for service in SERVICES:
        doc, entry = docs[container(service)], CATALOGUE[service]
        config, hc = doc["Config"], doc["HostConfig"]
        assert config["User"] == "%d:%d" % (alicia.uid, alicia.gid) and alicia.uid != 0, service
        resources = entry["resources"]
        assert hc["Memory"] == size(resources["memory_limit"]), service
        assert hc["MemoryReservation"] == size(resources["memory_reservation"]), service
        assert hc["NanoCpus"] == int(resources["cpu_limit"] * 1e9), service
        assert hc["CpuShares"] == int(round(resources["cpu_reservation"] * 1024)), service
        assert hc["RestartPolicy"]["Name"] == "unless-stopped", service
        assert hc["ReadonlyRootfs"] is True and hc["CapDrop"] == ["ALL"], service
        assert hc["SecurityOpt"] == ["no-new-privileges"], service
        assert hc["PortBindings"] == {"%d/tcp" % listen_port_of(service): [{"HostIp": "", "HostPort": str(entry["port"])}]}
        assert list(doc["NetworkSettings"]["Networks"]) == ["alicia_network"], service
        assert doc["NetworkSettings"]["Networks"]["alicia_network"]["IPAddress"].startswith(SUBNET), service
    # The process inside really runs as that user (ps on the host).
    pid = docs[container("stt_service")]["State"]["Pid"]
    assert host.check_output("ps -o uid= -p %d" % pid).strip() == str(alicia.uid)


def size(text):
    return int(text[:-1]) * {"k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[text[-1]]


def test_one_image_built_from_the_artifact_and_tagged_by_content(host):
    docs = inspect(host, [container(s) for s in SERVICES if s != CONTAINER_SERVICE])
    images = set(d["Config"]["Image"] for d in docs.values())
    assert len(images) == 1, images
    [image] = images
    assert re.match(r"^alicia/reference:[0-9a-f]{12}$", image), image
    ls = host.check_output("docker image ls --format '{{.Repository}}:{{.Tag}}' alicia/reference").split()
    assert ls == [image], "old images are pruned: %s" % ls


def test_json_file_logs_rotate_at_the_catalogue_size(host):
    docs = inspect(host, [container(s) for s in SERVICES])
    for service in SERVICES:
        log = docs[container(service)]["HostConfig"]["LogConfig"]
        assert log == {"Type": "json-file", "Config": {"max-file": "5", "max-size": str(50 * 1024 ** 2)}}, service
    lines = host.check_output("docker logs %s 2>&1", container("voice_router"))
    assert "HTTP listening on 0.0.0.0:8004" in lines


def test_environment_files_hold_secrets_with_tight_modes_and_never_on_a_command_line(host):
    with open(SECRETS) as handle:
        secrets = yaml.safe_load(handle)["catalogue_secrets"]
    ps = host.check_output("ps -eo args")
    for service in SERVICES:
        env = host.file("/etc/alicia/%s.env" % service)
        assert (env.user, env.group, env.mode) == ("root", "alicia", 0o640), service
        assert "SERVICE_NAME=%s\n" % service in env.content_string
        assert secrets[service]["MQTT_PASSWORD"] not in ps, service


def health(node, services):
    """service -> its /health JSON, read on ``node`` (127.0.0.1) on its published port."""
    out = health_by_port(node, [CATALOGUE[s]["port"] for s in services])
    return dict((s, out[str(CATALOGUE[s]["port"])]) for s in services)


def test_every_service_answers_healthy_and_connected_to_the_broker_on_its_published_port(host):
    # broker_connected: each service's own MQTT session, from inside its
    # container to the broker on the host (the bridge gateway, through the firewall).
    for service, body in health(host, SERVICES).items():
        assert (body.get("status"), body.get("service"), body.get("broker_connected")) == (
            "healthy", service, True), (service, body)


def test_the_containers_reach_the_broker_on_the_bridge_gateway(host):
    env = host.check_output("grep -E '^MQTT_(BROKER|PORT)=' /etc/alicia/config_service.env").split()
    assert sorted(env) == ["MQTT_BROKER=%s0.1" % SUBNET, "MQTT_PORT=1883"]
    sessions = host.check_output("ss -Htn state established dport = :1883 or sport = :1883").splitlines()
    from_containers = [line for line in sessions if re.search(r"\s%s\d+\.\d+:\d+\s*$" % re.escape(SUBNET), line)]
    assert len(from_containers) >= len(SERVICES), sessions




def test_dockers_health_check_reads_the_json_status(host):
    names = [container(s) for s in SERVICES]

    def statuses():
        return dict((n, (d["State"].get("Health") or {}).get("Status")) for n, d in inspect(host, names).items())
    assert wait_until(lambda: set(statuses().values()) == {"healthy"}, 40), statuses()
    test = inspect(host, [container("ha_bridge")])[container("ha_bridge")]["Config"]["Healthcheck"]["Test"]
    assert test[0] == "CMD-SHELL" and "/health 200 status healthy" in test[1], test


def test_a_crashed_container_is_restarted_by_its_policy(host):
    name = container("event_scheduler")
    before = inspect(host, [name])[name]["State"]
    # What a crash looks like to Docker: the main process dies (kill -9 from
    # the host). (`docker kill` is an operator's stop: Docker does not restart
    # it, the next run of the role starts it again; see the last test.)
    host.check_output("kill -9 %d" % before["Pid"])

    def restarted():
        state = inspect(host, [name])[name]
        return state["RestartCount"] > 0 and state["State"]["Running"] and state["State"]["Pid"] != before["Pid"]
    assert wait_until(restarted, 30), inspect(host, [name])[name]["State"]
    assert wait_until(lambda: health(host, ["event_scheduler"])["event_scheduler"].get("broker_connected") is True, 30)


# ---- a listen port and an MQTT username of their own (converge.yml) ---------------------

OWN = {"ha_bridge": (9116, "ha-bridge-ctr"), "multi_language": (9122, "multi-language-img")}


def listen_port_of(service):
    """The port the service's process binds in its container: its own (converge.yml), or the catalogue's."""
    return OWN[service][0] if service in OWN else CATALOGUE[service]["listen_port"]


def test_a_service_binds_a_port_of_its_own_behind_the_published_one(host):
    docs = inspect(host, [container(s) for s in OWN])
    for service, (listen, _user) in sorted(OWN.items()):
        bindings = docs[container(service)]["HostConfig"]["PortBindings"]
        assert list(bindings) == ["%d/tcp" % listen], (service, bindings)
        assert [b["HostPort"] for b in bindings["%d/tcp" % listen]] == [str(CATALOGUE[service]["port"])], bindings
        assert re.search(r'^SERVICE_PORT="?%d"?$' % listen, host.file("/etc/alicia/%s.env" % service).content_string,
                         re.M), service
        # Inside the container the process answers on its own port; on the host, the published one does.
        inside = json.loads(host.check_output("docker exec %s python3 -c %s 127.0.0.1 %s", container(service),
                                              HEALTH, str(listen)))[str(listen)]
        assert inside.get("status") == "healthy", (service, inside)
    for service, body in health(host, sorted(OWN)).items():
        assert (body.get("status"), body.get("service")) == ("healthy", service), (service, body)


def test_a_service_logs_in_with_the_mqtt_username_the_catalogue_gives_it(host):
    for service, (_listen, user) in sorted(OWN.items()):
        assert re.search(r'^MQTT_USERNAME="?%s"?$' % re.escape(user),
                         host.file("/etc/alicia/%s.env" % service).content_string, re.M), service
        assert health(host, [service])[service].get("broker_connected") is True, service
        logs = host.check_output("docker logs %s 2>&1", container(service))
        assert re.search(r"connected to the broker \S+ as '%s'" % re.escape(user), logs), (service, logs[-2000:])
        assert "refused the login" not in logs, (service, logs[-2000:])


def test_the_health_sweep_probes_the_published_ports(tmp_path):
    report = tmp_path / "health.json"
    rc, out = run_playbook(os.path.join(PROJECT, "playbooks", "health.yml"), "-e", "health_format=json",
                           "-e", "health_output=%s" % report, inventory=INVENTORY,
                           count_file=str(tmp_path / "count.json"), timeout=300)
    assert rc == 0, out[-3000:]
    rows = dict((r["service"], r) for r in json.loads(report.read_text())["rows"])
    assert sorted(s for s in rows if s in SERVICES) == SERVICES
    for service in SERVICES:
        assert (rows[service]["status"], rows[service]["port"]) == ("healthy", CATALOGUE[service]["port"]), rows[service]


# ---- firewall of the published ports -------------------------------------------------

def test_published_ports_are_dropped_for_the_outsider_unless_allow_from_names_it(host, outsider):
    address = ipv4(host)
    allowed = "%s:%d" % (address, CATALOGUE["device_registry"]["port"])   # allow_from: [the outsider's /32]
    dropped = ["%s:%d" % (address, CATALOGUE[s]["port"]) for s in SERVICES if s != "device_registry"]
    states = probe(outsider, [allowed] + dropped)
    assert states[allowed] == "open", states
    assert dict((t, states[t]) for t in dropped) == dict.fromkeys(dropped, "timeout")
    # The broker (systemd, input chain) is closed to it too.
    assert probe(outsider, ["%s:1883" % address]) == {"%s:1883" % address: "timeout"}


def test_the_rules_sit_before_dockers_dnat(host):
    table = host.check_output("nft list table inet alicia_filter")
    assert "hook prerouting priority dstnat - 10" in table
    assert re.search(r"tcp dport 8010 .*ip saddr != @svc_device_registry_v4 drop", table), table
    assert re.search(r"tcp dport 8001 .*ip saddr != @platform_v4 drop", table), table
    assert re.search(r"tcp dport 1883 ip saddr @docker_v4 accept", table), table
    # Docker's own DNAT of the published ports (iptables-nft, priority dstnat).
    nat = host.check_output("iptables-save -t nat")
    assert "--dport 8010 -j DNAT" in nat


def test_the_platform_address_reaches_every_published_port(host):
    address = ipv4(host)
    targets = ["%s:%d" % (address, CATALOGUE[s]["port"]) for s in SERVICES]
    states = probe(host, targets)
    assert set(states.values()) == {"open"}, states


# ---- runtime switch and a container stopped by hand (changes the platform; runs last) ----

def converge(*args, extra_vars=None):
    """converge.yml again: (rc, output). Its module counts go to a file of its own."""
    return run_playbook(CONVERGE, *args, extra_vars=extra_vars, inventory=INVENTORY)


def test_a_service_switched_to_systemd_and_back(host):
    """metrics_collector moves to the systemd runtime (its container removed,
    its unit started on the same port) and back; a container stopped by hand
    (docker kill) is started again by the same run."""
    host.check_output("docker kill %s", container("event_scheduler"))
    assert inspect(host, [container("event_scheduler")])[container("event_scheduler")]["State"]["Status"] == "exited"

    # The set_fact of converge.yml's first play outranks inventory variables,
    # so the switch goes through extra vars merged over the same overrides.
    overrides = {"metrics_collector": {"runtime": "systemd"}}
    rc, out = converge("--tags", "observability", extra_vars={"_platform_docker_extra": overrides})
    assert rc == 0, out[-4000:]
    assert host.run("docker inspect %s", container("metrics_collector")).rc != 0, "its container is removed"
    assert host.service("alicia-metrics_collector").is_running
    assert health(host, ["metrics_collector"])["metrics_collector"].get("status") == "healthy"
    state = inspect(host, [container("event_scheduler")])[container("event_scheduler")]["State"]
    assert state["Status"] == "running", state

    rc, out = converge("--tags", "observability")
    assert rc == 0, out[-4000:]
    assert not host.service("alicia-metrics_collector").is_running
    assert not host.file("/etc/systemd/system/alicia-metrics_collector.service").exists
    doc = inspect(host, [container("metrics_collector")])[container("metrics_collector")]
    assert doc["State"]["Status"] == "running"
    assert wait_until(lambda: health(host, ["metrics_collector"])["metrics_collector"].get("status") == "healthy", 30)


# ---- Artifact container (multi_language; changes the platform, runs last) ------------------

def context_tag():
    """The tag the containers module gives the context converge.yml wrote on the controller."""
    from ansible_collections.alicia.platform.plugins.module_utils._containers import context_hash
    return "alicia/%s:%s" % (CONTAINER_SERVICE, context_hash(CONTEXT)[:12])


def test_the_container_artifact_runs_the_image_built_from_its_context(host):
    name = container(CONTAINER_SERVICE)
    doc = inspect(host, [name])[name]
    assert doc["Config"]["Image"] == context_tag(), doc["Config"]["Image"]
    assert doc["Config"]["Labels"].get("org.alicia.test.context") == CONTAINER_SERVICE, doc["Config"]["Labels"]
    assert host.check_output("docker exec %s cat /opt/alicia/service/release", name).strip() == "1"
    # The context was shipped to the host as it is on the controller.
    assert host.file("/opt/alicia/%s/image/Dockerfile" % CONTAINER_SERVICE).content_string == \
        open(os.path.join(CONTEXT, "Dockerfile")).read()
    # Every other setting of the runtime: user, limits, published port, logs, health check.
    alicia, entry = host.user("alicia"), CATALOGUE[CONTAINER_SERVICE]
    assert doc["Config"]["User"] == "%d:%d" % (alicia.uid, alicia.gid)
    assert doc["HostConfig"]["Memory"] == size(entry["resources"]["memory_limit"])
    assert doc["HostConfig"]["PortBindings"] == {
        "%d/tcp" % listen_port_of(CONTAINER_SERVICE): [{"HostIp": "", "HostPort": str(entry["port"])}]}
    assert doc["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert "/health 200 status healthy" in doc["Config"]["Healthcheck"]["Test"][1]
    assert wait_until(lambda: (inspect(host, [name])[name]["State"].get("Health") or {}).get("Status") == "healthy",
                      40)
    body = health(host, [CONTAINER_SERVICE])[CONTAINER_SERVICE]
    assert (body.get("status"), body.get("service"), body.get("broker_connected")) == (
        "healthy", CONTAINER_SERVICE, True), body


def test_a_changed_context_rebuilds_and_recreates_exactly_that_container(host):
    names = [container(s) for s in SERVICES if CATALOGUE[s]["phase"] == CATALOGUE[CONTAINER_SERVICE]["phase"]]
    assert len(names) > 1
    before = dict((n, d["Id"]) for n, d in inspect(host, names).items())
    old_tag = context_tag()
    try:
        rc, out = converge("--tags", "advanced", extra_vars={"_platform_docker_release": "2"})
        assert rc == 0, out[-4000:]
        new_tag = context_tag()
        assert new_tag != old_tag
        after = inspect(host, names)
        changed = sorted(n for n in names if after[n]["Id"] != before[n])
        assert changed == [container(CONTAINER_SERVICE)], changed
        assert after[container(CONTAINER_SERVICE)]["Config"]["Image"] == new_tag
        assert host.check_output("docker exec %s cat /opt/alicia/service/release",
                                 container(CONTAINER_SERVICE)).strip() == "2"
        assert wait_until(lambda: health(host, [CONTAINER_SERVICE])[CONTAINER_SERVICE].get("status") == "healthy", 30)
    finally:
        rc, out = converge("--tags", "advanced")
    assert rc == 0, out[-4000:]
    doc = inspect(host, [container(CONTAINER_SERVICE)])[container(CONTAINER_SERVICE)]
    assert doc["Config"]["Image"] == old_tag == context_tag()
    assert wait_until(lambda: health(host, [CONTAINER_SERVICE])[CONTAINER_SERVICE].get("status") == "healthy", 30)
    # A re-run with the context unchanged builds and recreates nothing.
    rc, out = converge("--tags", "advanced")
    assert rc == 0, out[-4000:]
    assert inspect(host, [container(CONTAINER_SERVICE)])[container(CONTAINER_SERVICE)]["Id"] == doc["Id"]
    assert recap(out, HOST)["changed"] == 0, out[-2000:]
