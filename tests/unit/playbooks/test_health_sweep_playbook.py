# -*- coding: utf-8 -*-
"""playbooks/health.yml run by ansible-playbook against real servers on 127.0.0.1.

A small catalogue: the broker (the unit tests' Mosquitto), stt_service
(healthy), ai_service (HTTP 503) and tts_service (nothing listens). Host
lab1 (local connection) is the broker host and runs the three services;
lab2 runs them too but points at 127.0.0.1 port 9 over SSH, where nothing
listens, so every task that touches it comes back UNREACHABLE.
"""

import json
import re
import socket
import sys
import threading

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml


class _Handler(BaseHTTPRequestHandler):
    """/healthy: 200 and a healthy JSON body with a version; anything else: 503."""

    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        healthy = self.path == "/healthy"
        body = json.dumps({"status": "healthy" if healthy else "starting", "version": "1.0.0"}).encode()
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inventory(http_port, refused_port, broker):
    catalogue = {
        "mqtt_broker": {"kind": "broker", "phase": "core", "group": "alicia_broker", "port": broker.port},
        "stt_service": {"phase": "voice", "port": http_port, "health": {"path": "/healthy"}},
        "ai_service": {"phase": "voice", "port": http_port, "health": {"path": "/unhealthy"}},
        "tts_service": {"phase": "voice", "port": refused_port},
    }
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    gone = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody",
            "ansible_ssh_common_args": "-o ConnectTimeout=2"}
    return {"all": {
        "vars": {"catalogue_services": catalogue, "broker_check_service": "stt_service",
                 "catalogue_secrets": {"stt_service": {"MQTT_PASSWORD": broker.users["stt_service"]}}},
        "children": {"alicia": {"children": {
            "alicia_broker": {"hosts": {"lab1": local}},
            "alicia_voice": {"hosts": {"lab1": local, "lab2": gone}},
        }}},
    }}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, start_playbook, broker):
    """Every scenario's ansible-playbook started at once, then waited for."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    directory = tmp_path_factory.mktemp("health-sweep")
    inv = directory / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory(server.server_address[1], free_port(), broker)))
    report = directory / "report.json"
    counts = directory / "counts.json"
    base = ["-i", str(inv), "playbooks/health.yml"]
    scenarios = {
        "all": (base + ["-e", "health_format=json", "-e", "health_output=%s" % report],
                {"ANSIBLE_CALLBACKS_ENABLED": "alicia.platform.module_count", "ALICIA_MODULE_COUNT_FILE": str(counts)}),
        "one_service": (base + ["--limit", "lab1", "-e", "service=stt_service"], {}),
        "broker_only_check_mode": (base + ["--limit", "lab1", "-e", "service=mqtt_broker", "--check"], {}),
        "bad_options": (base + ["-e", "service=tts", "-e", "health_format=yaml"], {}),
    }
    try:
        running = dict((name, start_playbook(args, **env)) for name, (args, env) in scenarios.items())
        results = dict((name, proc.wait_result()) for name, proc in running.items())
    finally:
        server.shutdown()
        server.server_close()
    return {"results": results, "report": report, "counts": counts, "password": broker.users["stt_service"]}


def output(proc):
    return proc.stdout + proc.stderr


def table_lines(stdout):
    """The debug task's table lines, whatever the callback's result format
    (YAML list items, or JSON strings as compat.sh runs older ansible-core)."""
    lines = []
    for raw in stdout.splitlines():
        line = raw.strip()
        line = line[2:] if line.startswith("- ") else line
        line = line.rstrip(",")
        if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
            line = line[1:-1]
        lines.append(line)
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["phase", "service"])
    end = next(i for i in range(start, len(lines)) if re.match(r"^\d+ checked, ", lines[i]))
    return lines[start:end + 1]


def test_sweep_fails_naming_every_unhealthy_row(runs):
    proc = runs["results"]["all"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert "health sweep: 5 of 7 not healthy:" in text
    for line in ("ai_service on lab1 port", "tts_service on lab1 port", "unreachable (connection refused)",
                 "ai_service on lab2 port", "unreachable (host unreachable: "):
        assert line in text, line


def test_json_report_has_a_row_per_service_host_and_the_broker(runs):
    document = json.loads(runs["report"].read_text())
    assert document["healthy"] is False and len(document["problems"]) == 5
    rows = [(r["phase"], r["service"], r["host"], r["status"]) for r in document["rows"]]
    assert rows == [
        ("broker", "mqtt_broker", "lab1", "healthy"),
        ("voice", "ai_service", "lab1", "unhealthy"), ("voice", "ai_service", "lab2", "unreachable"),
        ("voice", "stt_service", "lab1", "healthy"), ("voice", "stt_service", "lab2", "unreachable"),
        ("voice", "tts_service", "lab1", "unreachable"), ("voice", "tts_service", "lab2", "unreachable")]
    by = dict(((r["service"], r["host"]), r) for r in document["rows"])
    stt = by[("stt_service", "lab1")]
    assert (stt["http_status"], stt["version"], stt["error"]) == (200, "1.0.0", None)
    assert stt["url"].startswith("http://127.0.0.1:") and stt["url"].endswith("/healthy")
    assert by[("ai_service", "lab1")]["http_status"] == 503
    assert by[("tts_service", "lab1")]["error"] == "connection refused"
    assert by[("stt_service", "lab2")]["error"].startswith("host unreachable: ")
    assert by[("mqtt_broker", "lab1")]["latency_ms"] > 0
    # The JSON is printed too (escaped when the callback prints JSON).
    assert re.search(r'\\?"service\\?": \\?"tts_service', runs["results"]["all"].stdout)


def test_one_module_execution_per_host_plus_the_broker_check(runs):
    hosts = json.loads(runs["counts"].read_text())["hosts"]
    probe = "(play) : Health sweep | probe this host's service instances once, concurrently"
    assert hosts["lab1"]["tasks"][probe] == 1 and hosts["lab2"]["tasks"][probe] == 1
    mqtt = [task for task in hosts["lab1"]["tasks"] if "MQTT round trip" in task]
    assert len(mqtt) == 1 and hosts["lab1"]["tasks"][mqtt[0]] == 1
    # The JSON file, written on the controller, is the only other execution.
    assert hosts["lab1"]["total"] == 3 and hosts["lab2"]["total"] == 1


def test_one_service_prints_one_table(runs):
    proc = runs["results"]["one_service"]
    text = output(proc)
    assert proc.returncode == 0, text
    lines = table_lines(proc.stdout)
    assert len(lines) == 3, lines
    assert lines[0].split() == ["phase", "service", "instance", "host", "port", "status", "latency_ms", "version",
                                "broker_connected"]
    assert lines[1].split()[:6] == ["voice", "stt_service", "stt_service", "lab1", lines[1].split()[4], "healthy"]
    assert lines[1].split()[7:] == ["1.0.0", "-"]
    assert lines[2] == "1 checked, 1 healthy, 0 unhealthy, 0 unreachable"


def test_broker_only_in_check_mode(runs):
    proc = runs["results"]["broker_only_check_mode"]
    text = output(proc)
    assert proc.returncode == 0, text
    assert "1 checked, 1 healthy, 0 unhealthy, 0 unreachable" in text
    assert runs["password"] not in text


def test_bad_options_fail_before_any_host_is_touched(runs):
    proc = runs["results"]["bad_options"]
    text = output(proc)
    assert proc.returncode == 2, text
    assert "health sweep: unknown service 'tts' (known: ai_service, mqtt_broker, stt_service, tts_service)" in text
    assert "health sweep: health_format must be one of table, json, got 'yaml'" in text
    assert "UNREACHABLE" not in text and "unreachable=0" in text
    assert "TASK [Health sweep | probe this host" not in text
