# -*- coding: utf-8 -*-
"""What the operation playbooks (restart, teardown, ...) are asked to act on, checked before any host is touched."""

from ansible_collections.alicia.platform.plugins.module_utils._operations import target_errors
from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule

CATALOGUE = {
    "mqtt_broker": {"kind": "broker", "group": "alicia_broker"},
    "stt_service": {"kind": "service", "group": "alicia_voice"},
    "tts_service": {"kind": "service", "group": "alicia_voice"},
    "device_manager": {"kind": "service", "group": "alicia_devices"},
}
GROUPS = {"all": ["broker1", "app1", "app2"], "alicia_broker": ["broker1"], "alicia_voice": ["app1"],
          "alicia_devices": []}


def test_a_known_service_and_host_pass():
    assert target_errors(CATALOGUE, GROUPS, "stt_service", "app1", "restart") == []
    assert target_errors(CATALOGUE, GROUPS) == []


def test_an_unknown_service_is_named_with_the_known_ones():
    [error] = target_errors(CATALOGUE, GROUPS, "nope", operation="restart")
    assert error == ("restart: service: unknown service 'nope'; the catalogue's services are: "
                     "device_manager, stt_service, tts_service")


def test_the_broker_is_not_a_service():
    [error] = target_errors(CATALOGUE, GROUPS, "mqtt_broker", operation="teardown")
    assert error.startswith("teardown: service: unknown service 'mqtt_broker'")


def test_a_required_service_missing():
    [error] = target_errors(CATALOGUE, GROUPS, None, operation="restart", require_service=True)
    assert error.startswith("restart: service: required (-e service=<name>)")
    assert target_errors(CATALOGUE, GROUPS, None, operation="teardown") == []


def test_a_service_whose_group_has_no_hosts():
    [error] = target_errors(CATALOGUE, GROUPS, "device_manager", operation="restart")
    assert error == "restart: service device_manager: its group alicia_devices has no hosts in this inventory"


def test_unknown_host_and_host_that_does_not_run_the_service():
    [error] = target_errors(CATALOGUE, GROUPS, "stt_service", "app9", "restart")
    assert error == "restart: host: unknown inventory host 'app9'"
    [error] = target_errors(CATALOGUE, GROUPS, "stt_service", "app2", "restart")
    assert error == "restart: host: app2 does not run stt_service (the hosts of group alicia_voice: app1)"


def test_an_instance_of_a_multi_instance_service():
    catalogue = dict(CATALOGUE, tts_service={"kind": "service", "group": "alicia_voice", "instance_list": [
        {"name": "tts-primary", "listen_port": 8031}, {"name": "tts-secondary", "listen_port": 8032}]})
    assert target_errors(catalogue, GROUPS, "tts_service", instance="tts-secondary", operation="restart") == []
    assert target_errors(catalogue, GROUPS, "tts_service", instance="", operation="restart") == []
    [error] = target_errors(catalogue, GROUPS, "tts_service", instance="tts-3", operation="restart")
    assert error == ("restart: instance: service tts_service has no instance 'tts-3'; "
                     "its instances are: tts-primary, tts-secondary")
    [error] = target_errors(catalogue, GROUPS, "stt_service", instance="stt-1", operation="restart")
    assert error == "restart: instance: service stt_service runs one instance (no instance 'stt-1'); drop -e instance"
    [error] = target_errors(catalogue, GROUPS, None, instance="tts-primary", operation="restart")
    assert error.startswith("restart: instance: needs a service")


def test_the_filter_wraps_the_function():
    errors = FilterModule().filters()["catalogue_target_errors"](CATALOGUE, GROUPS, "x", None, "restart", True)
    assert len(errors) == 1 and "unknown service 'x'" in errors[0]
