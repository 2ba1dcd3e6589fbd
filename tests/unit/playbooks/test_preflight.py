# -*- coding: utf-8 -*-
"""playbooks/preflight.yml run by ansible-playbook against a tiny inventory.

Every inventory host points at 127.0.0.1 port 9 over SSH, where nothing
listens: a task that touched a host would come back UNREACHABLE. So a
passing preflight proves it never connects, and a failing one that stops
the next play proves no host is touched.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

INVENTORY = {
    "all": {
        "vars": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
                 "ansible_user": "nobody", "ansible_ssh_common_args": "-o ConnectTimeout=2"},
        "children": {
            "alicia": {"children": dict(
                [("alicia_broker", {"hosts": {"lab1": None}})]
                + [("alicia_%s" % phase, {"hosts": {"lab1": None, "lab2": None}})
                   for phase in ("core", "management", "voice", "devices", "advanced", "observability")])},
        },
    },
}

# The next step of a site run: touches every host (and would fail as UNREACHABLE).
SITE = """
- name: Preflight
  ansible.builtin.import_playbook: {root}/playbooks/preflight.yml
  tags: [always]

- name: Core phase stand-in that touches the hosts
  hosts: alicia_core
  gather_facts: false
  tags: [core]
  tasks:
    - name: Touch the host
      ansible.builtin.ping:
"""


ENDPOINTS_PLAY = """
- name: Filters with Ansible's own hostvars and groups
  hosts: all
  gather_facts: false
  roles:
    - role: alicia.platform.catalogue
  tasks:
    - name: Record the voice endpoints and the order
      ansible.builtin.copy:
        content: "{{ {'endpoints': catalogue_resolved | alicia.platform.catalogue_health_endpoints(hostvars, groups,
                      services=['voice'], address_var='service_address'),
                      'phase': catalogue_resolved | alicia.platform.catalogue_phase('voice', names_only=true)}
                     | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory, root, start_playbook):
    """Writes the inventories and variables, then starts every scenario's
    ansible-playbook at once (they are independent) and waits for them."""
    directory = tmp_path_factory.mktemp("preflight")
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    secrets = directory / "secrets.yml"
    subprocess.run([sys.executable, os.path.join(root, "scripts", "lab-secrets.py"), str(secrets)], check=True)
    with open(str(secrets)) as handle:
        data = yaml.safe_load(handle)
    site = directory / "site.yml"
    site.write_text(SITE.format(root=root))
    bad = directory / "bad.yml"
    bad.write_text(yaml.safe_dump({"catalogue_overrides": {
        "voice_router": {"port": 8009},
        "ai_service": {"depends_on": {"grok_integration": {"type": "required"}}},
    }}))
    # listen_port differing from port: refused for a host-network runtime in the
    # catalogue; a valid docker entry refused on the hosts that force one on it.
    listen_bad = directory / "listen-bad.yml"
    listen_bad.write_text(yaml.safe_dump({"catalogue_overrides": {
        "voice_router": {"port": 8005, "listen_port": 9105}}}))
    listen_docker = directory / "listen-docker.yml"
    listen_docker.write_text(yaml.safe_dump({"catalogue_overrides": {
        "stt_service": {"runtime": "docker", "listen_port": 9101}}}))
    # A group that no phase play reaches: planned, never deployed.
    untargeted = directory / "untargeted.yml"
    untargeted.write_text(yaml.safe_dump({"catalogue_overrides": {"ai_service": {"group": "alicia_extras"}}}))
    partial = json.loads(json.dumps(data))
    del partial["catalogue_secrets"]["grok_integration"]["GROK_API_KEY"]
    partial_file = directory / "partial.yml"
    partial_file.write_text(yaml.safe_dump(partial))
    endpoints_inventory = json.loads(json.dumps(INVENTORY))
    endpoints_inventory["all"]["children"]["alicia"]["children"]["alicia_voice"]["hosts"] = {
        "lab1": {"service_address": "10.20.0.1"}, "lab2": {"ansible_host": "10.10.0.2"}}
    endpoints_inventory_file = directory / "endpoints-inventory.yml"
    endpoints_inventory_file.write_text(yaml.safe_dump(endpoints_inventory))
    endpoints_play = directory / "endpoints.yml"
    endpoints_play.write_text(ENDPOINTS_PLAY)
    endpoints_out = directory / "endpoints.json"

    inv, sec = str(inventory), "@" + str(secrets)
    scenarios = {
        "good": ["-i", inv, "-e", sec, "-v", "playbooks/preflight.yml"],
        "bad": ["-i", inv, "-e", sec, "-e", "@" + str(bad), "--limit", "lab2", "--tags", "core", str(site)],
        "untargeted": ["-i", inv, "-e", sec, "-e", "@" + str(untargeted), "--tags", "core", str(site)],
        "missing_secret": ["-i", inv, "-e", "@" + str(partial_file), "playbooks/preflight.yml"],
        "limit_tags": ["-i", inv, "-e", sec, "--limit", "lab1", "--tags", "core", str(site)],
        "type_check": ["-i", inv, "-e", sec, "-e", json.dumps({"catalogue_require_groups": "maybe"}),
                       "playbooks/preflight.yml"],
        "endpoints": ["-i", str(endpoints_inventory_file), "-e", "out=%s" % endpoints_out, "--limit", "lab1",
                      str(endpoints_play)],
        "listen_port": ["-i", inv, "-e", sec, "-e", "@" + str(listen_bad), "--tags", "core", str(site)],
        "forced_runtime": ["-i", inv, "-e", sec, "-e", "@" + str(listen_docker), "-e", "service_runtime=supervisor",
                           "--tags", "core", str(site)],
    }
    running = dict((name, start_playbook(args, python=sys.executable)) for name, args in scenarios.items())
    results = dict((name, proc.wait_result()) for name, proc in running.items())
    values = [v for per in data["catalogue_secrets"].values() for v in per.values()]
    return {"results": results, "values": values, "endpoints_out": endpoints_out}


def output(proc):
    return proc.stdout + proc.stderr


def test_passes_with_shipped_catalogue_and_touches_no_host(lab):
    proc = lab["results"]["good"]
    text = output(proc)
    assert proc.returncode == 0, text
    assert "unreachable=0" in text and "failed=0" in text
    # Validated once, on the controller, for the whole inventory.
    assert "lab1 -> localhost" in text and "lab2 -> localhost" not in text
    for value in lab["values"]:
        assert value not in text  # secrets never printed, even with -v


def test_bad_override_fails_naming_service_and_field_before_hosts(lab):
    proc = lab["results"]["bad"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert ("catalogue: service 'voice_router' field 'port': port 8009 on host 'lab2' already used by service "
            "'security_gateway'") in text
    assert ("catalogue: service 'ai_service' field 'depends_on': required dependency 'grok_integration' is in "
            "later phase 'devices'") in text
    assert "Touch the host" not in text
    assert "unreachable=0" in text
    for value in lab["values"]:
        assert value not in text


def test_a_listen_port_a_host_network_runtime_cannot_bind_fails_before_hosts(lab):
    proc = lab["results"]["listen_port"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert ("catalogue: service 'voice_router' field 'listen_port': listen_port 9105 differs from port 8005, which "
            "only the docker runtime can map (runtime systemd binds the port it is reached at: set port to 9105, or "
            "drop listen_port)") in text
    assert "Touch the host" not in text and "unreachable=0" in text


def test_a_host_forcing_its_runtime_on_a_mapped_docker_service_fails_before_hosts(lab):
    proc = lab["results"]["forced_runtime"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert "catalogue: service '" not in text  # the catalogue itself is valid
    assert "Preflight | service_runtime" in text
    for host in ("lab1", "lab2"):
        assert ("service_runtime on host '%s': supervisor cannot run service 'stt_service' (field 'listen_port'): "
                "listen_port 9101 differs from port 8001, which only the docker runtime can map (runtime supervisor "
                "binds the port it is reached at: set port to 9101, or drop listen_port)" % host) in text
    assert "Touch the host" not in text and "unreachable=0" in text


def test_a_service_whose_group_no_phase_play_reaches_fails_before_hosts(lab):
    proc = lab["results"]["untargeted"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert ("catalogue: service 'ai_service' field 'group': group 'alicia_extras' has no hosts and is not targeted by "
            "any phase play (the play of phase 'voice' runs on the hosts of group 'alicia_voice' only)") in text
    assert "Touch the host" not in text and "unreachable=0" in text


def test_missing_secret_fails_with_its_name_only(lab):
    proc = lab["results"]["missing_secret"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert ("catalogue: service 'grok_integration' field 'secrets': missing required secret 'GROK_API_KEY' "
            "(set catalogue_secrets.grok_integration.GROK_API_KEY)") in text
    for value in lab["values"]:
        assert value not in text


def test_runs_under_limit_and_tags_then_the_play_goes_on(lab):
    proc = lab["results"]["limit_tags"]
    text = output(proc)
    # Preflight passed without contacting lab1; the next play did try to, and
    # found it unreachable (the proof that it would have been touched).
    assert "Catalogue | check the catalogue, the inventory and the secrets" in text
    assert "TASK [Touch the host]" in text
    assert proc.returncode == 4, text
    assert "unreachable=1" in text
    recap = text[text.index("PLAY RECAP"):]
    assert "lab2" not in recap


def test_role_type_check_names_the_variable(lab):
    proc = lab["results"]["type_check"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert "catalogue_require_groups" in text and "Touch the host" not in text


def test_filters_with_real_hostvars(lab):
    proc = lab["results"]["endpoints"]
    assert proc.returncode == 0, output(proc)
    result = json.loads(lab["endpoints_out"].read_text())
    assert result["phase"] == ["stt_service", "ai_service", "tts_service", "voice_router"]
    urls = [(e["service"], e["host"], e["url"]) for e in result["endpoints"]]
    assert urls[:2] == [("stt_service", "lab1", "http://10.20.0.1:8001/health"),
                        ("stt_service", "lab2", "http://10.10.0.2:8001/health")]
    assert len(urls) == 8
