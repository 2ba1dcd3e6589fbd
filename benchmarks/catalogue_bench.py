#!/usr/bin/env python3
"""Benchmark: the catalogue filters over the shipped catalogue, through Ansible's templar.

What tests/unit/plugins/filter/test_catalogue_filters.py used to assert
(< 3.0 s): the role default `catalogue_resolved` of
roles/catalogue/defaults/main.yml, templated by ansible-core 2.19's Templar
with trusted, lazy data, in a fresh interpreter where Ansible's collection
loader owns `ansible_collections` (a copy.deepcopy of the tagged data once
took about 7 s). Each run is a fresh interpreter; it also times, for
reference, `catalogue_errors` through the templar and the plain filter
functions over the resolved catalogue.

Figures only: nothing is asserted (target: templating catalogue_resolved
< 3.0 s).

    .venv/bin/python benchmarks/catalogue_bench.py [--runs 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 3.0

# Runs in a fresh interpreter: argv[1] is the repository root. Prints one JSON
# document of {figure: seconds}, or {figure: "error: ..."} for a filter that
# failed (the catalogue code may be mid-change; the bench still reports).
CHILD = r"""
import json, sys, time
root = sys.argv[1]
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
init_plugin_loader([root + "/.collections"])
loader = DataLoader()
data = loader.load_from_file(root + "/roles/catalogue/defaults/main.yml")
data["catalogue_resolved"] = trust_as_template(data["catalogue_resolved"])  # role defaults are trusted
templar = Templar(loader=loader, variables=data)
figures = {}
started = time.monotonic()
resolved = templar.template(data["catalogue_resolved"])
figures["templar: catalogue_resolved"] = time.monotonic() - started
figures["services"] = len(resolved)

started = time.monotonic()
try:
    templar.template(trust_as_template(
        "{{ catalogue_resolved | alicia.platform.catalogue_errors(groups={'alicia_voice': ['h']}) }}"))
    figures["templar: catalogue_resolved | catalogue_errors"] = time.monotonic() - started
except Exception as exc:  # report, do not stop the bench
    figures["templar: catalogue_resolved | catalogue_errors"] = "error: %s" % exc

from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule
filters = FilterModule().filters()
plain = json.loads(json.dumps(resolved))
for name, args in (("catalogue_validate", ()), ("catalogue_errors", ()), ("catalogue_order", ()),
                   ("catalogue_graph", ("dot",))):
    label = "plain: %s" % name
    if name not in filters:
        continue
    started = time.monotonic()
    try:
        filters[name](plain, *args)
        figures[label] = time.monotonic() - started
    except Exception as exc:
        figures[label] = "error: %s" % exc
print(json.dumps(figures))
"""


def one_run():
    proc = subprocess.run([sys.executable, "-c", CHILD, ROOT], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    if proc.returncode != 0:
        raise SystemExit("the templating run failed:\n%s" % proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters (the median is reported)")
    args = parser.parse_args()

    runs = []
    for run in range(max(1, args.runs)):
        figures = one_run()
        runs.append(figures)
        print("run %d: templating catalogue_resolved %.3f s" % (run + 1, figures["templar: catalogue_resolved"]))

    print()
    print("catalogue filters over the shipped catalogue (%d services), median of %d fresh interpreters"
          % (runs[0]["services"], len(runs)))
    for label in runs[0]:
        if label == "services":
            continue
        values = [figures.get(label) for figures in runs]
        numbers = [value for value in values if isinstance(value, (int, float))]
        if len(numbers) == len(values):
            print("  %-52s %8.3f s" % (label, statistics.median(numbers)))
        else:
            print("  %-52s %s" % (label, next(value for value in values if not isinstance(value, (int, float)))))
    templated = statistics.median(figures["templar: catalogue_resolved"] for figures in runs)
    print("  target (templating catalogue_resolved < %.1f s, was asserted by test_catalogue_filters.py): %s"
          % (TARGET, "met" if templated < TARGET else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
