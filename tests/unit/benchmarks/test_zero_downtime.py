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
    assert names == [name for name, _unit, _target in zero_downtime.FIGURES + zero_downtime.BLUE_GREEN_FIGURES]
    assert names[len(zero_downtime.FIGURES):] == [
        "blue_green update: failed requests under load", "blue_green update: p99 latency under load",
        "blue_green, failed gate: failed requests under load", "blue_green: failed gate to the old version serving",
        "blue_green rollback: playbook start to the previous version serving",
        "blue_green rollback: the slots module's switch time",
        "blue_green rollback: seconds unavailable during the switch back"]
    assert all(figure["status"] == "not available" for figure in results.figures)
    assert all(figure["note"] == zero_downtime.QUICK for figure in results.figures)
    targets = dict((figure["figure"], figure["target"]) for figure in results.figures)
    assert targets["blue_green: failed gate to the old version serving"] == ["<", 5.0]
    assert targets["blue_green rollback: seconds unavailable during the switch back"] == ["<", 5.0]
    assert targets["blue_green rollback: the slots module's switch time"] is None


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


# A blue_green run's load: 1.0 serves, a failed request, the new version 2.0 from 13.0.
BG_LOAD = [[10.0, True, 3.0, "1.0", None], [10.5, True, 4.0, "1.0", None], [11.0, False, 3000.0, None, "timeout"],
           [12.0, True, 5.0, "1.0", None], [13.0, True, 5.0, "2.0", None], [13.5, True, 6.0, "2.0", None]]


def test_version_gap_is_the_longest_stretch_without_that_version_answering():
    assert figures.as_watch(BG_LOAD[:3]) == [[10.0, True, "1.0"], [10.5, True, "1.0"], [11.0, False, None]]
    assert [sample[1] for sample in figures.as_watch(BG_LOAD, "2.0")] == [False] * 4 + [True] * 2
    # 1.0: from 10.5 to 12.0 (the failed request), then never again (2.0 took over): no length.
    assert figures.version_gap(BG_LOAD, "1.0") is None
    assert figures.version_gap(BG_LOAD[:4], "1.0") == 1.5
    # Served throughout: no stretch at all.
    assert figures.version_gap(BG_LOAD[:2], "1.0") == 0.0
    assert figures.version_gap(BG_LOAD, None) is None
    # Any version: the failed request only.
    assert figures.longest_gap(figures.as_watch(BG_LOAD)) == 1.5
    assert figures.first_serving(figures.as_watch(BG_LOAD), 12.5, "2.0") == 13.0


def test_switch_seconds_are_read_from_a_verbose_run_output():
    json_line = ('changed: [alicia-lab-1] => {"actions": {"ai_service": ["updated"]}, "services": [{"action": '
                 '"switch", "switch_seconds": 2.41, "drained": true}, {"switch_seconds": 0.5}]}')
    yaml_text = "services:\n-   action: switch\n    switch_seconds: 3.125\n    switched: true\n"
    assert figures.switch_seconds(json_line) == [2.41, 0.5]
    assert figures.switch_seconds(yaml_text) == [3.125]
    assert figures.switch_seconds("ok: [alicia-lab-1] => {\"msg\": \"ai_service: slot blue now serves\"}") == []
    assert figures.switch_seconds('"switch_seconds": null') == []


def test_blue_green_service_adds_slot_ports_to_the_inventory_overrides(tmp_path, monkeypatch):
    import yaml
    monkeypatch.setattr(zero_downtime.lab, "OUT", str(tmp_path))
    overrides = zero_downtime.inventory_overrides()
    entry, merged, path = zero_downtime.blue_green_service(overrides, ("tts_service", "metrics_collector"))
    assert entry["name"] == zero_downtime.BLUE_GREEN and entry["instances"] == 1
    assert [slot["listen_port"] for slot in entry["slot_list"]] == zero_downtime.SLOT_PORTS
    with open(path) as handle:
        written = yaml.safe_load(handle)["catalogue_overrides"]
    assert written == merged
    assert written[zero_downtime.BLUE_GREEN]["slot_ports"] == zero_downtime.SLOT_PORTS
    # The inventory's own overrides are kept (extra vars replace the variable whole), and not changed.
    assert written["tts_service"] == overrides["tts_service"]
    assert "slot_ports" not in (overrides.get(zero_downtime.BLUE_GREEN) or {})
    probe_config = zero_downtime.slot_probe(entry)
    assert probe_config["load"] == "http://127.0.0.1:%d/health" % entry["port"]
    assert sorted(probe_config["watch"].values()) == ["http://127.0.0.1:%d/health" % port
                                                      for port in zero_downtime.SLOT_PORTS]
    with pytest.raises(RuntimeError, match="not a single-instance"):
        zero_downtime.blue_green_service(overrides, (zero_downtime.BLUE_GREEN,))
    monkeypatch.setattr(zero_downtime, "SLOT_PORTS", [9000, 9021])  # tts-primary's
    with pytest.raises(RuntimeError, match=r"slot ports \[9000\] are taken"):
        zero_downtime.blue_green_service(overrides, ())


def test_measure_blue_green_runs_update_failed_gate_and_rollback_per_repetition(tmp_path, monkeypatch):
    """With fakes of the lab: the playbooks in order, their files, and the figures taken from the samples."""
    overrides = zero_downtime.inventory_overrides()
    monkeypatch.setattr(zero_downtime.lab, "OUT", str(tmp_path))
    monkeypatch.setattr(zero_downtime.lab, "ROOT", str(tmp_path))
    converged, runs = [], []
    monkeypatch.setattr(zero_downtime.lab, "run_playbook", lambda label, **kw: converged.append((label, kw)))

    def fake_deployment(host, label, probe_config, extra, extra_files=(), expect_failure=False,
                        playbook="playbooks/deploy.yml", verbose=False):
        runs.append((label, playbook, dict(extra), list(extra_files), expect_failure, verbose))
        log = "%s.log" % label
        switch = {"zero-downtime-blue-green": 2.0, "zero-downtime-blue-green-rollback": 1.25}.get(label)
        with open(str(tmp_path / log), "w") as handle:
            handle.write('changed: [h] => {"services": [{"switch_seconds": %s}]}' % switch if switch else "fatal")
        old, new = ("1.0.0", extra.get("version")) if label == "zero-downtime-blue-green" else (
            ("zd-bg-x", "zd-bg-x") if label == "zero-downtime-blue-green-bad" else ("zd-bg-x", "1.0.0"))
        load = [[100.0, True, 2.0, old, None], [100.5, True, 3.0, old, None], [101.0, False, 9.0, None, "reset"],
                [101.5, True, 4.0, new, None]]
        history = [[100.7, [["ai_service", old, extra.get("version"), "failed", "blue_green", "id", "s"]]]] \
            if expect_failure else []
        return {"load": load, "watch": {}, "history": history, "playbook_started": 99.0}, 30.0, log

    monkeypatch.setattr(zero_downtime, "deployment", fake_deployment)
    context = Context(report.Results(2, False, ["zero_downtime"]), 2, False)
    entry, updated, bad, rolled = zero_downtime.measure_blue_green(
        context, "alicia-lab-1", overrides, ("tts_service", "metrics_collector"), "0700")
    # ai_service into its slots first: site.yml with the slots file.
    [(label, options)] = converged
    assert label == "zero-downtime-slots" and options["extra_files"][0].endswith("zero-downtime-slots-ai_service.yml")
    slots_file = options["extra_files"][0]
    assert [(r[0], r[1]) for r in runs] == [
        ("zero-downtime-blue-green", "playbooks/deploy.yml"), ("zero-downtime-blue-green-bad", "playbooks/deploy.yml"),
        ("zero-downtime-blue-green-rollback", "playbooks/rollback.yml")] * 2
    update, failing, rollback = runs[:3]
    assert update[2] == {"services": "ai_service", "version": "zd-bg-0700-1", "strategy": "blue_green"}
    assert update[3] == [slots_file] and update[5] and not update[4]
    assert failing[2]["version"] == "zd-bg-bad-0700-1" and failing[4]
    assert failing[3][0].endswith("zero-downtime-bad-ai_service.yml")
    assert rollback[2] == {"services": "ai_service"} and rollback[3] == [slots_file] and rollback[5]
    assert runs[3][2]["version"] == "zd-bg-0700-2"
    assert (updated[0]["failed"], updated[0]["p99"], updated[0]["switch"], updated[0]["served_new"]) == (1, 9.0, 2.0,
                                                                                                        True)
    # The old version (zd-bg-x) answered at 100.5, a request failed, it answered again at 101.5.
    assert bad[0]["old"] == "zd-bg-x" and bad[0]["gap"] == 1.0 and bad[0]["failed_at"] == 100.7
    assert (rolled[0]["to_previous"], rolled[0]["switch"], rolled[0]["unavailable"]) == (2.5, 1.25, 1.0)
    results = report.Results(2, False, ["zero_downtime"])
    zero_downtime.record_blue_green(results, entry, updated, bad, rolled)
    got = dict((figure["figure"], figure) for figure in results.figures)
    assert [figure["figure"] for figure in results.figures] == [name for name, _u, _t in
                                                                 zero_downtime.BLUE_GREEN_FIGURES]
    assert got["blue_green update: failed requests under load"]["status"] == "MISS"
    assert got["blue_green rollback: the slots module's switch time"]["value"] == 1.25
    assert got["blue_green rollback: seconds unavailable during the switch back"]["status"] == "PASS"
    assert "slots blue :9020, green :9021 behind HAProxy on :8002" in got[
        "blue_green update: failed requests under load"]["note"]


def test_record_blue_green_takes_medians_with_targets():
    entry = {"name": "ai_service", "port": 8002, "slot_list": [{"name": "blue", "listen_port": 9020},
                                                               {"name": "green", "listen_port": 9021}]}
    updated = [{"failed": 0, "p99": p, "requests": 300, "versions": ["1", "2"], "served_new": True, "switch": 2.0,
                "errors": [], "wall": 20.0} for p in (7.0, 9.0, 8.0)]
    bad = [{"failed": 0, "p99": 6.0, "requests": 500, "old": "2", "gap": g, "versions": ["2"], "history": [],
            "wall": 40.0} for g in (0.0, 0.0, 6.0)]
    rolled = [{"failed": 0, "requests": 300, "versions": ["2", "1"], "to_previous": t, "switch": s,
               "unavailable": 0.0, "wall": 20.0} for t, s in ((14.0, 2.0), (16.0, None), (15.0, 3.0))]
    results = report.Results(3, False, ["zero_downtime"])
    zero_downtime.record_blue_green(results, entry, updated, bad, rolled)
    got = dict((figure["figure"], figure) for figure in results.figures)
    assert (got["blue_green update: failed requests under load"]["value"],
            got["blue_green update: failed requests under load"]["status"]) == (0, "PASS")
    assert got["blue_green update: p99 latency under load"]["value"] == 8.0
    gate = got["blue_green: failed gate to the old version serving"]
    assert (gate["value"], gate["status"], gate["values"]) == (0.0, "PASS", [0.0, 0.0, 6.0])
    assert got["blue_green rollback: playbook start to the previous version serving"]["value"] == 15.0
    assert got["blue_green rollback: the slots module's switch time"]["target"] is None
    assert got["blue_green rollback: seconds unavailable during the switch back"]["status"] == "PASS"
