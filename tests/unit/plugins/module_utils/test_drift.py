# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report (module_utils/_drift.py): a real plan and files batch of
the service role (the shipped catalogue), check-mode results shaped as the
modules return them, and what the report says: per host and service WHAT
differs, never a secret; the JSON document, the JUnit XML, the console lines
and the failure message."""

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _drift as drift
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp

HOST = "h1"
GROUPS = {"alicia_core": [HOST], "alicia_voice": [HOST], "alicia_broker": ["b1"]}
GROUP_NAMES = ["alicia", "alicia_core", "alicia_voice"]
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, HOST: {"alicia_address": "10.0.0.2"}}
SECRET = "s3cr3t-pass-4f1b"
TTS = {"tts_service": {"instances": 2, "instance_names": ["tts-primary", "tts-secondary"],
                       "instance_ports": [9000, 9001]}}


def build(resolve, names, overrides=None, settings=None):
    catalogue = resolve(overrides)
    plan = sp.plan(catalogue, names, GROUP_NAMES, HOST, groups=GROUPS, settings=settings)
    secrets = dict((name, {"MQTT_PASSWORD": SECRET, "JWT_SECRET": SECRET}) for name in catalogue)
    batch = sp.files(plan, catalogue, secrets=secrets, mqtt_broker="10.0.0.1", hostvars=HOSTVARS, groups=GROUPS)
    return plan, batch


def unit(active=True, enabled=True, active_state=None, unit_file_state=None, load_state="loaded"):
    return {"load_state": load_state, "active": active, "enabled": enabled,
            "active_state": active_state or ("active" if active else "inactive"),
            "unit_file_state": unit_file_state or ("enabled" if enabled else "disabled")}


def files_result(batch, changed=None, units=None):
    """A files module result: every path of the batch unchanged but those of ``changed`` ({path: action})."""
    changed = changed or {}
    result = {"files": {}, "changed_paths": list(changed), "units": units or {}}
    for entry in batch:
        action = changed.get(entry["path"])
        result["files"][entry["path"]] = {"changed": bool(action), "state": entry.get("state", "file"),
                                          "action": action or "unchanged"}
    return result


def test_a_clean_host_has_no_drift(resolve):
    plan, batch = build(resolve, ["stt_service", "security_gateway"])
    units = dict((u["name"], unit()) for u in plan["wanted_units"])
    found = drift.host_findings(plan, keys=sp.all_keys(plan), batch=batch, files=files_result(batch, units=units))
    assert found["drifted"] == {}
    assert [c["name"] for c in found["checked"]] == plan["names"]
    assert all(c["scope"] == "service" for c in found["checked"])


def test_each_kind_of_file_drift_is_named_with_its_service_and_no_content(resolve):
    plan, batch = build(resolve, ["stt_service", "security_gateway"])
    env = next(e["path"] for e in batch if e.get("secret") and e.get("key") == "stt_service")
    unit_file = next(e["path"] for e in batch if e["path"].endswith("alicia-stt_service.service"))
    link = next(e["path"] for e in batch if e.get("state") == "link" and e.get("key") == "security_gateway")
    marker = next(e["path"] for e in batch if e.get("key") == "security_gateway:gate")
    data = next(e["path"] for e in batch if e.get("state") == "directory" and e.get("key") == "stt_service")
    changed = {env: "updated", unit_file: "created", link: "updated", marker: "removed", data: "attributes"}
    units = dict((u["name"], unit()) for u in plan["wanted_units"])
    found = drift.host_findings(plan, keys=sp.all_keys(plan), batch=batch,
                                files=files_result(batch, changed, units))["drifted"]
    assert list(found) == [n for n in plan["names"] if n in ("security_gateway", "stt_service")]
    assert {"kind": "environment file", "target": env, "state": "differs"} in found["stt_service"]
    assert {"kind": "file", "target": unit_file, "state": "missing"} in found["stt_service"]
    assert {"kind": "directory", "target": data, "state": "owner, group or mode differ"} in found["stt_service"]
    assert {"kind": "link", "target": link, "state": "points elsewhere"} in found["security_gateway"]
    assert {"kind": "health gate", "target": marker,
            "state": "failed at the last run (marker present)"} in found["security_gateway"]
    # What the batch's entries hold (rendered environments, secrets) never reaches the findings.
    assert SECRET in json.dumps(batch, default=str)
    assert SECRET not in json.dumps(found) and "MQTT_PASSWORD" not in json.dumps(found)


def test_units_not_running_not_enabled_or_missing_are_named_per_service(resolve):
    plan, batch = build(resolve, ["stt_service", "tts_service"], overrides=TTS)
    units = dict((u["name"], unit()) for u in plan["wanted_units"] + plan["balancer_units"])
    units["alicia-stt_service.service"] = unit(active=False, active_state="failed")
    instance = plan["instance_units"][1]
    units[instance] = unit(enabled=False)
    units[plan["balancer_units"][0]["name"]] = unit(active=False, enabled=False, load_state="not-found")
    found = drift.host_findings(plan, keys=sp.all_keys(plan), batch=batch,
                                files=files_result(batch, units=units))["drifted"]
    assert found["stt_service"] == [{"kind": "unit", "target": "alicia-stt_service.service",
                                     "state": "not running (failed)"}]
    assert {"kind": "unit", "target": instance, "state": "not enabled (disabled)"} in found["tts_service"]
    assert {"kind": "unit", "target": plan["balancer_units"][0]["name"], "state": "missing"} in found["tts_service"]


def test_containers_programs_manual_instances_and_virtualenvs(resolve):
    catalogue_overrides = {"stt_service": {"runtime": "docker"}, "tts_service": {"runtime": "supervisor"},
                           "ai_service": {"runtime": "manual"}}
    plan, batch = build(resolve, ["stt_service", "tts_service", "ai_service"], overrides=catalogue_overrides)
    container = plan["container_names"][0]
    program = plan["programs"][0]["name"] if isinstance(plan["programs"][0], dict) else plan["programs"][0]
    found = drift.service_findings(
        plan, keys=sp.all_keys(plan), batch=batch, files=files_result(batch),
        containers={"containers": {container: {"actions": ["recreated", "started"], "reason": "configuration changed",
                                               "before": {"exists": True, "status": "exited"}}}},
        supervisor={"actions": {program: ["started"]}, "programs": {program: {"state": "STOPPED"}}},
        manual={"actions": {"ai_service": ["restarted"]},
                "services": {"ai_service": {"running": True, "healthy": False}}})
    assert found["stt_service"] == [{"kind": "container", "target": container, "state": "would be recreated, started",
                                     "reason": "configuration changed", "status": "exited"}]
    assert found["tts_service"] == [{"kind": "program", "target": program, "state": "would be started",
                                     "status": "STOPPED"}]
    assert found["ai_service"] == [{"kind": "manual instance", "target": "ai_service", "state": "would be restarted",
                                    "status": "running, unhealthy"}]


def test_a_stale_virtualenv_is_named_for_the_services_that_use_it():
    plan = {"entries": [{"name": "a", "unit": "a.service"}, {"name": "b", "unit": "b.service"}],
            "venv_of": {"a": "/opt/v/1", "b": "/opt/v/1"}}
    found = drift.service_findings(plan, venvs={"venvs": [{"path": "/opt/v/1", "changed": True, "action": "rebuilt",
                                                           "reason": "requirements or options changed"}]})
    assert list(found) == ["a", "b"]
    assert found["a"][0] == {"kind": "virtualenv", "target": "/opt/v/1", "state": "would be rebuilt",
                             "reason": "requirements or options changed"}


def test_a_blue_green_service_off_its_release_or_with_a_unit_to_fix(resolve):
    """The check-mode alicia.platform.slots result: a switch it would make, the unit verbs it would take."""
    plan = {"entries": [{"name": "ai", "unit": "alicia-ai.target", "phase": "voice", "runtime": "systemd"},
                        {"name": "bg", "unit": "alicia-bg.target", "phase": "voice", "runtime": "systemd"}],
            "slotted": ["ai", "bg"]}
    slots = {"services": [
        {"service": "ai", "action": "switch", "from_slot": "blue", "to_slot": "green", "from_release": "releases/1",
         "to_release": "releases/2", "switched": True, "failed": False},
        {"service": "bg", "action": "keep", "from_slot": "blue", "to_slot": "blue", "to_release": "releases/1",
         "fixed": ["start alicia-bg-blue.service", "disable alicia-bg-green.service"]},
    ]}
    found = drift.service_findings(plan, slots=slots)
    assert found["ai"] == [{"kind": "slot", "target": "green", "state": "would switch in with releases/2",
                            "status": "slot blue live on releases/1"}]
    assert found["bg"] == [{"kind": "unit", "target": "alicia-bg-blue.service", "state": "would be started"},
                           {"kind": "unit", "target": "alicia-bg-green.service", "state": "would be disabled"}]
    assert drift.service_findings(plan, slots={"services": [dict(slots["services"][1], fixed=[])]}) == {}
    # And the platform plan puts such a service to work (its phase runs), not one kept as it is.
    real, _batch = build(resolve, ["ai_service"], overrides={"ai_service": {"slot_ports": [9020, 9021]}})
    switch = {"services": [dict(slots["services"][0], service="ai_service")]}
    assert sp.plan_work(real, slots=switch) == {"services": ["ai_service"], "phases": ["voice"]}
    keep = {"services": [dict(slots["services"][1], service="ai_service", fixed=[])]}
    assert sp.plan_work(real, slots=keep) == {"services": [], "phases": []}


def test_the_baseline_and_the_broker_components():
    components = {
        "packages": {"missing": ["nftables"]},
        "service_user": {"changes": ["user alicia: shell /bin/bash, wanted /usr/sbin/nologin"]},
        "network_hardening": {
            "files": {"files": {"/etc/nftables.d/alicia.nft": {"changed": True, "action": "updated"},
                                "/etc/sysctl.d/90-alicia.conf": {"changed": False, "action": "unchanged"}}},
            "units": {"nftables.service": {"active": False, "enabled": True}},
            "sysctl": {"net.ipv4.ip_forward": {"drift": True, "live": "1"}, "kernel.x": {"drift": False}},
            "checks": {"nftables table inet alicia_filter": "not loaded"}},
        "log_rotation": {"files": {"files": {}, "units": {"logrotate.timer": {"active": True, "enabled": True}}}},
    }
    broker = {"name": "mqtt_broker", "spec": {
        "files": {"files": {"/etc/mosquitto/acl": {"changed": True, "action": "updated"}}},
        "batch": [{"path": "/etc/mosquitto/acl", "secret": True}],
        "checks": {"/etc/mosquitto/passwd": "would be rebuilt"}}}
    found = drift.host_findings(components=components, broker=broker)
    assert [(c["name"], c["scope"]) for c in found["checked"]] == [
        ("packages", "baseline"), ("service_user", "baseline"), ("network_hardening", "baseline"),
        ("log_rotation", "baseline"), ("mqtt_broker", "broker")]
    drifted = found["drifted"]
    assert "log_rotation" not in drifted
    assert drifted["packages"] == [{"kind": "package", "target": "nftables", "state": "missing"}]
    assert drifted["service_user"][0]["state"].startswith("user alicia: shell")
    assert drifted["network_hardening"] == [
        {"kind": "file", "target": "/etc/nftables.d/alicia.nft", "state": "differs"},
        {"kind": "unit", "target": "nftables.service", "state": "not running"},
        {"kind": "sysctl", "target": "net.ipv4.ip_forward", "state": "differs", "live": "1"},
        {"kind": "check", "target": "nftables table inet alicia_filter", "state": "not loaded"}]
    assert drifted["mqtt_broker"] == [
        {"kind": "secret file", "target": "/etc/mosquitto/acl", "state": "differs"},
        {"kind": "check", "target": "/etc/mosquitto/passwd", "state": "would be rebuilt"}]


def test_the_report_the_summary_the_failure_and_the_junit_xml(resolve):
    plan, batch = build(resolve, ["stt_service", "security_gateway"])
    units = dict((u["name"], unit()) for u in plan["wanted_units"])
    clean = drift.host_findings(plan, keys=sp.all_keys(plan), batch=batch, files=files_result(batch, units=units),
                                components={"packages": {"missing": []}})
    units["alicia-stt_service.service"] = unit(active=False)
    dirty = drift.host_findings(plan, keys=sp.all_keys(plan), batch=batch, files=files_result(batch, units=units))

    ok = drift.report(["h1"], {"h1": clean}, generated="2026-12-07T00:00:00Z")
    assert ok["drift"] is False and ok["drifted"] == [] and ok["generated"] == "2026-12-07T00:00:00Z"
    assert ok["totals"] == {"hosts": 1, "hosts_drifted": 0, "checked": 3, "drifted": 0, "not_checked": 0}
    assert ok["hosts"]["h1"]["services"]["packages"] == {"scope": "baseline", "drift": False}
    assert drift.failure(ok) == ""
    assert drift.summary(ok) == ["1 host(s), 3 checked, 0 drifted"]
    json.dumps(ok)

    doc = drift.report(["h1", "h2", "h3"], {"h1": clean, "h2": dirty})
    assert doc["drift"] is True
    assert doc["drifted"] == [{"host": "h2", "service": "stt_service", "scope": "service", "findings": 1},
                              {"host": "h3", "service": None, "scope": None, "findings": 0}]
    assert doc["hosts"]["h3"]["checked"] is False and doc["hosts"]["h2"]["services"]["stt_service"]["drift"]
    assert doc["totals"]["hosts_drifted"] == 2 and doc["totals"]["not_checked"] == 1
    assert drift.summary(doc)[:2] == [
        "h2 stt_service: unit alicia-stt_service.service: not running (inactive)",
        "h3: not checked (unreachable, or a check failed: see the run's output)"]
    message = drift.failure(doc)
    assert message.splitlines()[0] == ("drift: 1 service(s) on 1 host(s) differ from the declared state, "
                                       "1 host(s) not checked:")
    assert "- stt_service on h2 (service): 1 finding(s)" in message and "- h3: not checked" in message

    tree = ET.fromstring(drift.junit(doc))
    assert (tree.get("tests"), tree.get("failures"), tree.get("errors")) == ("6", "1", "1")
    failed = [case for case in tree.iter("testcase") if case.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("drift.h2.service", "stt_service")]
    assert "alicia-stt_service.service: not running" in failed[0].find("failure").text
    assert tree.find("testsuite[@name='h3']/testcase/error") is not None


def test_junit_escapes_what_it_quotes():
    doc = drift.report(["h<1>"], {"h<1>": {"checked": [{"name": "a&b", "scope": "service"}],
                                          "drifted": {"a&b": [{"kind": "file", "target": "/x<y>", "state": "differs"}]}}})
    tree = ET.fromstring(drift.junit(doc))
    assert tree.find("testsuite").get("name") == "h<1>"
    assert tree.find("testsuite/testcase/failure").text == "file /x<y>: differs"


def test_bad_input():
    with pytest.raises(drift.DriftError, match="the hosts must be a list"):
        drift.report("h1", {})
    # Results of skipped tasks (the plan's containers on a host without any) are no drift.
    assert drift.service_findings({"entries": []}, files={"skipped": True}, containers={"skipped": True}) == {}
