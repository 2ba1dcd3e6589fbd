# -*- coding: utf-8 -*-
"""The MQTT modules' shared connection options: one argument spec
(module_utils/_mqtt_connection.py) and one doc fragment
(doc_fragments/mqtt_connection.py) that agree, used by mqtt_check and registry."""

import pytest
import yaml

from ansible_collections.alicia.platform.plugins.doc_fragments.mqtt_connection import ModuleDocFragment
from ansible_collections.alicia.platform.plugins.module_utils import _mqtt_connection as connection
from ansible_collections.alicia.platform.plugins.modules import mqtt_check, registry

SHARED = ["ca_cert", "host", "password", "port", "tls", "tls_insecure", "username"]
MODULES = {"mqtt_check": mqtt_check, "registry": registry}


class Captured(Exception):
    pass


def module_argument_spec(module, monkeypatch):
    """The argument_spec the module gives AnsibleModule (stopped there)."""
    def fake(**kwargs):
        raise Captured(kwargs["argument_spec"])
    monkeypatch.setattr(module, "AnsibleModule", fake)
    with pytest.raises(Captured) as info:
        module.run_module()
    return info.value.args[0]


def test_the_fragment_documents_exactly_the_spec_with_its_types_and_defaults():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = connection.argument_spec()
    assert sorted(documented) == sorted(spec) == SHARED
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name


def test_the_password_is_no_log_and_each_call_gives_a_new_spec():
    first = connection.argument_spec()
    assert first["password"]["no_log"] is True
    assert [name for name, option in first.items() if option.get("no_log")] == ["password"]
    first["host"]["default"] = "changed"
    assert connection.argument_spec()["host"]["default"] == "127.0.0.1"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_mqtt_module_takes_the_shared_options_and_documents_them_through_the_fragment(name, monkeypatch):
    module = MODULES[name]
    spec = module_argument_spec(module, monkeypatch)
    assert dict((key, spec[key]) for key in SHARED) == connection.argument_spec()
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert "alicia.platform.mqtt_connection" in doc["extends_documentation_fragment"]
    # The module documents its own options only; the fragment the shared ones.
    assert not set(SHARED) & set(doc["options"]), name
    assert sorted(set(doc["options"]) | set(SHARED)) == sorted(spec), name
