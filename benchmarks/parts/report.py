"""The figures of a benchmark run: recorded by the parts, printed as a table,
written as the results JSON and drawn as a PNG chart."""

import json
import os
import platform
import socket
from datetime import datetime, timezone

from . import stats

SCHEMA = 1


class Results:
    """Figures as the parts record them, in order."""

    def __init__(self, runs, quick, parts):
        self.runs = runs
        self.quick = quick
        self.parts = list(parts)
        self.figures = []
        self.notes = []
        self.errors = {}
        self.done = []  # the parts that have run (an interrupted run writes what it has)
        self.started = datetime.now(timezone.utc)

    def add(self, part, name, values, unit="s", target=None, note="", value=None, runs=None):
        """One figure: `values` are the repetitions; `value` defaults to their median; `runs` to the run's
        repetitions (1 for a figure measured once whatever --runs)."""
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if value is None:
            value = stats.median(values)
        figure = {"part": part, "figure": name, "runs": self.runs if runs is None else runs, "unit": unit, "values": [_round(v) for v in values],
                  "value": _round(value), "target": None if target is None else [target[0], target[1]],
                  "status": stats.status(value, target), "note": note}
        self.figures.append(figure)
        return figure

    def unavailable(self, part, name, why, target=None):
        figure = {"part": part, "figure": name, "runs": 0, "unit": "", "values": [], "value": None,
                  "target": None if target is None else [target[0], target[1]], "status": "not available",
                  "note": why}
        self.figures.append(figure)
        return figure

    def note(self, text):
        self.notes.append(text)

    def error(self, part, text):
        self.errors[part] = text

    def document(self, hostname=None):
        """The results JSON (see tests/unit/benchmarks/test_report.py for its shape)."""
        return {
            "schema": SCHEMA,
            "date": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": hostname or socket.gethostname(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "ansible_core": _ansible_version()},
            "runs": self.runs,
            "quick": self.quick,
            "parts": self.parts,
            "parts_done": self.done,
            "figures": self.figures,
            "notes": self.notes,
            "errors": self.errors,
        }


def merge(previous, document):
    """`document` over an earlier results document of the same day and host: the figures, notes and errors of
    the parts run again are replaced, the others kept (in the earlier order, then the new parts); a part run
    again that failed before recording a figure keeps its earlier figures beside its new error."""
    produced = set(figure["part"] for figure in document["figures"])
    # A part that failed before recording anything keeps its earlier figures (its error is kept too).
    again = set(part for part in document["parts_done"] if part in produced or part not in document["errors"])
    merged = dict(document)
    merged["figures"] = [f for f in previous.get("figures", []) if f["part"] not in again and
                         not (f["part"] == "memory" and "converge" in again)] + document["figures"]
    merged["parts"] = [p for p in previous.get("parts", []) if p not in again] + document["parts"]
    merged["parts_done"] = [p for p in previous.get("parts_done", []) if p not in again] + document["parts_done"]
    merged["errors"] = dict((k, v) for k, v in previous.get("errors", {}).items() if k not in document["parts_done"])
    merged["errors"].update(document["errors"])
    merged["notes"] = previous.get("notes", []) + [n for n in document["notes"] if n not in previous.get("notes", [])]
    merged["runs"] = max(previous.get("runs", 0), document["runs"])
    merged["date"] = previous.get("date", document["date"])
    return merged


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def _ansible_version():
    try:
        from ansible.release import __version__
        return __version__
    except ImportError:  # pragma: no cover - the venv has it
        return None


def _value_text(figure):
    value = figure["value"]
    if value is None:
        return "-"
    if isinstance(value, float):
        text = "%.3f" % value if abs(value) < 10 else "%.1f" % value
    else:
        text = str(value)
    return ("%s %s" % (text, figure["unit"])).strip()


def table(figures):
    """The printed table: part, figure, value (median), target, status, values."""
    rows = [("part", "figure", "value", "target", "status", "runs")]
    for figure in figures:
        target = None if figure["target"] is None else tuple(figure["target"])
        runs = ", ".join(("%.2f" % v) if isinstance(v, float) else str(v) for v in figure["values"])
        rows.append((figure["part"], figure["figure"], _value_text(figure),
                     ("%s %s" % (stats.target_text(target), figure["unit"])).strip() if target else "-",
                     figure["status"], "" if len(figure["values"]) < 2 else runs if len(figure["values"]) <= 7
                     else "%d values, %s to %s" % (len(figure["values"]), min(figure["values"]),
                                                    max(figure["values"]))))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def results_path(directory, started, hostname):
    return os.path.join(directory, "%s-%s.json" % (started.strftime("%Y-%m-%d"), hostname))


def write_json(document, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=False)
        handle.write("\n")


def share_of_target(figure):
    """Value over target, oriented so that below 1 is a PASS (None without a numeric value and target)."""
    if figure["target"] is None or not isinstance(figure["value"], (int, float)) or isinstance(figure["value"], bool):
        return None
    operator, bound = figure["target"]
    value = float(figure["value"])
    if operator in ("<", "<="):
        return value / bound if bound else None
    if operator in (">", ">="):
        return bound / value if value else float("inf")
    return None


def chart(document, path):
    """A PNG: each figure with a target as its share of the target (left of 1 = PASS)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(figure, share_of_target(figure)) for figure in document["figures"]]
    rows = [(figure, share) for figure, share in rows if share is not None]
    height = max(2.5, 0.42 * len(rows) + 1.4)
    fig, axis = plt.subplots(figsize=(10, height))
    labels = ["%s: %s" % (figure["part"], figure["figure"]) for figure, _ in rows]
    shares = [min(share, 5.0) for _, share in rows]
    colours = ["#2e7d32" if figure["status"] == "PASS" else "#c62828" for figure, _ in rows]
    positions = list(range(len(rows)))[::-1]
    axis.barh(positions, shares, color=colours)
    for position, (figure, share) in zip(positions, rows):
        target = figure["target"]
        axis.text(min(share, 5.0) + 0.03, position, "%s (target %s %s)" % (_value_text(figure), target[0],
                  stats._number(target[1])), va="center", fontsize=8)
    axis.axvline(1.0, color="black", linewidth=1)
    axis.set_yticks(positions)
    axis.set_yticklabels(labels, fontsize=8)
    axis.set_xlim(0, max(shares + [1.0]) * 1.6 + 0.3)
    axis.set_xlabel("share of the target (left of 1: PASS; bars capped at 5)")
    axis.set_title("alicia.platform benchmarks, %s on %s (%d cores), medians of up to %d runs (each figure's in the JSON)%s"
                   % (document["date"][:10], document["host"], document["machine"]["cpus"] or 0, document["runs"],
                      ", quick" if document["quick"] else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
