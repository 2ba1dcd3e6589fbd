# -*- coding: utf-8 -*-
"""broker_errors: the broker role's inputs against the catalogue; messages
name the variable and never hold a password or a TLS key."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils._broker import broker_errors
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError

ADMIN_PW = "s3cret-admin-pw"
MONITOR_PW = "s3cret-monitor-pw"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"

GOOD = {
    "broker": "mqtt_broker",
    "admin_username": "alicia_admin", "admin_password": ADMIN_PW,
    "monitor_username": "alicia_monitor", "monitor_password": MONITOR_PW,
    "tls_enabled": False, "tls_source": "generate",
    "tls_ca_content": "", "tls_cert_content": "", "tls_key_content": "",
    "runtime": "systemd", "config_dir": "/etc/mosquitto",
    "tls_ca_file": "/etc/mosquitto/certs/ca.crt", "tls_cert_file": "/etc/mosquitto/certs/server.crt",
    "tls_key_file": "/etc/mosquitto/certs/server.key",
    "check_enabled": True, "check_service": "",
}


def settings(**changes):
    result = dict(GOOD)
    result.update(changes)
    return result


def no_secret_in(found):
    text = "\n".join(found)
    for secret in (ADMIN_PW, MONITOR_PW, "MIIEvQ", "hunter"):
        assert secret not in text


def test_role_defaults_are_fine(shipped):
    assert broker_errors(shipped, GOOD) == []
    assert broker_errors(shipped, settings(check_service="stt_service", runtime="docker",
                                           tls_enabled=True, tls_source="content", tls_ca_content="ca",
                                           tls_cert_content="cert", tls_key_content=KEY)) == []


def test_broker_entry_missing_or_not_a_broker(shipped):
    assert broker_errors(shipped, settings(broker="mosquitto")) == [
        "broker: catalogue entry 'mosquitto' (catalogue_broker) is missing or not of kind 'broker'"]
    assert broker_errors(shipped, settings(broker="stt_service")) == [
        "broker: catalogue entry 'stt_service' (catalogue_broker) is missing or not of kind 'broker'"]


@pytest.mark.parametrize("key", ["admin_password", "monitor_password"])
def test_passwords_must_be_set(shipped, key):
    for value in ("", None):
        assert broker_errors(shipped, settings(**{key: value})) == ["broker: broker_%s: must be set (from Vault)" % key]
    missing = settings()
    del missing[key]
    assert broker_errors(shipped, missing) == ["broker: broker_%s: must be set (from Vault)" % key]
    assert broker_errors(shipped, settings(**{key: 1234})) == [
        "broker: broker_%s: must be a string (from Vault), got int" % key]
    found = broker_errors(shipped, settings(**{key: "hunter2\nalicia_admin:x"}))
    assert found == ["broker: broker_%s: must be a single line (no newline, carriage return or NUL)" % key]
    no_secret_in(found)


@pytest.mark.parametrize("username", ["admin user", "admin#", "a/b", "", "tab\t", None])
def test_admin_and_monitor_usernames(shipped, username):
    found = broker_errors(shipped, settings(admin_username=username))
    assert len(found) == 1 and found[0].startswith("broker: broker_admin_username: ")
    found = broker_errors(shipped, settings(monitor_username=username))
    assert len(found) == 1 and found[0].startswith("broker: broker_monitor_username: ")


def test_duplicate_usernames_across_accounts(shipped):
    assert broker_errors(shipped, settings(monitor_username="alicia_admin")) == [
        "broker: MQTT username 'alicia_admin' is used by more than one account: broker_admin_username, "
        "broker_monitor_username"]
    assert broker_errors(shipped, settings(admin_username="stt_service")) == [
        "broker: MQTT username 'stt_service' is used by more than one account: broker_admin_username, "
        "service 'stt_service'"]


def test_duplicate_service_usernames_and_bad_mqtt_data(resolve):
    catalogue = resolve({"tts_service": {"mqtt": {"username": "voice", "publish": ["alicia/tts/#/x"]}},
                         "voice_router": {"mqtt": {"username": "voice"}},
                         "ai_service": {"mqtt": {"username": "ai service"}}})
    assert broker_errors(catalogue, GOOD) == [
        "broker: MQTT username 'voice' is used by more than one account: service 'tts_service', service 'voice_router'",
        "catalogue: service 'ai_service' field 'mqtt.username': invalid username 'ai service': use only A-Z, a-z, "
        "0-9 and _ . @ - (no +, #, /, spaces or control characters)",
        "catalogue: service 'tts_service' field 'mqtt.publish': invalid topic 'alicia/tts/#/x': '#' only as the "
        "whole last level",
    ]


def test_service_mqtt_passwords_are_not_checked_here(shipped):
    # catalogue_errors(secrets=...) reports them: one place.
    assert broker_errors(shipped, GOOD) == []


@pytest.mark.parametrize("part", ["ca", "cert", "key"])
def test_tls_content_needs_all_three(shipped, part):
    contents = {"tls_ca_content": "ca", "tls_cert_content": "cert", "tls_key_content": KEY}
    contents["tls_%s_content" % part] = ""
    found = broker_errors(shipped, settings(tls_enabled=True, tls_source="content", **contents))
    assert found == ["broker: broker_tls_%s_content: must be set when broker_tls_source is 'content'" % part]
    no_secret_in(found)


def test_tls_not_checked_when_disabled(shipped):
    assert broker_errors(shipped, settings(tls_source="content", runtime="docker",
                                           tls_key_file="/srv/server.key")) == []


def test_tls_source_and_paths(shipped):
    assert broker_errors(shipped, settings(tls_enabled=True, tls_source="acme", tls_cert_file="certs/server.crt")) == [
        "broker: broker_tls_source: must be one of generate, content, files, got 'acme'",
        "broker: broker_tls_cert_file: must be an absolute path, got 'certs/server.crt'",
    ]


def test_docker_tls_files_under_config_dir(shipped):
    found = broker_errors(shipped, settings(tls_enabled=True, runtime="docker", config_dir="/etc/mosquitto/",
                                            tls_ca_file="/etc/ssl/ca.crt",
                                            tls_key_file="/etc/mosquitto/../ssl/server.key",
                                            tls_cert_file="/etc/mosquitto-other/server.crt"))
    assert found == [
        "broker: broker_tls_%s_file: %s must be under broker_config_dir (/etc/mosquitto/), the directory mounted into "
        "the container (broker_runtime docker)" % (part, path)
        for part, path in [("ca", "/etc/ssl/ca.crt"), ("cert", "/etc/mosquitto-other/server.crt"),
                           ("key", "/etc/mosquitto/../ssl/server.key")]]
    # Under systemd the files may live anywhere.
    assert broker_errors(shipped, settings(tls_enabled=True, tls_ca_file="/etc/ssl/ca.crt")) == []


def test_runtime_and_config_dir(shipped):
    assert broker_errors(shipped, settings(runtime="podman", config_dir="etc/mosquitto")) == [
        "broker: broker_runtime: must be one of systemd, docker, got 'podman'",
        "broker: broker_config_dir: must be an absolute path, got 'etc/mosquitto'",
    ]


def test_a_listen_port_of_its_own_needs_the_docker_runtime(shipped):
    moved = dict(shipped, mqtt_broker=dict(shipped["mqtt_broker"], listen_port=11883))
    assert broker_errors(moved, settings(runtime="systemd")) == [
        "broker: catalogue entry 'mqtt_broker' field 'listen_port': listen_port 11883 differs from port 1883, which "
        "only broker_runtime docker can map (under systemd Mosquitto binds the port it is reached at)"]
    assert broker_errors(moved, settings(runtime="docker")) == []
    assert broker_errors(shipped, settings(runtime="systemd")) == []


def test_check_service(shipped, resolve, catalogue_defaults):
    assert broker_errors(shipped, settings(check_service="stt")) == [
        "broker: broker_check_service 'stt' is not a service of the catalogue"]
    assert broker_errors(shipped, settings(check_service="mqtt_broker")) == [
        "broker: broker_check_service 'mqtt_broker' is not a service of the catalogue"]
    assert broker_errors(shipped, settings(check_service="stt", check_enabled=False)) == []
    only_broker = resolve(services={"mqtt_broker": catalogue_defaults["catalogue_services"]["mqtt_broker"]})
    assert broker_errors(only_broker, GOOD) == [
        "broker: broker_check_enabled: the catalogue has no service to check the broker with"]


def test_registry_readers_are_catalogue_services(shipped):
    assert broker_errors(shipped, settings(registry_readers=["discovery_service", "health_monitor"])) == []
    assert broker_errors(shipped, settings(registry_readers=[])) == []
    assert broker_errors(shipped, settings(registry_readers=["discovery_service", "mqtt_broker", "nope"])) == [
        "broker: broker_registry_readers: 'mqtt_broker' is not a service of the catalogue",
        "broker: broker_registry_readers: 'nope' is not a service of the catalogue"]
    assert broker_errors(shipped, settings(registry_readers="discovery_service")) == [
        "broker: broker_registry_readers: must be a list of catalogue service names, got 'discovery_service'"]


def test_unknown_settings_and_bad_arguments(shipped):
    assert broker_errors(shipped, settings(admin_pasword="x")) == [
        "broker: unknown setting(s) admin_pasword (known: broker, admin_username, admin_password, monitor_username, "
        "monitor_password, runtime, config_dir, tls_enabled, tls_source, tls_ca_content, tls_cert_content, "
        "tls_key_content, tls_ca_file, tls_cert_file, tls_key_file, check_enabled, check_service, registry_readers)"]
    assert broker_errors(shipped, None) == ["broker: settings must be a mapping of setting name to value, got NoneType"]
    with pytest.raises(CatalogueError, match="must be a mapping of service name to entry"):
        broker_errors([], GOOD)


def test_every_problem_at_once_without_secrets(resolve):
    catalogue = resolve({"stt_service": {"mqtt": {"username": "alicia_admin"}}})
    found = broker_errors(catalogue, settings(broker="nope", admin_password="", monitor_password="hunter\r2",
                                              monitor_username="bad user", tls_enabled=True, tls_source="content",
                                              tls_key_content="", check_service="nope"))
    assert len(found) == 9  # entry, 2 passwords, username, duplicate, 3 TLS contents, check_service
    no_secret_in(found)
