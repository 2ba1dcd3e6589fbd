# -*- coding: utf-8 -*-
"""host_services and host_packages: what one host runs and needs."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import CatalogueError

BASE = ["logrotate", "nftables"]


def names(entries):
    return [entry["name"] for entry in entries]


def test_host_services_by_group_in_catalogue_order(shipped):
    assert names(cat.host_services(shipped, ["alicia", "alicia_voice"])) == [
        "stt_service", "ai_service", "tts_service", "voice_router"]
    both = names(cat.host_services(shipped, ["alicia_broker", "alicia_core"]))
    assert both == ["mqtt_broker", "security_gateway", "device_registry", "config_service"]
    assert cat.host_services(shipped, ["alicia_voice"])[0] is shipped["stt_service"]


def test_host_services_by_kind(shipped):
    groups = ["alicia_broker", "alicia_core"]
    assert names(cat.host_services(shipped, groups, kind="service")) == [
        "security_gateway", "device_registry", "config_service"]
    assert names(cat.host_services(shipped, groups, kind="broker")) == ["mqtt_broker"]
    assert cat.host_services(shipped, ["alicia_voice"], kind="broker") == []
    assert cat.host_services(shipped, []) == []


def test_host_services_follows_group_overrides(resolve):
    catalogue = resolve({"metrics_collector": {"group": "alicia_broker"}})
    assert names(cat.host_services(catalogue, ["alicia_broker"])) == ["mqtt_broker", "metrics_collector"]


@pytest.mark.parametrize("args,match", [
    ((["alicia_core"], "worker"), "kind must be one of service, broker, got 'worker'"),
    (("alicia_core",), "group_names must be a list of inventory group names, got 'alicia_core'"),
    ((None,), "group_names must be a list of inventory group names, got None"),
])
def test_host_services_bad_arguments(shipped, args, match):
    with pytest.raises(CatalogueError, match=match):
        cat.host_services(shipped, *args)
    with pytest.raises(CatalogueError, match="must be a mapping of service name to entry"):
        cat.host_services([], ["alicia_core"])


def test_host_packages(shipped):
    # The services' reference artifact needs Debian's paho-mqtt.
    assert cat.host_packages(shipped, ["alicia_voice"], BASE) == ["logrotate", "nftables", "python3-paho-mqtt"]
    assert cat.host_packages(shipped, ["alicia_broker", "alicia_voice"], BASE) == [
        "logrotate", "mosquitto", "nftables", "python3-cryptography", "python3-paho-mqtt"]
    assert cat.host_packages(shipped, ["alicia_broker"]) == [
        "mosquitto", "python3-cryptography", "python3-paho-mqtt"]
    assert cat.host_packages(shipped, ["elsewhere"], BASE) == BASE


def test_host_packages_unique_and_sorted(resolve):
    catalogue = resolve({"stt_service": {"packages": ["sox", "nftables"]}, "tts_service": {"packages": ["sox", "espeak"]}})
    assert cat.host_packages(catalogue, ["alicia_voice"], ["nftables", "logrotate", "nftables"]) == [
        "espeak", "logrotate", "nftables", "python3-paho-mqtt", "sox"]


def test_host_packages_bad_base(shipped):
    with pytest.raises(CatalogueError, match="base packages must be a list of Debian package names, got 'logrotate'"):
        cat.host_packages(shipped, ["alicia_core"], "logrotate")
    with pytest.raises(CatalogueError, match="base packages: invalid Debian package name 'Log Rotate'"):
        cat.host_packages(shipped, ["alicia_core"], ["Log Rotate"])


def test_host_packages_bad_entry(resolve):
    catalogue = resolve({"stt_service": {"packages": "sox"}})
    with pytest.raises(CatalogueError) as info:
        cat.host_packages(catalogue, ["alicia_voice"])
    assert str(info.value) == ("catalogue: service 'stt_service' field 'packages': must be a list of Debian package "
                               "names, got 'sox'")


def test_host_packages_of_a_multi_instance_service(resolve):
    """The balancer role's HAProxy and socat, on the hosts that run several instances of a service."""
    catalogue = resolve({"tts_service": {"instances": 2, "instance_ports": [8031, 8032]}})
    assert cat.host_packages(catalogue, ["alicia_voice"], BASE) == [
        "haproxy", "logrotate", "nftables", "python3-paho-mqtt", "socat"]
    assert cat.host_packages(catalogue, ["alicia_broker", "alicia_core"], BASE) == [
        "logrotate", "mosquitto", "nftables", "python3-cryptography", "python3-paho-mqtt"]
    # Malformed instance fields give no instance list (preflight reports them), so no balancer.
    malformed = resolve({"tts_service": {"instances": 2}})
    assert "haproxy" not in cat.host_packages(malformed, ["alicia_voice"], BASE)
