# -*- coding: utf-8 -*-
"""The catalogue's docker runtime: preflight accepts `runtime: docker`, checks
the `docker` mapping (network, restart policy) and the json-file log rotation
fields naming the service and the field, and the host side (packages, the
host's network)."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import (
    DOCKER_NETWORK,
    docker_network,
    host_docker_network,
)

BASE = ["logrotate", "nftables"]


def docker_all(catalogue_defaults, **extra):
    """Overrides that switch every service of the shipped catalogue to the docker runtime."""
    overrides = {}
    for name, entry in catalogue_defaults["catalogue_services"].items():
        if entry.get("kind", "service") == "service":
            overrides[name] = dict({"runtime": "docker"}, **extra)
    return overrides


def errors_of(catalogue, service, **kwargs):
    return [m for m in cat.errors(catalogue, **kwargs) if "service '%s'" % service in m]


# ---- accepted -------------------------------------------------------------------

def test_the_whole_platform_on_the_docker_runtime_passes_preflight(resolve, catalogue_defaults):
    catalogue = resolve(docker_all(catalogue_defaults))
    assert cat.errors(catalogue) == []
    groups = {"alicia_broker": ["lab"]}
    groups.update(("alicia_%s" % phase, ["lab"]) for phase in catalogue_defaults["catalogue_phases"])
    assert cat.errors(catalogue, groups=groups, require_groups=True) == []


def test_a_full_docker_mapping_is_accepted(resolve):
    catalogue = resolve({"stt_service": {
        "runtime": "docker",
        "docker": {"network": {"name": "alicia_network", "driver": "bridge", "subnet": "10.87.0.0/16",
                               "ip_range": "10.87.240.0/20", "gateway": "10.87.0.1"},
                   "restart_policy": "on-failure"},
        "log": {"max_size": "10M", "max_file": 3}}})
    assert errors_of(catalogue, "stt_service") == []


def test_docker_services_publish_only_their_port(resolve):
    # listen_port is inside the container: it may equal another service's port on the host.
    catalogue = resolve({"stt_service": {"runtime": "docker", "listen_port": 8002}})
    assert errors_of(catalogue, "stt_service") == []
    # A host-network runtime binds the port it is reached at: only docker maps one to the other.
    catalogue = resolve({"stt_service": {"runtime": "systemd", "listen_port": 8002}})
    assert cat.errors(catalogue) == [
        "catalogue: service 'stt_service' field 'listen_port': listen_port 8002 differs from port 8001, which only "
        "the docker runtime can map (runtime systemd binds the port it is reached at: set port to 8002, or drop "
        "listen_port)"]


# ---- rejected, naming the service and the field ------------------------------

@pytest.mark.parametrize("override,field,text", [
    ({"docker": "alicia_network"}, "docker", "must be a mapping {network, restart_policy}, got str"),
    ({"docker": {"image": "x"}}, "docker", "unknown key(s) image (known: network, restart_policy)"),
    ({"docker": {"restart_policy": "always"}}, "docker.restart_policy",
     "must be one of unless-stopped, on-failure, got 'always'"),
    ({"docker": {"network": ["alicia_network"]}}, "docker.network", "must be a mapping of name, driver"),
    ({"docker": {"network": {"mtu": 1400}}}, "docker.network", "unknown key(s) mtu"),
    ({"docker": {"network": {"name": "alicia network"}}}, "docker.network.name", "must be a Docker network name"),
    ({"docker": {"network": {"driver": "Bridge!"}}}, "docker.network.driver", "must be a Docker network driver"),
    ({"docker": {"network": {"subnet": "172.20.0.1/16"}}}, "docker.network.subnet",
     "must be an IPv4 network in CIDR form without host bits (172.20.0.0/16), got '172.20.0.1/16'"),
    ({"docker": {"network": {"subnet": "fd00::/64", "ip_range": None}}}, "docker.network.subnet",
     "must be an IPv4 network"),
    ({"docker": {"network": {"subnet": "172.20"}}}, "docker.network.subnet", "must be an IPv4 network"),
    ({"docker": {"network": {"subnet": "172.20.0.0/31", "ip_range": None}}}, "docker.network.subnet",
     "172.20.0.0/31 is too small"),
    ({"docker": {"network": {"ip_range": "172.21.240.0/20"}}}, "docker.network.ip_range",
     "172.21.240.0/20 is not inside the subnet 172.20.0.0/16"),
    ({"docker": {"network": {"ip_range": "172.20.240.7/20"}}}, "docker.network.ip_range",
     "must be null or an IPv4 network in CIDR form"),
    ({"docker": {"network": {"gateway": "172.21.0.1"}}}, "docker.network.gateway",
     "172.21.0.1 is not a host address of the subnet 172.20.0.0/16"),
    ({"docker": {"network": {"gateway": "172.20.0.0"}}}, "docker.network.gateway", "is not a host address"),
    ({"docker": {"network": {"gateway": "gw"}}}, "docker.network.gateway", "must be null or an IPv4 address"),
    ({"log": {"max_size": "50MB"}}, "log.max_size", "size"),
    ({"log": {"max_file": 0}}, "log.max_file", "must be a whole number of files >= 1, got 0"),
    ({"log": {"max_file": "5"}}, "log.max_file", "must be a whole number of files >= 1, got '5'"),
    ({"artifact": {"type": "command", "command": "/usr/bin/stt"}}, "artifact.type",
     "'command' (an executable already on the host) runs with runtime systemd only"),
])
def test_bad_docker_fields_fail_naming_the_service_and_field(resolve, override, field, text):
    catalogue = resolve({"stt_service": dict({"runtime": "docker"}, **override)})
    found = errors_of(catalogue, "stt_service")
    prefix = "catalogue: service 'stt_service' field '%s': " % field
    assert any(m.startswith(prefix) and text in m for m in found), found


def test_the_docker_services_of_one_host_share_one_network(resolve):
    catalogue = resolve({
        "stt_service": {"runtime": "docker"},
        "tts_service": {"runtime": "docker", "docker": {"network": {"subnet": "10.87.0.0/16", "ip_range": None}}},
        # another host: its own network is fine
        "device_manager": {"runtime": "docker", "docker": {"network": {"name": "other", "subnet": "10.9.0.0/24",
                                                                       "ip_range": None}}},
    })
    groups = {"alicia_voice": ["app1"], "alicia_devices": ["app2"]}
    found = [m for m in cat.errors(catalogue, groups=groups) if "docker.network" in m]
    assert found == [
        "catalogue: service 'tts_service' field 'docker.network': differs from service 'stt_service' on host 'app1' "
        "(subnet 10.87.0.0/16 instead of 172.20.0.0/16, ip_range None instead of 172.20.240.0/20, gateway 10.87.0.1 "
        "instead of 172.20.0.1): the docker services of one host share one network"]
    # Without an inventory every entry shares one host.
    assert len([m for m in cat.errors(catalogue) if "docker.network" in m]) == 2
    # Systemd services do not count.
    catalogue = resolve({"stt_service": {"runtime": "docker"},
                         "tts_service": {"docker": {"network": {"name": "unused"}}}})
    assert [m for m in cat.errors(catalogue, groups=groups) if "docker.network" in m] == []


# ---- the host side -----------------------------------------------------------

def test_docker_network_defaults_and_gateway():
    assert DOCKER_NETWORK["subnet"] == "172.20.0.0/16" and DOCKER_NETWORK["ip_range"] == "172.20.240.0/20"
    assert docker_network({"runtime": "docker"}) == {
        "name": "alicia_network", "driver": "bridge", "subnet": "172.20.0.0/16", "ip_range": "172.20.240.0/20",
        "gateway": "172.20.0.1"}
    own = docker_network({"docker": {"network": {"subnet": "10.87.0.0/24", "ip_range": None}}})
    assert (own["subnet"], own["ip_range"], own["gateway"]) == ("10.87.0.0/24", None, "10.87.0.1")
    assert docker_network({"docker": {"network": {"gateway": "172.20.9.9"}}})["gateway"] == "172.20.9.9"


def test_host_docker_network(resolve):
    catalogue = resolve({"stt_service": {"runtime": "docker", "docker": {"network": {"subnet": "10.87.0.0/16",
                                                                                     "ip_range": None}}}})
    assert host_docker_network(catalogue, ["alicia_voice"])["gateway"] == "10.87.0.1"
    assert host_docker_network(catalogue, ["alicia_core", "alicia_broker"]) is None


def test_a_host_with_docker_services_needs_the_engine_not_their_packages(resolve):
    catalogue = resolve({"stt_service": {"runtime": "docker", "packages": ["sox"]}})
    # The other voice services still run under systemd: paho on the host, sox goes into the image.
    assert cat.host_packages(catalogue, ["alicia_voice"], BASE) == [
        "docker.io", "logrotate", "nftables", "python3-paho-mqtt"]
    catalogue = resolve({name: {"runtime": "docker"} for name in ("stt_service", "ai_service", "tts_service",
                                                                 "voice_router")})
    assert cat.host_packages(catalogue, ["alicia_voice"], BASE) == ["docker.io", "logrotate", "nftables"]
    assert "docker.io" not in cat.host_packages(catalogue, ["alicia_core"], BASE)
