# -*- coding: utf-8 -*-
"""log_rotation_policies and log_rotation_errors: what the log_rotation role
used to compute in Jinja (roles/log_rotation/vars/main.yml), in Python."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError
from ansible_collections.alicia.platform.plugins.module_utils._logpolicy import (
    log_rotation_errors,
    log_rotation_policies,
)

DEFAULTS = {"size": "50M", "frequency": None, "rotate": 5, "maxage": 30, "compress": True, "delaycompress": True,
            "missingok": True, "notifempty": True, "dateext": False, "mode": "0640", "signal": "HUP"}


@pytest.fixture
def defaults():
    """The log_rotation role's log_rotation_defaults (a copy: tests do not depend on another role's files)."""
    return dict(DEFAULTS)


def by_name(policies):
    return dict((p["name"], p) for p in policies)


def test_service_policies_of_the_host(shipped, defaults):
    policies = log_rotation_policies(shipped, ["alicia", "alicia_voice"], defaults)
    assert [p["name"] for p in policies] == ["stt_service", "ai_service", "tts_service", "voice_router"]
    stt = policies[0]
    assert stt == dict(defaults, name="stt_service", kind="service", enabled=True,
                       path="/var/log/alicia/stt_service.log", reopen="copytruncate",
                       unit="alicia-stt_service.service", file="/etc/logrotate.d/alicia-stt_service")
    assert log_rotation_errors(policies, {}, shipped) == []


def test_broker_policy_last_from_the_catalogue(shipped, defaults):
    policies = log_rotation_policies(shipped, ["alicia_broker", "alicia_core"], defaults)
    assert [p["name"] for p in policies] == ["security_gateway", "device_registry", "config_service", "mqtt_broker"]
    broker = policies[-1]
    assert broker == dict(defaults, name="mqtt_broker", kind="broker", enabled=True,
                          path="/var/log/mosquitto/mosquitto.log", reopen="signal", unit="mosquitto.service",
                          file="/etc/logrotate.d/mosquitto")
    assert log_rotation_errors(policies, {}, shipped) == []


def test_broker_follows_catalogue_overrides(resolve, defaults):
    catalogue = resolve({"mqtt_broker": {"unit": "alicia-broker.service",
                                         "log": {"path": "/srv/mqtt/broker.log", "reopen": "copytruncate"}}})
    [broker] = log_rotation_policies(catalogue, ["alicia_broker"], defaults)
    assert (broker["path"], broker["reopen"], broker["unit"]) == (
        "/srv/mqtt/broker.log", "copytruncate", "alicia-broker.service")


def test_overrides_replace_whole_keys_and_file_is_last(shipped, defaults):
    overrides = {"tts_service": {"reopen": "signal", "size": "100M", "rotate": 10, "file": "/tmp/ignored",
                                 "path": "/srv/tts.log"},
                 "stt_service": {"enabled": False}}
    broker_overrides = {"rotate": 2, "file": "/tmp/ignored", "unit": "mqtt.service"}
    policies = by_name(log_rotation_policies(shipped, ["alicia_voice", "alicia_broker"], defaults, overrides,
                                             broker_overrides=broker_overrides, prefix="x-",
                                             broker_policy_file="/etc/logrotate.d/alicia-mosquitto"))
    tts = policies["tts_service"]
    assert (tts["reopen"], tts["size"], tts["rotate"], tts["path"], tts["file"]) == (
        "signal", "100M", 10, "/srv/tts.log", "/etc/logrotate.d/x-tts_service")
    assert tts["maxage"] == defaults["maxage"]
    assert policies["stt_service"]["enabled"] is False          # returned, with its enabled key
    assert policies["stt_service"]["path"] == "/var/log/alicia/stt_service.log"
    broker = policies["mqtt_broker"]
    assert (broker["rotate"], broker["unit"], broker["file"]) == (2, "mqtt.service", "/etc/logrotate.d/alicia-mosquitto")


def test_all_services_and_broker_disabled(shipped, defaults):
    policies = log_rotation_policies(shipped, ["alicia_broker"], defaults, all_services=True, broker_enabled=False)
    assert len(policies) == 22 and all(p["kind"] == "service" for p in policies)
    policies = log_rotation_policies(shipped, ["alicia_broker"], defaults, all_services=True)
    assert len(policies) == 23 and policies[-1]["kind"] == "broker"


def test_policies_bad_arguments(shipped, defaults):
    with pytest.raises(CatalogueError, match="log_rotation: log_rotation_defaults must be a mapping, got list"):
        log_rotation_policies(shipped, ["alicia_voice"], [])
    with pytest.raises(CatalogueError, match="group_names must be a list"):
        log_rotation_policies(shipped, "alicia_voice", defaults)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_override_names(shipped, defaults):
    overrides = {"nope": {}, "mqtt_broker": {"rotate": 1}, "tts_service": "big"}
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == [
        "log_rotation_overrides.nope: no such service in the catalogue",
        "log_rotation_overrides.mqtt_broker: the broker; use log_rotation_broker_overrides",
        "log_rotation_overrides.tts_service: must be a mapping",
    ]


@pytest.mark.parametrize("changes,message", [
    ({"reopen": "restart"}, "reopen: restart is not copytruncate or signal"),
    ({"path": "logs/tts.log"}, "path: logs/tts.log is not an absolute path"),
    ({"path": None}, "path: None is not an absolute path"),
    ({"path": "/var/log/a b.log"}, "path: '/var/log/a b.log' must not contain whitespace or control characters"),
    ({"frequency": "fortnightly"}, "frequency: fortnightly is not one of hourly, daily, weekly, monthly, yearly"),
    ({"size": "50MB"}, "size: 50MB is not a logrotate size (100k, 50M, 1G)"),
    ({"size": "1g"}, "size: 1g is not a logrotate size (100k, 50M, 1G)"),
    ({"size": None}, "size/frequency: set at least one"),
    ({"rotate": -1}, "rotate: -1 is not a whole number"),
    ({"rotate": "five"}, "rotate: five is not a whole number"),
    ({"maxage": 1.5}, "maxage: 1.5 is not a whole number"),
    ({"maxage": True}, "maxage: True is not a whole number"),
    ({"mode": "640x"}, "mode: 640x is not an octal mode such as 0640"),
    ({"mode": 416}, "mode: 416 is not an octal mode such as 0640 (quote it)"),
    ({"reopen": "signal", "unit": ""}, "unit: a unit is needed to signal the service"),
    ({"reopen": "signal", "unit": None}, "unit: a unit is needed to signal the service"),
    ({"signal": "HUP\n"}, "signal: 'HUP\\n' must not contain whitespace or control characters"),
])
def test_policy_field_errors(shipped, defaults, changes, message):
    overrides = {"tts_service": changes}
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == ["log rotation of tts_service: field " + message]


@pytest.mark.parametrize("changes", [
    {"size": 100}, {"size": "100k"}, {"size": None, "frequency": "daily"}, {"rotate": "7", "maxage": 0},
    {"mode": "640"}, {"mode": "0600"}, {"reopen": "signal"},
])
def test_good_policy_fields(shipped, defaults, changes):
    overrides = {"tts_service": changes}
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == []


def test_disabled_policies_are_not_checked(shipped, defaults):
    overrides = {"tts_service": {"enabled": False, "reopen": "nonsense", "path": "relative"}}
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == []


def test_same_path_rotated_twice(shipped, defaults):
    overrides = {"tts_service": {"path": "/var/log/alicia/stt_service.log"},
                 "ai_service": {"path": "/var/log/alicia/stt_service.log"}}
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == [
        "log rotation: path /var/log/alicia/stt_service.log is rotated by more than one policy "
        "(stt_service, ai_service, tts_service)"]
    overrides["ai_service"]["enabled"] = False
    overrides["tts_service"]["enabled"] = False
    policies = log_rotation_policies(shipped, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, shipped) == []


def test_errors_bad_arguments(shipped):
    assert log_rotation_errors("nope", [], shipped) == [
        "log_rotation_overrides: must be a mapping of service name to policy keys, got list",
        "log rotation: the policies must be a list (from log_rotation_policies), got str"]
    assert log_rotation_errors([None], None, shipped) == ["log rotation: a policy must be a mapping, got None"]


def test_multi_instance_service_one_policy_per_instance(resolve, defaults):
    """Each instance writes its own log, by its own unit: one policy each, rotated like the service's log."""
    catalogue = resolve({"tts_service": {"instances": 2, "instance_ports": [8031, 8032],
                                         "log": {"path": "/srv/tts/tts.log", "reopen": "signal"}}})
    policies = log_rotation_policies(catalogue, ["alicia_voice"], defaults, {"tts_service": {"size": "10M"}},
                                     prefix="x-")
    tts = [p for p in policies if p.get("service") == "tts_service"]
    assert [(p["name"], p["path"], p["unit"], p["reopen"], p["size"], p["file"]) for p in tts] == [
        ("tts_service-1", "/srv/tts/tts_service-1.log", "alicia-tts_service-1.service", "signal", "10M",
         "/etc/logrotate.d/x-tts_service-1"),
        ("tts_service-2", "/srv/tts/tts_service-2.log", "alicia-tts_service-2.service", "signal", "10M",
         "/etc/logrotate.d/x-tts_service-2")]
    # No policy signals the target, and single-instance services keep theirs.
    assert "tts_service" not in by_name(policies)
    assert by_name(policies)["stt_service"]["unit"] == "alicia-stt_service.service"
    assert log_rotation_errors(policies, {"tts_service": {"size": "10M"}}, catalogue) == []
    # An override of the path would rotate one file for every instance: reported.
    overrides = {"tts_service": {"path": "/srv/tts/all.log"}}
    policies = log_rotation_policies(catalogue, ["alicia_voice"], defaults, overrides)
    assert log_rotation_errors(policies, overrides, catalogue) == [
        "log rotation: path /srv/tts/all.log is rotated by more than one policy (tts_service-1, tts_service-2)"]
