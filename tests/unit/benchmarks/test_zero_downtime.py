"""benchmarks/parts/zero_downtime*.py: the figures from the probe's samples (fixed inputs), the probe
itself against a stub server on 127.0.0.1, and what the part records (quick mode, the figures' shape)."""

import http.server
import json
import os
import threading
import time

import pytest

from parts import report, zero_downtime
from parts import zero_downtime_figures as figures
from parts import zero_downtime_probe as probe
from parts.context import Context


def test_percentile_is_the_nearest_rank():
    assert figures.percentile(list(range(1, 101))) == 99
    assert figures.percentile(list(range(1, 201))) == 198
    # Fewer than 100 values: the largest one.
    assert figures.percentile([5.0, 1.0, 3.0]) == 5.0
    assert figures.percentile([2.0]) == 2.0
    assert figures.percentile([1.0, 2.0, 3.0, 4.0], share=0.5) == 2.0
    assert figures.percentile([None, True]) is None
    assert figures.percentile([]) is None


def test_load_summary_counts_failures_versions_and_p99():
    samples = [[0.0, True, 3.0, "1.0", None], [0.1, True, 4.0, "1.0", None],
               [0.2, False, 3000.0, None, "timeout"], [0.3, True, 5.0, "1.1", None],
               [0.4, False, 2.0, None, "timeout"], [0.5, False, 2.0, None, "status 503 'unhealthy'"]]
    summary = figures.load_summary(samples)
    assert (summary["requests"], summary["ok"], summary["failed"]) == (6, 3, 3)
    assert summary["versions"] == ["1.0", "1.1"]
    assert summary["errors"] == ["timeout", "status 503 'unhealthy'"]
    assert summary["p99_ms"] == 3000.0
    assert figures.load_summary([])["p99_ms"] is None


HISTORY = [
    [100.0, [["other", "1.0", "2.0", "failed", "direct", "id1", "s"]]],
    [101.5, [["svc", "1.0", "1.1", "ok", "rolling", "id2", "s"]]],
    [110.25, [["svc", "1.1", "bad", "failed", "rolling", "id3", "s"]]],
    [130.0, [["svc", "bad", "1.1", "rolled_back", "rollback", "id3", "s"]]],
]


def test_gate_failure_is_the_write_that_records_the_failed_release():
    assert figures.gate_failure(HISTORY, "svc", "bad") == 110.25
    assert figures.gate_failure(HISTORY, "svc", "1.1") is None  # ok, not failed
    assert figures.gate_failure(HISTORY, "other", "2.0") == 100.0
    assert figures.gate_failure([], "svc", "bad") is None
    assert figures.history_results(HISTORY, "svc") == [("1.0", "1.1", "ok"), ("1.1", "bad", "failed"),
                                                       ("bad", "1.1", "rolled_back")]


# A single instance restarted into a release that exits at start (10.0), failed gate at 12.0, the rollback's
# files let systemd bring the old release back (14.0), then the rollback restarts it once more (16.0 - 16.5).
DIRECT = [[9.0, True, "1.0"], [9.5, True, "1.0"], [10.0, False, None], [12.0, False, None], [13.9, False, None],
          [14.0, True, "1.0"], [15.0, True, "1.0"], [16.0, False, None], [16.5, True, "1.0"], [17.0, True, "1.0"]]


def test_time_to_the_old_version_first_answer_and_for_good():
    assert figures.serving_version(DIRECT) == "1.0"
    assert figures.first_serving(DIRECT, 12.0, "1.0") == 14.0
    assert figures.serving_for_good(DIRECT, 12.0, "1.0") == 16.5
    assert figures.since(12.0, figures.serving_for_good(DIRECT, 12.0, "1.0")) == 4.5
    # Another version answering last is not the old one serving.
    assert figures.serving_for_good(DIRECT + [[18.0, True, "2.0"]], 12.0, "1.0") is None
    assert figures.first_serving(DIRECT, 17.5, "1.0") is None
    assert figures.since(None, 3.0) is None and figures.since(1.0, None) is None
    assert figures.serving_version([[1.0, False, None]]) is None


def test_outages_gap_and_total():
    stretches = figures.outages(DIRECT)
    assert [(o["last_healthy"], o["first_healthy"], o["answers"], o["seconds"]) for o in stretches] == [
        (9.5, 14.0, 3, 4.5), (15.0, 16.5, 1, 1.5)]
    assert figures.longest_gap(DIRECT) == 4.5
    assert figures.total_outage(DIRECT) == 6.0
    healthy = [[1.0, True, "1.0"], [2.0, True, "1.0"]]
    assert figures.outages(healthy) == [] and figures.longest_gap(healthy) == 0.0
    assert figures.total_outage(healthy) == 0.0
    # A stretch with no healthy answer after it (or before it) has no length.
    never = DIRECT[:4]
    assert figures.outages(never)[-1]["seconds"] is None
    assert figures.longest_gap(never) is None and figures.total_outage(never) is None
    assert figures.longest_gap([[1.0, False, None], [2.0, True, "1.0"]]) is None


def test_first_unhealthy_names_the_instance_that_failed_first():
    watch = {"a": [[1.0, True, "1"], [5.0, False, None]], "b": [[1.0, True, "1"], [3.0, False, None]],
             "c": [[1.0, True, "1"]]}
    assert figures.first_unhealthy(watch) == "b"
    assert figures.first_unhealthy(watch, after=4.0) == "a"
    assert figures.first_unhealthy({"c": watch["c"]}) is None


ROLL = [
    [0.0, {"p": "ready/up", "s": "ready/up"}],
    [10.0, {"p": "drain/up", "s": "ready/up"}],
    [11.0, {"p": "drain/down", "s": "ready/up"}],
    [13.0, {"p": "ready/up", "s": "ready/up"}],
    [14.0, {"p": "ready/up", "s": "drain/up"}],
    [15.0, {"error": "ConnectionRefusedError()"}],
    [16.5, {"p": "ready/up", "s": "ready/down"}],
]


def test_roll_window_is_first_drain_to_last_back_in_rotation():
    assert figures.roll_window(ROLL) == (10.0, 16.5)
    # Still out of rotation at the end: no window.
    assert figures.roll_window(ROLL[:5]) is None
    assert figures.roll_window(ROLL[:1]) is None


def test_back_in_rotation_after_the_failed_gate():
    assert figures.back_in_rotation(ROLL, "p", 12.0) == 13.0
    assert figures.back_in_rotation(ROLL, "s", 0.0) == 16.5
    # Back before `after` and never out again: not counted.
    assert figures.back_in_rotation(ROLL, "p", 14.0) is None
    assert figures.back_in_rotation(ROLL, "x", 0.0) is None


class Stub(http.server.BaseHTTPRequestHandler):
    version_text = "1.0"
    healthy = True

    def do_GET(self):
        body = json.dumps({"status": "healthy" if Stub.healthy else "unhealthy", "version": Stub.version_text})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/health" % server.server_address[1]
    server.shutdown()
    server.server_close()


def wait_for(condition, limit=20.0):
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "condition not met"
        time.sleep(0.02)


def test_probe_records_load_watch_and_new_history_records(stub, tmp_path):
    history = tmp_path / "deployments.json"
    history.write_text(json.dumps({"deployments": [{"service": "svc", "from": None, "to": "1.0", "result": "ok"}]}))
    config = {"out": str(tmp_path / "out.json"), "stop": str(tmp_path / "stop"), "ready": str(tmp_path / "ready"),
              "limit": 60, "pause": 0.01, "max_samples": 1000, "load": stub, "watch": {"one": stub},
              "history": str(history)}
    run = probe.Probe(config)
    thread = threading.Thread(target=run.run)
    thread.start()
    try:
        wait_for(lambda: os.path.exists(config["ready"]) and run.history_seen is not None
                 and len(run.streams["load"].samples) >= 3)
        Stub.healthy = False
        wait_for(lambda: any(not s[1] for s in run.streams["watch:one"].samples))
        Stub.healthy = True
        history.write_text(json.dumps({"deployments": [
            {"service": "svc", "from": None, "to": "1.0", "result": "ok"},
            {"service": "svc", "from": "1.0", "to": "bad", "result": "failed", "strategy": "direct"}]}))
        wait_for(lambda: run.streams["history"].samples)
    finally:
        Stub.healthy = True
        open(config["stop"], "w").close()
        thread.join(30)
    result = json.loads((tmp_path / "out.json").read_text())
    assert set(result) == {"started", "ended", "load", "watch", "haproxy", "history"}
    load = figures.load_summary(result["load"])
    assert load["requests"] >= 3 and load["versions"] == ["1.0"]
    assert figures.outages(result["watch"]["one"])
    # Only the record new since the start, stamped with the file's modification time.
    [(mtime, records)] = result["history"]
    assert mtime == os.stat(str(history)).st_mtime
    assert [r[:5] for r in records] == [["svc", "1.0", "bad", "failed", "direct"]]
    assert figures.gate_failure(result["history"], "svc", "bad") == mtime


def test_probe_stops_at_its_sample_bound(stub, tmp_path):
    config = {"out": str(tmp_path / "out.json"), "stop": str(tmp_path / "stop"), "limit": 60, "pause": 0.0,
              "max_samples": 5, "load": stub}
    run = probe.Probe(config)
    thread = threading.Thread(target=run.run)
    thread.start()
    wait_for(lambda: len(run.streams["load"].samples) >= 5 and not run.streams["load"].is_alive())
    open(config["stop"], "w").close()
    thread.join(30)
    assert len(json.loads((tmp_path / "out.json").read_text())["load"]) == 5


def test_servers_state_parses_the_runtime_api_answer(tmp_path):
    import socket
    path = str(tmp_path / "admin.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    answer = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n"
              "3 svc 1 a 127.0.0.1 2 0 1\n3 svc 2 b 127.0.0.1 0 8 1\n3 svc 3 c 127.0.0.1 2 1 1\n")
    asked = []

    def serve():
        conn, _ = server.accept()
        asked.append(conn.recv(1024).decode())
        conn.sendall(answer.encode())
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert probe.servers_state(path, "svc") == {"a": "ready/up", "b": "drain/down", "c": "maint/up"}
    finally:
        thread.join(5)
        server.close()
    assert asked == ["show servers state svc\n"]


def test_quick_mode_records_every_figure_not_available_without_a_lab():
    results = report.Results(1, True, ["zero_downtime"])
    context = Context(results, 1, True)
    zero_downtime.run(context)
    assert not context.lab_used
    names = [figure["figure"] for figure in results.figures]
    assert names == [name for name, _unit, _target in zero_downtime.FIGURES] + [
        "blue_green update: failed requests under load", "blue_green update: p99 latency under load",
        "blue_green: failed gate to the old version serving"]
    assert all(figure["status"] == "not available" for figure in results.figures)
    assert all(figure["note"] == zero_downtime.QUICK for figure in results.figures[:len(zero_downtime.FIGURES)])
    assert all("blue_green" in figure["note"] for figure in results.figures[len(zero_downtime.FIGURES):])


def test_record_takes_medians_with_targets():
    multi = {"name": "tts_service", "instance_names": ["tts-primary", "tts-secondary"], "port": 8003}
    single = {"name": "metrics_collector", "port": 8024}
    rolled = [{"failed": f, "p99": p, "roll": r, "requests": 400, "served_new": True, "errors": [], "wall": 20.0}
              for f, p, r in ((0, 7.0, 4.0), (2, 9.0, 5.0), (0, 8.0, 6.0))]
    bad = [{"failed": 0, "p99": 10.0, "requests": 900, "instance": "tts-primary", "versions": ["1"], "history": [],
            "to_rotation": t, "to_answer": 4.0, "to_for_good": 15.0, "wall": 70.0} for t in (18.0, None, 12.0)]
    direct = [{"to_for_good": t, "to_answer": 4.0, "gap": g, "longest": g, "outages": 1, "history": [], "wall": 30.0}
              for t, g in ((8.0, 11.0), (12.0, 12.0), (9.0, 13.0))]
    results = report.Results(3, False, ["zero_downtime"])
    zero_downtime.record(results, multi, single, rolled, bad, direct)
    got = dict((figure["figure"], figure) for figure in results.figures)
    failed = got["rolling update: failed requests under load"]
    assert (failed["value"], failed["status"], failed["target"]) == (0, "PASS", ["==", 0])
    assert "(total 2)" in failed["note"]
    assert got["rolling update: p99 latency under load"]["value"] == 8.0
    assert got["rolling: failed gate to the old version serving"]["value"] == 15.0
    assert got["rolling: failed gate to the old version serving"]["status"] == "MISS"
    assert got["direct: failed gate to the old version serving"]["value"] == 9.0
    assert got["direct: failed gate to the old version serving"]["status"] == "PASS"
    assert got["direct, bad release: seconds without a healthy answer"]["value"] == 12.0


def test_bad_overrides_keep_the_inventory_overrides_and_add_the_fault(tmp_path, monkeypatch):
    import yaml
    monkeypatch.setattr(zero_downtime.lab, "OUT", str(tmp_path))
    overrides = {"tts_service": {"instances": 2, "instance_ports": [9000, 9001]}, "stt_service": {"port": 1}}
    path = zero_downtime.bad_overrides(overrides, "tts_service")
    with open(path) as handle:
        written = yaml.safe_load(handle)["catalogue_overrides"]
    assert written["stt_service"] == {"port": 1}
    assert written["tts_service"] == {"instances": 2, "instance_ports": [9000, 9001],
                                      "env": {"ALICIA_FAULT_FAIL_AT_START": "1"}}
    assert "env" not in overrides["tts_service"]
    path = zero_downtime.bad_overrides(overrides, "metrics_collector")
    with open(path) as handle:
        assert yaml.safe_load(handle)["catalogue_overrides"]["metrics_collector"] == {
            "env": {"ALICIA_FAULT_FAIL_AT_START": "1"}}
