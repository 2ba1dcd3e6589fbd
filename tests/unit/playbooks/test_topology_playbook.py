# -*- coding: utf-8 -*-
"""playbooks/topology.yml run by ansible-playbook against the shipped
inventories (prod, staging), a lab inventory with hosts as scripts/lab.sh up
writes them, and the lab inventory without hosts.

The prod and staging hosts are names that do not resolve: a task that
touched a host would come back UNREACHABLE, so a passing run proves the
picture is drawn without contacting any host."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

SVG = "{http://www.w3.org/2000/svg}"
PROD_HOSTS = ["mqtt1.prod.example.com", "core1.prod.example.com", "core2.prod.example.com",
              "voice1.prod.example.com", "voice2.prod.example.com", "devices1.prod.example.com",
              "obs1.prod.example.com"]
LAB_HOSTS = {"all": {
    "hosts": dict(("alicia-lab-%d" % i, {"ansible_connection": "community.docker.docker",
                                         "ansible_host": "alicia-lab-%d" % i, "alicia_address": "172.30.57.%d" % (i + 1)})
                  for i in (1, 2, 3)),
    "children": dict([("alicia_broker", {"hosts": {"alicia-lab-1": {}}})]
                     + [("alicia_" + p, {"hosts": {"alicia-lab-2": {}}}) for p in ("core", "management", "voice")]
                     + [("alicia_" + p, {"hosts": {"alicia-lab-3": {}}})
                        for p in ("devices", "advanced", "observability")]),
}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, root, start_playbook):
    directory = tmp_path_factory.mktemp("topology")
    lab = directory / "lab"
    shutil.copytree(os.path.join(root, "inventories", "lab"), str(lab),
                    ignore=shutil.ignore_patterns("lab-hosts.yml", "vault.yml"))
    empty = directory / "empty-lab"
    shutil.copytree(str(lab), str(empty))
    (lab / "lab-hosts.yml").write_text(yaml.safe_dump(LAB_HOSTS))
    playbook = os.path.join(root, "playbooks", "topology.yml")
    scenarios = {
        "prod": ["-i", "inventories/prod", "-e", "topology_dest=%s" % (directory / "prod.svg"), playbook],
        "staging": ["-i", "inventories/staging", "-e", "topology_dest=%s" % (directory / "staging.svg"), playbook],
        "lab": ["-i", str(lab), "-e", "topology_dest=%s" % (directory / "lab.svg"), playbook],
        "empty": ["-i", str(empty), "-e", "topology_dest=%s" % (directory / "empty.svg"), playbook],
    }
    running = dict((name, start_playbook(args, python=sys.executable)) for name, args in scenarios.items())
    # The default topology_dest, relative to the directory ansible-playbook runs in.
    cwd = directory / "cwd"
    cwd.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    default = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                              os.path.join(root, "inventories", "prod"), playbook], cwd=str(cwd), env=env,
                             capture_output=True, text=True, timeout=180)
    results = dict((name, proc.wait_result()) for name, proc in running.items())
    results["default"] = default
    return {"results": results, "directory": directory}


def output(proc):
    return proc.stdout + proc.stderr


def picture(path):
    root = ET.parse(str(path)).getroot()
    boxes = dict((g.get("id")[len("host-"):], " ".join(t.text or "" for t in g.iter(SVG + "text")))
                 for g in root.iter(SVG + "g"))
    return root, boxes


def test_prod_picture_without_contacting_any_host(runs, catalogue_defaults):
    proc = runs["results"]["prod"]
    text = output(proc)
    assert proc.returncode == 0, text
    assert "unreachable=0" in text and "failed=0" in text
    path = runs["directory"] / "prod.svg"
    assert "topology of 7 host(s) written to %s" % path in text
    root, boxes = picture(path)
    assert root.find(SVG + "title").text == "Alicia platform: prod"
    assert sorted(boxes) == sorted(PROD_HOSTS)
    services = catalogue_defaults["catalogue_services"]
    for name in services:
        assert any(name in box for box in boxes.values()), name
    assert "mqtt_broker (broker)" in boxes["mqtt1.prod.example.com"]
    assert "security_gateway :8009 clients" in boxes["core1.prod.example.com"]
    assert "load_balancer :8023 clients" in boxes["voice2.prod.example.com"]
    legend = " ".join(t.text for t in root.findall(SVG + "text"))
    assert "platform: 10.20.0.0/16" in legend and "clients: 10.30.0.0/16" in legend


def test_staging_picture(runs):
    proc = runs["results"]["staging"]
    assert proc.returncode == 0, output(proc)
    _root, boxes = picture(runs["directory"] / "staging.svg")
    assert sorted(boxes) == ["app1.staging.example.com", "app2.staging.example.com", "mqtt1.staging.example.com"]
    assert "metrics_collector :8024 platform" in boxes["app1.staging.example.com"]


def test_lab_picture_with_the_balancer(runs):
    proc = runs["results"]["lab"]
    assert proc.returncode == 0, output(proc)
    _root, boxes = picture(runs["directory"] / "lab.svg")
    assert sorted(boxes) == ["alicia-lab-1", "alicia-lab-2", "alicia-lab-3"]
    lab2 = boxes["alicia-lab-2"]
    assert "tts_service x2 :8003 platform" in lab2
    assert "instance tts-primary on 127.0.0.1:9000" in lab2 and "HAProxy 0.0.0.0:8003 -> tts_service" in lab2
    assert "services -> MQTT 172.30.57.2:1883" in boxes["alicia-lab-3"]


def test_an_inventory_without_hosts_fails_saying_so(runs):
    proc = runs["results"]["empty"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert "the inventory has no hosts: nothing to draw" in text
    assert not (runs["directory"] / "empty.svg").exists()


def test_default_destination_is_the_current_directory(runs):
    proc = runs["results"]["default"]
    assert proc.returncode == 0, output(proc)
    path = runs["directory"] / "cwd" / "alicia-topology.svg"
    assert "written to %s" % path in output(proc)
    _root, boxes = picture(path)
    assert sorted(boxes) == sorted(PROD_HOSTS)
