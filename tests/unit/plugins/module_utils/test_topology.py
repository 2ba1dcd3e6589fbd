# -*- coding: utf-8 -*-
"""plugins/module_utils/_topology.py: the model of an inventory's platform
(read from the shipped inventories by Ansible's own inventory loader) and
its SVG picture."""

import os
import shutil
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.alicia.platform.plugins.module_utils import _topology as topo
from ansible_collections.alicia.platform.plugins.module_utils.catalogue import (
    CatalogueError,
    balancer_services,
    host_services,
)

SVG = "{http://www.w3.org/2000/svg}"
PROD_HOSTS = ["mqtt1.prod.example.com", "core1.prod.example.com", "core2.prod.example.com",
              "voice1.prod.example.com", "voice2.prod.example.com", "devices1.prod.example.com",
              "obs1.prod.example.com"]
PHASES = ["core", "management", "voice", "devices", "advanced", "observability"]


def lab_hosts(count):
    """inventories/lab/lab-hosts.yml as scripts/lab.sh up writes it (LAB_HOSTS=1 or 3)."""
    names = ["alicia-lab-%d" % i for i in range(1, count + 1)]
    if count == 1:
        placement = dict((g, names) for g in ["alicia_broker"] + ["alicia_" + p for p in PHASES])
    else:
        placement = {"alicia_broker": names[:1]}
        placement.update(("alicia_" + p, names[1:2]) for p in PHASES[:3])
        placement.update(("alicia_" + p, names[2:3]) for p in PHASES[3:])
    return {"all": {
        "hosts": dict((name, {"ansible_connection": "community.docker.docker", "ansible_host": name,
                              "alicia_address": "172.30.57.%d" % (i + 2)}) for i, name in enumerate(names)),
        "children": dict((group, {"hosts": dict((h, {}) for h in hosts)}) for group, hosts in placement.items()),
    }}


def load(path):
    """(groups, hostvars, one host's variables) of an inventory, as Ansible loads them."""
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[path])
    manager = VariableManager(loader=loader, inventory=inventory)
    groups = inventory.get_groups_dict()
    hostvars = dict((host.name, manager.get_vars(host=host, include_hostvars=False))
                    for host in inventory.get_hosts())
    first = hostvars[sorted(hostvars)[0]]
    return groups, hostvars, first


@pytest.fixture
def inventory(root, resolve, tmp_path):
    """inventory(name, lab_count=None, extra=None) -> (catalogue, groups, hostvars).

    The catalogue is resolved with the inventory's catalogue_overrides, as
    roles/catalogue does; ``lab_count`` writes the
    lab's hosts file; ``extra`` is a group_vars/all file of its own."""
    def _load(name, lab_count=None, extra=None):
        path = os.path.join(root, "inventories", name)
        if lab_count or extra:
            copy = tmp_path / name
            shutil.copytree(path, str(copy))
            if lab_count:
                (copy / "lab-hosts.yml").write_text(yaml.safe_dump(lab_hosts(lab_count)))
            if extra:
                (copy / "group_vars" / "all" / "extra.yml").write_text(yaml.safe_dump(extra))
            path = str(copy)
        groups, hostvars, first = load(path)
        catalogue = resolve(overrides=first.get("catalogue_overrides"))
        return catalogue, groups, hostvars
    return _load


def by_name(items):
    return dict((item["name"], item) for item in items)


def test_prod_hosts_groups_and_services(inventory):
    catalogue, groups, hostvars = inventory("prod")
    model = topo.model(catalogue, groups, hostvars, title="prod")
    assert [h["name"] for h in model["hosts"]] == PROD_HOSTS
    hosts = by_name(model["hosts"])
    assert hosts["core1.prod.example.com"]["placement_groups"] == ["alicia_core", "alicia_management"]
    assert hosts["core1.prod.example.com"]["groups"] == ["alicia", "alicia_core", "alicia_management",
                                                         "alicia_services"]
    # Every service on the hosts of its group, with its catalogue port; nowhere else.
    for name, entry in catalogue.items():
        on = [h["name"] for h in model["hosts"] if name in by_name(h["services"])]
        assert on == [h for h in PROD_HOSTS if h in groups[entry["group"]]], name
        for host in on:
            assert by_name(hosts[host]["services"])[name]["port"] == entry["port"]
    voice = by_name(hosts["voice1.prod.example.com"]["services"])
    assert sorted(voice) == sorted(["stt_service", "ai_service", "tts_service", "voice_router", "advanced_voice",
                                    "personality_system", "multi_language", "load_balancer"])
    assert voice["tts_service"]["port"] == 8003 and voice["tts_service"]["instances"] == []
    assert [s["name"] for s in hosts["obs1.prod.example.com"]["services"]] == ["metrics_collector",
                                                                               "event_scheduler"]
    # The host's services are the catalogue's own answer for its groups.
    for host in model["hosts"]:
        assert sorted(s["name"] for s in host["services"]) == sorted(
            e["name"] for e in host_services(catalogue, host["groups"]))
    assert model["unplaced"] == []
    assert model["title"] == "prod"


def test_prod_broker_and_mqtt_edges(inventory):
    catalogue, groups, hostvars = inventory("prod")
    model = topo.model(catalogue, groups, hostvars, broker="mqtt_broker")
    assert model["broker"] == {"name": "mqtt_broker", "port": 1883, "group": "alicia_broker",
                               "hosts": ["mqtt1.prod.example.com"]}
    mqtt1 = by_name(model["hosts"])["mqtt1.prod.example.com"]
    assert mqtt1["broker"] and [s["name"] for s in mqtt1["services"]] == ["mqtt_broker"]
    assert mqtt1["services"][0]["kind"] == "broker" and mqtt1["mqtt"] is None
    assert model["mqtt"] == [{"from": host, "to": "mqtt1.prod.example.com", "address": "mqtt1.prod.example.com",
                              "port": 1883, "local": False} for host in PROD_HOSTS[1:]]
    assert all(not h["balancer"] for h in model["hosts"])


def test_prod_firewall_sources(inventory):
    catalogue, groups, hostvars = inventory("prod")
    hosts = by_name(topo.model(catalogue, groups, hostvars)["hosts"])
    core = hosts["core1.prod.example.com"]["firewall"]
    assert core["managed"] and core["ssh"] == {"port": 22, "sources": ["10.0.0.0/24"]}
    rules = by_name([dict(r, name=r["service"]) for r in core["rules"]])
    assert rules["security_gateway"]["allow_from"] == "clients"
    assert rules["security_gateway"]["sources"] == ["10.30.0.0/16"]
    assert rules["device_registry"]["allow_from"] == "platform"
    assert rules["device_registry"]["sources"] == ["10.20.0.0/16"]
    # Lowest port first, one rule per published port (the role's order).
    assert [r["port"] for r in core["rules"]] == sorted(e["port"] for e in host_services(
        catalogue, ["alicia_core", "alicia_management"]))
    voice = by_name([dict(r, name=r["service"]) for r in hosts["voice2.prod.example.com"]["firewall"]["rules"]])
    assert voice["load_balancer"]["allow_from"] == "clients" and voice["tts_service"]["sources"] == ["10.20.0.0/16"]
    broker = hosts["mqtt1.prod.example.com"]["firewall"]["rules"]
    assert broker == [{"port": 1883, "service": "mqtt_broker", "allow_from": "platform", "sources": ["10.20.0.0/16"]}]


def test_staging_layout(inventory):
    catalogue, groups, hostvars = inventory("staging")
    model = topo.model(catalogue, groups, hostvars)
    assert [h["name"] for h in model["hosts"]] == ["mqtt1.staging.example.com", "app1.staging.example.com",
                                                  "app2.staging.example.com"]
    app1 = by_name(model["hosts"])["app1.staging.example.com"]
    assert "metrics_collector" in by_name(app1["services"]) and "stt_service" not in by_name(app1["services"])
    assert app1["firewall"]["platform_networks"] == ["10.120.0.0/16"]


@pytest.mark.parametrize("count", [1, 3])
def test_lab_layout_with_instances_and_balancer(inventory, count):
    catalogue, groups, hostvars = inventory("lab", lab_count=count)
    model = topo.model(catalogue, groups, hostvars)
    hosts = by_name(model["hosts"])
    assert [h["name"] for h in model["hosts"]] == ["alicia-lab-%d" % i for i in range(1, count + 1)]
    tts_host = "alicia-lab-1" if count == 1 else "alicia-lab-2"
    tts = by_name(hosts[tts_host]["services"])["tts_service"]
    assert tts["port"] == 8003 and tts["balanced"]
    assert tts["instances"] == [{"name": "tts-primary", "address": "127.0.0.1", "port": 9000},
                                {"name": "tts-secondary", "address": "127.0.0.1", "port": 9001}]
    # The balancer is the catalogue's balancer_services for the host.
    expected = balancer_services(catalogue, hosts[tts_host]["groups"])
    assert [(b["name"], b["port"], b["bind"], b["servers"]) for b in hosts[tts_host]["balancer"]] == [
        (b["name"], b["port"], b["bind"], b["servers"]) for b in expected]
    assert hosts[tts_host]["balancer"][0]["port"] == 8003
    assert hosts[tts_host]["address"] == ("172.30.57.2" if count == 1 else "172.30.57.3")
    if count == 1:
        assert model["mqtt"] == [{"from": "alicia-lab-1", "to": "alicia-lab-1", "address": "127.0.0.1",
                                  "port": 1883, "local": True}]
    else:
        assert [(e["from"], e["to"], e["address"], e["local"]) for e in model["mqtt"]] == [
            ("alicia-lab-2", "alicia-lab-1", "172.30.57.2", False), ("alicia-lab-3", "alicia-lab-1", "172.30.57.2",
                                                                      False)]
        assert hosts["alicia-lab-3"]["balancer"] == []
    for host in model["hosts"]:
        assert host["firewall"]["ssh"]["sources"] == ["any"]  # lab: network_hardening_ssh_sources unset
        assert host["firewall"]["client_networks"] == ["172.30.57.0/24"]
    document = ET.fromstring(topo.svg(model).encode())
    texts = " ".join(t.text or "" for t in document.iter(SVG + "text"))
    assert "instance tts-primary on 127.0.0.1:9000" in texts and "HAProxy 0.0.0.0:8003 -> tts_service" in texts


def test_firewall_any_cidrs_docker_and_unmanaged(inventory):
    extra = {"catalogue_overrides": {
        "voice_router": {"firewall": {"allow_from": "any"}},
        "ai_service": {"firewall": {"allow_from": ["192.0.2.0/24", "2001:db8::/32"]}},
        "metrics_collector": {"runtime": "docker"},
    }}
    catalogue, groups, hostvars = inventory("prod", extra=extra)
    # obs1 also runs the broker, its docker containers reach it; devices1 has
    # no firewall; core2 has no platform networks; voice1 forces a runtime.
    groups["alicia_broker"].append("obs1.prod.example.com")
    hostvars["devices1.prod.example.com"]["network_hardening_firewall_enabled"] = False
    hostvars["core2.prod.example.com"]["network_hardening_platform_networks"] = []
    hostvars["voice1.prod.example.com"]["service_runtime"] = "supervisor"
    groups["other"] = ["outside.example.com"]
    groups["alicia_observability"].append("outside.example.com")
    model = topo.model(catalogue, groups, hostvars)
    hosts = by_name(model["hosts"])
    voice = dict((r["service"], r) for r in hosts["voice1.prod.example.com"]["firewall"]["rules"])
    assert voice["voice_router"]["allow_from"] == "any" and voice["voice_router"]["sources"] == ["any"]
    assert voice["ai_service"]["allow_from"] == "cidrs"
    assert voice["ai_service"]["sources"] == ["192.0.2.0/24", "2001:db8::/32"]
    assert all(s["runtime"] == "supervisor" for s in hosts["voice1.prod.example.com"]["services"])
    obs = hosts["obs1.prod.example.com"]["firewall"]["rules"]
    assert {"port": 1883, "service": "mqtt_broker", "allow_from": "docker", "sources": ["172.20.0.0/16"]} in obs
    assert hosts["obs1.prod.example.com"]["mqtt"]["local"] is True
    assert hosts["devices1.prod.example.com"]["firewall"]["managed"] is False
    assert hosts["devices1.prod.example.com"]["firewall"]["rules"] == []
    assert "network_hardening_firewall_enabled" in hosts["devices1.prod.example.com"]["firewall"]["reason"]
    core2 = dict((r["service"], r) for r in hosts["core2.prod.example.com"]["firewall"]["rules"])
    assert core2["device_registry"]["sources"] == [] and core2["security_gateway"]["sources"] == ["10.30.0.0/16"]
    # A host outside group alicia running an entry: drawn, its firewall not managed by the collection.
    outside = hosts["outside.example.com"]
    assert [s["name"] for s in outside["services"]] == ["metrics_collector", "event_scheduler"]
    assert outside["firewall"]["managed"] is False and "not in group 'alicia'" in outside["firewall"]["reason"]
    assert model["hosts"][:2] == [hosts["mqtt1.prod.example.com"], hosts["obs1.prod.example.com"]]
    document = topo.svg(model)
    ET.fromstring(document.encode())
    for text in ("any: every source", "cidrs: the entry", "from 192.0.2.0/24, 2001:db8::/32", "platform (none set)",
                 "not filtered", "from containers 172.20.0.0/16", ">runtime docker<",
                 "firewall not managed (network_hardening_firewall_enabled is false)",
                 "runtime of every service: supervisor", "platform: network_hardening_platform_networks, per host:",
                 ">none set on core2.prod.example.com<"):
        assert text in document, text


def test_unplaced_entries_and_no_hosts(resolve):
    catalogue = resolve()
    model = topo.model(catalogue, {"all": [], "ungrouped": []})
    assert model["hosts"] == [] and model["mqtt"] == []
    assert model["unplaced"][0] == "mqtt_broker" and "event_scheduler" in model["unplaced"]
    document = topo.svg(model)
    root = ET.fromstring(document.encode())
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "No hosts in this inventory: nothing is placed." in texts
    assert any(t.startswith("Not placed (their group has no hosts): mqtt_broker") for t in texts)


def test_svg_is_well_formed_and_names_every_host_and_service(inventory):
    catalogue, groups, hostvars = inventory("prod")
    model = topo.model(catalogue, groups, hostvars, title="prod & <friends>")
    document = topo.svg(model)
    assert document == topo.svg(model)  # deterministic
    root = ET.fromstring(document.encode())
    assert root.tag == SVG + "svg" and root.find(SVG + "title").text == "prod & <friends>"
    boxes = dict((g.get("id"), " ".join(t.text for t in g.iter(SVG + "text"))) for g in root.iter(SVG + "g"))
    assert sorted(boxes) == sorted("host-" + h for h in PROD_HOSTS)
    for host in model["hosts"]:
        box = boxes["host-" + host["name"]]
        assert host["name"] in box
        for service in host["services"]:
            assert service["name"] in box and ":%d" % service["port"] in box
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    assert "platform: 10.20.0.0/16 (network_hardening_platform_networks)" in texts
    assert "clients: 10.30.0.0/16 (network_hardening_client_networks)" in texts
    assert "ssh 22 from 10.0.0.0/24" in texts
    assert "services -> MQTT mqtt1.prod.example.com:1883" in texts
    # The MQTT bus: an arrow into the broker's box (and the legend's), a stub down to each service host.
    paths = root.findall(SVG + "path")
    assert len([p for p in paths if p.get("marker-end")]) == 2
    assert len(paths) == 1 + 1 + 2 + 6 + 1  # arrow, bus, two row channels, six stubs, legend


def test_svg_escapes_inventory_text(resolve):
    catalogue = resolve()
    host = 'odd<&>"host'
    groups = {"alicia": [host], "alicia_broker": [host], "alicia_core": [host]}
    hostvars = {host: {"alicia_address": "10.0.0.1", "network_hardening_platform_networks": ["10.0.0.0/8"]}}
    document = topo.svg(topo.model(catalogue, groups, hostvars))
    root = ET.fromstring(document.encode())
    assert [g.get("id") for g in root.iter(SVG + "g")] == ["host-" + host]
    assert host in [t.text for t in root.iter(SVG + "text")]


def test_hardening_defaults_follow_the_role(root):
    with open(os.path.join(root, "roles", "network_hardening", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    for name, value in topo.HARDENING_DEFAULTS.items():
        assert defaults[name] == value, name


def test_bad_input(resolve):
    catalogue = resolve()
    with pytest.raises(CatalogueError, match="groups must map"):
        topo.model(catalogue, ["alicia"])
    with pytest.raises(CatalogueError, match="unknown broker entry 'nope'"):
        topo.model(catalogue, {}, broker="nope")
    with pytest.raises(CatalogueError, match="resolved catalogue must be a mapping"):
        topo.model(["x"], {})
    with pytest.raises(CatalogueError, match="svg needs the result of topology_model"):
        topo.svg({"title": "x"})
