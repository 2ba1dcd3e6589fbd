# -*- coding: utf-8 -*-
"""playbooks/deploy.yml, rollback.yml and status.yml's logic: the request,
rollback targets per deployment, failures and the status rows."""

import json

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _deploy as deploy
from ansible_collections.alicia.platform.plugins.module_utils import _history as history

CATALOGUE = {
    "mqtt_broker": {"kind": "broker", "phase": "core"},
    "tts_service": {"phase": "voice", "instances": 2},
    "stt_service": {"phase": "voice", "group": "alicia_speech"},
    "device_control": {"phase": "devices"},
}


def test_services_with_a_version_become_overrides_and_hosts():
    req = deploy.request(CATALOGUE, services="tts_service, stt_service", version="1.4.0")
    assert req["services"] == ["tts_service", "stt_service"]
    assert req["overrides"] == {"tts_service": {"version": "1.4.0"}, "stt_service": {"version": "1.4.0"}}
    assert req["hosts"] == "alicia_voice:alicia_speech"
    assert (req["strategy"], req["serial"], req["max_fail_percentage"]) == ("direct", "100%", 0)
    assert deploy.host_services(req, ["alicia", "alicia_speech"]) == ["stt_service"]


def test_a_phase_selects_its_services_and_rolling_defaults_to_one_host_a_batch():
    req = deploy.request(CATALOGUE, phase="voice", strategy="rolling")
    assert req["services"] == ["tts_service", "stt_service"] and req["overrides"] == {}
    assert req["serial"] == "1"
    assert deploy.request(CATALOGUE, services=["tts_service"], strategy="rolling", serial="50%")["serial"] == "50%"


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of services"),
    ({"services": "tts_service", "phase": "voice"}, "exactly one of services"),
    ({"services": "nope,tts_service"}, "services: nope is not"),
    ({"services": "mqtt_broker"}, "services: mqtt_broker is not"),
    ({"phase": "nowhere"}, "phase 'nowhere' has no service"),
    ({"services": "tts_service", "strategy": "yolo"}, "strategy must be one of direct, rolling"),
    ({"services": "tts_service", "strategy": "blue_green"}, "tts_service has no field 'slot_ports'"),
    ({"services": "tts_service", "version": "../../etc"}, "version '../../etc'"),
    ({"services": "tts_service", "serial": "0"}, "serial must be"),
    ({"services": "tts_service", "max_fail_percentage": "x"}, "max_fail_percentage must be"),
    ({"services": "tts_service", "max_fail_percentage": 101}, "max_fail_percentage must be 0-100"),
    ({"services": {"a": 1}}, "services must be"),
    ({"services": "stt_service", "strategy": "canary"}, "canary needs services behind the balancer: stt_service runs one "
                                                      "instance without slots"),
    ({"services": "tts_service", "strategy": "canary", "canary": {"window": 0}}, "canary_window must be 1.0-3600.0"),
    ({"services": "tts_service", "strategy": "canary", "canary": {"min_requests": "many"}},
     "canary_min_requests must be a whole number"),
    ({"services": "tts_service", "strategy": "canary", "canary": {"max_error_rate": 2}}, "canary_max_error_rate must be"),
    ({"services": "tts_service", "strategy": "canary", "canary": {"weight": 0}}, "canary_weight must be 1-256"),
    ({"services": "tts_service", "canary": {"speed": 1}}, "canary_speed"),
])
def test_a_bad_request_names_the_field(kwargs, message):
    with pytest.raises(deploy.DeployError, match=message.replace("(", r"\(").replace(".", r"\.")):
        deploy.request(CATALOGUE, **kwargs)


def test_canary_defaults_to_one_host_a_batch_and_fills_its_settings():
    req = deploy.request(CATALOGUE, services="tts_service", strategy="canary", version="2.0.0",
                         canary={"window": "8", "min_requests": "5", "weight": ""})
    assert (req["strategy"], req["serial"]) == ("canary", "1")
    assert req["canary"] == {"weight": 10, "window": 8.0, "min_requests": 5, "max_error_rate": 0.01}
    # The other strategies carry the defaults (unused).
    assert deploy.request(CATALOGUE, services="stt_service")["canary"]["min_requests"] == 20


def test_canary_takes_a_single_instance_service_in_two_slots():
    catalogue = dict(CATALOGUE, ai_service={"phase": "voice", "slot_ports": [9020, 9021]})
    req = deploy.request(catalogue, services="ai_service,tts_service", strategy="canary", version="2.0.0")
    assert (req["strategy"], req["services"]) == ("canary", ["ai_service", "tts_service"])
    with pytest.raises(deploy.DeployError, match="stt_service runs one instance without slots"):
        deploy.request(catalogue, services="ai_service,stt_service", strategy="canary")


def rec(name, version):
    return {"service": name, "version": version, "spec": {"name": name, "version": version}, "release": None}


def build():
    doc = history.empty()
    history.record_gate(doc, [rec("tts", "1.0"), rec("stt", "1.0")], [], {}, "h", "direct", "d1", "s", "e")
    history.record_gate(doc, [rec("tts", "2.0"), rec("stt", "1.0")], [], {}, "h", "rolling", "d2", "s", "e")
    return doc


def test_rollback_targets_are_the_releases_the_current_ones_replaced():
    text = json.dumps(build())
    targets = deploy.rollback_targets(text, ["tts", "stt", "ghost"])
    assert list(targets) == ["tts"] and targets["tts"]["version"] == "1.0"


def test_rollback_targets_of_a_deployment_are_only_what_it_changed_here():
    text = json.dumps(build())
    assert list(deploy.rollback_targets(text, ["tts", "stt"], deployment_id="d2")) == ["tts"]
    assert deploy.rollback_targets(text, ["tts", "stt"], deployment_id="d9") == {}


def test_rollback_targets_skip_bad_releases_and_an_empty_history():
    doc = build()
    doc["services"]["tts"]["bad"].append(doc["services"]["tts"]["previous_good"][-1]["digest"])
    assert deploy.rollback_targets(json.dumps(doc), ["tts"]) == {}
    assert deploy.rollback_targets("", ["tts"]) == {}


def test_failures_read_the_fact_of_each_host():
    hostvars = {"a": {"_alicia_deploy_failure": "boom"}, "b": {}, "c": {"_alicia_deploy_failure": ""}}
    assert deploy.failures(hostvars, ["a", "b", "c", "d"]) == {"a": "boom"}


def test_the_rollout_stops_above_max_fail_percentage():
    hostvars = {"a": {"_alicia_deploy_failure": "boom"}}
    hosts = ["a", "b", "c", "d"]
    assert deploy.stopped(hostvars, hosts, 0) is True
    assert deploy.stopped(hostvars, hosts, 25) is False
    assert deploy.stopped(hostvars, hosts, 24) is True
    assert deploy.stopped({}, hosts, 0) is False


def test_status_rows_and_table():
    doc = build()
    history.record_gate(doc, [rec("tts", "3.0")], ["tts"], {"tts": "HTTP 503\nmore"}, "h", "direct", "d3", "s", "e")
    sweep = {"results": [{"service": "tts", "status": "healthy", "version": "2.0"},
                         {"service": "stt", "status": "healthy", "version": "1.0"},
                         {"service": "stt", "status": "unhealthy", "version": "1.1"}]}
    out = deploy.status("h", json.dumps(doc), health=sweep, last=2,
                        slots_map="# the live slots\ntts tts_green\nother other_blue\n")
    rows = dict((r["service"], r) for r in out["services"])
    assert (rows["tts"]["slot"], rows["stt"]["slot"]) == ("green", None)
    assert (rows["tts"]["current"], rows["tts"]["known_good"], rows["tts"]["bad"]) == ("3.0", "2.0", 1)
    assert (rows["tts"]["health"], rows["tts"]["running"]) == ("healthy", "2.0")
    assert (rows["stt"]["health"], rows["stt"]["running"]) == ("unhealthy", "1.0,1.1")
    assert len(out["deployments"]) == 2
    assert out["deployment_lines"][-1] == "e tts 2.0 -> 3.0 (direct): failed, HTTP 503"
    table = deploy.status_table(out["services"])
    assert table[0].split() == ["HOST", "SERVICE", "CURRENT", "SLOT", "KNOWN-GOOD", "BAD", "HEALTH", "RUNNING"]
    assert table[1].split()[1] == "stt" and table[1].split()[3] == "-"  # not blue-green: no slot
    assert table[2].split() == ["h", "tts", "3.0", "green", "2.0", "1", "healthy", "2.0"]
    assert deploy.status("h", "")["services"] == []


def test_backup_instances_of_the_multi_instance_services():
    catalogue = {"tts": {"instance_list": [{"name": "tts-1"}, {"name": "tts-2"}]}, "stt": {}}
    assert deploy.backup_instances(catalogue, ["tts", "stt", "ghost"]) == {"tts": ["tts-1", "tts-2"]}


def test_the_verdict_names_every_failed_host_sorted_then_what_this_host_rolled_back():
    failures = {"app2": "service: tts_service on app2 is not healthy", "app1": "backup does not fit"}
    assert deploy.verdict(failures) == ("deploy failed: app1: backup does not fit; "
                                        "app2: service: tts_service on app2 is not healthy.")
    assert deploy.verdict(failures, ["metrics_collector"]).endswith(
        ". Rolled back on this host too (updated by this deployment): metrics_collector")
    assert deploy.verdict({}) == ""
