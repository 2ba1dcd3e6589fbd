"""benchmarks/run.py: part selection, --quick, and the results JSON and PNG a run writes."""

import importlib.util
import json
import os

import pytest

from parts import ORDER, PARTS, QUICK_DEFAULT

_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(os.path.dirname(PARTS["rerun"].__file__),
                                                                        "..", "run.py"))
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)

EXPECTED = ["catalogue", "crashloop_gate", "converge", "rerun", "health_gate", "growth", "compose", "scaling",
            "zero_downtime"]


def test_every_part_is_registered_once_with_its_description():
    assert [part.NAME for part in ORDER] == EXPECTED
    for part in ORDER:
        assert part.WHAT and part.NEEDS and callable(part.run)
    assert set(QUICK_DEFAULT) <= set(PARTS)


def test_parts_are_taken_in_the_registry_order_whatever_the_command_line_order():
    args = bench_run.parse(["--parts", "zero_downtime,catalogue"])
    assert args.selected == ["catalogue", "zero_downtime"]
    assert bench_run.parse([]).selected == EXPECTED
    assert bench_run.parse(["--quick"]).selected == [name for name in EXPECTED if name in QUICK_DEFAULT]


def test_unknown_part_and_bad_runs_are_refused(capsys):
    with pytest.raises(SystemExit):
        bench_run.parse(["--parts", "catalogue,nope"])
    assert "unknown part(s) nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_run.parse(["--runs", "0"])


@pytest.fixture()
def no_lab(monkeypatch):
    """zero_downtime without its lab runs (they converge a lab host): its figures recorded "not available"."""
    def unavailable(context):
        PARTS["zero_downtime"].unavailable(context.results, "not run in a unit test")
        PARTS["zero_downtime"].blue_green_unavailable(context.results, "not run in a unit test")
    monkeypatch.setattr(PARTS["zero_downtime"], "run", unavailable)


def test_a_run_writes_the_json_and_the_chart(tmp_path, capsys, no_lab):
    assert bench_run.main(["--parts", "zero_downtime", "--out", str(tmp_path)]) == 0
    written = sorted(os.listdir(str(tmp_path)))
    assert len(written) == 2 and written[0].endswith(".json") and written[1].endswith(".png")
    assert written[0][:-5] == written[1][:-4]
    with open(str(tmp_path / written[0])) as handle:
        document = json.load(handle)
    assert document["parts"] == document["parts_done"] == ["zero_downtime"] and document["runs"] == 3 and document["quick"] is False
    assert document["figures"] and all(figure["status"] == "not available" for figure in document["figures"])
    out = capsys.readouterr().out
    assert "rolling update: failed requests under load" in out and "not available" in out


def test_quick_prints_only(tmp_path, capsys):
    assert bench_run.main(["--quick", "--parts", "zero_downtime", "--out", str(tmp_path)]) == 0
    assert os.listdir(str(tmp_path)) == []
    assert "blue_green" in capsys.readouterr().out


def test_a_failing_part_is_reported_and_fails_the_run(tmp_path, monkeypatch, capsys):
    def broken(_context):
        raise RuntimeError("no engine here")
    monkeypatch.setattr(PARTS["zero_downtime"], "run", broken)
    assert bench_run.main(["--parts", "zero_downtime", "--out", str(tmp_path)]) == 1
    assert "error in zero_downtime: RuntimeError: no engine here" in capsys.readouterr().out


def test_merge_keeps_the_figures_of_the_other_parts(tmp_path, monkeypatch, no_lab):
    def first(context):
        context.results.add("catalogue", "templar", [1.0, 2.0, 3.0], target=("<", 3.0))
    monkeypatch.setattr(PARTS["catalogue"], "run", first)
    assert bench_run.main(["--parts", "catalogue", "--out", str(tmp_path)]) == 0
    assert bench_run.main(["--parts", "zero_downtime", "--out", str(tmp_path), "--merge", "--note", "later"]) == 0
    [name] = [name for name in os.listdir(str(tmp_path)) if name.endswith(".json")]
    with open(str(tmp_path / name)) as handle:
        document = json.load(handle)
    assert document["parts_done"] == ["catalogue", "zero_downtime"]
    assert document["figures"][0]["figure"] == "templar" and document["figures"][0]["value"] == 2.0
    assert document["notes"] == ["later"]


def test_merged_figures_follow_the_parts_order(tmp_path, monkeypatch, no_lab):
    def later(context):
        context.results.add("catalogue", "templar", [1.0], target=("<", 3.0))
    monkeypatch.setattr(PARTS["catalogue"], "run", later)
    assert bench_run.main(["--parts", "zero_downtime", "--out", str(tmp_path)]) == 0
    assert bench_run.main(["--parts", "catalogue", "--out", str(tmp_path), "--merge"]) == 0
    [name] = [name for name in os.listdir(str(tmp_path)) if name.endswith(".json")]
    with open(str(tmp_path / name)) as handle:
        parts = [figure["part"] for figure in json.load(handle)["figures"]]
    assert parts[0] == "catalogue" and set(parts[1:]) == {"zero_downtime"}
