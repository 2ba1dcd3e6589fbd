# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green services (``slot_ports``), everything but the module: the
catalogue's resolved slot_list and its preflight checks, the balancer's
input and backends, the service role's plan (files, keys, follow-ups, the
slots request), the failed services of the health gate, the host check's
ports and the deploy request's strategy blue_green."""

import pytest

from ansible_collections.alicia.platform.plugins.filter.service_plan import FilterModule as PlanFilters
from ansible_collections.alicia.platform.plugins.module_utils import _balancer
from ansible_collections.alicia.platform.plugins.module_utils import _deploy as deploy
from ansible_collections.alicia.platform.plugins.module_utils import _hostcheck as hostcheck
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp
from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._files import check_args

PORTS = [18101, 18102]
HOST = "h1"
GROUPS = {"alicia_core": [HOST], "alicia_voice": [HOST], "alicia_broker": ["b1"]}
GROUP_NAMES = ["alicia", "alicia_core", "alicia_voice"]
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, HOST: {"alicia_address": "10.0.0.2"}}
ONE_HOST = {"alicia_broker": ["h1"], "alicia_core": ["h1"], "alicia_management": ["h1"], "alicia_voice": ["h1"],
            "alicia_devices": ["h1"], "alicia_advanced": ["h1"], "alicia_observability": ["h1"]}
BLUE = {"name": "blue", "instance": "tts_service-blue", "listen_port": 18101, "unit": "alicia-tts_service-blue.service"}
GREEN = {"name": "green", "instance": "tts_service-green", "listen_port": 18102,
         "unit": "alicia-tts_service-green.service"}


@pytest.fixture
def slotted(resolve):
    return resolve({"tts_service": {"slot_ports": list(PORTS)}})


def field_errors(catalogue, service="tts_service", groups=None):
    """errors() of one service, as (field, text) pairs."""
    prefix = "catalogue: service '%s' field '" % service
    found = []
    for message in cat.errors(catalogue, groups=groups):
        if message.startswith(prefix):
            field, text = message[len(prefix):].split("': ", 1)
            found.append((field, text))
    return found


def build(catalogue, names=("tts_service",)):
    plan = sp.plan(catalogue, list(names), GROUP_NAMES, HOST, groups=GROUPS)
    secrets = dict((name, {"MQTT_PASSWORD": "pw", "JWT_SECRET": "j"}) for name in catalogue)
    files = sp.files(plan, catalogue, secrets=secrets, mqtt_broker="10.0.0.1", hostvars=HOSTVARS, groups=GROUPS)
    return plan, files


def paths(files, key=None):
    return [f["path"] for f in files if key is None or f.get("key") == key]


# ---- the catalogue ---------------------------------------------------------------------

def test_shipped_services_have_no_slots(shipped):
    for name, entry in shipped.items():
        assert entry["slot_list"] == [], name
    assert shipped["tts_service"]["unit"] == "alicia-tts_service.service"


def test_slot_list_and_the_target_unit(slotted):
    entry = slotted["tts_service"]
    assert entry["slot_list"] == [BLUE, GREEN]
    assert entry["unit"] == "alicia-tts_service.target"
    assert entry["instance_list"] == []
    assert entry["port"] == 8003
    assert cat.errors(slotted, groups=ONE_HOST) == []
    assert cat.validate(slotted, groups=ONE_HOST) is slotted


def test_the_broker_has_no_slots(resolve):
    catalogue = resolve({"mqtt_broker": {"slot_ports": list(PORTS)}})
    assert catalogue["mqtt_broker"]["slot_list"] == []
    assert catalogue["mqtt_broker"]["unit"] == "mosquitto.service"
    (problem,) = field_errors(catalogue, "mqtt_broker")
    assert problem[0] == "slot_ports"


@pytest.mark.parametrize("changes, expected", [
    ({"slot_ports": [18101]}, "must be a list of 2 ports"),
    ({"slot_ports": [18101, 18102, 18103]}, "must be a list of 2 ports"),
    ({"slot_ports": "18101,18102"}, "must be a list of 2 ports"),
    ({"slot_ports": [18101, 18101]}, "port 18101 is listed more than once"),
    ({"slot_ports": [8003, 18101]}, "port 8003 is the service's published port"),
    ({"slot_ports": [0, 18101]}, "port 0 out of range"),
    ({"slot_ports": PORTS, "instances": 2, "instance_ports": [9201, 9202]}, "not with instances > 1"),
    ({"slot_ports": PORTS, "runtime": "docker"}, "need runtime systemd, got runtime docker"),
    ({"slot_ports": PORTS, "runtime": "supervisor"}, "need runtime systemd, got runtime supervisor"),
    ({"slot_ports": PORTS, "artifact": {"type": "command", "command": "/bin/true x"}}, "artifact type command"),
])
def test_bad_slot_ports_name_the_service_and_the_field(resolve, changes, expected):
    catalogue = resolve({"tts_service": changes})
    problems = field_errors(catalogue)
    assert [field for field, _ in problems] == ["slot_ports"], problems
    assert expected in problems[0][1]
    with pytest.raises(cat.CatalogueError) as caught:
        cat.validate(catalogue)
    assert (caught.value.service, caught.value.field) == ("tts_service", "slot_ports")


def test_malformed_slot_ports_resolve_to_no_slots(resolve):
    for ports in ([18101], [18101, 18101], "x", [18101, "18102"]):
        assert resolve({"tts_service": {"slot_ports": ports}})["tts_service"]["slot_list"] == [], ports


def test_a_slot_port_clash_names_slot_ports(resolve):
    # Another service's published port.
    catalogue = resolve({"tts_service": {"slot_ports": [18101, 8001]}})
    (problem,) = field_errors(catalogue)
    assert problem[0] == "slot_ports" and "port 8001" in problem[1] and "stt_service" in problem[1]
    # Another service's slot ports, and another service's instance ports.
    for other in ({"slot_ports": [18102, 18103]}, {"instances": 2, "instance_ports": [18102, 18103]}):
        catalogue = resolve({"tts_service": {"slot_ports": list(PORTS)}, "stt_service": other})
        problems = field_errors(catalogue) + field_errors(catalogue, "stt_service")
        assert problems, other
        assert all(field in ("slot_ports", "instance_ports") for field, _ in problems), problems
        assert any("18102" in text for _, text in problems), problems
        assert any(field == "slot_ports" for field, _ in problems), problems


def test_a_slot_whose_unit_is_another_instance_s_names_slot_ports(resolve):
    catalogue = resolve({"tts_service": {"slot_ports": list(PORTS)},
                         "stt_service": {"instances": 2, "instance_ports": [18201, 18202],
                                         "instance_names": ["tts_service-green", "stt-2"]}})
    assert ("slot_ports", "slot green would be unit alicia-tts_service-green.service, the unit of instance "
                          "'tts_service-green' of service 'stt_service'") in field_errors(catalogue)
    # Without the slots, the same instance name is fine.
    catalogue = resolve({"stt_service": {"instances": 2, "instance_ports": [18201, 18202],
                                         "instance_names": ["tts_service-green", "stt-2"]}})
    assert field_errors(catalogue) == [] and field_errors(catalogue, "stt_service") == []


def test_a_slot_backend_that_is_a_balanced_service_s_names_slot_ports(resolve, catalogue_defaults):
    services = dict(catalogue_defaults["catalogue_services"])
    for suffix in ("blue", "green", "canary"):
        other = "tts_service_%s" % suffix
        with_other = dict(services, **{other: dict(services["stt_service"], port=18301)})
        catalogue = resolve({"tts_service": {"slot_ports": list(PORTS)},
                             other: {"instances": 2, "instance_ports": [18302, 18303]}}, services=with_other)
        assert ("slot_ports", "the balancer's backend %s of this service would be the backend of balanced service "
                              "'%s'" % (other, other)) in field_errors(catalogue), other
        # Not balanced (one instance): no backend of its own, no clash.
        catalogue = resolve({"tts_service": {"slot_ports": list(PORTS)}}, services=with_other)
        assert not [p for p in field_errors(catalogue) if "backend" in p[1]], other


def test_a_slot_service_needs_a_health_check_the_balancer_can_run(resolve):
    catalogue = resolve({"tts_service": {"slot_ports": list(PORTS),
                                         "health": {"path": "/health", "json_field": "st atus"}}})
    assert [field for field, _ in field_errors(catalogue)] == ["health.json_field"]


def test_a_slot_service_unit_must_be_a_target(resolve):
    catalogue = resolve({"tts_service": {"slot_ports": list(PORTS), "unit": "alicia-tts.service"}})
    (problem,) = field_errors(catalogue)
    assert problem[0] == "unit" and "slot_ports" in problem[1] and ".target" in problem[1]
    ok = resolve({"tts_service": {"slot_ports": list(PORTS), "unit": "tts.target"}})
    assert field_errors(ok) == []


# ---- the balancer ---------------------------------------------------------------------------

def test_balancer_services_of_a_slot_service(slotted):
    services = cat.balancer_services(slotted, ["alicia", "alicia_voice"])
    assert services == [{
        "name": "tts_service", "port": 8003, "bind": "0.0.0.0", "balance": "roundrobin",
        "health": {"path": "/health", "json_field": "status", "json_value": "healthy"},
        "slots": True,
        "servers": [{"name": "blue", "address": "127.0.0.1", "port": 18101},
                    {"name": "green", "address": "127.0.0.1", "port": 18102}],
    }]
    assert cat.balancer_services(slotted, ["alicia_core"]) == []
    used = dict((entry["port"], entry["name"]) for entry in cat.host_services(slotted, list(ONE_HOST))
                if not entry["slot_list"] and not entry["instance_list"])
    assert _balancer.errors(services, used_ports=used) == []


def test_balancer_backends_of_a_slot_service(slotted):
    (backend,) = _balancer.backends(cat.balancer_services(slotted, ["alicia_voice"]))
    assert backend["slots"] is True and backend["listen"] == "0.0.0.0:8003"
    assert [(s["name"], s["backend"], s["endpoint"]) for s in backend["servers"]] == [
        ("blue", "tts_service_blue", "127.0.0.1:18101"), ("green", "tts_service_green", "127.0.0.1:18102")]


def test_balancer_backends_of_a_multi_instance_service_are_unchanged(resolve):
    catalogue = resolve({"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}})
    services = cat.balancer_services(catalogue, ["alicia_voice"])
    assert "slots" not in services[0]
    (backend,) = _balancer.backends(services)
    assert backend["slots"] is False
    assert [s["backend"] for s in backend["servers"]] == ["tts_service", "tts_service"]


def test_the_balancer_refuses_slots_without_two_servers(slotted):
    services = cat.balancer_services(slotted, ["alicia_voice"])
    services[0]["servers"] = services[0]["servers"][:1]
    assert any("slots" in problem and "2 servers" in problem for problem in _balancer.errors(services))
    services[0]["slots"] = "yes"
    assert any("slots must be true or false" in problem for problem in _balancer.errors(services))


# ---- the service role's plan ----------------------------------------------------------------

def test_the_plan_of_a_slot_service(slotted):
    plan, files = build(slotted)
    assert check_args(files) == []
    assert plan["slotted"] == ["tts_service"] and plan["balanced"] == ["tts_service"] and plan["multi"] == []
    assert plan["balancer_units"] == [{"name": "haproxy.service", "enabled": True, "state": "started"}]
    # No current link: each slot has its own (the module's).
    assert "/opt/alicia/tts_service/current" not in paths(files)
    assert not [f for f in files if f.get("state") == "link" and f["path"].startswith("/opt/alicia/tts_service")]
    # The release's code is keyed with the slots' units: a change in place (the same version) switches.
    assert "/opt/alicia/tts_service/releases/1.0.0" in paths(files, "tts_service:slots")
    # The target, the slots' units and values keyed <svc>:slots; the single unit absent.
    assert sorted(paths(files, "tts_service:slots")) == sorted([
        "/etc/systemd/system/alicia-tts_service.target",
        "/etc/systemd/system/alicia-tts_service-blue.service", "/etc/systemd/system/alicia-tts_service-green.service",
        "/etc/alicia/tts_service-blue.env", "/etc/alicia/tts_service-green.env",
        "/opt/alicia/tts_service", "/opt/alicia/tts_service/releases/1.0.0",
        "/opt/alicia/tts_service/releases/1.0.0/alicia_reference_service.py"])
    (single,) = [f for f in files if f["path"] == "/etc/systemd/system/alicia-tts_service.service"]
    assert single == {"path": "/etc/systemd/system/alicia-tts_service.service", "state": "absent",
                      "key": "tts_service:single"}
    slot_envs = dict((f["path"], f) for f in files if f["path"] in ("/etc/alicia/tts_service-blue.env",
                                                                    "/etc/alicia/tts_service-green.env"))
    blue = slot_envs["/etc/alicia/tts_service-blue.env"]
    assert blue["mode"] == "0640" and blue["vars"]["env"]["SERVICE_PORT"] == "18101"
    assert blue["vars"]["env"]["SERVICE_INSTANCE"] == "tts_service-blue"
    assert slot_envs["/etc/alicia/tts_service-green.env"]["vars"]["env"]["SERVICE_PORT"] == "18102"
    units = [f for f in files if f["path"].endswith("-blue.service")]
    assert units[0]["template"] == "service.unit.j2" and units[0]["vars"]["slot"]["listen_port"] == 18101
    # The service's own environment (the module copies it per slot) stays keyed by the service.
    assert "/etc/alicia/tts_service.env" in paths(files, "tts_service")
    assert "alicia-tts_service-blue.service" in plan["all_units"]
    assert "alicia-tts_service-green.service" in plan["all_units"]


def test_a_restart_switches_a_slot_service_never_restarts_its_target(slotted):
    plan, _ = build(slotted, names=("tts_service", "stt_service"))
    assert plan["restart_units"] == ["alicia-stt_service.service"]
    assert [u["name"] for u in plan["restart_unit_states"]] == ["alicia-stt_service.service"]
    slots_result = {"services": [{"service": "tts_service", "action": "switch", "restart": True, "switched": True,
                                  "failed": False,
                                  "msg": "tts_service: slot green now serves releases/1.0.0 (slot blue, "
                                         "releases/1.0.0, stopped, installed)"}]}
    units = {"units": {"alicia-stt_service.service": {"actions": ["restarted"], "after": {"main_pid": 42}}}}
    gate = {"results": [{"service": "tts_service", "healthy": True, "status": 200, "elapsed": 0.002},
                        {"service": "stt_service", "healthy": True, "status": 200, "elapsed": 0.002}]}
    lines = sp.restart_report(plan, units=units, gate=gate, slots=slots_result)
    assert lines[0].startswith("tts_service on h1: tts_service: slot green now serves releases/1.0.0 (slot blue")
    assert lines[1].startswith("stt_service on h1: restarted, pid 42, ")
    # Without a slots result (check mode, nothing ran): unchanged.
    assert sp.restart_report(plan, units=units, gate=gate)[0].startswith("tts_service on h1: unchanged, ")


def test_the_slots_request(slotted):
    plan, _ = build(slotted)
    assert plan["slots"] == [{
        "service": "tts_service", "release": "releases/1.0.0", "env": "/etc/alicia/tts_service.env",
        "health": {"path": "/health", "expect_status": [200], "json_field": "status", "json_value": "healthy",
                   "timeout": 5},
        "slots": [
            {"name": "blue", "port": 18101, "unit": "alicia-tts_service-blue.service",
             "link": "/opt/alicia/tts_service/blue", "env": "/etc/alicia/tts_service-blue.release.env",
             "backend": "tts_service_blue", "server": "blue"},
            {"name": "green", "port": 18102, "unit": "alicia-tts_service-green.service",
             "link": "/opt/alicia/tts_service/green", "env": "/etc/alicia/tts_service-green.release.env",
             "backend": "tts_service_green", "server": "green"},
        ],
        # Both slots in one backend, for strategy canary (the balancer role's name for it).
        "canary_backend": "tts_service_canary",
    }]
    # What the module's own check takes, also with a canary.
    from ansible_collections.alicia.platform.plugins.module_utils._slots import check_services
    assert check_services(plan["slots"]) == [] and check_services(plan["slots"], canary={"weight": 10}) == []


def test_the_slots_request_follows_the_version(resolve):
    plan, _ = build(resolve({"tts_service": {"slot_ports": list(PORTS), "version": "2.1.0"}}))
    assert plan["slots"][0]["release"] == "releases/2.1.0"


def test_a_plain_service_has_no_slots_request(resolve):
    plan, files = build(resolve({"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}))
    assert plan["slots"] == [] and plan["slotted"] == [] and plan["balanced"] == ["tts_service"]
    plan, files = build(resolve())
    assert plan["slots"] == [] and plan["balanced"] == [] and plan["balancer_units"] == []
    assert "/opt/alicia/tts_service/current" in paths(files, "tts_service")


def test_the_endpoint_of_a_slot_service_is_its_published_port_run_by_the_balancer(slotted):
    plan, _ = build(slotted)
    assert [(e["service"], e["url"], e.get("unit")) for e in plan["endpoints"]] == [
        ("tts_service", "http://127.0.0.1:8003/health", "haproxy.service")]


def test_a_changed_slot_unit_refreshes_the_slots_never_restarts(slotted):
    plan, _ = build(slotted)
    keys = sp.all_keys(plan)
    assert keys["tts_service:slots"]["followup"] == "slots_refresh"
    got = sp.followups(plan, {"changed_keys": ["tts_service", "tts_service:slots"]})
    assert got["slots_refresh"] == ["tts_service"]
    assert got["units_restart"] == [] and got["instances_roll"] == []
    # The service's own files (environment, release): the module compares them itself.
    got = sp.followups(plan, {"changed_keys": ["tts_service"]})
    assert got["slots_refresh"] == [] and got["units_restart"] == []
    # From the single-unit layout: the old unit stops (it holds no slot port, but the old code).
    got = sp.followups(plan, {"changed_keys": ["tts_service:single"]})
    assert got["units_absent"] == ["alicia-tts_service.service"] and got["units_restart"] == []


def test_a_rebuilt_virtualenv_refreshes_the_slots_never_restarts(resolve, tmp_path):
    """A python_app slot service: no current link either, and its rebuilt virtualenv switches slots."""
    src = tmp_path / "app"
    src.mkdir()
    (src / "requirements.txt").write_text("dep==1.0\n")
    (src / "main.py").write_text("print(1)\n")
    artifact = {"type": "python_app", "src": str(src), "entry": "main.py"}
    catalogue = resolve({"tts_service": {"slot_ports": list(PORTS), "artifact": artifact}})
    assert field_errors(catalogue) == []
    plan, files = build(catalogue)
    assert check_args(files) == []
    assert "/opt/alicia/tts_service/current" not in paths(files)
    # The release's code is keyed with the slots' units: a change in place (the same version) switches.
    assert "/opt/alicia/tts_service/releases/1.0.0" in paths(files, "tts_service:slots")
    got = sp.followups(plan, {"changed_keys": []}, {"changed_paths": [plan["venv_of"]["tts_service"]]})
    assert got["slots_refresh"] == ["tts_service"]
    assert got["units_restart"] == [] and got["instances_roll"] == []


def test_removing_a_slot_service_removes_its_slots(slotted):
    plan, _ = build(slotted)
    removed = [f["path"] for f in plan["removed_files"] if f.get("state") == "absent"]
    for path in ("/etc/systemd/system/alicia-tts_service-blue.service", "/etc/alicia/tts_service-green.env",
                 "/etc/alicia/tts_service-blue.release.env", "/etc/alicia/tts_service-green.release.env"):
        assert path in removed, path


# ---- the health gate's failed services --------------------------------------------------------

def test_failed_services_merge_a_canary_failure_and_the_slots_result():
    canary = {"service": "stt_service", "msg": "canary errors 50%"}
    slots = {"failed_services": {"tts_service": "tts_service: slot green failed its gate"}}
    assert sp.failed_services(canary, slots) == {"stt_service": "canary errors 50%",
                                                 "tts_service": "tts_service: slot green failed its gate"}
    # In a rollback's gate the canary's failure is what asked for it: not a failure again.
    assert sp.failed_services(canary, slots, rollback=True) == {
        "tts_service": "tts_service: slot green failed its gate"}
    assert sp.failed_services({"service": "stt_service"}, None) == {"stt_service": "canary failed"}
    assert sp.failed_services(None, None) == {} == sp.failed_services({}, {"failed_services": {}})
    filters = PlanFilters().filters()
    assert filters["service_failed_services"](canary, slots, True) == {
        "tts_service": "tts_service: slot green failed its gate"}


# ---- the host check ---------------------------------------------------------------------------

def test_the_host_check_ports_of_a_slot_service(resolve, slotted):
    assert hostcheck.service_ports(slotted["tts_service"]) == [(18101, "instance"), (18102, "instance"),
                                                               (8003, "balanced")]
    # Without slots: the one service port, as before.
    assert hostcheck.service_ports(resolve()["tts_service"]) == [(8003, "service")]


def test_the_host_check_owns_a_slot_unit(slotted):
    svc, settings = slotted["tts_service"], {"user": "alicia"}
    assert hostcheck.is_ours(svc, "instance", {"pid": 42, "unit": "alicia-tts_service-green.service"}, settings)
    assert not hostcheck.is_ours(svc, "instance", {"pid": 42, "unit": "alicia-other.service"}, settings)


# ---- the deploy request -----------------------------------------------------------------------

DEPLOY_CATALOGUE = {
    "mqtt_broker": {"kind": "broker", "phase": "core"},
    "tts_service": {"phase": "voice", "slot_ports": list(PORTS)},
    "stt_service": {"phase": "voice"},
    "ai_service": {"phase": "voice", "instances": 2},
}


def test_blue_green_is_refused_for_a_service_without_slot_ports():
    for services, named in (("stt_service", "stt_service has"), ("tts_service, stt_service", "stt_service has"),
                            ("ai_service, stt_service", "ai_service, stt_service have")):
        with pytest.raises(deploy.DeployError) as caught:
            deploy.request(DEPLOY_CATALOGUE, services=services, strategy="blue_green")
        message = str(caught.value)
        assert "'slot_ports'" in message and "blue_green" in message and named in message, message
        assert "tts_service" not in message, message
    with pytest.raises(deploy.DeployError, match="stt_service.*'slot_ports'"):
        deploy.request(DEPLOY_CATALOGUE, phase="voice", strategy="blue_green")


def test_blue_green_is_accepted_for_services_with_slot_ports(resolve, slotted):
    req = deploy.request(DEPLOY_CATALOGUE, services="tts_service", strategy="blue_green", version="1.4.0")
    assert req["strategy"] == "blue_green" and req["services"] == ["tts_service"]
    assert req["overrides"] == {"tts_service": {"version": "1.4.0"}}
    # A resolved catalogue (slot_list) too.
    assert deploy.request(slotted, services="tts_service", strategy="blue_green")["strategy"] == "blue_green"
    with pytest.raises(deploy.DeployError, match="'slot_ports'"):
        deploy.request(slotted, services="stt_service", strategy="blue_green")


def test_the_memory_check_counts_the_new_slot_of_a_running_blue_green_service(slotted):
    """Its live slot holds its ports (running): only a change of its files starts a second process."""
    plan, _files = build(slotted)
    svc = plan["entries"][0]
    listeners = dict((str(port), [{"pid": 10, "env": {"SERVICE_NAME": svc["name"]}, "command": "python3"}])
                     for port, _role in hostcheck.service_ports(svc))
    reserve = hostcheck.size_mb(svc["resources"]["memory_reservation"])
    report = {"listeners": listeners, "mem_available_mb": int(reserve) - 1, "paths": {}}
    assert hostcheck.problems(plan, report) == []
    found = hostcheck.problems(plan, report, changed_keys=["%s:slots" % svc["name"]])
    assert len(found) == 1 and "%s (its new slot)" % svc["name"] in found[0], found
    assert hostcheck.problems(plan, dict(report, mem_available_mb=int(reserve) + 1),
                              changed_keys=[svc["name"]]) == []
