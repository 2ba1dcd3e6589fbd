#!/usr/bin/env python3
"""alicia.platform benchmarks: one entry point, its parts in benchmarks/parts/.

Against lab hosts it creates itself (scripts/lab.sh up/down), it runs the
selected parts, prints a table (part, figure, value, target, PASS/MISS) and
writes benchmarks/results/<date>-<hostname>.json and a PNG chart next to it.
Each figure is the median of --runs repetitions (default 3); contenders of
a comparison alternate within the same run and are reported as ratios.
Timings are never asserted: the exit status is 1 only when a part could not
run (its error is printed and kept in the JSON), 0 otherwise, whatever the
figures.

    .venv/bin/python benchmarks/run.py                       # every part, 3 runs each (about an hour)
    .venv/bin/python benchmarks/run.py --parts converge,rerun --runs 5
    .venv/bin/python benchmarks/run.py --quick               # one repetition of the parts that need no lab
    .venv/bin/python benchmarks/run.py --list
"""

import argparse
import json
import os
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from parts import ORDER, PARTS, QUICK_DEFAULT, lab, report  # noqa: E402  (the path above)
from parts.context import Context  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per figure, the median is reported (>= 3 "
                                                             "for a result that is written; default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="one repetition each, print only (no JSON, no chart); without --parts: %s"
                             % ",".join(QUICK_DEFAULT))
    parser.add_argument("--parts", help="comma-separated parts (default: all; --list shows them)")
    parser.add_argument("--list", action="store_true", help="list the parts and exit")
    parser.add_argument("--merge", action="store_true",
                        help="merge into the day's results file of this host: the parts run now replace their "
                             "figures there, the others stay (a full run in several sittings)")
    parser.add_argument("--note", action="append", default=[], help="a note kept in the results JSON")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab hosts up at the end")
    parser.add_argument("--out", default=RESULTS, help="directory of the results JSON and PNG (default: "
                                                      "benchmarks/results)")
    args = parser.parse_args(argv)
    if args.parts:
        names = [name.strip() for name in args.parts.split(",") if name.strip()]
        unknown = [name for name in names if name not in PARTS]
        if unknown:
            parser.error("unknown part(s) %s; the parts: %s" % (", ".join(unknown), ", ".join(PARTS)))
        args.selected = [part.NAME for part in ORDER if part.NAME in names]
    else:
        args.selected = [part.NAME for part in ORDER if part.NAME in QUICK_DEFAULT or not args.quick]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.list:
        for part in ORDER:
            print("%-15s %s\n%-15s needs: %s" % (part.NAME, part.WHAT, "", part.NEEDS))
        return 0
    runs = 1 if args.quick else args.runs
    results = report.Results(runs, args.quick, args.selected)
    context = Context(results, runs, args.quick, keep_lab=args.keep_lab)
    for text in args.note:
        results.note(text)
    if not lab.docker_answers():
        print("note: Docker does not answer; the parts that need it will fail (make setup)", file=sys.stderr)
    started = time.monotonic()
    try:
        for name in args.selected:
            part_started = time.monotonic()
            print("== %s: %s" % (name, PARTS[name].WHAT), flush=True)
            try:
                PARTS[name].run(context)
            except Exception as exc:  # one part failing does not stop the others
                results.error(name, "%s: %s" % (type(exc).__name__, exc))
                print("   %s FAILED: %s" % (name, exc), file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
            print("   (%s: %.0f s)" % (name, time.monotonic() - part_started), flush=True)
            results.done.append(name)
            if not args.quick:  # after every part: an interrupted run keeps what it measured
                write(results, args.out, args.merge)
    finally:
        if context.lab_used and not args.keep_lab:
            lab.lab("down")
    print()
    print(report.table(results.figures))
    for name, text in results.errors.items():
        print("error in %s: %s" % (name, text.splitlines()[0]))
    print("(%d part(s) in %.0f s; medians of %d run(s); timings are figures, never asserted)"
          % (len(args.selected), time.monotonic() - started, runs))
    if not args.quick:
        print("results: %s\nchart:   %s" % tuple(os.path.relpath(path) for path in
                                                   write(results, args.out, args.merge)))
    return 1 if results.errors else 0


def write(results, directory, merge=False):
    """The results JSON and its PNG chart -> their paths."""
    hostname = socket.gethostname()
    document = results.document(hostname)
    path = report.results_path(directory, results.started, hostname)
    if merge and os.path.exists(path):
        if not hasattr(results, "previous"):  # read once, before this run's first write
            with open(path) as handle:
                results.previous = json.load(handle)
        document = report.merge(results.previous, document)
    # The parts' order (memory is measured by converge), whatever order the sittings took.
    order = dict((part.NAME, index) for index, part in enumerate(ORDER))
    order["memory"] = order["converge"]
    document["figures"].sort(key=lambda figure: order.get(figure["part"], len(order)))
    report.write_json(document, path)
    png = path[:-len(".json")] + ".png"
    report.chart(document, png)
    return path, png


if __name__ == "__main__":
    sys.exit(main())
