# -*- coding: utf-8 -*-
"""plugins/filter/drift.py through its FilterModule: every filter exported
and documented, one host's drift from check-mode results shaped as the
modules return them (a real plan of the shipped catalogue), the report read
from hostvars (a host without a result is not checked), its JUnit XML,
summary and failure message."""

import os
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.drift import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp

FILTERS = FilterModule().filters()
NAMES = ["drift_host", "drift_report", "drift_summary", "drift_failure", "drift_junit"]
GROUPS = {"alicia_voice": ["app1"], "alicia_broker": ["b1"]}
SECRET = "pw-9d1c-not-in-report"


def test_every_filter_is_exported_and_documented(root):
    assert sorted(FILTERS) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(root, "plugins", "filter", name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]


@pytest.fixture
def app1(shipped):
    plan = sp.plan(shipped, ["stt_service", "tts_service"], ["alicia", "alicia_voice"], "app1", groups=GROUPS)
    secrets = dict((name, {"MQTT_PASSWORD": SECRET}) for name in shipped)
    batch = sp.files(plan, shipped, secrets=secrets, mqtt_broker="10.0.0.1", groups=GROUPS)
    env = [e["path"] for e in batch if e.get("secret") and e["key"] == "tts_service"][0]
    files = {"files": dict((e["path"], {"changed": e["path"] == env, "action": "updated" if e["path"] == env
                                        else "unchanged"}) for e in batch),
             "units": dict((u["name"], {"active": u["name"] != "alicia-stt_service.service", "enabled": True})
                           for u in plan["wanted_units"])}
    return plan, batch, files, env


def test_drift_host_reads_the_plan_the_batch_and_the_results(app1):
    plan, batch, files, env = app1
    found = FILTERS["drift_host"](plan, batch=batch, files=files, containers={"skipped": True},
                                  components={"packages": {"missing": []}},
                                  broker={"name": "mqtt_broker", "spec": {"checks": {"/etc/mosquitto/passwd": ""}}})
    assert [c["name"] for c in found["checked"]] == ["packages", "mqtt_broker", "stt_service", "tts_service"]
    assert found["drifted"] == {
        "stt_service": [{"kind": "unit", "target": "alicia-stt_service.service", "state": "not running"}],
        "tts_service": [{"kind": "environment file", "target": env, "state": "differs"}]}
    assert SECRET not in repr(found)
    # A broker-only host: no plan.
    assert FILTERS["drift_host"]({}, components={"packages": {"missing": ["mosquitto"]}})["drifted"] == {
        "packages": [{"kind": "package", "target": "mosquitto", "state": "missing"}]}


def test_the_report_from_hostvars_its_junit_summary_and_failure(app1):
    plan, batch, files, env = app1
    hostvars = {"app1": {"drift_host": FILTERS["drift_host"](plan, batch=batch, files=files)},
                "b1": {"drift_host": FILTERS["drift_host"]({}, components={"packages": {"missing": []}})},
                "down": {}}
    doc = FILTERS["drift_report"](["b1", "app1", "down"], hostvars, generated="2026-12-07T00:00:00Z")
    assert doc["drift"] is True and doc["generated"] == "2026-12-07T00:00:00Z"
    assert [(d["host"], d["service"]) for d in doc["drifted"]] == [
        ("app1", "stt_service"), ("app1", "tts_service"), ("down", None)]
    assert doc["hosts"]["b1"] == {"checked": True, "drift": False, "drifted": {},
                                  "services": {"packages": {"scope": "baseline", "drift": False}}}
    lines = FILTERS["drift_summary"](doc)
    assert "app1 tts_service: environment file %s: differs" % env in lines
    assert lines[-1] == "3 host(s), 3 checked, 2 drifted, 1 host(s) not checked"
    message = FILTERS["drift_failure"](doc)
    assert message.splitlines()[0] == ("drift: 2 service(s) on 1 host(s) differ from the declared state, "
                                       "1 host(s) not checked:")
    assert "- tts_service on app1 (service): 1 finding(s)" in message
    tree = ET.fromstring(FILTERS["drift_junit"](doc, name="ci"))
    assert (tree.get("name"), tree.get("tests"), tree.get("failures"), tree.get("errors")) == ("ci", "4", "2", "1")

    clean = FILTERS["drift_report"](["b1"], hostvars)
    assert clean["drift"] is False and FILTERS["drift_failure"](clean) == ""
    with pytest.raises(AnsibleFilterError, match="the hosts must be a list"):
        FILTERS["drift_report"]("b1", hostvars)
