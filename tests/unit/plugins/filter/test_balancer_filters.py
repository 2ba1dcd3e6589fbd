# -*- coding: utf-8 -*-
"""plugins/filter/balancer.py through its FilterModule, by FQCN through
Ansible's templar with templated data, and the balancer role's preflight
run by ansible-playbook on localhost (nothing on the host is touched)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.balancer import FilterModule

FILTERS = FilterModule().filters()
NAMES = ["balancer_errors", "balancer_backends"]
SERVICES = [{"name": "demo", "port": 18100,
             "servers": [{"name": "demo-1", "port": 18101}, {"name": "demo-2", "port": 18102, "weight": 50}]}]


def test_every_filter_is_exported_and_documented(root):
    assert sorted(FILTERS) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(root, "plugins", "filter", name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]


def test_balancer_errors_filter():
    assert FILTERS["balancer_errors"](SERVICES) == []
    assert FILTERS["balancer_errors"](SERVICES, {"retries": -1}, {18101: "ai_service"}) == [
        "balancer: port 18101 of service 'demo' server 'demo-1' is already used on the host by ai_service",
        "balancer: balancer_retries must be a whole number >= 0, got -1",
    ]


def test_balancer_backends_filter():
    backends = FILTERS["balancer_backends"](SERVICES)
    assert [s["endpoint"] for s in backends[0]["servers"]] == ["127.0.0.1:18101", "127.0.0.1:18102"]
    assert [s["config_weight"] for s in backends[0]["servers"]] == [100, 50]
    with pytest.raises(AnsibleFilterError, match="balancer: service 'demo': servers must be a non-empty list"):
        FILTERS["balancer_backends"]([{"name": "demo", "port": 1, "servers": []}])


TEMPLAR_SCRIPT = r"""
import json, sys
root = sys.argv[1]
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
try:
    from ansible.template import trust_as_template
except ImportError:
    trust_as_template = lambda text: text
init_plugin_loader([root + "/.collections"])
loader = DataLoader()
variables = {
    "base": 18100,
    "services": trust_as_template(
        "{{ [{'name': 'demo', 'port': base | string, 'servers': [{'name': 'demo-1', 'port': base + 1},"
        " {'name': 'demo-2', 'port': (base + 2) | string, 'weight': '50'}]}] }}"),
}
templar = Templar(loader=loader, variables=variables)
out = {
    "errors": templar.template(trust_as_template("{{ services | alicia.platform.balancer_errors({'retries': 3}) }}")),
    "backends": templar.template(trust_as_template("{{ services | alicia.platform.balancer_backends }}")),
}
print(json.dumps(out))
"""


def test_filters_by_fqcn_through_ansible_templar(root):
    """Templated ports and server lists (lazy, tagged containers on 2.19) reach the filters as plain data."""
    proc = subprocess.run([sys.executable, "-c", TEMPLAR_SCRIPT, root], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["errors"] == []
    assert out["backends"][0]["listen"] == "0.0.0.0:18100"
    assert [(s["name"], s["endpoint"]) for s in out["backends"][0]["servers"]] == [
        ("demo-1", "127.0.0.1:18101"), ("demo-2", "127.0.0.1:18102")]


PREFLIGHT = """
- name: Balancer preflight on the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Balancer preflight
      ansible.builtin.include_role:
        name: alicia.platform.balancer
        tasks_from: preflight
"""


@pytest.mark.parametrize("services,host_ports,expected", [
    ([{"name": "demo", "port": 18100, "servers": [{"name": "demo-1", "port": 18101, "weight": 300}]}], {},
     "balancer: service 'demo': server 'demo-1': weight must be a whole number 0-256, got 300"),
    ([{"name": "demo", "port": 18100, "servers": [{"name": "demo-1", "port": 18101}]}], {18100: "voice_router"},
     "balancer: port 18100 of service 'demo' (published) is already used on the host by voice_router"),
])
def test_role_preflight_fails_naming_service_and_field(tmp_path, run_playbook, services, host_ports, expected):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PREFLIGHT)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"balancer_services": services, "balancer_host_ports": host_ports}))
    proc = run_playbook([str(playbook), "-i", "localhost,", "-c", "local", "-e", "@%s" % extra])
    assert proc.returncode != 0, proc.stdout
    assert expected in proc.stdout, proc.stdout


def test_role_preflight_passes_on_good_inputs(tmp_path, run_playbook):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PREFLIGHT)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"balancer_services": SERVICES}))
    proc = run_playbook([str(playbook), "-i", "localhost,", "-c", "local", "-e", "@%s" % extra])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout and "preflight | services, servers and settings are valid" in proc.stdout
