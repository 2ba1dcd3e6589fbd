# -*- coding: utf-8 -*-
"""The canary module run for real (a fresh Python per run) against a fake
HAProxy runtime API socket (tests/unit/plugins/fake_haproxy.py) and a real
HTTP health endpoint on 127.0.0.1 (the http_server fixture). Windows are
short and judged by counts, never by how long they took."""

import pytest

from ansible_collections.alicia.platform.tests.unit.plugins.fake_haproxy import FakeHAProxy, server


@pytest.fixture
def fake():
    haproxy = FakeHAProxy([server("tts_service", "tts_service-1", 8031, weight=10, initial=100),
                           server("tts_service", "tts_service-2", 8032),
                           server("stt_service", "stt_service-1", 8041)])
    yield haproxy
    haproxy.close()


def args(fake, **kwargs):
    found = {"socket": fake.path, "service": "tts_service", "canary": "tts_service-1", "window": 0.3,
             "interval": 0.1, "min_requests": 10}
    found.update(kwargs)
    return found


def test_a_canary_with_traffic_and_healthy_passes_and_gets_its_weight_back(fake, run_module_file, http_server):
    fake.traffic = {("tts_service", "tts_service-1"): {"2xx": 5}, ("tts_service", "tts_service-2"): {"2xx": 50}}
    # Each counters read adds 5 requests: one sample is enough, however few the window allows on a busy machine.
    rc, result = run_module_file("canary", args(fake, min_requests=5, health={"url": http_server.url("/healthy")}))
    assert rc == 0, result
    assert result["passed"] is True and result["changed"] is True
    assert result["canary_counts"]["requests"] == 5 * result["samples"] and result["baseline"] == ["tts_service-2"]
    assert result["commands"] == ["set weight tts_service/tts_service-1 100"]
    assert fake.state_of("tts_service", "tts_service-1") == (0, 100)


def test_a_canary_without_traffic_is_not_promoted_and_is_drained(fake, run_module_file):
    fake.traffic = {("tts_service", "tts_service-2"): {"2xx": 50}}
    rc, result = run_module_file("canary", args(fake))
    assert rc == 0, result
    assert result["passed"] is False and result["canary_counts"]["requests"] == 0
    assert "too little traffic to judge is not a pass" in result["msg"]
    admin, weight = fake.state_of("tts_service", "tts_service-1")
    assert admin & 0x08 and weight == 100


def test_a_canary_answering_errors_fails(fake, run_module_file):
    fake.traffic = {("tts_service", "tts_service-1"): {"2xx": 5, "5xx": 5},
                    ("tts_service", "tts_service-2"): {"2xx": 50}}
    rc, result = run_module_file("canary", args(fake))
    assert rc == 0 and result["passed"] is False and "error rate" in result["reason"]


def test_a_canary_whose_health_fails_ends_its_window_early(fake, run_module_file, http_server):
    fake.traffic = {("tts_service", "tts_service-1"): {"2xx": 50}, ("tts_service", "tts_service-2"): {"2xx": 50}}
    rc, result = run_module_file("canary", args(fake, window=30, health={"url": http_server.url("/unhealthy")}))
    assert rc == 0 and result["passed"] is False
    assert result["samples"] == 1 and result["health_failures"]


def test_check_mode_watches_nothing(fake, run_module_file):
    rc, result = run_module_file("canary", args(fake, _ansible_check_mode=True))
    assert rc == 0 and result["changed"] is False and result["passed"] is None
    assert fake.log == ["show servers state"]


def test_an_unknown_canary_fails_naming_it(fake, run_module_file):
    rc, result = run_module_file("canary", args(fake, canary="tts_service-9"))
    assert rc != 0 and "no server 'tts_service-9'" in result["msg"]
