# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Multi-instance services (issue 10 §2), the catalogue side: the fields
(instances, instance_ports, instance_names, settings, instance_settings),
their preflight checks, the resolved instance_list, and what the other
consumers make of it: health sweep rows, host packages, remote health
endpoints, log rotation policies, the firewall and the balancer's input."""

import json
import os

import pytest
import yaml

from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _balancer
from ansible_collections.alicia.platform.plugins.module_utils import _sweep_report as sweep
from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._logpolicy import (
    log_rotation_errors,
    log_rotation_policies,
)

# Seed 004's TTS service: instances named like its tts-primary, engine settings.
TTS = {
    "instances": 2,
    "instance_ports": [8031, 8032],
    "instance_names": ["tts-primary", "tts-secondary"],
    "settings": {"engine_type": "hybrid", "enable_coqui": True, "coqui_model": "tts_models/en/ljspeech/tacotron2-DDC",
                 "log_level": "INFO", "health_check_interval": 30},
    "instance_settings": {"tts-secondary": {"enable_coqui": False, "log_level": "DEBUG"}},
}
ONE_HOST = {"alicia_broker": ["h1"], "alicia_core": ["h1"], "alicia_management": ["h1"], "alicia_voice": ["h1"],
            "alicia_devices": ["h1"], "alicia_advanced": ["h1"], "alicia_observability": ["h1"]}
LOG_DEFAULTS = {"size": "50M", "frequency": None, "rotate": 5, "maxage": 30, "compress": True, "delaycompress": True,
                "missingok": True, "notifempty": True, "dateext": False, "mode": "0640", "signal": "HUP"}


def tts(**changes):
    entry = json.loads(json.dumps(TTS))
    entry.update(changes)
    return entry


@pytest.fixture
def multi(resolve):
    return resolve({"tts_service": tts()})


def field_errors(catalogue, service="tts_service", groups=None):
    """errors() of one service, as (field, text) pairs."""
    prefix = "catalogue: service '%s' field '" % service
    found = []
    for message in cat.errors(catalogue, groups=groups):
        assert message.startswith("catalogue: service '"), message
        if message.startswith(prefix):
            field, text = message[len(prefix):].split("': ", 1)
            found.append((field, text))
    return found


# ---------------------------------------------------------------------------
# Resolved entries
# ---------------------------------------------------------------------------

def test_shipped_services_run_one_instance(shipped):
    for name, entry in shipped.items():
        assert entry["instance_list"] == [], name
        assert entry["settings"] == {}, name
    assert shipped["tts_service"]["unit"] == "alicia-tts_service.service"
    assert shipped["mqtt_broker"]["unit"] == "mosquitto.service"


def test_instance_list_of_a_multi_instance_service(multi):
    entry = multi["tts_service"]
    settings = TTS["settings"]
    assert entry["instance_list"] == [
        {"name": "tts-primary", "index": 1, "listen_port": 8031, "unit": "alicia-tts-primary.service",
         "log": "/var/log/alicia/tts-primary.log", "settings": settings},
        {"name": "tts-secondary", "index": 2, "listen_port": 8032, "unit": "alicia-tts-secondary.service",
         "log": "/var/log/alicia/tts-secondary.log",
         "settings": dict(settings, enable_coqui=False, log_level="DEBUG")},
    ]
    assert entry["settings"] == settings
    # A target groups the instances' units; the published port, listen_port and SERVICE_PORT stay.
    assert entry["unit"] == "alicia-tts_service.target"
    assert (entry["port"], entry["listen_port"], entry["env"]["SERVICE_PORT"]) == (8003, 8003, "8003")
    assert cat.errors(multi) == []
    assert cat.errors(multi, groups=ONE_HOST) == []


def test_default_instance_names_and_log_directory(resolve):
    catalogue = resolve({"tts_service": {"instances": 3, "instance_ports": [9101, 9102, 9103],
                                         "log": {"path": "/srv/logs/tts/main.log"}}})
    instances = catalogue["tts_service"]["instance_list"]
    assert [(i["name"], i["index"], i["listen_port"], i["unit"], i["log"], i["settings"]) for i in instances] == [
        ("tts_service-1", 1, 9101, "alicia-tts_service-1.service", "/srv/logs/tts/tts_service-1.log", {}),
        ("tts_service-2", 2, 9102, "alicia-tts_service-2.service", "/srv/logs/tts/tts_service-2.log", {}),
        ("tts_service-3", 3, 9103, "alicia-tts_service-3.service", "/srv/logs/tts/tts_service-3.log", {}),
    ]
    assert cat.errors(catalogue) == []


def test_settings_of_a_single_instance_service(resolve):
    catalogue = resolve({"stt_service": {"settings": {"model": "small", "beam_size": 5, "vad": True, "temp": 0.2}}})
    entry = catalogue["stt_service"]
    assert entry["settings"] == {"model": "small", "beam_size": 5, "vad": True, "temp": 0.2}
    assert entry["instance_list"] == []
    assert entry["unit"] == "alicia-stt_service.service"
    assert cat.errors(catalogue) == []


def test_an_explicit_unit_is_kept(resolve):
    catalogue = resolve({"tts_service": tts(unit="tts.target")})
    assert catalogue["tts_service"]["unit"] == "tts.target"
    assert cat.errors(catalogue) == []


@pytest.mark.parametrize("changes", [
    {"instance_ports": None},
    {"instance_ports": [8031]},
    {"instance_ports": [8031, "8032"]},
    {"instance_ports": [8031, 0]},
    {"instance_ports": "8031,8032"},
    {"instance_names": ["tts-primary"]},
    {"instance_names": ["tts-primary", "TTS"]},
    {"instance_names": "tts-primary"},
    {"instances": "2"},
])
def test_malformed_fields_give_no_instances_and_an_error(resolve, changes):
    catalogue = resolve({"tts_service": tts(**changes)})
    assert catalogue["tts_service"]["instance_list"] == []
    assert field_errors(catalogue), changes


def test_the_broker_has_no_instances_or_settings(resolve):
    catalogue = resolve({"mqtt_broker": {"settings": {"x": 1}}})
    assert (catalogue["mqtt_broker"]["instance_list"], catalogue["mqtt_broker"]["settings"]) == ([], {})
    catalogue = resolve({"mqtt_broker": {"instances": 2, "instance_ports": [1884, 1885]}})
    assert catalogue["mqtt_broker"]["instance_list"] == []
    assert field_errors(catalogue, "mqtt_broker") == [
        ("instances", "the broker runs one instance, got 2"),
        ("instance_ports", "not used by the broker (it runs one instance)"),
    ]


# ---------------------------------------------------------------------------
# Preflight: every message names the service and the field
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", ["supervisor", "manual", "docker"])
def test_several_instances_need_runtime_systemd(resolve, runtime):
    catalogue = resolve({"tts_service": tts(runtime=runtime)})
    assert field_errors(catalogue) == [
        ("instances", "instances > 1 needs runtime systemd (runtime %s runs one instance per host)" % runtime)]


def test_the_runtime_check_reads_the_entry_s_own_runtime(resolve):
    """A host's service_runtime is the Ansible side's business; errors() knows only the entry."""
    catalogue = resolve({"tts_service": tts(runtime="systemd")})
    assert cat.errors(catalogue, groups=ONE_HOST) == []
    # An unknown runtime is reported once, on runtime.
    catalogue = resolve({"tts_service": tts(runtime="podman")})
    assert [f for f, _t in field_errors(catalogue)] == ["runtime"]


@pytest.mark.parametrize("health,expected", [
    (None, [("health", "instances > 1 needs a health check (the balancer checks each instance on it)")]),
    ({"path": "/health", "json_field": None},
     [("health.json_field", "with instances > 1, the balancer checks each instance's JSON field: it must be a "
                            "word of A-Z, a-z, 0-9, _ and -, got None"),
      ("health.json_value", "with instances > 1, the balancer checks each instance's JSON value: it must be a "
                            "word of A-Z, a-z, 0-9, _ and -, got None")]),
    ({"path": "/health", "json_field": "checks.mqtt", "json_value": True},
     [("health.json_field", "with instances > 1, the balancer checks each instance's JSON field: it must be a "
                            "word of A-Z, a-z, 0-9, _ and -, got 'checks.mqtt'"),
      ("health.json_value", "with instances > 1, the balancer checks each instance's JSON value: it must be a "
                            "word of A-Z, a-z, 0-9, _ and -, got True")]),
    ({"path": "/health#x", "json_field": "status", "json_value": "ok"},
     [("health.path", "with instances > 1, the balancer's check path must be without spaces, quotes, backslashes "
                      "or '#', got '/health#x'")]),
])
def test_several_instances_need_a_health_check_the_balancer_can_run(resolve, health, expected):
    catalogue = resolve({"tts_service": tts()})
    catalogue["tts_service"]["health"] = health
    assert field_errors(catalogue) == expected


@pytest.mark.parametrize("ports,expected", [
    (None, [("instance_ports", "required when instances > 1: a list of 2 ports, one per instance")]),
    ("8031", [("instance_ports", "must be a list of 2 ports, one per instance, got str")]),
    ([8031, 8032, 8033], [("instance_ports", "must list 2 ports (instances: 2), got 3")]),
    ([8031, 70000], [("instance_ports", "port 70000 out of range 1-65535")]),
    ([8031, True], [("instance_ports", "port True out of range 1-65535")]),
    ([8031, 8031], [("instance_ports", "port 8031 is listed more than once")]),
    ([8003, 8032], [("instance_ports", "port 8003 is the service's published port (the balancer listens there)")]),
])
def test_instance_ports(resolve, ports, expected):
    catalogue = resolve({"tts_service": tts(instance_ports=ports)})
    assert field_errors(catalogue) == expected


def test_instance_fields_need_several_instances(resolve):
    catalogue = resolve({"tts_service": {"instance_ports": [8031], "instance_names": ["tts-primary"],
                                         "instance_settings": {"tts-primary": {"x": 1}}}})
    assert field_errors(catalogue) == [
        ("instance_ports", "only with instances > 1 (this service runs one instance)"),
        ("instance_names", "only with instances > 1 (this service runs one instance)"),
        ("instance_settings", "'tts-primary' is not an instance of this service (it runs one instance; "
                              "instance_settings needs instances > 1)"),
    ]
    # An empty instance_settings says nothing.
    assert cat.errors(resolve({"tts_service": {"instance_settings": {}}})) == []


def test_instance_port_clashes_name_both_services(resolve):
    groups = {"alicia_voice": ["h1", "h2"], "alicia_devices": ["h2"], "alicia_broker": ["h1"],
              "alicia_core": ["h3"]}
    # An instance port on another service's published port (tts_service is later in the catalogue).
    catalogue = resolve({"tts_service": tts(instance_ports=[8001, 8032])})
    assert field_errors(catalogue, groups=groups) == [
        ("instance_ports", "port 8001 on host 'h1' already used by service 'stt_service'"),
        ("instance_ports", "port 8001 on host 'h2' already used by service 'stt_service'")]
    # Another service's port on an instance port (device_manager comes later), on the host they share only.
    catalogue = resolve({"tts_service": tts(), "device_manager": {"port": 8032}})
    assert field_errors(catalogue, "device_manager", groups=groups) == [
        ("port", "port 8032 on host 'h2' already used by service 'tts_service' (its instance_ports)")]
    # Instance ports of two multi-instance services.
    catalogue = resolve({"tts_service": tts(), "sonos_service": {"instances": 2, "instance_ports": [8032, 8171]}})
    assert field_errors(catalogue, "sonos_service", groups=groups) == [
        ("instance_ports", "port 8032 on host 'h2' already used by service 'tts_service' (its instance_ports)")]
    # Hosts that share nothing, and no inventory (one host for all).
    assert cat.errors(catalogue, groups={"alicia_voice": ["h1"], "alicia_devices": ["h2"]}) == []
    assert field_errors(catalogue, "sonos_service") == [
        ("instance_ports", "port 8032 (services without an inventory share one host) already used by service "
                           "'tts_service' (its instance_ports)")]


def test_the_published_port_of_a_multi_instance_service_stays_bound(resolve):
    catalogue = resolve({"tts_service": tts(), "voice_router": {"port": 8003}})
    assert field_errors(catalogue, "voice_router", groups=ONE_HOST) == [
        ("port", "port 8003 on host 'h1' already used by service 'tts_service'")]


def test_listen_port_of_a_multi_instance_service_is_not_bound(resolve):
    """The instances listen on instance_ports, the balancer on port: nothing listens on listen_port."""
    catalogue = resolve({"tts_service": tts(listen_port=8004)})
    assert catalogue["tts_service"]["instance_list"][0]["listen_port"] == 8031
    assert field_errors(catalogue, "voice_router", groups=ONE_HOST) == []
    assert field_errors(catalogue, "tts_service", groups=ONE_HOST) == []
    # One instance of a host-network runtime binds its port: a listen_port that differs is refused.
    single = resolve({"tts_service": {"listen_port": 8004}})
    assert field_errors(single, "voice_router", groups=ONE_HOST) == []
    assert field_errors(single, "tts_service", groups=ONE_HOST) == [
        ("listen_port", "listen_port 8004 differs from port 8003, which only the docker runtime can map (runtime "
                        "systemd binds the port it is reached at: set port to 8004, or drop listen_port)")]


@pytest.mark.parametrize("names,expected", [
    (["tts-primary"], [("instance_names", "must list 2 names (instances: 2), got 1")]),
    ("tts-primary", [("instance_names", "must be a list of 2 instance names, got str")]),
    (["tts-primary", "TTS"], [("instance_names", "invalid instance name 'TTS': must match ^[a-z0-9][a-z0-9_-]{0,62}$")]),
    (["tts-primary", "-tts"], [("instance_names", "invalid instance name '-tts': must match ^[a-z0-9][a-z0-9_-]{0,62}$")]),
    (["tts-primary", "t" * 64], [("instance_names", "invalid instance name '%s': must match "
                                                    "^[a-z0-9][a-z0-9_-]{0,62}$" % ("t" * 64))]),
    (["tts-primary", 7], [("instance_names", "invalid instance name 7: must match ^[a-z0-9][a-z0-9_-]{0,62}$")]),
    (["tts-primary", "tts-primary"], [("instance_names", "instance name 'tts-primary' is listed more than once")]),
    (["tts-primary", "balanced"], [("instance_names", "'balanced' is reserved (the health sweep's name for the "
                                                      "balanced published port)")]),
    (["tts-primary", "voice_router"], [("instance_names", "instance name 'voice_router' is the name of service "
                                                          "'voice_router' (both would be unit "
                                                          "alicia-voice_router.service)")]),
])
def test_instance_names(resolve, names, expected):
    changes = {"instance_names": names, "instance_settings": {}}
    catalogue = resolve({"tts_service": tts(**changes)})
    assert field_errors(catalogue) == expected


def test_instance_names_are_unique_across_the_catalogue(resolve):
    # Explicit names of a later service against the defaults of an earlier one...
    catalogue = resolve({"stt_service": {"instances": 2, "instance_ports": [8101, 8102]},
                         "tts_service": tts(instance_names=["stt_service-2", "tts-secondary"])})
    assert field_errors(catalogue) == [
        ("instance_names", "instance name 'stt_service-2' already used by service 'stt_service'")]
    # ...and the defaults of a later service against explicit names of an earlier one.
    catalogue = resolve({"stt_service": {"instances": 2, "instance_ports": [8101, 8102],
                                         "instance_names": ["tts_service-1", "stt-b"]},
                         "tts_service": tts(instance_names=None, instance_settings=None)})
    assert field_errors(catalogue) == [
        ("instance_names", "instance name 'tts_service-1' already used by service 'stt_service'")]


def test_instance_settings(resolve):
    catalogue = resolve({"tts_service": tts(instance_settings={"tts-tertiary": {"log_level": "DEBUG"},
                                                               "tts-primary": {"enable_coqui": [1]},
                                                               "tts-secondary": "DEBUG"})})
    assert field_errors(catalogue) == [
        ("instance_settings", "'tts-tertiary' is not an instance of this service (its instances: tts-primary, "
                              "tts-secondary)"),
        ("instance_settings.tts-primary.enable_coqui", "must be a string, number or boolean, got list"),
        ("instance_settings.tts-secondary", "must be a mapping of setting name to a string, number or boolean, "
                                            "got str"),
    ]
    catalogue = resolve({"tts_service": tts(instance_settings=["tts-primary"])})
    assert field_errors(catalogue) == [
        ("instance_settings", "must be a mapping of instance name to settings, got list")]
    # The default names are the keys when instance_names is not given.
    catalogue = resolve({"tts_service": tts(instance_names=None, instance_settings={"tts_service-2": {"a": "b"}})})
    assert cat.errors(catalogue) == []
    assert catalogue["tts_service"]["instance_list"][1]["settings"] == dict(TTS["settings"], a="b")


@pytest.mark.parametrize("settings,expected", [
    ("engine_type=hybrid", [("settings", "must be a mapping of setting name to a string, number or boolean, "
                                         "got str")]),
    ({"engine_type": None}, [("settings.engine_type", "must be a string, number or boolean, got null")]),
    ({"engine": {"type": "hybrid"}}, [("settings.engine", "must be a string, number or boolean, got dict")]),
    ({"model": "a\nb"}, [("settings.model", "contains a newline, carriage return or NUL")]),
    ({1: "x"}, [("settings", "setting names must be non-empty one-line strings, got 1")]),
    ({"": "x"}, [("settings", "setting names must be non-empty one-line strings, got ''")]),
])
def test_settings_shape(resolve, settings, expected):
    for changes in ({"settings": settings}, tts(settings=settings)):
        catalogue = resolve({"tts_service": changes})
        assert field_errors(catalogue) == expected, changes


def test_the_unit_of_a_multi_instance_service_is_a_target(resolve):
    catalogue = resolve({"tts_service": tts(unit="alicia-tts_service.service")})
    assert field_errors(catalogue) == [
        ("unit", "with instances > 1, must be a systemd target grouping the instances' units, such as "
                 "alicia-tts_service.target, got 'alicia-tts_service.service'")]
    catalogue = resolve({"tts_service": {"unit": "alicia-tts_service.target"}})
    assert [f for f, _t in field_errors(catalogue)] == ["unit"]


def test_a_multi_instance_service_name_is_a_haproxy_name(resolve):
    catalogue = resolve({"_tts": dict(tts(instance_names=None, instance_settings=None), phase="voice", port=8090)})
    assert field_errors(catalogue, "_tts") == [
        ("name", "with instances > 1, the name is the balancer's frontend and backend name: it must start with a "
                 "letter or digit and have at most 64 characters")]


def test_every_problem_at_once_grouped_by_service(resolve):
    catalogue = resolve({"tts_service": tts(runtime="manual", instance_ports=[8031], instance_names=["Bad", "ok"]),
                         "stt_service": {"instance_ports": [1]}})
    found = cat.errors(catalogue)
    services = [message.split("'")[1] for message in found]
    assert services == ["stt_service"] + ["tts_service"] * 4, found
    with pytest.raises(cat.CatalogueError) as info:
        cat.validate(catalogue)
    assert (info.value.service, info.value.field) == ("stt_service", "instance_ports")


# ---------------------------------------------------------------------------
# Consumers
# ---------------------------------------------------------------------------

def test_health_sweep_probes_each_instance_and_the_balanced_port(multi):
    got = sweep.endpoints(multi, ["alicia_voice"], "lab1", service="tts_service")
    assert [(e["instance"], e["port"], e["url"]) for e in got] == [
        ("tts-primary", 8031, "http://127.0.0.1:8031/health"),
        ("tts-secondary", 8032, "http://127.0.0.1:8032/health"),
        ("balanced", 8003, "http://127.0.0.1:8003/health"),
    ]
    assert all(e["service"] == "tts_service" and e["json_field"] == "status" for e in got)


def test_host_packages_add_the_balancer_s_packages(multi, root):
    with open(os.path.join(root, "roles/balancer/defaults/main.yml")) as handle:
        balancer_packages = yaml.safe_load(handle)["balancer_packages"]
    assert sorted(balancer_packages) == ["haproxy", "socat"]
    assert cat.host_packages(multi, ["alicia_voice"], ["logrotate"]) == [
        "haproxy", "logrotate", "python3-paho-mqtt", "socat"]
    # Only on the hosts of the multi-instance service's group, whatever the host's runtime variable.
    assert cat.host_packages(multi, ["alicia_core"], ["logrotate"]) == ["logrotate", "python3-paho-mqtt"]
    assert "haproxy" in cat.host_packages(multi, ["alicia_voice"], runtime="systemd")


def test_other_hosts_reach_a_multi_instance_service_on_its_published_port(multi):
    endpoints = cat.health_endpoints(multi, {"v1": {"alicia_address": "10.0.0.7"}}, {"alicia_voice": ["v1"]},
                                     services=["tts_service"])
    assert [(e["service"], e["host"], e["url"]) for e in endpoints] == [
        ("tts_service", "v1", "http://10.0.0.7:8003/health")]


def test_each_instance_log_is_rotated_like_the_service_s_own(resolve):
    catalogue = resolve({"tts_service": tts(log={"reopen": "signal"})})
    overrides = {"tts_service": {"rotate": 9}}
    policies = log_rotation_policies(catalogue, ["alicia_voice"], LOG_DEFAULTS, overrides)
    assert [p["name"] for p in policies] == ["stt_service", "ai_service", "tts-primary", "tts-secondary",
                                             "voice_router"]
    primary, secondary = policies[2], policies[3]
    assert primary == dict(LOG_DEFAULTS, name="tts-primary", service="tts_service", kind="service", enabled=True,
                           path="/var/log/alicia/tts-primary.log", reopen="signal", unit="alicia-tts-primary.service",
                           rotate=9, file="/etc/logrotate.d/alicia-tts-primary")
    assert (secondary["path"], secondary["unit"], secondary["reopen"], secondary["rotate"], secondary["file"]) == (
        "/var/log/alicia/tts-secondary.log", "alicia-tts-secondary.service", "signal", 9,
        "/etc/logrotate.d/alicia-tts-secondary")
    # Never the target: systemctl kill cannot signal a target.
    assert all(not p["unit"].endswith(".target") for p in policies)
    assert log_rotation_errors(policies, overrides, catalogue) == []
    # Disabling the service's rotation disables every instance's.
    policies = log_rotation_policies(catalogue, ["alicia_voice"], LOG_DEFAULTS, {"tts_service": {"enabled": False}})
    assert [p["enabled"] for p in policies if p.get("service") == "tts_service"] == [False, False]
    # The copytruncate default follows too.
    default = resolve({"tts_service": tts()})
    assert [p["reopen"] for p in log_rotation_policies(default, ["alicia_voice"], LOG_DEFAULTS)] == [
        "copytruncate"] * 5


def _others_on_host(catalogue, group_names):
    """{port: what} of everything else listening on the host (as balancer_host_ports)."""
    used = {}
    for entry in cat.host_services(catalogue, group_names):
        if not entry["instance_list"]:
            used[entry["port"]] = entry["name"]
    return used


def test_balancer_services_of_a_host(multi):
    services = cat.balancer_services(multi, ["alicia", "alicia_voice"])
    assert services == [{
        "name": "tts_service", "port": 8003, "bind": "0.0.0.0", "balance": "roundrobin",
        "health": {"path": "/health", "json_field": "status", "json_value": "healthy"},
        "servers": [{"name": "tts-primary", "address": "127.0.0.1", "port": 8031},
                    {"name": "tts-secondary", "address": "127.0.0.1", "port": 8032}],
    }]
    # What the balancer role's preflight and template take.
    groups = ["alicia_broker", "alicia_voice"]
    assert _balancer.errors(services, used_ports=_others_on_host(multi, groups)) == []
    assert [s["endpoint"] for s in _balancer.backends(services)[0]["servers"]] == ["127.0.0.1:8031", "127.0.0.1:8032"]
    assert cat.balancer_services(multi, ["alicia_core"]) == []


def test_balancer_services_in_catalogue_order_pass_the_balancer_checks(resolve):
    catalogue = resolve({
        "tts_service": tts(instance_names=None, instance_settings=None,
                           health={"path": "/ready", "json_field": "state", "json_value": "ready-ok"}),
        "stt_service": {"instances": 3, "instance_ports": [9001, 9002, 9003]},
        "ai_service": {"instances": 2, "instance_ports": [9011, 9012], "runtime": "docker"},  # refused by preflight
    })
    errors = cat.errors(catalogue, groups=ONE_HOST)
    assert [m.split("'")[1] for m in errors] == ["ai_service"]
    valid = dict(catalogue)
    valid["ai_service"] = resolve()["ai_service"]
    assert cat.errors(valid, groups=ONE_HOST) == []
    services = cat.balancer_services(valid, list(ONE_HOST))
    assert [(s["name"], s["port"], [x["name"] for x in s["servers"]]) for s in services] == [
        ("stt_service", 8001, ["stt_service-1", "stt_service-2", "stt_service-3"]),
        ("tts_service", 8003, ["tts_service-1", "tts_service-2"]),
    ]
    assert services[1]["health"] == {"path": "/ready", "json_field": "state", "json_value": "ready-ok"}
    assert _balancer.errors(services, used_ports=_others_on_host(valid, list(ONE_HOST))) == []


def test_balancer_services_filter(multi):
    filters = FilterModule().filters()
    assert filters["catalogue_balancer_services"](multi, ["alicia_voice"]) == cat.balancer_services(
        multi, ["alicia_voice"])
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="group_names must be a list"):
        filters["catalogue_balancer_services"](multi, "alicia_voice")


# The firewall: roles/network_hardening's own template, rendered by Ansible's
# templar from the role's defaults and vars with a multi-instance tts_service.
FIREWALL_FILES = ["roles/catalogue/defaults/main.yml", "roles/network_hardening/defaults/main.yml",
                  "roles/network_hardening/vars/main.yml"]


def test_the_firewall_opens_the_published_port_never_an_instance_port(render_with_templar):
    overrides = {"tts_service": tts(firewall={"allow_from": "clients"})}
    extra = {"catalogue_overrides": overrides, "group_names": ["alicia", "alicia_voice"], "inventory_hostname": "v1",
             "ansible_managed": "Ansible managed", "network_hardening_client_networks": ["192.168.1.0/24"]}
    ruleset = render_with_templar(FIREWALL_FILES, extra, template="roles/network_hardening/templates/alicia.nft.j2")
    opened = [line.strip() for line in ruleset.splitlines() if line.strip().startswith("tcp dport")]
    assert 'tcp dport 8003 ip saddr @clients_v4 accept comment "tts_service (clients)"' in opened
    assert 'tcp dport 8003 ip6 saddr @clients_v6 accept comment "tts_service (clients)"' in opened
    assert sorted(set(int(line.split()[2]) for line in opened)) == [22, 8001, 8002, 8003, 8004]
    for port in (8031, 8032):
        assert str(port) not in ruleset
    for name in ("tts-primary", "tts-secondary"):
        assert name not in ruleset
