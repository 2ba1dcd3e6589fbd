# -*- coding: utf-8 -*-
"""The health sweep: its probe (module_utils/_sweep_probe.py, on the host)
against real HTTP servers on 127.0.0.1, its report (_sweep_report.py, on the
controller: endpoints, options, rows, table) on the shipped catalogue."""

import json
import threading
import time

import pytest

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_collections.alicia.platform.plugins.module_utils import _sweep_probe as probe
from ansible_collections.alicia.platform.plugins.module_utils import _sweep_report as report
from ansible_collections.alicia.platform.plugins.module_utils import health


# ---------------------------------------------------------------------------
# A server that answers like the reference service (/health with version,
# broker_connected and uptime_s), and some that do not.
# ---------------------------------------------------------------------------

REFERENCE = {"status": "healthy", "service": "tts_service", "version": "1.2.3", "broker_connected": True,
             "uptime_s": 12.5, "environment": "lab"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server API)
        path = self.path
        if path == "/health":
            self._send(200, json.dumps(REFERENCE))
        elif path == "/broker-down":  # the reference service without its broker: 200, status unhealthy
            self._send(200, json.dumps(dict(REFERENCE, status="unhealthy", broker_connected=False)))
        elif path == "/starting":
            self._send(503, json.dumps({"status": "starting", "version": "1.2.3"}))
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, json.dumps(REFERENCE))
        elif path == "/html":
            self._send(200, "<html>It works</html>", "text/html")
        elif path == "/odd-types":
            self._send(200, json.dumps({"status": "healthy", "version": 2, "broker_connected": "yes",
                                        "uptime_s": True}))
        elif path == "/list":
            self._send(200, json.dumps(["healthy"]))
        else:
            self._send(404, json.dumps({"error": "no such path"}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a probe that timed out closed its end


@pytest.fixture
def reference():
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def endpoint(url, **extra):
    extra["url"] = url
    extra.setdefault("service", "tts_service")
    return extra


def one(url, **extra):
    return probe.check(probe.normalize(endpoint(url, **extra)))


# ---------------------------------------------------------------------------
# probe side
# ---------------------------------------------------------------------------

def test_normalize_adds_instance_and_port():
    got = probe.normalize(endpoint("http://127.0.0.1:8003/health"))
    assert (got["instance"], got["port"]) == ("tts_service", 8003)
    got = probe.normalize(endpoint("https://x.example/health", instance="tts-primary", port=9443))
    assert (got["instance"], got["port"]) == ("tts-primary", 9443)
    assert probe.normalize(endpoint("https://x.example/health"))["port"] == 443
    assert probe.normalize(endpoint("http://x.example/health"))["port"] == 80
    with pytest.raises(health.EndpointError, match="must be http"):
        probe.normalize(endpoint("ftp://x/health"))


def test_healthy_reference_body(reference):
    ticks = iter([20.0, 20.0625])  # the clock before and after the request
    result = probe.check(probe.normalize(endpoint(reference + "/health", host="lab1", instance="tts_service")),
                         clock=lambda: next(ticks))
    assert result["status"] == "healthy" and result["error"] is None
    assert (result["http_status"], result["version"], result["broker_connected"], result["uptime_s"]) == (
        200, "1.2.3", True, 12.5)
    assert (result["service"], result["instance"], result["host"], result["url"]) == (
        "tts_service", "tts_service", "lab1", reference + "/health")
    assert result["latency_ms"] == 62.5


def test_an_answer_that_is_not_healthy_is_unhealthy_with_its_fields(reference):
    result = one(reference + "/broker-down")
    assert result["status"] == "unhealthy"
    assert result["error"] == 'JSON field \'status\' is "unhealthy", expected "healthy"'
    assert (result["http_status"], result["version"], result["broker_connected"]) == (200, "1.2.3", False)
    starting = one(reference + "/starting")
    assert starting["status"] == "unhealthy" and starting["http_status"] == 503
    assert starting["error"].startswith("HTTP 503 (expected 200): ")
    assert starting["version"] == "1.2.3" and starting["broker_connected"] is None
    html = one(reference + "/html")
    assert html["status"] == "unhealthy" and html["error"] == "response is not JSON: <html>It works</html>"
    assert (html["version"], html["broker_connected"], html["uptime_s"]) == (None, None, None)


def test_no_answer_is_unreachable(reference, refused_port, silent_port):
    refused = one("http://127.0.0.1:%d/health" % refused_port)
    assert (refused["status"], refused["http_status"], refused["error"]) == ("unreachable", None, "connection refused")
    silent = one("http://127.0.0.1:%d/health" % silent_port, timeout=0.2)
    assert (silent["status"], silent["error"]) == ("unreachable", "timeout after 0.2 s")
    slow = one(reference + "/slow", timeout=0.3)
    # /slow answers healthy after 1.5 s: unreachable means the probe gave up at its 0.3 s.
    assert (slow["status"], slow["error"]) == ("unreachable", "timeout after 0.3 s")


def test_the_verdict_is_health_gate_s(reference):
    """Same endpoint, same verdict and reason as health.probe() (health_gate)."""
    for path in ("/health", "/broker-down", "/starting", "/html", "/list"):
        for extra in ({}, {"json_field": ""}, {"expect_status": [200, 503], "json_field": None}):
            normalized = probe.normalize(endpoint(reference + path, **extra))
            gate = health.probe(normalized)
            mine = probe.check(normalized)
            assert (mine["status"] == "healthy", mine["error"]) == (gate["healthy"], gate["error"]), (path, extra)


def test_body_fields_keep_only_well_typed_values(reference):
    assert probe.body_fields(None) == {"version": None, "broker_connected": None, "uptime_s": None}
    assert probe.body_fields(b"[1, 2]") == {"version": None, "broker_connected": None, "uptime_s": None}
    odd = one(reference + "/odd-types")
    assert (odd["version"], odd["broker_connected"], odd["uptime_s"]) == ("2", None, None)


def test_sweep_probes_once_concurrently_and_never_raises_for_unhealthy(reference, http_server, refused_port):
    # /together/6 answers healthy only while all six requests are in flight at once.
    endpoints = [endpoint(http_server.url("/together/6"), service="slow%d" % i, timeout=15) for i in range(6)]
    endpoints.append(endpoint("http://127.0.0.1:%d/health" % refused_port, service="down", host="lab2"))
    endpoints.append(endpoint(reference + "/health", service="ok"))
    summary = probe.sweep(endpoints)
    assert [r["service"] for r in summary["results"]] == ["slow%d" % i for i in range(6)] + ["down", "ok"]
    assert summary["healthy"] is False
    assert summary["unhealthy"] == ["down/down"]
    assert summary["msg"].startswith("health sweep: 1 of 8 endpoints not healthy in ")
    assert summary["msg"].endswith("down/down (http://127.0.0.1:%d/health) unreachable: connection refused"
                                   % refused_port)


def test_sweep_all_healthy_and_empty(reference):
    summary = probe.sweep([endpoint(reference + "/health", service="s%d" % i) for i in range(23)], max_workers=4)
    assert summary["healthy"] is True and summary["unhealthy"] == []
    assert summary["msg"].startswith("health sweep: all 23 endpoints healthy in ")
    empty = probe.sweep([])
    assert (empty["healthy"], empty["results"]) == (True, [])
    with pytest.raises(health.EndpointError, match="max_workers"):
        probe.sweep([endpoint(reference + "/health")], max_workers=0)


# ---------------------------------------------------------------------------
# controller side: endpoints, options
# ---------------------------------------------------------------------------

PHASE_GROUPS = ["alicia_core", "alicia_management", "alicia_voice", "alicia_devices", "alicia_advanced",
                "alicia_observability"]


def test_endpoints_are_the_host_s_services_probed_on_loopback(shipped):
    got = report.endpoints(shipped, ["alicia", "alicia_broker", "alicia_voice"], "lab1")
    assert [e["service"] for e in got] == ["stt_service", "ai_service", "tts_service", "voice_router"]
    assert got[2] == {"service": "tts_service", "instance": "tts_service", "host": "lab1", "port": 8003,
                      "url": "http://127.0.0.1:8003/health", "expect_status": [200], "json_field": "status",
                      "json_value": "healthy", "timeout": 5}
    assert len(report.endpoints(shipped, PHASE_GROUPS, "lab1")) == 22
    assert report.endpoints(shipped, ["alicia_broker"], "lab1") == []
    assert [e["url"] for e in report.endpoints(shipped, PHASE_GROUPS, "lab1", service="ha_bridge")] == [
        "http://127.0.0.1:8016/health"]
    with pytest.raises(report.SweepError, match="group_names must be a list"):
        report.endpoints(shipped, "alicia_voice", "lab1")


def test_endpoints_follow_the_catalogue(resolve):
    catalogue = resolve({"tts_service": {"port": 9003, "health": {"path": "/ready", "status": 204,
                                                                  "json_field": None}},
                         "ai_service": {"health": None}})
    got = dict((e["service"], e) for e in report.endpoints(catalogue, ["alicia_voice"], "lab1"))
    assert "ai_service" not in got
    assert (got["tts_service"]["url"], got["tts_service"]["port"], got["tts_service"]["expect_status"],
            got["tts_service"]["json_field"]) == ("http://127.0.0.1:9003/ready", 9003, [204], None)


# A docker service published on 8003, listening on 9003 inside its container:
# the host answers on 8003, nothing listens on 9003 there.
DOCKER_TTS = {"tts_service": {"runtime": "docker", "listen_port": 9003}}


def test_a_docker_service_is_probed_on_its_published_port(resolve):
    catalogue = resolve(DOCKER_TTS)
    assert report.service_instances(catalogue["tts_service"]) == [{"instance": "tts_service", "port": 8003}]
    got = report.endpoints(catalogue, ["alicia_voice"], "lab1", service="tts_service")
    assert [(e["instance"], e["port"], e["url"]) for e in got] == [
        ("tts_service", 8003, "http://127.0.0.1:8003/health")]


def test_the_sweep_of_a_docker_service_reaches_what_the_host_publishes(resolve, reference, refused_port):
    """Probed for real: the catalogue's port is a live server (what Docker publishes),
    its listen_port a port where nothing listens on the host."""
    published = int(reference.rsplit(":", 1)[1])
    catalogue = resolve({"tts_service": {"runtime": "docker", "port": published, "listen_port": refused_port}})
    endpoints = report.endpoints(catalogue, ["alicia_voice"], "lab1", service="tts_service")
    summary = probe.sweep(endpoints)
    assert summary["healthy"] is True, summary["msg"]
    rows = report.rows(catalogue, {"lab1": {"groups": ["alicia_voice"], "sweep": summary}}, service="tts_service")
    assert [(r["instance"], r["port"], r["status"], r["version"]) for r in rows] == [
        ("tts_service", published, "healthy", "1.2.3")]


def test_service_instances_of_a_single_instance_service(shipped):
    assert report.service_instances(shipped["tts_service"]) == [{"instance": "tts_service", "port": 8003}]


MULTI_TTS = {"tts_service": {"instances": 2, "instance_ports": [8031, 8032],
                             "instance_names": ["tts-primary", "tts-secondary"]}}


def test_service_instances_of_a_multi_instance_service(resolve):
    """One row per instance on its own port, and one for the published port, served by the balancer."""
    catalogue = resolve(MULTI_TTS)
    assert report.service_instances(catalogue["tts_service"]) == [
        {"instance": "tts-primary", "port": 8031}, {"instance": "tts-secondary", "port": 8032},
        {"instance": "balanced", "port": 8003}]
    default_names = resolve({"tts_service": {"instances": 3, "instance_ports": [8031, 8032, 8033]}})
    assert [i["instance"] for i in report.service_instances(default_names["tts_service"])] == [
        "tts_service-1", "tts_service-2", "tts_service-3", "balanced"]
    # Malformed fields resolve to no instances (preflight reports them): the service's own row.
    malformed = resolve({"tts_service": {"instances": 2, "instance_ports": [8031]}})
    assert report.service_instances(malformed["tts_service"]) == [{"instance": "tts_service", "port": 8003}]
    got = report.endpoints(catalogue, ["alicia_voice"], "lab1")
    assert [(e["service"], e["instance"], e["url"]) for e in got] == [
        ("stt_service", "stt_service", "http://127.0.0.1:8001/health"),
        ("ai_service", "ai_service", "http://127.0.0.1:8002/health"),
        ("tts_service", "tts-primary", "http://127.0.0.1:8031/health"),
        ("tts_service", "tts-secondary", "http://127.0.0.1:8032/health"),
        ("tts_service", "balanced", "http://127.0.0.1:8003/health"),
        ("voice_router", "voice_router", "http://127.0.0.1:8004/health")]


def test_errors_accept_good_options(shipped):
    groups = {"alicia_voice": ["lab1"], "alicia_broker": ["lab1"]}
    assert report.errors(shipped) == []
    assert report.errors(shipped, service="", groups=groups, health_format="json") == []
    assert report.errors(shipped, service="tts_service", groups=groups) == []
    assert report.errors(shipped, service="mqtt_broker", groups=groups) == []


def test_errors_name_the_problem(resolve, shipped):
    unknown = report.errors(shipped, service="tts")
    assert len(unknown) == 1
    assert unknown[0].startswith("health sweep: unknown service 'tts' (known: advanced_voice, ai_service, ")
    assert "tts_service" in unknown[0] and "mqtt_broker" in unknown[0]
    assert report.errors(shipped, service="tts_service", groups={"alicia_core": ["lab1"]}) == [
        "health sweep: service 'tts_service' runs on no host of this inventory (its group 'alicia_voice' has no hosts)"]
    assert report.errors(shipped, health_format="yaml") == [
        "health sweep: health_format must be one of table, json, got 'yaml'"]
    assert report.errors(shipped, service=["a", "b"]) == ["health sweep: service must be one service name, got ['a', 'b']"]
    assert report.errors(resolve({"ai_service": {"health": None}}), service="ai_service") == [
        "health sweep: service 'ai_service' has no health check (its catalogue field 'health' is null)"]
    assert report.errors(shipped, check_service="nope") == [
        "health sweep: broker_check_service 'nope' is not a service of the catalogue"]
    with pytest.raises(report.SweepError, match="must be a mapping"):
        report.errors(["not", "a", "catalogue"])


def test_broker_check_as_the_broker_role_does(shipped):
    assert report.broker_check(shipped) == {"broker": "mqtt_broker", "account": "security_gateway",
                                           "username": "security_gateway", "host": "127.0.0.1", "port": 1883,
                                           "topic": "alicia/security_gateway/health-sweep"}
    chosen = report.broker_check(shipped, check_service="voice_router", listen_address="10.0.0.5")
    assert (chosen["account"], chosen["host"], chosen["port"]) == ("voice_router", "10.0.0.5", 1883)
    docker = report.broker_check(shipped, runtime="docker", docker_host_port=1884)
    assert (docker["host"], docker["port"]) == ("127.0.0.1", 1884)
    without = dict((k, v) for k, v in shipped.items() if v["kind"] != "broker")
    with pytest.raises(report.SweepError, match="no broker entry"):
        report.broker_check(without)


# ---------------------------------------------------------------------------
# controller side: rows, table, problems
# ---------------------------------------------------------------------------

def _probe_results(expected, down=()):
    results = []
    for e in expected:
        bad = e["service"] in down
        results.append({"service": e["service"], "instance": e["instance"], "host": e["host"], "port": e["port"],
                        "url": e["url"], "status": "unreachable" if bad else "healthy",
                        "http_status": None if bad else 200, "latency_ms": 2.5,
                        "version": None if bad else "1.0.0", "broker_connected": None if bad else True,
                        "uptime_s": None if bad else 3.0, "error": "connection refused" if bad else None})
    return {"changed": False, "healthy": not down, "results": results}


def test_rows_sorted_by_phase_service_host_with_the_broker_first(shipped):
    broker = report.broker_check(shipped)
    app1 = report.endpoints(shipped, ["alicia_voice", "alicia_core"], "app1")
    app2 = report.endpoints(shipped, ["alicia_voice"], "app2")
    hosts = {
        "app2": {"groups": ["alicia", "alicia_voice"], "sweep": _probe_results(app2, down=["tts_service"])},
        "app1": {"groups": ["alicia", "alicia_core", "alicia_voice"], "sweep": _probe_results(app1)},
        "broker1": {"groups": ["alicia", "alicia_broker"],
                    "broker": {"ok": True, "failure": None, "latency": {"total": 0.0041}}},
    }
    rows = report.rows(shipped, hosts, broker=broker)
    assert [(r["phase"], r["service"], r["host"]) for r in rows] == [
        ("broker", "mqtt_broker", "broker1"),
        ("core", "config_service", "app1"), ("core", "device_registry", "app1"), ("core", "security_gateway", "app1"),
        ("voice", "ai_service", "app1"), ("voice", "ai_service", "app2"),
        ("voice", "stt_service", "app1"), ("voice", "stt_service", "app2"),
        ("voice", "tts_service", "app1"), ("voice", "tts_service", "app2"),
        ("voice", "voice_router", "app1"), ("voice", "voice_router", "app2")]
    assert rows[0] == {"phase": "broker", "phase_index": -1, "service": "mqtt_broker", "instance": "mqtt_broker",
                       "host": "broker1", "port": 1883, "url": "mqtt://127.0.0.1:1883", "status": "healthy",
                       "http_status": None, "latency_ms": 4.1, "version": None, "broker_connected": None,
                       "uptime_s": None, "error": None}
    tts2 = rows[9]
    assert (tts2["status"], tts2["error"], tts2["port"], tts2["version"]) == (
        "unreachable", "connection refused", 8003, None)
    assert rows[8]["status"] == "healthy" and rows[8]["version"] == "1.0.0" and rows[8]["broker_connected"] is True


def test_rows_for_hosts_whose_results_are_missing_or_failed(shipped):
    broker = report.broker_check(shipped)
    groups = ["alicia_broker", "alicia_voice"]
    hosts = {
        "gone": {"groups": groups, "sweep": {"unreachable": True, "msg": "Failed to connect\nto the host"},
                 "broker": {"unreachable": True, "msg": "Failed to connect"}},
        "broken": {"groups": ["alicia_voice"], "sweep": {"failed": True, "msg": "health_sweep: bad endpoint"}},
        "silent": {"groups": ["alicia_voice"], "sweep": None},
    }
    rows = report.rows(shipped, hosts, broker=broker)
    assert len(rows) == 1 + 3 * 4
    assert set(r["status"] for r in rows) == {"unreachable"}
    by = dict(((r["service"], r["host"]), r["error"]) for r in rows)
    assert by[("mqtt_broker", "gone")] == "host unreachable: Failed to connect"
    assert by[("tts_service", "gone")] == "host unreachable: Failed to connect to the host"
    assert by[("tts_service", "broken")] == "health_sweep failed: health_sweep: bad endpoint"
    assert by[("tts_service", "silent")] == "not run on this host"


def test_broker_row_from_each_kind_of_failure(shipped):
    broker = report.broker_check(shipped)

    def status(result):
        row = report.rows(shipped, {"b": {"groups": ["alicia_broker"], "broker": result}}, broker=broker)[0]
        return row["status"], row["error"]

    assert status({"ok": False, "failure": "connection_refused",
                   "msg": "mqtt_check: connection refused by 127.0.0.1:1883: is the broker running?"}) == (
        "unreachable", "connection_refused: connection refused by 127.0.0.1:1883: is the broker running?")
    assert status({"ok": False, "failure": "timeout", "msg": "mqtt_check: no CONNACK"})[0] == "unreachable"
    assert status({"ok": False, "failure": "bad_credentials", "msg": "mqtt_check: refused the login"}) == (
        "unhealthy", "bad_credentials: refused the login")
    assert status({"ok": False, "failure": "not_authorised", "msg": "x"})[0] == "unhealthy"
    assert status({"skipped": True}) == ("unreachable", "skipped on this host")


def test_rows_for_one_service_and_without_broker_row(shipped):
    broker = report.broker_check(shipped)
    groups = ["alicia_broker"] + PHASE_GROUPS
    expected = report.endpoints(shipped, groups, "lab1", service="tts_service")
    hosts = {"lab1": {"groups": groups, "sweep": _probe_results(expected), "broker": {"ok": True, "latency": {}}}}
    rows = report.rows(shipped, hosts, service="tts_service", broker=broker)
    assert [(r["service"], r["status"]) for r in rows] == [("tts_service", "healthy")]
    only_broker = report.rows(shipped, hosts, service="mqtt_broker", broker=broker)
    assert [(r["service"], r["status"], r["latency_ms"]) for r in only_broker] == [("mqtt_broker", "healthy", None)]
    assert report.rows(shipped, {"lab1": {"groups": ["alicia_broker"]}}) == []
    with pytest.raises(report.SweepError, match="hosts must map"):
        report.rows(shipped, ["lab1"])


def test_rows_and_problems_of_a_multi_instance_service(resolve):
    catalogue = resolve(MULTI_TTS)
    expected = report.endpoints(catalogue, ["alicia_voice"], "app1", service="tts_service")
    results = _probe_results(expected)
    results["results"][1].update({"status": "unreachable", "error": "connection refused", "http_status": None})
    rows = report.rows(catalogue, {"app1": {"groups": ["alicia_voice"], "sweep": results}}, service="tts_service")
    assert [(r["instance"], r["port"], r["status"]) for r in rows] == [
        ("balanced", 8003, "healthy"), ("tts-primary", 8031, "healthy"), ("tts-secondary", 8032, "unreachable")]
    assert report.problems(rows) == ["tts_service instance tts-secondary on app1 port 8032: unreachable "
                                    "(connection refused)"]


def test_table_aligns_columns_and_counts():
    rows = [
        {"phase": "broker", "service": "mqtt_broker", "instance": "mqtt_broker", "host": "lab1", "port": 1883,
         "status": "healthy", "latency_ms": 1.04, "version": None, "broker_connected": None},
        {"phase": "voice", "service": "tts_service", "instance": "tts_service", "host": "lab1", "port": 8003,
         "status": "unreachable", "latency_ms": 0.4, "version": None, "broker_connected": None},
        {"phase": "voice", "service": "stt_service", "instance": "stt_service", "host": "lab1", "port": 8001,
         "status": "unhealthy", "latency_ms": 12.25, "version": "1.0.0", "broker_connected": False},
        {"phase": "observability", "service": "metrics_collector", "instance": "metrics_collector", "host": "lab1",
         "port": 8024, "status": "healthy", "latency_ms": 3.0, "version": "1.0.0", "broker_connected": True},
    ]
    assert report.table(rows) == [
        "phase          service            instance           host  port  status       latency_ms  version"
        "  broker_connected",
        "broker         mqtt_broker        mqtt_broker        lab1  1883  healthy             1.0  -        -",
        "voice          tts_service        tts_service        lab1  8003  unreachable         0.4  -        -",
        "voice          stt_service        stt_service        lab1  8001  unhealthy          12.2  1.0.0    false",
        "observability  metrics_collector  metrics_collector  lab1  8024  healthy             3.0  1.0.0    true",
        "4 checked, 2 healthy, 1 unhealthy, 1 unreachable",
    ]
    assert report.table([]) == [
        "phase  service  instance  host  port  status  latency_ms  version  broker_connected",
        "0 checked, 0 healthy, 0 unhealthy, 0 unreachable"]
    for line in report.table(rows):
        assert line == line.rstrip()
    with pytest.raises(report.SweepError, match="must be a list"):
        report.table({"rows": []})


def test_problems_name_service_instance_host_port_and_reason():
    rows = [
        {"service": "stt_service", "instance": "stt_service", "host": "lab1", "port": 8001, "status": "healthy"},
        {"service": "tts_service", "instance": "tts_service", "host": "lab2", "port": 8003, "status": "unreachable",
         "error": "connection refused"},
        {"service": "tts_service", "instance": "tts-primary", "host": "lab1", "port": 8103, "status": "unhealthy",
         "error": None},
    ]
    assert report.problems(rows) == [
        "tts_service on lab2 port 8003: unreachable (connection refused)",
        "tts_service instance tts-primary on lab1 port 8103: unhealthy (no reason given)"]
    assert report.problems(rows[:1]) == []
    assert report.problems([]) == [
        "nothing checked: no host of this run runs a service with a health check or the broker"]
