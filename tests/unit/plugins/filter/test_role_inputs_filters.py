# -*- coding: utf-8 -*-
"""plugins/filter/role_inputs.py through its FilterModule, and by FQCN through
Ansible's templar with tagged, lazy and vaulted data."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.role_inputs import FilterModule

FILTERS = FilterModule().filters()
NAMES = ["log_rotation_policies", "log_rotation_errors", "network_hardening_errors", "broker_errors"]
DEFAULTS = {"size": "50M", "frequency": None, "rotate": 5, "maxage": 30, "mode": "0640"}


def test_every_filter_is_exported_and_documented(root):
    assert sorted(FILTERS) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(root, "plugins", "filter", name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]


def test_log_rotation_filters(shipped):
    overrides = {"tts_service": {"enabled": False}, "nope": {}}
    policies = FILTERS["log_rotation_policies"](shipped, ["alicia_voice", "alicia_broker"], DEFAULTS, overrides)
    assert [(p["name"], p["enabled"]) for p in policies] == [
        ("stt_service", True), ("ai_service", True), ("tts_service", False), ("voice_router", True),
        ("mqtt_broker", True)]
    assert FILTERS["log_rotation_errors"](policies, overrides, shipped) == [
        "log_rotation_overrides.nope: no such service in the catalogue"]
    with pytest.raises(AnsibleFilterError, match="log_rotation_defaults must be a mapping"):
        FILTERS["log_rotation_policies"](shipped, ["alicia_voice"], "50M")


def test_network_hardening_filter(shipped):
    services = [shipped["security_gateway"], dict(shipped["config_service"], firewall={"allow_from": ["lan"]})]
    assert FILTERS["network_hardening_errors"]({"ssh_port": 22, "ssh_sources": ["10.0.0.0/8"]}, services) == [
        "network_hardening: service 'config_service': firewall.allow_from must be one of platform, clients, any or a "
        'non-empty list of IPv4/IPv6 addresses or CIDRs, got ["lan"]; not valid: lan']


def test_broker_filter(shipped):
    found = FILTERS["broker_errors"](shipped, {"broker": "mqtt_broker", "admin_username": "alicia_admin",
                                               "admin_password": "pw", "monitor_username": "alicia_monitor",
                                               "monitor_password": ""})
    assert found == ["broker: broker_monitor_password: must be set (from Vault)"]
    with pytest.raises(AnsibleFilterError, match="catalogue: the resolved catalogue must be a mapping"):
        FILTERS["broker_errors"]("nope", {})


TEMPLAR_SCRIPT = r"""
import json, sys
root = sys.argv[1]
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
try:  # ansible-core 2.19: data tagging; role defaults are trusted templates
    from ansible.template import trust_as_template
    from ansible.parsing.vault import VaultSecretsContext
except ImportError:  # 2.17, 2.18: every string is a template
    trust_as_template = VaultSecretsContext = None
init_plugin_loader([root + "/.collections"])
secret = VaultSecret(b"unit-test-vault-password")
if VaultSecretsContext is not None:
    VaultSecretsContext.initialize(VaultSecretsContext([("default", secret)]))  # as the CLI does
trusted = trust_as_template or (lambda text: text)
loader = DataLoader()
loader.set_vault_secrets([("default", secret)])
vaulted = VaultLib([("default", secret)]).encrypt("vaulted-admin-pw").decode()
variables = loader.load_from_file(root + "/roles/catalogue/defaults/main.yml")
variables["catalogue_resolved"] = trusted(variables["catalogue_resolved"])
variables.update(loader.load(
    "admin: !vault |\n" + "".join("  " + line + "\n" for line in vaulted.splitlines())
    + "monitor: ''\n"
    + "log_defaults: {size: 50M, frequency: null, rotate: 5, maxage: 30, mode: '0640'}\n"
    + "group_names: [alicia, alicia_broker, alicia_core]\n"))
templar = Templar(loader=loader, variables=variables)
expressions = {
    "services": "catalogue_resolved | alicia.platform.catalogue_host_services(group_names) | map(attribute='name')",
    "packages": "catalogue_resolved | alicia.platform.catalogue_host_packages(group_names, catalogue_base_packages)",
    "policies": "catalogue_resolved | alicia.platform.log_rotation_policies(group_names, log_defaults)",
    "log_errors": "catalogue_resolved | alicia.platform.log_rotation_policies(group_names, log_defaults)"
                  " | alicia.platform.log_rotation_errors({}, catalogue_resolved)",
    "network": "{'ssh_sources': ['10.0.0.0/8', 'lan']} | alicia.platform.network_hardening_errors("
               "catalogue_resolved | alicia.platform.catalogue_host_services(group_names))",
    "broker": "catalogue_resolved | alicia.platform.broker_errors({'broker': catalogue_broker,"
              " 'admin_username': 'alicia_admin', 'admin_password': admin,"
              " 'monitor_username': 'alicia_monitor', 'monitor_password': monitor})",
}
out = dict((key, templar.template(trusted("{{ %s }}" % expr))) for key, expr in expressions.items())
print(json.dumps(out))
"""


def test_filters_by_fqcn_through_ansible_templar(root):
    """The filters resolve by FQCN from plugins/filter/role_inputs.py and
    catalogue.py, take Ansible's templated (on 2.19 tagged, lazy)
    containers, and see a vaulted password as its (non-empty) text."""
    proc = subprocess.run([sys.executable, "-c", TEMPLAR_SCRIPT, root], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["services"] == ["mqtt_broker", "security_gateway", "device_registry", "config_service"]
    assert out["packages"] == ["logrotate", "mosquitto", "nftables", "python3-cryptography", "python3-paho-mqtt"]
    assert [(p["name"], p["file"]) for p in out["policies"]] == [
        ("security_gateway", "/etc/logrotate.d/alicia-security_gateway"),
        ("device_registry", "/etc/logrotate.d/alicia-device_registry"),
        ("config_service", "/etc/logrotate.d/alicia-config_service"),
        ("mqtt_broker", "/etc/logrotate.d/mosquitto")]
    assert out["log_errors"] == []
    assert out["network"] == ["network_hardening: network_hardening_ssh_sources must list IPv4/IPv6 addresses or "
                              "CIDRs (10.0.0.0/8, fd00::/8); not valid: lan"]
    assert out["broker"] == ["broker: broker_monitor_password: must be set (from Vault)"]
    assert "vaulted-admin-pw" not in proc.stdout
