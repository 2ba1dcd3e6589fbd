# -*- coding: utf-8 -*-
"""The health_sweep module against real HTTP servers on 127.0.0.1 (no network mocks)."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.modules import health_sweep


def run_main(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            health_sweep.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def endpoints(http_server, refused_port):
    return [
        {"service": "stt_service", "instance": "stt_service", "host": "lab1", "port": 8001,
         "url": http_server.url("/healthy")},
        {"service": "tts_service", "host": "lab1", "url": "http://127.0.0.1:%d/health" % refused_port},
        {"service": "ai_service", "url": http_server.url("/unhealthy")},
        {"service": "voice_router", "url": http_server.url("/notjson"), "json_field": ""},
    ]


def test_reports_every_endpoint_and_does_not_fail(capsys, http_server, refused_port):
    code, out = run_main(capsys, {"endpoints": endpoints(http_server, refused_port)})
    assert code == 0
    assert "failed" not in out and out["changed"] is False
    assert out["healthy"] is False
    assert out["unhealthy"] == ["tts_service/tts_service", "ai_service/ai_service"]
    by = dict((r["service"], r) for r in out["results"])
    assert [r["service"] for r in out["results"]] == ["stt_service", "tts_service", "ai_service", "voice_router"]
    assert (by["stt_service"]["status"], by["stt_service"]["http_status"], by["stt_service"]["version"],
            by["stt_service"]["port"], by["stt_service"]["host"]) == ("healthy", 200, "1.0.0", 8001, "lab1")
    assert (by["tts_service"]["status"], by["tts_service"]["error"], by["tts_service"]["port"]) == (
        "unreachable", "connection refused", refused_port)
    assert (by["ai_service"]["status"], by["ai_service"]["http_status"], by["ai_service"]["host"]) == (
        "unhealthy", 503, "127.0.0.1")
    assert by["ai_service"]["error"].startswith("HTTP 503 (expected 200): ")
    assert by["voice_router"]["status"] == "healthy"
    assert out["msg"].startswith("health sweep: 2 of 4 endpoints not healthy in ")


def test_all_healthy(capsys, http_server):
    code, out = run_main(capsys, {"endpoints": [{"service": "s%d" % i, "url": http_server.url("/healthy")}
                                                for i in range(23)]})
    assert code == 0 and out["healthy"] is True and out["unhealthy"] == []
    assert len(out["results"]) == 23 and http_server.hits("/healthy") == 23


def test_check_mode_probes_as_usual(run_module_file, http_server, refused_port):
    code, out = run_module_file("health_sweep", {"endpoints": endpoints(http_server, refused_port),
                                                 "_ansible_check_mode": True})
    assert code == 0 and "failed" not in out
    assert [r["status"] for r in out["results"]] == ["healthy", "unreachable", "unhealthy", "healthy"]
    assert not out.get("warnings")


def test_slow_endpoints_are_probed_once_in_parallel(capsys, http_server):
    """Five endpoints probed at the same time (/together/5 is healthy only with five requests in flight), once each."""
    code, out = run_main(capsys, {"endpoints": [{"service": "slow%d" % i, "url": http_server.url("/together/5"),
                                                 "timeout": 15} for i in range(5)]})
    assert code == 0
    assert [r["status"] for r in out["results"]] == ["healthy"] * 5, out["results"]
    assert http_server.hits("/together/5") == 5


def test_a_probe_gives_up_at_its_timeout(capsys, http_server):
    """/slow answers healthy after 2 s: a 0.5 s timeout reports the timeout, one probe."""
    code, out = run_main(capsys, {"endpoints": [{"service": "slow", "url": http_server.url("/slow"), "timeout": 0.5}]})
    assert code == 0
    assert [(r["status"], r["error"]) for r in out["results"]] == [("unreachable", "timeout after 0.5 s")]
    assert http_server.hits("/slow") == 1


def test_bad_parameters_fail(capsys):
    code, out = run_main(capsys, {"endpoints": [{"url": "gopher://x/h"}]})
    assert code == 1 and out["failed"] is True
    assert out["msg"] == "health_sweep: health endpoint url 'gopher://x/h' must be http:// or https:// with a host"
    code, out = run_main(capsys, {"endpoints": [{"url": "http://x/h"}], "max_workers": 0})
    assert code == 1 and out["msg"] == "health_sweep: max_workers must be at least 1"
    code, out = run_main(capsys, {"endpoints": [{"url": "http://x/h", "timeout": 0}]})
    assert code == 1 and "timeout must be positive" in out["msg"]
