# -*- coding: utf-8 -*-
"""health_gate against real HTTP servers on 127.0.0.1 (no network mocks)."""

import json
import os
import sys
import time

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.module_utils import health
from ansible_collections.alicia.platform.plugins.modules import health_gate


def ep(server_or_url, path=None, **extra):
    url = server_or_url.url(path) if path else server_or_url
    extra.setdefault("service", (path or url).strip("/").replace("/", "_") or "root")
    extra["url"] = url
    return extra


def by_service(summary):
    return dict((r["service"], r) for r in summary["results"])


# ---------------------------------------------------------------------------
# module_utils.health: one probe
# ---------------------------------------------------------------------------

def test_probe_healthy(http_server):
    result = health.probe(health.normalize(ep(http_server, "/healthy")))
    assert result["healthy"] is True
    assert result["status"] == 200
    assert result["error"] is None
    assert 0 <= result["latency"] < 1


def test_probe_503_reports_status_and_body_excerpt(http_server):
    result = health.probe(health.normalize(ep(http_server, "/unhealthy")))
    assert result["healthy"] is False
    assert result["status"] == 503
    assert result["error"] == 'HTTP 503 (expected 200): {"status": "starting", "detail": "database not ready"}'


def test_probe_connection_refused(refused_port):
    result = health.probe(health.normalize(ep("http://127.0.0.1:%d/health" % refused_port)))
    assert (result["healthy"], result["status"], result["error"]) == (False, None, "connection refused")


def test_probe_timeout(http_server):
    started = time.monotonic()
    result = health.probe(health.normalize(ep(http_server, "/slow", timeout=0.3)))
    assert result["error"] == "timeout after 0.3 s"
    assert time.monotonic() - started < 1.5


def test_probe_silent_server_times_out(silent_port):
    result = health.probe(health.normalize(ep("http://127.0.0.1:%d/health" % silent_port, timeout=0.2)))
    assert result["error"] == "timeout after 0.2 s"


def test_probe_not_json(http_server):
    result = health.probe(health.normalize(ep(http_server, "/notjson")))
    assert result["error"] == "response is not JSON: <html><body>It works</body></html>"
    assert result["status"] == 200


def test_probe_wrong_json_value(http_server):
    result = health.probe(health.normalize(ep(http_server, "/wrong")))
    assert result["error"] == 'JSON field \'status\' is "degraded", expected "healthy"'


def test_probe_missing_json_field(http_server):
    result = health.probe(health.normalize(ep(http_server, "/nested")))
    assert result["error"].startswith("JSON field 'status' missing: {\"checks\"")


def test_probe_dotted_field_bool_value_and_no_json_check(http_server):
    nested = health.normalize(ep(http_server, "/nested", json_field="checks.ready", json_value="true"))
    assert health.probe(nested)["healthy"] is True
    presence = health.normalize(ep(http_server, "/nested", json_field="checks.mqtt", json_value=None))
    assert health.probe(presence)["healthy"] is True
    for field in ("", None):
        plain = health.normalize(ep(http_server, "/notjson", json_field=field))
        assert health.probe(plain)["healthy"] is True


def test_probe_expected_status_list(http_server):
    assert health.probe(health.normalize(ep(http_server, "/created")))["error"].startswith("HTTP 201 (expected 200)")
    assert health.probe(health.normalize(ep(http_server, "/created", expect_status=[200, 201])))["healthy"]


def test_normalize_rejects_bad_endpoints():
    for bad, text in [({}, "has no url"), ({"url": "ftp://x/health"}, "must be http"),
                      ({"url": "http://x/h", "timeout": 0}, "timeout must be positive"),
                      ({"url": "http://x/h", "expect_status": ["ok"]}, "expect_status")]:
        with pytest.raises(health.EndpointError, match=text):
            health.normalize(bad)


# ---------------------------------------------------------------------------
# module_utils.health: the gate
# ---------------------------------------------------------------------------

def test_gate_all_healthy_concurrently(http_server):
    endpoints = [ep(http_server, "/healthy", service="svc%02d" % i) for i in range(23)]
    summary = health.gate(endpoints, timeout=5, interval=0.1)
    assert summary["healthy"] is True
    assert summary["unhealthy"] == []
    assert [r["service"] for r in summary["results"]] == ["svc%02d" % i for i in range(23)]
    assert all(r["attempts"] == 1 and r["time_to_healthy"] is not None for r in summary["results"])
    assert summary["msg"].startswith("health gate: all 23 endpoints healthy in ")


def test_gate_waits_for_service_that_becomes_healthy(http_server):
    summary = health.gate([ep(http_server, "/delayed/0.6", service="late"), ep(http_server, "/healthy")],
                          timeout=5, interval=0.1)
    late = by_service(summary)["late"]
    assert summary["healthy"] is True
    assert late["attempts"] >= 4
    assert 0.6 <= late["time_to_healthy"] < 2.0
    assert by_service(summary)["healthy"]["attempts"] == 1


def test_gate_slow_endpoints_are_probed_in_parallel(http_server):
    """Five endpoints that each need 0.5 s fail together in ~0.5 s, not 2.5 s."""
    endpoints = [ep(http_server, "/slow", service="slow%d" % i, timeout=0.5) for i in range(5)]
    started = time.monotonic()
    summary = health.gate(endpoints, timeout=0.5, interval=0.1)
    took = time.monotonic() - started
    assert summary["healthy"] is False
    assert sorted(summary["unhealthy"]) == ["slow%d" % i for i in range(5)]
    assert took < 1.5
    assert all(r["error"].startswith("timeout after") for r in summary["results"])


def test_gate_failure_message_lists_every_unhealthy_service(http_server, refused_port):
    endpoints = [
        ep(http_server, "/healthy", service="ok_service", host="lab1"),
        ep(http_server, "/unhealthy", service="stt_service", host="lab1"),
        ep("http://127.0.0.1:%d/health" % refused_port, service="tts_service", host="lab2"),
        ep(http_server, "/slow", service="ai_service", timeout=0.2),
        ep(http_server, "/notjson", service="voice_router"),
        ep(http_server, "/wrong", service="sonos_service"),
    ]
    started = time.monotonic()
    summary = health.gate(endpoints, timeout=1.0, interval=0.2)
    assert time.monotonic() - started < 2.5
    assert summary["healthy"] is False
    assert summary["unhealthy"] == ["stt_service", "tts_service", "ai_service", "voice_router", "sonos_service"]
    lines = summary["msg"].splitlines()
    assert lines[0].startswith("health gate: 5 of 6 endpoints unhealthy after ")
    assert lines[1] == ("  - stt_service on lab1 (%s): HTTP 503 (expected 200): "
                        '{"status": "starting", "detail": "database not ready"}' % http_server.url("/unhealthy"))
    assert lines[2] == "  - tts_service on lab2 (http://127.0.0.1:%d/health): connection refused" % refused_port
    assert lines[3].endswith("): timeout after 0.2 s")
    assert lines[4].endswith("): response is not JSON: <html><body>It works</body></html>")
    assert lines[5].endswith("): JSON field 'status' is \"degraded\", expected \"healthy\"")
    results = by_service(summary)
    assert results["stt_service"]["attempts"] >= 3
    assert results["ok_service"]["healthy"] and results["ok_service"]["attempts"] == 1
    assert http_server.hits("/healthy") == 1


def test_gate_single_round_does_not_wait(http_server):
    started = time.monotonic()
    summary = health.gate([ep(http_server, "/delayed/5"), ep(http_server, "/healthy")], timeout=30,
                          single_round=True)
    assert time.monotonic() - started < 1.0
    assert summary["unhealthy"] == ["delayed_5"]
    assert [r["attempts"] for r in summary["results"]] == [1, 1]


def test_gate_accepts_catalogue_endpoints(http_server, shipped):
    from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
    endpoints = cat.health_endpoints(shipped, {"h": {"ansible_host": "127.0.0.1"}}, {"alicia_voice": ["h"]},
                                     services=["voice"])
    # Point them at the test server: same shape, only the URL differs.
    for item in endpoints:
        item["url"] = http_server.url("/healthy")
    summary = health.gate(endpoints, timeout=5, interval=0.1)
    assert summary["healthy"] and [r["service"] for r in summary["results"]] == [
        "stt_service", "ai_service", "tts_service", "voice_router"]


# ---------------------------------------------------------------------------
# the module's main()
# ---------------------------------------------------------------------------

def run_main(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            health_gate.main()
    out = json.loads(capsys.readouterr().out)
    return info.value.code, out


def test_main_success(capsys, http_server):
    code, out = run_main(capsys, {"endpoints": [ep(http_server, "/healthy", service="stt_service")],
                                  "timeout": 5, "interval": 0.1})
    assert code == 0
    assert out["healthy"] is True and out["changed"] is False
    assert out["results"][0]["service"] == "stt_service"


def test_main_failure_message(capsys, http_server, refused_port):
    code, out = run_main(capsys, {"endpoints": [
        ep(http_server, "/unhealthy", service="stt_service"),
        ep("http://127.0.0.1:%d/health" % refused_port, service="tts_service")], "timeout": 0.5, "interval": 0.1})
    assert code == 1
    assert out["failed"] is True
    assert out["unhealthy"] == ["stt_service", "tts_service"]
    assert "stt_service on 127.0.0.1" in out["msg"] and "HTTP 503" in out["msg"]
    assert "tts_service on 127.0.0.1" in out["msg"] and "connection refused" in out["msg"]


def test_main_check_mode_probes_once_and_does_not_fail(run_module_file, http_server):
    started = time.monotonic()
    code, out = run_module_file("health_gate", {"endpoints": [ep(http_server, "/unhealthy", service="stt_service")],
                                                "timeout": 30, "_ansible_check_mode": True})
    assert time.monotonic() - started < 5
    assert code == 0
    assert out["healthy"] is False and "failed" not in out
    assert out["results"][0]["attempts"] == 1
    warnings = json.dumps(out["warnings"])
    assert "check mode, one probe round" in warnings and "stt_service" in warnings


def test_main_bad_parameters(capsys):
    code, out = run_main(capsys, {"endpoints": [{"url": "gopher://x/h"}]})
    assert code == 1 and "must be http:// or https://" in out["msg"]
    code, out = run_main(capsys, {"endpoints": [{"url": "http://x/h"}], "interval": 0})
    assert code == 1 and "must be positive" in out["msg"]


# ---------------------------------------------------------------------------
# end to end: ansible-playbook runs the module (AnsiballZ) on localhost
# ---------------------------------------------------------------------------

PLAYBOOK = """
- name: health_gate end to end
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate the catalogue's voice phase, pointed at the test server
      alicia.platform.health_gate:
        endpoints: "{{ endpoints }}"
        timeout: 5
        interval: 0.1
      register: gate
    - name: Gate a down service
      alicia.platform.health_gate:
        endpoints:
          - service: tts_service
            url: "http://127.0.0.1:{{ refused }}/health"
        timeout: 0.3
        interval: 0.1
      register: down
      ignore_errors: true
    - name: Record
      ansible.builtin.copy:
        content: "{{ {'gate': gate, 'down': down} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_end_to_end_with_ansible_playbook(tmp_path, http_server, refused_port, run_playbook):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    endpoints = [{"service": name, "host": "localhost", "url": http_server.url("/healthy"), "expect_status": 200,
                  "json_field": "status", "json_value": "healthy", "timeout": 5}
                 for name in ("stt_service", "ai_service")]
    extra = json.dumps({"endpoints": endpoints, "refused": refused_port, "out": str(out)})
    proc = run_playbook(["-i", "localhost,", "-c", "local", "-e", extra, str(playbook)], python=sys.executable)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["gate"]["healthy"] is True and data["gate"]["changed"] is False
    assert [r["service"] for r in data["gate"]["results"]] == ["stt_service", "ai_service"]
    assert data["down"]["failed"] is True
    assert "tts_service on 127.0.0.1" in data["down"]["msg"] and "connection refused" in data["down"]["msg"]
    assert os.path.exists(str(out))
