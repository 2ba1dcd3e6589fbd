# -*- coding: utf-8 -*-
"""plugins/module_utils/catalogue.py: validation, order, endpoints, env, graph."""

import re

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError

SEED_ORDER = [
    "mqtt_broker", "security_gateway", "device_registry", "config_service",
    "configuration_manager", "discovery_service", "health_monitor", "service_orchestrator",
    "stt_service", "ai_service", "tts_service", "voice_router",
    "device_manager", "ha_bridge", "sonos_service", "device_control", "grok_integration",
    "advanced_voice", "personality_system", "multi_language", "load_balancer",
    "metrics_collector", "event_scheduler",
]


def full_secrets(catalogue):
    return dict((name, dict((key, "x-%s-%s" % (name, key)) for key in entry["secrets"]))
                for name, entry in catalogue.items() if entry["secrets"])


def only_error(catalogue, **kwargs):
    with pytest.raises(CatalogueError) as info:
        cat.validate(catalogue, **kwargs)
    return str(info.value), info.value


# ---------------------------------------------------------------------------
# validate: the shipped catalogue
# ---------------------------------------------------------------------------

def test_shipped_catalogue_is_valid(shipped):
    assert cat.validate(shipped, secrets=full_secrets(shipped)) is shipped
    assert cat.errors(shipped) == []


def test_shipped_catalogue_is_valid_on_one_host(shipped):
    groups = {"all": ["lab1"]}
    groups.update(dict((entry["group"], ["lab1"]) for entry in shipped.values()))
    assert cat.errors(shipped, groups=groups) == []


def test_resolved_shape(shipped):
    assert list(shipped) == SEED_ORDER
    assert len(shipped) == 23
    for name, entry in shipped.items():
        assert entry["name"] == name
        assert "MQTT_PASSWORD" in entry["secrets"] or entry["kind"] == "broker"
        for key in ("kind", "phase", "phase_index", "description", "port", "listen_port", "group", "version",
                    "runtime", "instances", "health", "depends_on", "env", "secrets", "mqtt"):
            assert key in entry, (name, key)
    assert shipped["ai_service"]["depends_on"]["grok_integration"] == {"type": "optional", "timeout": 15}
    assert shipped["ai_service"]["depends_on"]["mqtt_broker"] == {"type": "required", "timeout": 30}


# ---------------------------------------------------------------------------
# validate: one case each, the message names service and field
# ---------------------------------------------------------------------------

def test_unknown_dependency(resolve):
    message, exc = only_error(resolve({"voice_router": {"depends_on": {"stt": {"type": "required"}}}}))
    assert message == "catalogue: service 'voice_router' field 'depends_on': unknown dependency 'stt'"
    assert (exc.service, exc.field) == ("voice_router", "depends_on")
    assert exc.errors == [message]


def test_duplicate_port_on_one_host_names_both_services(resolve):
    catalogue = resolve({"voice_router": {"port": 8009}})
    groups = {"alicia_core": ["lab1"], "alicia_voice": ["lab1"], "alicia_broker": ["lab1"]}
    message, exc = only_error(catalogue, groups=groups)
    assert message == ("catalogue: service 'voice_router' field 'port': port 8009 on host 'lab1' "
                       "already used by service 'security_gateway'")
    assert exc.field == "port"


def test_same_port_on_different_hosts_is_fine(resolve):
    catalogue = resolve({"voice_router": {"port": 8009}})
    groups = {"alicia_core": ["lab1"], "alicia_voice": ["lab2"], "alicia_broker": ["lab1"]}
    assert cat.errors(catalogue, groups=groups) == []


def test_port_clash_with_the_broker(resolve):
    catalogue = resolve({"stt_service": {"port": 1883}})
    groups = {"alicia_broker": ["b1"], "alicia_voice": ["b1", "v1"]}
    message, _exc = only_error(catalogue, groups=groups)
    assert "service 'stt_service' field 'port': port 1883 on host 'b1' already used by service 'mqtt_broker'" in message
    assert "'v1'" not in message


def test_port_clash_without_inventory_means_one_host(resolve):
    message, _exc = only_error(resolve({"tts_service": {"port": 8001}}))
    assert message.startswith("catalogue: service 'tts_service' field 'port': port 8001 ")
    assert "already used by service 'stt_service'" in message


def test_dependency_cycle_prints_the_cycle(resolve):
    catalogue = resolve({
        "stt_service": {"depends_on": {"ai_service": {"type": "required"}}},
        "ai_service": {"depends_on": {"tts_service": {"type": "required"}}},
        "tts_service": {"depends_on": {"stt_service": {"type": "required"}}},
    })
    message, exc = only_error(catalogue)
    assert message == ("catalogue: service 'stt_service' field 'depends_on': dependency cycle "
                       "stt_service -> ai_service -> tts_service -> stt_service")
    assert exc.service == "stt_service"


def test_self_dependency_is_a_cycle(resolve):
    message, _exc = only_error(resolve({"ha_bridge": {"depends_on": {"ha_bridge": "optional"}}}))
    assert "service 'ha_bridge' field 'depends_on': dependency cycle ha_bridge -> ha_bridge" in message


def test_unknown_phase(resolve):
    message, exc = only_error(resolve({"sonos_service": {"phase": "audio"}}))
    assert message.startswith("catalogue: service 'sonos_service' field 'phase': unknown phase 'audio' (known: core,")
    assert exc.field == "phase"


def test_required_dependency_on_later_phase(resolve):
    message, _exc = only_error(resolve({"ai_service": {"depends_on": {"grok_integration": {"type": "required"}}}}))
    assert message == ("catalogue: service 'ai_service' field 'depends_on': required dependency 'grok_integration' "
                       "is in later phase 'devices' (this service is in phase 'voice'); make it optional or move it")


def test_optional_dependency_on_later_phase_is_allowed(shipped):
    assert shipped["ai_service"]["depends_on"]["grok_integration"]["type"] == "optional"
    assert cat.errors(shipped) == []


@pytest.mark.parametrize("field,value", [("port", 0), ("port", 65536), ("port", "8001"), ("port", True),
                                         ("listen_port", 70000), ("listen_port", -1)])
def test_port_out_of_range(resolve, field, value):
    message, exc = only_error(resolve({"stt_service": {field: value}}))
    assert "catalogue: service 'stt_service' field '%s': port %r out of range 1-65535" % (field, value) in message
    assert exc.service == "stt_service"


def test_missing_port(resolve, catalogue_defaults):
    services = dict(catalogue_defaults["catalogue_services"])
    services["new_service"] = {"phase": "advanced"}
    message, _exc = only_error(resolve(services=services))
    assert message == "catalogue: service 'new_service' field 'port': missing"


@pytest.mark.parametrize("name", ["Voice-Router", "voice router", "stt.service", "ÄI"])
def test_invalid_name(resolve, name):
    message, _exc = only_error(resolve({name: {"phase": "voice", "port": 8101}}))
    assert "catalogue: service '%s' field 'name': invalid name %r: use only a-z, 0-9 and _" % (name, name) in message


def test_missing_required_secret(shipped):
    secrets = full_secrets(shipped)
    del secrets["security_gateway"]["JWT_SECRET"]
    secrets["ha_bridge"]["HA_TOKEN"] = "  "
    message, exc = only_error(shipped, secrets=secrets)
    assert message.splitlines() == [
        "catalogue: service 'security_gateway' field 'secrets': missing required secret 'JWT_SECRET' "
        "(set catalogue_secrets.security_gateway.JWT_SECRET)",
        "catalogue: service 'ha_bridge' field 'secrets': missing required secret 'HA_TOKEN' "
        "(set catalogue_secrets.ha_bridge.HA_TOKEN)",
    ]
    assert exc.field == "secrets"


def test_secret_values_never_in_messages(shipped):
    secrets = full_secrets(shipped)
    secrets["grok_integration"]["GROK_API_KEY"] = ""
    message, _exc = only_error(shipped, secrets=secrets)
    for values in secrets.values():
        for value in values.values():
            if value:
                assert value not in message


def test_mqtt_password_always_required(shipped):
    secrets = full_secrets(shipped)
    del secrets["device_control"]
    message, _exc = only_error(shipped, secrets=secrets)
    assert message == ("catalogue: service 'device_control' field 'secrets': missing required secret "
                       "'MQTT_PASSWORD' (set catalogue_secrets.device_control.MQTT_PASSWORD)")


def test_unknown_runtime(resolve):
    message, _exc = only_error(resolve({"tts_service": {"runtime": "kubernetes"}}))
    assert message == ("catalogue: service 'tts_service' field 'runtime': unknown runtime 'kubernetes' "
                       "(known: systemd, supervisor, manual, docker)")


def test_runtimes_parameter(resolve):
    catalogue = resolve({"tts_service": {"runtime": "kubernetes"}})
    # A runtime the caller knows but the service role does not deploy, or an unknown one.
    message, _exc = only_error(catalogue, runtimes=("systemd", "docker", "kubernetes"))
    assert message.startswith("catalogue: service 'tts_service' field 'runtime': runtime 'kubernetes' is not "
                              "supported for services yet (supported: systemd, supervisor, manual, docker)"), message
    message, _exc = only_error(catalogue, runtimes=("systemd",))
    assert "field 'runtime': unknown runtime 'kubernetes' (known: systemd)" in message


@pytest.mark.parametrize("value", ["weak", "", None, 3])
def test_bad_dependency_type(resolve, value):
    catalogue = resolve({"voice_router": {"depends_on": {"stt_service": {"type": "required"}}}})
    catalogue["voice_router"]["depends_on"]["stt_service"]["type"] = value
    message, _exc = only_error(catalogue)
    assert ("catalogue: service 'voice_router' field 'depends_on': dependency 'stt_service' has type %r: "
            "use required or optional" % (value,)) in message


@pytest.mark.parametrize("value", [0, -2, "2", 1.5, None, True])
def test_bad_instances(resolve, value):
    message, _exc = only_error(resolve({"stt_service": {"instances": value}}))
    assert message == "catalogue: service 'stt_service' field 'instances': must be an integer >= 1, got %r" % (value,)


@pytest.mark.parametrize("health,field,text", [
    ("yes", "health", "must be a mapping or null, got str"),
    ({"path": "health"}, "health.path", "must be a string starting with '/', got 'health'"),
    ({"path": "/health", "status": 999}, "health.status", "must be an HTTP status 100-599, got 999"),
    ({"path": "/health", "timeout": 0}, "health.timeout", "must be a positive number of seconds, got 0"),
    ({"path": "/health", "json_field": ""}, "health.json_field", "must be a non-empty string or null, got ''"),
    ({"path": "/health", "expect": 200}, "health", "unknown key(s) expect"),
])
def test_malformed_health(resolve, health, field, text):
    catalogue = resolve()
    catalogue["metrics_collector"]["health"] = health
    message, _exc = only_error(catalogue)
    assert message == "catalogue: service 'metrics_collector' field '%s': %s" % (field, text)


def test_health_null_is_allowed(resolve):
    assert cat.errors(resolve({"metrics_collector": {"health": None}})) == []


def test_dependency_timeout(resolve):
    message, _exc = only_error(resolve({"voice_router": {"depends_on": {"stt_service": {"timeout": "soon"}}}}))
    assert message == ("catalogue: service 'voice_router' field 'depends_on': dependency 'stt_service' timeout "
                       "must be a positive number, got 'soon'")


def test_require_groups(shipped):
    groups = {"alicia_broker": ["b1"], "alicia_core": ["c1"]}
    assert cat.errors(shipped, groups=groups) == []
    found = cat.errors(shipped, groups=groups, require_groups=True)
    assert "catalogue: service 'stt_service' field 'group': inventory group 'alicia_voice' has no hosts" in found
    assert not any("'security_gateway'" in line for line in found)


def test_all_errors_in_one_message_one_per_line(resolve):
    catalogue = resolve({
        "voice_router": {"depends_on": {"stt": {"type": "required"}}, "port": 8001},
        "tts_service": {"runtime": "k8s", "instances": 0},
        "sonos_service": {"phase": "audio"},
    })
    message, exc = only_error(catalogue)
    lines = message.splitlines()
    assert lines == exc.errors
    assert len(lines) == 5
    assert all(re.match(r"^catalogue: service '[a-z_]+' field '[a-z_.]+': ", line) for line in lines)
    # grouped by service, in catalogue order
    services = [line.split("'")[1] for line in lines]
    assert services == ["tts_service", "tts_service", "voice_router", "voice_router", "sonos_service"]
    assert exc.service == "tts_service"


def test_not_a_mapping():
    assert cat.errors(["a"]) == [
        "catalogue: the resolved catalogue must be a mapping of service name to entry, got list"]
    assert cat.errors({}, phases="core") == ["catalogue: phases must be a list of phase names, got 'core'"]
    with pytest.raises(CatalogueError, match="phases must be a list of phase names, got 'core'"):
        cat.resolve({}, phases="core")
    with pytest.raises(CatalogueError, match="service 'stt_service': entry must be a mapping"):
        cat.resolve({"stt_service": "port 8001"})


def test_overrides_merge_recursively(resolve):
    catalogue = resolve({"stt_service": {"resources": {"memory_limit": "2G"}, "env": {"MODEL": "small"}}})
    entry = catalogue["stt_service"]
    assert entry["resources"] == {"cpu_limit": 2.0, "memory_limit": "2G", "cpu_reservation": 1.0,
                                  "memory_reservation": "512M"}
    assert entry["env"]["MODEL"] == "small"
    assert entry["env"]["SERVICE_PORT"] == "8001"


# ---------------------------------------------------------------------------
# order and phases
# ---------------------------------------------------------------------------

def test_order_of_shipped_catalogue_is_seed_order(shipped):
    assert cat.order(shipped) == SEED_ORDER


def test_order_puts_dependencies_first_within_a_phase(resolve):
    # voice_router is declared before its dependencies in this catalogue.
    catalogue = resolve({"stt_service": {"depends_on": {"tts_service": {"type": "required"}}}})
    names = cat.order(catalogue)
    assert names.index("tts_service") < names.index("stt_service")
    voice = [n for n in names if catalogue[n]["phase"] == "voice"]
    assert voice == ["ai_service", "tts_service", "stt_service", "voice_router"]


def test_order_is_phase_first_even_with_optional_later_dependency(shipped):
    names = cat.order(shipped)
    assert names.index("ai_service") < names.index("grok_integration")
    ranks = [shipped[n]["phase_index"] for n in names]
    assert ranks == sorted(ranks)


def test_order_is_stable(resolve, catalogue_defaults):
    services = dict(reversed(list(catalogue_defaults["catalogue_services"].items())))
    catalogue = resolve(services=services)
    names = cat.order(catalogue)
    core = [n for n in names if catalogue[n]["phase"] == "core"]
    # the broker first (every service requires it), then reversed catalogue order
    assert core == ["mqtt_broker", "config_service", "device_registry", "security_gateway"]
    assert cat.order(catalogue) == names


def test_order_raises_on_cycle(resolve):
    catalogue = resolve({"stt_service": {"depends_on": {"voice_router": "required"}}})
    with pytest.raises(CatalogueError, match=r"dependency cycle stt_service -> voice_router -> stt_service"):
        cat.order(catalogue)


def test_phase_services(shipped):
    entries = cat.phase_services(shipped, "voice")
    assert [e["name"] for e in entries] == ["stt_service", "ai_service", "tts_service", "voice_router"]
    assert cat.phase_services(shipped, "core", names_only=True) == [
        "mqtt_broker", "security_gateway", "device_registry", "config_service"]
    with pytest.raises(CatalogueError, match="unknown phase 'audio'"):
        cat.phase_services(shipped, "audio")


# ---------------------------------------------------------------------------
# health endpoints
# ---------------------------------------------------------------------------

def test_health_endpoints_per_host(shipped):
    groups = {"alicia_voice": ["v1", "v2"], "alicia_core": ["c1"], "alicia_broker": ["c1"]}
    hostvars = {"v1": {"ansible_host": "10.0.0.11"}, "v2": {"ansible_host": "10.0.0.12", "service_ip": "10.1.0.12"},
                "c1": {}}
    endpoints = cat.health_endpoints(shipped, hostvars, groups)
    assert len(endpoints) == 4 * 2 + 3
    assert endpoints[0] == {"service": "security_gateway", "host": "c1", "url": "http://c1:8009/health",
                            "expect_status": 200, "json_field": "status", "json_value": "healthy", "timeout": 5}
    voice = cat.health_endpoints(shipped, hostvars, groups, services=["voice"], address_var="service_ip")
    assert [(e["service"], e["url"]) for e in voice[:2]] == [
        ("stt_service", "http://10.0.0.11:8001/health"), ("stt_service", "http://10.1.0.12:8001/health")]
    # The collection's address convention (inventories/lab sets it) wins over ansible_host by default.
    hostvars["v1"]["alicia_address"] = "172.30.57.3"
    lab = cat.health_endpoints(shipped, hostvars, groups, services=["voice"])
    assert lab[0]["url"] == "http://172.30.57.3:8001/health"
    assert lab[1]["url"] == "http://10.0.0.12:8001/health"
    only = cat.health_endpoints(shipped, hostvars, groups, services="tts_service", hosts=["v2"])
    assert [(e["service"], e["host"]) for e in only] == [("tts_service", "v2")]


def test_health_endpoints_skip_broker_and_null_health(resolve):
    catalogue = resolve({"stt_service": {"health": None}})
    names = [e["service"] for e in cat.health_endpoints(catalogue)]
    assert "mqtt_broker" not in names and "stt_service" not in names
    assert len(names) == 21
    assert all(e["host"] == "localhost" for e in cat.health_endpoints(catalogue))


def test_health_endpoints_ipv6_and_unknown(shipped):
    endpoints = cat.health_endpoints(shipped, {"h": {"ansible_host": "fd00::5"}}, {"alicia_voice": ["h"]},
                                     services=["ai_service"])
    assert endpoints[0]["url"] == "http://[fd00::5]:8002/health"
    with pytest.raises(CatalogueError, match="unknown service or phase 'nope'"):
        cat.health_endpoints(shipped, {}, {}, services=["nope"])


# ---------------------------------------------------------------------------
# service env
# ---------------------------------------------------------------------------

def test_service_env(shipped):
    secrets = full_secrets(shipped)
    env = cat.service_env(shipped, "security_gateway", secrets, "10.0.0.10")
    assert env["MQTT_BROKER"] == "10.0.0.10"
    assert env["MQTT_PORT"] == "1883"
    assert env["MQTT_USERNAME"] == "security_gateway"
    assert env["MQTT_PASSWORD"] == "x-security_gateway-MQTT_PASSWORD"
    assert env["JWT_SECRET"] == "x-security_gateway-JWT_SECRET"
    assert env["SECURITY_GATEWAY_PORT"] == "8009"
    assert env["ENVIRONMENT"] == "production"
    assert all(isinstance(v, str) for v in env.values())


def test_service_env_uses_published_broker_port(resolve, shipped):
    catalogue = resolve({"mqtt_broker": {"port": 1884, "listen_port": 1883}})
    env = cat.service_env(catalogue, "stt_service", full_secrets(shipped), "broker.lab")
    assert env["MQTT_PORT"] == "1884"


def test_service_env_errors(shipped):
    with pytest.raises(CatalogueError) as info:
        cat.service_env(shipped, "ha_bridge", {"ha_bridge": {"MQTT_PASSWORD": "p"}}, "b")
    assert str(info.value) == ("catalogue: service 'ha_bridge' field 'secrets': missing required secret 'HA_TOKEN' "
                               "(set catalogue_secrets.ha_bridge.HA_TOKEN)")
    with pytest.raises(CatalogueError, match="unknown service 'nope'"):
        cat.service_env(shipped, "nope", {}, "b")
    with pytest.raises(CatalogueError, match="broker_host is required"):
        cat.service_env(shipped, "stt_service", full_secrets(shipped), None)


# ---------------------------------------------------------------------------
# graph
# ---------------------------------------------------------------------------

def test_graph_mermaid(shipped):
    text = cat.graph(shipped)
    assert "flowchart TD" in text
    for i, phase in enumerate(["core", "management", "voice", "devices", "advanced", "observability"]):
        assert '  subgraph phase_%s["%d. %s"]' % (phase, i + 1, phase) in text
    assert "  svc_config_service --> svc_configuration_manager" in text          # required: solid
    assert "  svc_grok_integration -.-> svc_ai_service" in text                 # optional: dashed
    assert "svc_mqtt_broker --> svc_" not in text
    assert (text.count(" --> "), text.count(" -.-> ")) == (16, 9)
    assert "  %% every service also requires mqtt_broker" in text
    assert cat.graph(shipped) == text  # deterministic


def test_graph_dot(shipped):
    text = cat.graph(shipped, fmt="dot", broker_edges=True)
    assert text.startswith("digraph alicia {")
    assert text.count("subgraph cluster_") == 6
    assert "  config_service -> configuration_manager;" in text
    # an optional dependency on a later phase: dashed, and it does not pull the phases out of order
    assert "  grok_integration -> ai_service [style=dashed, constraint=false];" in text
    assert "  service_orchestrator -> stt_service [style=invis];" in text  # phases kept top to bottom
    assert "  mqtt_broker -> stt_service;" in text
    with pytest.raises(CatalogueError, match="graph format must be 'mermaid' or 'dot'"):
        cat.graph(shipped, fmt="png")


def test_native_copy_is_plain_and_deep():
    class Tagged(str):
        pass
    source = {Tagged("a"): [Tagged("x"), {"b": (1, 2.5, True, None)}]}
    copied = cat.native(source)
    assert copied == {"a": ["x", {"b": [1, 2.5, True, None]}]}
    assert type(list(copied)[0]) is str and type(copied["a"][0]) is str
    copied["a"][1]["b"].append(3)
    assert source[Tagged("a")][1]["b"] == (1, 2.5, True, None)
