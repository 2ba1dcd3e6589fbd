# -*- coding: utf-8 -*-
"""network_hardening_errors: the network_hardening role's inputs, each message
naming the variable (network_hardening_<key>) or the service."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._network import network_hardening_errors

GOOD = {
    "ssh_sources": [],
    "platform_networks": ["172.30.57.0/24", "fd00:a1c1::/64"],
    "client_networks": ["192.168.1.0/24", "10.1.2.3"],
    "ssh_port": 22,
    "icmp_rate": "10/second",
    "icmp_burst": 20,
    "extra_rules": ["tcp dport 9100 ip saddr 10.0.0.0/8 accept"],
    "output_rules": [],
}


def settings(**changes):
    result = dict(GOOD)
    result.update(changes)
    return result


def test_role_defaults_and_shipped_services_are_fine(shipped):
    services = cat.host_services(shipped, ["alicia_broker", "alicia_core", "alicia_advanced"])
    assert network_hardening_errors(GOOD, services) == []
    assert network_hardening_errors({}, list(shipped.values())) == []
    assert network_hardening_errors(settings(ssh_port="2222", icmp_burst="5", icmp_rate="3/day")) == []


@pytest.mark.parametrize("key", ["ssh_sources", "platform_networks", "client_networks"])
def test_bad_networks_name_the_variable_and_the_items(key):
    found = network_hardening_errors(settings(**{key: ["10.0.0.0/8", "10.0.0.0/33", "lan", "fd00::/8", 42]}))
    assert found == ["network_hardening: network_hardening_%s must list IPv4/IPv6 addresses or CIDRs "
                     "(10.0.0.0/8, fd00::/8); not valid: 10.0.0.0/33, lan, 42" % key]


def test_networks_not_a_list():
    assert network_hardening_errors(settings(client_networks="10.0.0.0/8")) == [
        'network_hardening: network_hardening_client_networks must be a list of IPv4/IPv6 addresses or CIDRs, '
        'got "10.0.0.0/8"']


@pytest.mark.parametrize("changes,message", [
    ({"ssh_port": 0}, "network_hardening: network_hardening_ssh_port must be 1-65535, got 0"),
    ({"ssh_port": 70000}, "network_hardening: network_hardening_ssh_port must be 1-65535, got 70000"),
    ({"ssh_port": "ssh"}, "network_hardening: network_hardening_ssh_port must be 1-65535, got 'ssh'"),
    ({"icmp_rate": "10/s"}, "network_hardening: network_hardening_icmp_rate must be N/second|minute|hour|day "
                            "(nft limit rate), got '10/s'"),
    ({"icmp_rate": "10/second\n"}, "network_hardening: network_hardening_icmp_rate must be N/second|minute|hour|day "
                                   "(nft limit rate), got '10/second\\n'"),
    ({"icmp_burst": 0}, "network_hardening: network_hardening_icmp_burst must be a whole number > 0, got 0"),
    ({"icmp_burst": "many"}, "network_hardening: network_hardening_icmp_burst must be a whole number > 0, got 'many'"),
    ({"extra_rules": ["accept", "tcp dport 1 accept\nflush ruleset"]},
     "network_hardening: network_hardening_extra_rules item 2 must be a single-line string (one nft rule)"),
    ({"output_rules": [{"rule": "accept"}]},
     "network_hardening: network_hardening_output_rules item 1 must be a single-line string (one nft rule)"),
    ({"output_rules": "accept"}, 'network_hardening: network_hardening_output_rules must be a list of nft rules, '
                                 'got "accept"'),
    ({"ssh_prot": 22}, "network_hardening: unknown setting(s) ssh_prot (known: ssh_sources, platform_networks, "
                       "client_networks, extra_rules, output_rules, ssh_port, icmp_rate, icmp_burst)"),
])
def test_bad_settings(changes, message):
    assert network_hardening_errors(settings(**changes)) == [message]


def test_every_problem_reported_at_once():
    found = network_hardening_errors(settings(ssh_sources=["x"], ssh_port=0, icmp_rate="", icmp_burst=-1,
                                              extra_rules=["a\nb"]))
    assert [m.split(" ")[1] for m in found] == [
        "network_hardening_ssh_sources", "network_hardening_ssh_port", "network_hardening_icmp_rate",
        "network_hardening_icmp_burst", "network_hardening_extra_rules"]


def test_services_port_and_allow_from(resolve):
    catalogue = resolve({
        "config_service": {"firewall": {"allow_from": "everyone"}},
        "device_registry": {"firewall": {"allow_from": ["192.0.2.0/24", "2001:db8:a1c1::/48"]}},
    })
    services = cat.host_services(catalogue, ["alicia_core"])
    services[0] = dict(services[0], port=0)
    assert network_hardening_errors(GOOD, services) == [
        "network_hardening: service 'security_gateway': port must be 1-65535 (got 0)",
        "network_hardening: service 'config_service': firewall.allow_from must be one of platform, clients, any or "
        'a non-empty list of IPv4/IPv6 addresses or CIDRs, got "everyone"',
    ]


def test_service_allow_from_lists_the_bad_items():
    services = [{"name": "x", "port": 8000, "firewall": {"allow_from": ["10.0.0.0/8", "nope"]}},
                {"name": "y", "port": 8001, "firewall": {"allow_from": []}},
                {"name": "z", "port": None, "firewall": None},
                {"name": "w", "port": 8002, "firewall": "any"}]
    assert network_hardening_errors({}, services) == [
        "network_hardening: service 'x': firewall.allow_from must be one of platform, clients, any or a non-empty list "
        'of IPv4/IPv6 addresses or CIDRs, got ["10.0.0.0/8", "nope"]; not valid: nope',
        "network_hardening: service 'y': firewall.allow_from must be one of platform, clients, any or a non-empty list "
        "of IPv4/IPv6 addresses or CIDRs, got []",
        "network_hardening: service 'w': firewall must be a mapping {allow_from}, got \"any\"",
    ]


def test_settings_not_a_mapping():
    assert network_hardening_errors(["ssh_port"]) == [
        "network_hardening: settings must be a mapping of setting name to value, got list"]
