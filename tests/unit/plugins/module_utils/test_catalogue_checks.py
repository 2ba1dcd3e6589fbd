# -*- coding: utf-8 -*-
"""The resolver's unit, log, resources, firewall and packages fields, and the
catalogue checks of resources, MQTT, env, secrets, firewall, log, unit and
packages: each message names the service and the field."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat


def problems(catalogue, **kwargs):
    return cat.errors(catalogue, **kwargs)


def one(catalogue, **kwargs):
    found = problems(catalogue, **kwargs)
    assert len(found) == 1, found
    return found[0]


def secrets_for(catalogue):
    return dict((name, dict((key, "v-%s-%s" % (name, key)) for key in entry["secrets"]))
                for name, entry in catalogue.items() if entry["secrets"])


# ---------------------------------------------------------------------------
# resolver
# ---------------------------------------------------------------------------

def test_every_entry_has_unit_packages_and_log(shipped):
    for name, entry in shipped.items():
        assert entry["unit"] == ("mosquitto.service" if entry["kind"] == "broker" else "alicia-%s.service" % name)
        assert isinstance(entry["packages"], list)
        assert entry["log"]["path"].startswith("/")
    assert shipped["stt_service"]["packages"] == ["python3-paho-mqtt"]  # the reference artifact
    assert shipped["stt_service"]["log"] == {"path": "/var/log/alicia/stt_service.log", "reopen": "copytruncate"}


def test_broker_entry_from_the_catalogue(shipped):
    broker = shipped["mqtt_broker"]
    assert broker["log"] == {"path": "/var/log/mosquitto/mosquitto.log", "reopen": "signal"}
    assert broker["resources"] == {"cpu_limit": 1.0, "memory_limit": "256M", "cpu_reservation": 0.25,
                                   "memory_reservation": "64M"}
    assert broker["firewall"] == {"allow_from": "platform"}
    assert broker["packages"] == ["mosquitto", "python3-paho-mqtt", "python3-cryptography"]
    # Still none of the service-only defaults.
    assert "artifact" not in broker and broker["health"] is None and broker["mqtt"] is None


def test_broker_without_catalogue_fields_gets_mosquitto_defaults_and_service_defaults(catalogue_defaults):
    d = catalogue_defaults
    catalogue = cat.resolve({"mqtt_broker": {"kind": "broker", "phase": "core", "port": 1883}},
                            defaults=d["catalogue_service_defaults"])
    broker = catalogue["mqtt_broker"]
    assert broker["unit"] == "mosquitto.service"
    assert broker["log"] == {"path": "/var/log/mosquitto/mosquitto.log", "reopen": "signal"}
    assert broker["packages"] == ["mosquitto", "python3-paho-mqtt", "python3-cryptography"]
    assert broker["resources"] == d["catalogue_service_defaults"]["resources"]
    assert broker["firewall"] == {"allow_from": "platform"}
    assert cat.errors(catalogue) == []


def test_overrides_reach_the_new_fields(resolve):
    catalogue = resolve({
        "mqtt_broker": {"resources": {"memory_limit": "512M"}, "log": {"path": "/srv/mosquitto.log"},
                        "packages": ["mosquitto"]},
        "ha_bridge": {"unit": "ha-bridge.service", "packages": ["python3-aiohttp"]},
    })
    broker = catalogue["mqtt_broker"]
    assert broker["resources"]["memory_limit"] == "512M" and broker["resources"]["cpu_reservation"] == 0.25
    assert broker["log"] == {"path": "/srv/mosquitto.log", "reopen": "signal"}
    assert broker["packages"] == ["mosquitto"]
    assert catalogue["ha_bridge"]["unit"] == "ha-bridge.service"
    assert catalogue["ha_bridge"]["packages"] == ["python3-aiohttp"]
    assert cat.errors(catalogue) == []


def test_shipped_catalogue_passes_every_check_with_secrets_and_one_host(shipped):
    groups = dict((entry["group"], ["lab1"]) for entry in shipped.values())
    assert cat.errors(shipped, groups=groups, secrets=secrets_for(shipped)) == []


# ---------------------------------------------------------------------------
# resources
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key,value", [
    ("cpu_limit", 0), ("cpu_limit", -1), ("cpu_limit", "2"), ("cpu_limit", True), ("cpu_limit", None),
    ("cpu_reservation", float("nan")), ("cpu_reservation", -0.5),
])
def test_bad_cpu(resolve, key, value):
    message = one(resolve({"stt_service": {"resources": {key: value}}}))
    assert message == ("catalogue: service 'stt_service' field 'resources.%s': must be a positive number of CPU "
                       "cores (for example 0.5 or 2), got %r" % (key, value))


@pytest.mark.parametrize("key,value", [
    ("memory_limit", 0), ("memory_limit", "0M"), ("memory_limit", -512), ("memory_limit", "-1G"),
    ("memory_limit", "lots"), ("memory_limit", "512 M"), ("memory_limit", "1.5G"), ("memory_limit", 1.5),
    ("memory_reservation", "64MB"), ("memory_reservation", ""), ("memory_reservation", True),
])
def test_bad_memory(resolve, key, value):
    catalogue = resolve({"stt_service": {"resources": {key: value}}})
    message = one(catalogue)
    assert message == ("catalogue: service 'stt_service' field 'resources.%s': must be a positive size: bytes, or a "
                       "whole number with K, M, G or T (512M, 1G), got %r" % (key, value))


@pytest.mark.parametrize("resources", [
    {"cpu_limit": 0.5, "cpu_reservation": 0.5, "memory_limit": 1073741824, "memory_reservation": "1G"},
    {"cpu_limit": 2, "cpu_reservation": 0.1, "memory_limit": "64k", "memory_reservation": "64K"},
    {"memory_limit": "2T", "memory_reservation": "512"},
])
def test_good_resources(resolve, resources):
    assert problems(resolve({"stt_service": {"resources": resources}})) == []


def test_reservation_above_limit(resolve):
    catalogue = resolve({"tts_service": {"resources": {"cpu_limit": 0.5, "cpu_reservation": 1,
                                                       "memory_limit": "512M", "memory_reservation": "1G"}}})
    assert problems(catalogue) == [
        "catalogue: service 'tts_service' field 'resources.cpu_reservation': 1 is above resources.cpu_limit 0.5",
        "catalogue: service 'tts_service' field 'resources.memory_reservation': '1G' is above "
        "resources.memory_limit '512M'",
    ]


def test_broker_resources_are_checked(resolve):
    message = one(resolve({"mqtt_broker": {"resources": {"memory_reservation": "1G"}}}))
    assert message == ("catalogue: service 'mqtt_broker' field 'resources.memory_reservation': '1G' is above "
                       "resources.memory_limit '256M'")


def test_unknown_resource_key_and_wrong_type(resolve):
    message = one(resolve({"ai_service": {"resources": {"gpu": 1}}}))
    assert message == ("catalogue: service 'ai_service' field 'resources': unknown key(s) gpu (known: cpu_limit, "
                       "memory_limit, cpu_reservation, memory_reservation)")
    message = one(resolve({"ai_service": {"resources": "small"}}))
    assert message.startswith("catalogue: service 'ai_service' field 'resources': must be a mapping of cpu_limit")


# ---------------------------------------------------------------------------
# mqtt
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["a+b", "a#", "alicia/stt", "stt service", "tab\there", "new\nline", "bell\x07",
                                      "ünï"])
def test_bad_mqtt_username(resolve, username):
    catalogue = resolve({"stt_service": {"mqtt": {"username": username}}})
    # (A username with a line break also breaks the env's MQTT_USERNAME: reported too.)
    [message] = [m for m in problems(catalogue) if "'mqtt.username'" in m]
    assert message == ("catalogue: service 'stt_service' field 'mqtt.username': invalid username %r: use only "
                       "A-Z, a-z, 0-9 and _ . @ - (no +, #, /, spaces or control characters)" % (username,))
    assert "\n" not in message


def test_non_string_mqtt_username(resolve):
    catalogue = resolve()
    catalogue["stt_service"]["mqtt"]["username"] = 42
    assert one(catalogue) == "catalogue: service 'stt_service' field 'mqtt.username': must be a non-empty string, got 42"


def test_duplicate_usernames_name_both_services(resolve):
    catalogue = resolve({"tts_service": {"mqtt": {"username": "voice"}}, "voice_router": {"mqtt": {"username": "voice"}},
                         "ai_service": {"mqtt": {"username": "stt_service"}}})
    assert problems(catalogue) == [
        "catalogue: service 'ai_service' field 'mqtt.username': username 'stt_service' already used by service "
        "'stt_service'",
        "catalogue: service 'voice_router' field 'mqtt.username': username 'voice' already used by service "
        "'tts_service'",
    ]


@pytest.mark.parametrize("topic,text", [
    ("", "empty topic"),
    ("alicia/#/x", "invalid topic 'alicia/#/x': '#' only as the whole last level"),
    ("alicia/x#", "invalid topic 'alicia/x#': '#' only as the whole last level"),
    ("alicia/+x/y", "invalid topic 'alicia/+x/y': '+' only as a whole level"),
    ("alicia/a+", "invalid topic 'alicia/a+': '+' only as a whole level"),
    ("alicia/with space", "topic 'alicia/with space' contains whitespace"),
    ("alicia/x\ntopic readwrite #", "topic 'alicia/x\\ntopic readwrite #' contains a control character "
                                    "(newline, NUL...)"),
    ("alicia/nul\x00", "topic 'alicia/nul\\x00' contains a control character (newline, NUL...)"),
    ("alicia/del\x7f", "topic 'alicia/del\\x7f' contains a control character (newline, NUL...)"),
    ("a" * 65536, "topic is 65536 bytes long in UTF-8 (at most 65535)"),
    ("é" * 32768, "topic is 65536 bytes long in UTF-8 (at most 65535)"),
    (7, "topic must be a string, got 7"),
])
def test_bad_topics(resolve, topic, text):
    catalogue = resolve()
    catalogue["device_manager"]["mqtt"]["subscribe"].append(topic)
    assert one(catalogue) == "catalogue: service 'device_manager' field 'mqtt.subscribe': %s" % text


@pytest.mark.parametrize("topic", ["#", "+", "+/+/#", "alicia/+/metrics", "/leading", "a//b", "$SYS/#",
                                   "alicia/ünïcödé", "a" * 65535])
def test_good_topics(resolve, topic):
    catalogue = resolve({"device_manager": {"mqtt": {"publish": [topic]}}})
    assert problems(catalogue) == []


def test_topic_list_and_mqtt_of_the_wrong_type(resolve):
    catalogue = resolve({"device_manager": {"mqtt": {"publish": "alicia/devices/#"}}})
    assert one(catalogue) == "catalogue: service 'device_manager' field 'mqtt.publish': must be a list of topics, got str"
    catalogue = resolve({"device_manager": {"mqtt": ["alicia/devices/#"]}})
    assert one(catalogue) == ("catalogue: service 'device_manager' field 'mqtt': must be a mapping "
                              "{username, publish, subscribe}, got list")


# ---------------------------------------------------------------------------
# env and secrets
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["BAD-NAME", "1ST", "WITH SPACE", "", "NÄME"])
def test_bad_env_name(resolve, name):
    message = one(resolve({"ha_bridge": {"env": {name: "x"}}}))
    assert message == ("catalogue: service 'ha_bridge' field 'env': invalid variable name %r: use A-Z, a-z, 0-9 "
                       "and _, not starting with a digit" % (name,))


@pytest.mark.parametrize("value", ["line\nEVIL=1", "cr\r", "nul\x00"])
def test_env_value_with_line_break(resolve, value):
    message = one(resolve({"ha_bridge": {"env": {"HA_URL": value}}}))
    assert message == ("catalogue: service 'ha_bridge' field 'env.HA_URL': value contains a newline, carriage return "
                       "or NUL (not allowed in an environment file)")


def test_shared_environment_is_checked_per_service(resolve, catalogue_defaults):
    d = catalogue_defaults
    environment = dict(d["catalogue_environment"], LOG_LEVEL="INFO\nDEBUG=true")
    catalogue = cat.resolve(d["catalogue_services"], defaults=d["catalogue_service_defaults"],
                            environment=environment, phases=d["catalogue_phases"])
    found = problems(catalogue)
    assert len(found) == 22
    assert found[0] == ("catalogue: service 'security_gateway' field 'env.LOG_LEVEL': value contains a newline, "
                        "carriage return or NUL (not allowed in an environment file)")


@pytest.mark.parametrize("name", ["jwt-secret", "2FA", "A B"])
def test_bad_secret_name(resolve, name):
    message = one(resolve({"security_gateway": {"secrets": ["JWT_SECRET", name]}}))
    assert message == ("catalogue: service 'security_gateway' field 'secrets': invalid secret name %r: use A-Z, "
                       "a-z, 0-9 and _, not starting with a digit" % (name,))


def test_secrets_of_the_wrong_type(resolve):
    message = one(resolve({"security_gateway": {"secrets": "JWT_SECRET"}}))
    assert message == ("catalogue: service 'security_gateway' field 'secrets': must be a list of environment "
                       "variable names, got str")


@pytest.mark.parametrize("value", ["hunter2\nMQTT_USERNAME=admin", "hunter2\r", "hunter\x002"])
def test_secret_value_with_line_break_names_the_secret_never_the_value(shipped, value):
    secrets = secrets_for(shipped)
    secrets["ha_bridge"]["HA_TOKEN"] = value
    message = one(shipped, secrets=secrets)
    assert message == ("catalogue: service 'ha_bridge' field 'secrets': secret 'HA_TOKEN' contains a newline, "
                       "carriage return or NUL (not allowed in an environment file)")
    assert "hunter" not in message


def test_service_env_refuses_a_secret_with_a_line_break(shipped):
    secrets = secrets_for(shipped)
    secrets["stt_service"]["MQTT_PASSWORD"] = "pw\nX=1"
    with pytest.raises(cat.CatalogueError) as info:
        cat.service_env(shipped, "stt_service", secrets, "broker")
    assert "secret 'MQTT_PASSWORD' contains a newline" in str(info.value) and "pw" not in str(info.value)


# ---------------------------------------------------------------------------
# firewall, log, unit, packages
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("allow_from", ["platform", "clients", "any", None, ["10.0.0.0/8"],
                                        ["192.0.2.7", "2001:db8::/32", "fd00::1", "10.1.2.3/8"]])
def test_good_allow_from(resolve, allow_from):
    assert problems(resolve({"config_service": {"firewall": {"allow_from": allow_from}}})) == []


@pytest.mark.parametrize("allow_from,tail", [
    ("everyone", '"everyone"'),
    ("", '""'),
    ([], "[]"),
    ({"cidr": "10.0.0.0/8"}, '{"cidr": "10.0.0.0/8"}'),
    (["10.0.0.0/33", "10.0.0.0/8", "host.example", "fe80::1%eth0", 10],
     '["10.0.0.0/33", "10.0.0.0/8", "host.example", "fe80::1%eth0", 10]; not valid: 10.0.0.0/33, host.example, '
     'fe80::1%eth0, 10'),
])
def test_bad_allow_from(resolve, allow_from, tail):
    message = one(resolve({"config_service": {"firewall": {"allow_from": allow_from}}}))
    assert message == ("catalogue: service 'config_service' field 'firewall.allow_from': must be one of platform, "
                       "clients, any or a non-empty list of IPv4/IPv6 addresses or CIDRs, got %s" % tail)


def test_firewall_not_a_mapping(resolve):
    assert one(resolve({"config_service": {"firewall": "clients"}})) == (
        "catalogue: service 'config_service' field 'firewall': must be a mapping {allow_from}, got str")


@pytest.mark.parametrize("log,field,text", [
    ({"path": "var/log/x.log"}, "log.path", "must be an absolute path, got 'var/log/x.log'"),
    ({"path": None}, "log.path", "must be an absolute path, got None"),
    ({"path": "/var/log/my log"}, "log.path", "path '/var/log/my log' must not contain whitespace or control "
                                              "characters"),
    ({"path": "/var/log/x.log\n/etc/shadow"}, "log.path", "path '/var/log/x.log\\n/etc/shadow' must not contain "
                                                          "whitespace or control characters"),
    ({"reopen": "restart"}, "log.reopen", "must be copytruncate or signal, got 'restart'"),
])
def test_bad_log(resolve, log, field, text):
    assert one(resolve({"tts_service": {"log": log}})) == "catalogue: service 'tts_service' field '%s': %s" % (field,
                                                                                                              text)


def test_broker_log_checked_and_log_not_a_mapping(resolve):
    assert one(resolve({"mqtt_broker": {"log": {"reopen": "copy"}}})) == (
        "catalogue: service 'mqtt_broker' field 'log.reopen': must be copytruncate or signal, got 'copy'")
    assert one(resolve({"tts_service": {"log": "/var/log/tts.log"}})) == (
        "catalogue: service 'tts_service' field 'log': must be a mapping {path, reopen}, got str")


@pytest.mark.parametrize("unit", ["alicia tts.service", "tts", "", 3, "tts.service\n"])
def test_bad_unit(resolve, unit):
    catalogue = resolve({"tts_service": {"unit": unit}})
    assert one(catalogue) == ("catalogue: service 'tts_service' field 'unit': must be a systemd service unit name such "
                              "as alicia-voice_router.service, got %r" % (unit,))


@pytest.mark.parametrize("packages,text", [
    (["Mosquitto"], "invalid Debian package name 'Mosquitto'"),
    (["mosquitto; rm -rf /"], "invalid Debian package name 'mosquitto; rm -rf /'"),
    ([""], "invalid Debian package name ''"),
    ("mosquitto", "must be a list of Debian package names, got str"),
])
def test_bad_packages(resolve, packages, text):
    assert one(resolve({"mqtt_broker": {"packages": packages}})) == (
        "catalogue: service 'mqtt_broker' field 'packages': %s" % text)


def test_good_packages(resolve):
    catalogue = resolve({"stt_service": {"packages": ["libsndfile1", "python3-numpy", "g++", "libc6:amd64",
                                                      "mosquitto=2.0.11-1.2+deb12u1"]}})
    assert problems(catalogue) == []


def test_messages_grouped_by_service_in_catalogue_order(resolve):
    catalogue = resolve({
        "event_scheduler": {"log": {"reopen": "x"}},
        "stt_service": {"resources": {"cpu_limit": 0}, "mqtt": {"publish": ["a/#/b"]}},
    })
    services = [message.split("'")[1] for message in problems(catalogue)]
    assert services == ["stt_service", "stt_service", "event_scheduler"]


class Vaulted(object):
    """Stands in for a vault-encrypted string (AnsibleVaultEncryptedUnicode
    on ansible-core 2.17/2.18, EncryptedString on 2.19): not a str, its text
    by str()."""

    _ciphertext = "$ANSIBLE_VAULT;1.1;AES256\n3031"

    def __init__(self, text):
        self._text = text

    def __str__(self):
        return self._text


def test_vaulted_values_are_their_text(shipped):
    assert cat.native({"a": [Vaulted("pw")]}) == {"a": ["pw"]}
    assert type(cat.native(Vaulted("pw"))) is str
    secrets = secrets_for(shipped)
    secrets["ha_bridge"]["HA_TOKEN"] = Vaulted("token\nX=1")
    secrets["stt_service"]["MQTT_PASSWORD"] = Vaulted("")
    assert problems(shipped, secrets=secrets) == [
        "catalogue: service 'stt_service' field 'secrets': missing required secret 'MQTT_PASSWORD' "
        "(set catalogue_secrets.stt_service.MQTT_PASSWORD)",
        "catalogue: service 'ha_bridge' field 'secrets': secret 'HA_TOKEN' contains a newline, carriage return or NUL "
        "(not allowed in an environment file)",
    ]
    secrets["stt_service"]["MQTT_PASSWORD"] = Vaulted("pw")
    assert cat.service_env(shipped, "stt_service", secrets, "b")["MQTT_PASSWORD"] == "pw"


# ---- listen_port: what the process binds (test_catalogue_listen_port.py) --------

def test_two_host_network_services_binding_one_port_on_one_host_clash(resolve):
    # A host-network runtime binds its port (listen_port may not differ): the clash is on port.
    catalogue = resolve({"stt_service": {"port": 9100}, "ai_service": {"port": 9100, "listen_port": 9100}})
    groups = {"alicia_voice": ["v1"], "alicia_broker": ["b1"]}
    found = [m for m in cat.errors(catalogue, groups=groups) if "9100" in m]
    assert found == ["catalogue: service 'ai_service' field 'port': port 9100 on host 'v1' already used by "
                     "service 'stt_service'"]


def test_a_listen_port_that_is_another_services_port_is_refused_once(resolve):
    catalogue = resolve({"ai_service": {"listen_port": 8001}})  # stt_service's published port
    found = [m for m in cat.errors(catalogue, groups={"alicia_voice": ["v1"]}) if "8001" in m]
    assert found == ["catalogue: service 'ai_service' field 'listen_port': listen_port 8001 differs from port 8002, "
                     "which only the docker runtime can map (runtime systemd binds the port it is reached at: set "
                     "port to 8001, or drop listen_port)"]


def test_ports_may_repeat_across_hosts_and_listen_ports_inside_containers(resolve):
    catalogue = resolve({"stt_service": {"port": 9100}, "health_monitor": {"port": 9100, "listen_port": 9100},
                         "ai_service": {"listen_port": 9100, "runtime": "docker"}})
    groups = {"alicia_voice": ["v1"], "alicia_management": ["m1"]}
    assert not [m for m in cat.errors(catalogue, groups=groups) if "9100" in m]


# ---- systemd: per-service unit options land verbatim in the unit ----------------

def test_systemd_overrides_are_one_line_options(resolve):
    catalogue = resolve({"stt_service": {"systemd": {"MemoryDenyWriteExecute": "no",
                                                     "SystemCallFilter": ["@system-service", "~@mount"]}}})
    assert not [m for m in cat.errors(catalogue) if "systemd" in m]


@pytest.mark.parametrize("options,message", [
    ({"ExecStartPre": "/bin/true\nExecStartPost=/bin/sh -c evil"}, "field 'systemd.ExecStartPre': each value must be one line"),
    ({"ProtectSystem": ["strict", "full\nUser=root"]}, "field 'systemd.ProtectSystem': each value must be one line"),
    ({"protect system": "yes"}, "field 'systemd.protect system': not a systemd option name"),
    ({"Nested": {"a": 1}}, "field 'systemd.Nested': each value must be one line"),
])
def test_systemd_overrides_cannot_inject_lines(resolve, options, message):
    catalogue = resolve({"stt_service": {"systemd": options}})
    assert any(message in m and "service 'stt_service'" in m for m in cat.errors(catalogue)), cat.errors(catalogue)


def test_systemd_must_be_a_mapping(resolve):
    catalogue = resolve({"stt_service": {"systemd": ["NoNewPrivileges=no"]}})
    assert "catalogue: service 'stt_service' field 'systemd': must be a mapping of unit option to value, got list" in \
        cat.errors(catalogue)


# ---- what the service role deploys: unsupported choices fail preflight -------------

def test_shipped_services_use_the_reference_artifact_under_systemd(shipped):
    assert all(e["artifact"] == {"type": "reference"} and e["runtime"] == "systemd"
               for e in shipped.values() if e["kind"] == "service")


@pytest.mark.parametrize("override,message", [
    ({"restart": {"stop_timeout": 0}}, "field 'restart.stop_timeout': must be a whole number of seconds 1-3600"),
    ({"runtime": "docker", "artifact": {"type": "command", "command": "/usr/bin/stt"}},
     "field 'artifact.type': 'command' (an executable already on the host) runs with runtime systemd only"),
    ({"artifact": {"type": "archive"}}, "field 'artifact.type': 'archive' is not supported"),
    ({"artifact": {"type": "command"}}, "field 'artifact.command': must be an absolute path"),
    ({"artifact": {"type": "command", "command": "stt --serve"}}, "field 'artifact.command': must be an absolute path"),
    ({"artifact": {"type": "command", "command": "/usr/bin/stt\nExecStartPre=/bin/sh"}}, "field 'artifact.command'"),
])
def test_unsupported_runtime_or_artifact_fails_naming_the_field(resolve, override, message):
    found = cat.errors(resolve({"stt_service": override}))
    assert any("service 'stt_service'" in m and message in m for m in found), found


def test_a_command_artifact_is_accepted(resolve):
    catalogue = resolve({"stt_service": {"artifact": {"type": "command", "command": "/usr/local/bin/stt --port 8001"}}})
    assert not [m for m in cat.errors(catalogue) if "stt_service" in m]
