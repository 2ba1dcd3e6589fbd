"""benchmarks/parts/report.py: the recorded figures, the printed table, the results JSON and the chart."""

import json
from datetime import datetime, timezone

import pytest

from parts import report


def results():
    got = report.Results(runs=3, quick=False, parts=["rerun", "zero_downtime"])
    got.add("rerun", "idempotent re-run, 1 host", [9.1, 9.9, 9.4], target=("<", 10.0))
    got.add("rerun", "re-run: changed (PLAY RECAP)", [0, 2, 0], unit="", target=("==", 0), value=2)
    got.add("health_gate", "ratio uri loop / health_gate task", [19.0, 21.0, 20.0], unit="x", target=(">=", 10.0))
    got.add("growth", "re-run with 44 services", [11.0, 11.5, 12.0])
    got.add("growth", "deploying 22 more services, per added service", 3.5, runs=1)
    got.unavailable("zero_downtime", "rolling update: failed requests under load", "not built", target=("==", 0))
    return got


def test_figures_take_the_median_and_a_status():
    figures = results().figures
    assert figures[0]["value"] == 9.4 and figures[0]["status"] == "PASS"
    assert figures[1]["value"] == 2 and figures[1]["status"] == "MISS"  # an explicit value wins over the median
    assert figures[2]["value"] == 20.0 and figures[2]["status"] == "PASS"
    assert figures[3]["status"] == "n/a"
    assert figures[4]["values"] == [3.5] and figures[4]["runs"] == 1 and figures[3]["runs"] == 3
    assert figures[5]["status"] == "not available" and figures[5]["value"] is None and figures[5]["runs"] == 0


def test_results_json_shape(tmp_path):
    got = results()
    got.note("noisy: Molecule ran meanwhile")
    got.error("compose", "RuntimeError: no engine")
    document = got.document("buildhost")
    assert set(document) == {"schema", "date", "host", "machine", "runs", "quick", "parts", "parts_done", "figures", "notes",
                             "errors"}
    assert document["schema"] == report.SCHEMA
    assert document["host"] == "buildhost" and document["runs"] == 3 and document["quick"] is False
    assert set(document["machine"]) == {"cpus", "python", "ansible_core"}
    for figure in document["figures"]:
        assert set(figure) == {"part", "figure", "runs", "unit", "values", "value", "target", "status", "note"}
    assert document["figures"][0]["target"] == ["<", 10.0]
    assert document["notes"] == ["noisy: Molecule ran meanwhile"]
    assert document["errors"] == {"compose": "RuntimeError: no engine"}
    path = report.results_path(str(tmp_path / "results"), datetime(2026, 12, 7, tzinfo=timezone.utc), "buildhost")
    assert path.endswith("results/2026-12-07-buildhost.json")
    report.write_json(document, path)
    with open(path) as handle:
        assert json.load(handle) == json.loads(json.dumps(document))


def test_table_has_one_row_per_figure_with_target_and_status():
    lines = report.table(results().figures).splitlines()
    assert lines[0].split()[:5] == ["part", "figure", "value", "target", "status"]
    assert len(lines) == 2 + 6
    assert "9.400 s" in lines[2] and "< 10 s" in lines[2] and "PASS" in lines[2] and "9.10, 9.90, 9.40" in lines[2]
    assert "MISS" in lines[3]
    assert "20.0 x" in lines[4] and ">= 10 x" in lines[4]
    assert "not available" in lines[7]


def test_share_of_target_is_below_one_for_a_pass():
    figures = results().figures
    assert report.share_of_target(figures[0]) == pytest.approx(0.94)
    assert report.share_of_target(figures[2]) == 0.5
    assert report.share_of_target(figures[3]) is None  # no target
    assert report.share_of_target(figures[5]) is None  # no value


def test_chart_is_a_png(tmp_path):
    path = tmp_path / "chart.png"
    report.chart(results().document("buildhost"), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_merge_replaces_the_parts_run_again_and_keeps_the_others():
    earlier = results()
    earlier.done = ["rerun", "health_gate", "growth", "zero_downtime"]
    earlier.note("first sitting")
    earlier.error("growth", "RuntimeError: x")
    previous = earlier.document("h")
    again = report.Results(runs=1, quick=False, parts=["growth"])
    again.done = ["growth"]
    again.add("growth", "re-run with 44 services", [10.0])
    again.note("second sitting")
    merged = report.merge(previous, again.document("h"))
    assert [f["figure"] for f in merged["figures"] if f["part"] == "growth"] == ["re-run with 44 services"]
    assert [f["values"] for f in merged["figures"] if f["part"] == "growth"] == [[10.0]]
    assert [f["runs"] for f in merged["figures"] if f["part"] == "growth"] == [1]
    assert len(merged["figures"]) == len(previous["figures"]) - 1  # two growth figures before, one now
    assert merged["errors"] == {} and merged["notes"] == ["first sitting", "second sitting"]
    assert merged["parts_done"] == ["rerun", "health_gate", "zero_downtime", "growth"]
    assert merged["runs"] == 3 and merged["date"] == previous["date"]


def test_merge_keeps_the_figures_of_a_part_that_failed_before_recording_any():
    earlier = results()
    earlier.done = ["rerun", "health_gate", "growth", "zero_downtime"]
    previous = earlier.document("h")
    again = report.Results(runs=3, quick=False, parts=["rerun"])
    again.done = ["rerun"]
    again.error("rerun", "LabError: site.yml failed")
    merged = report.merge(previous, again.document("h"))
    assert [f["values"] for f in merged["figures"] if f["part"] == "rerun"] == [[9.1, 9.9, 9.4], [0, 2, 0]]
    assert merged["errors"] == {"rerun": "LabError: site.yml failed"}
