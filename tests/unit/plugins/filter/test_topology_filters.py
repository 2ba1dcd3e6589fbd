# -*- coding: utf-8 -*-
"""plugins/filter/topology.py through its FilterModule: the filters, their
documentation sidecars and their errors."""

import os
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.topology import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _topology

FILTERS = FilterModule().filters()
NAMES = ["topology_model", "topology_svg"]
GROUPS = {
    "all": ["mqtt1", "app1", "app2"], "ungrouped": [],
    "alicia": ["mqtt1", "app1", "app2"], "alicia_services": ["app1", "app2"],
    "alicia_broker": ["mqtt1"], "alicia_core": ["app1"], "alicia_management": ["app1"],
    "alicia_voice": ["app2"], "alicia_devices": ["app2"], "alicia_advanced": ["app2"],
    "alicia_observability": ["app1"],
}
HOSTVARS = dict((host, {"ansible_host": "10.1.0.%d" % (i + 1),
                        "network_hardening_platform_networks": ["10.1.0.0/24"],
                        "network_hardening_client_networks": ["10.2.0.0/24"]})
                for i, host in enumerate(["mqtt1", "app1", "app2"]))


def test_every_filter_is_exported_and_documented(root):
    assert sorted(FILTERS) == NAMES
    for name in NAMES:
        with open(os.path.join(root, "plugins", "filter", name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]
        assert set(doc["DOCUMENTATION"]["options"]) - {"_input"} == set(
            FILTERS[name].__code__.co_varnames[1:FILTERS[name].__code__.co_argcount])


def test_model_and_svg(shipped):
    model = FILTERS["topology_model"](shipped, GROUPS, HOSTVARS, broker="mqtt_broker", title="three hosts")
    assert model == _topology.model(shipped, GROUPS, HOSTVARS, broker="mqtt_broker", title="three hosts")
    assert [h["name"] for h in model["hosts"]] == ["mqtt1", "app1", "app2"]
    hosts = dict((h["name"], h) for h in model["hosts"])
    assert hosts["app1"]["address"] == "10.1.0.2"
    assert [e["address"] for e in model["mqtt"]] == ["10.1.0.1", "10.1.0.1"]
    gateway = [r for r in hosts["app1"]["firewall"]["rules"] if r["service"] == "security_gateway"]
    assert gateway == [{"port": 8009, "service": "security_gateway", "allow_from": "clients",
                        "sources": ["10.2.0.0/24"]}]
    document = FILTERS["topology_svg"](model, 2)
    assert document == _topology.svg(model, columns=2)
    root = ET.fromstring(document.encode())
    assert [g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")] == ["host-mqtt1", "host-app1",
                                                                                   "host-app2"]


def test_errors_are_filter_errors(shipped):
    with pytest.raises(AnsibleFilterError, match="groups must map inventory groups to hosts"):
        FILTERS["topology_model"](shipped, "alicia")
    with pytest.raises(AnsibleFilterError, match="unknown broker entry 'nope'"):
        FILTERS["topology_model"](shipped, GROUPS, broker="nope")
    with pytest.raises(AnsibleFilterError, match="svg needs the result of topology_model"):
        FILTERS["topology_svg"]([])
