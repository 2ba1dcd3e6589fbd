# -*- coding: utf-8 -*-
"""plugins/filter/health_sweep.py through its FilterModule, and by FQCN
through Ansible's templar with the role defaults' (on 2.19 tagged, lazy)
catalogue."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.health_sweep import FilterModule

FILTERS = FilterModule().filters()
NAMES = ["health_sweep_errors", "health_sweep_endpoints", "health_sweep_broker_check", "health_sweep_rows",
         "health_sweep_table", "health_sweep_problems"]
ALL_GROUPS = ["alicia", "alicia_broker", "alicia_core", "alicia_management", "alicia_voice", "alicia_devices",
              "alicia_advanced", "alicia_observability"]


def test_every_filter_is_exported_and_documented(root):
    assert sorted(FILTERS) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(root, "plugins", "filter", name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]


def test_errors_filter(shipped):
    assert FILTERS["health_sweep_errors"](shipped, service="", groups={"alicia_voice": ["lab1"]}) == []
    found = FILTERS["health_sweep_errors"](shipped, service="nope", health_format="xml")
    assert found[0] == "health sweep: health_format must be one of table, json, got 'xml'"
    assert found[1].startswith("health sweep: unknown service 'nope' (known: ")
    with pytest.raises(AnsibleFilterError, match="the resolved catalogue must be a mapping"):
        FILTERS["health_sweep_errors"]("nope")


def test_endpoints_and_broker_check_filters(shipped):
    endpoints = FILTERS["health_sweep_endpoints"](shipped, ALL_GROUPS, "lab1")
    assert len(endpoints) == 22 and endpoints[0]["url"] == "http://127.0.0.1:8009/health"
    assert FILTERS["health_sweep_endpoints"](shipped, ALL_GROUPS, "lab1", service="tts_service",
                                             address="10.0.0.9")[0]["url"] == "http://10.0.0.9:8003/health"
    with pytest.raises(AnsibleFilterError, match="group_names must be a list"):
        FILTERS["health_sweep_endpoints"](shipped, "alicia_voice", "lab1")
    check = FILTERS["health_sweep_broker_check"](shipped, check_service="")
    assert (check["account"], check["host"], check["port"]) == ("security_gateway", "127.0.0.1", 1883)
    with pytest.raises(AnsibleFilterError, match="broker_check_service 'nope'"):
        FILTERS["health_sweep_broker_check"](shipped, check_service="nope")


def test_rows_filter_reads_each_host_s_registered_results(shipped):
    broker = FILTERS["health_sweep_broker_check"](shipped)
    groups = {"all": ["lab1", "lab2"], "alicia_broker": ["lab1"], "alicia_voice": ["lab1", "lab2"],
              "alicia_core": []}
    lab1 = FILTERS["health_sweep_endpoints"](shipped, ["alicia_broker", "alicia_voice"], "lab1")
    hostvars = {
        "lab1": {"_health_sweep": {"results": [dict(e, status="healthy", latency_ms=1.0, version="1.0.0",
                                                    broker_connected=True) for e in lab1]},
                 "_health_broker_check": {"ok": True, "latency": {"total": 0.002}}},
        # lab2 never registered anything (the play did not reach it).
        "lab2": {},
    }
    rows = FILTERS["health_sweep_rows"](shipped, hostvars, ["lab1", "lab2"], groups, broker=broker)
    assert [(r["service"], r["host"], r["status"]) for r in rows] == [
        ("mqtt_broker", "lab1", "healthy"),
        ("ai_service", "lab1", "healthy"), ("ai_service", "lab2", "unreachable"),
        ("stt_service", "lab1", "healthy"), ("stt_service", "lab2", "unreachable"),
        ("tts_service", "lab1", "healthy"), ("tts_service", "lab2", "unreachable"),
        ("voice_router", "lab1", "healthy"), ("voice_router", "lab2", "unreachable")]
    assert rows[2]["error"] == "not run on this host"
    problems = FILTERS["health_sweep_problems"](rows)
    assert problems[0] == "ai_service on lab2 port 8002: unreachable (not run on this host)" and len(problems) == 4
    table = FILTERS["health_sweep_table"](rows)
    assert table[0].split() == ["phase", "service", "instance", "host", "port", "status", "latency_ms", "version",
                                "broker_connected"]
    assert table[1].split() == ["broker", "mqtt_broker", "mqtt_broker", "lab1", "1883", "healthy", "2.0", "-", "-"]
    assert table[-1] == "9 checked, 5 healthy, 0 unhealthy, 4 unreachable"
    with pytest.raises(AnsibleFilterError, match="groups must be the inventory's groups mapping"):
        FILTERS["health_sweep_rows"](shipped, hostvars, ["lab1"], ["alicia_voice"])


EXPRESSIONS = {
    "errors": "catalogue_resolved | alicia.platform.health_sweep_errors(service='tts', groups=groups)",
    "endpoints": "catalogue_resolved | alicia.platform.health_sweep_endpoints(group_names, 'lab1')"
                 " | map(attribute='url') | list",
    "table": "catalogue_resolved | alicia.platform.health_sweep_rows(hostvars, ['lab1'], groups,"
             " service='tts_service') | alicia.platform.health_sweep_table",
    "problems": "catalogue_resolved | alicia.platform.health_sweep_rows(hostvars, ['lab1'], groups,"
                " service='tts_service') | alicia.platform.health_sweep_problems",
}


def test_filters_by_fqcn_through_ansible_templar(render_with_templar):
    out = render_with_templar(["roles/catalogue/defaults/main.yml"], {
        "group_names": ["alicia", "alicia_voice"], "groups": {"alicia_voice": ["lab1"]},
        "hostvars": {"lab1": {"_health_sweep": {"unreachable": True, "msg": "no route"}}}}, EXPRESSIONS)
    assert len(out["errors"]) == 1 and out["errors"][0].startswith("health sweep: unknown service 'tts'")
    assert out["endpoints"] == ["http://127.0.0.1:8001/health", "http://127.0.0.1:8002/health",
                                "http://127.0.0.1:8003/health", "http://127.0.0.1:8004/health"]
    assert out["table"][1].split() == ["voice", "tts_service", "tts_service", "lab1", "8003", "unreachable", "-",
                                       "-", "-"]
    assert out["problems"] == ["tts_service on lab1 port 8003: unreachable (host unreachable: no route)"]
