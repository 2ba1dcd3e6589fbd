"""Part catalogue: templating the role default catalogue_resolved over the shipped catalogue.

With ansible-core's Templar, trusted lazy data, in a fresh interpreter where
Ansible's collection loader owns `ansible_collections` (a copy.deepcopy of
the tagged data once took about 7 s; the figure test_catalogue_filters.py
used to assert); also, for reference, catalogue_errors through the templar
and the plain filter functions over the resolved catalogue. Needs no lab.
"""

import json
import os
import subprocess
import sys

from .lab import ROOT

NAME = "catalogue"
NEEDS = "nothing (controller only)"
WHAT = "templating catalogue_resolved in a fresh interpreter (target < 3 s), filters for reference"
TARGET = ("<", 3.0)

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
        raise RuntimeError("the templating run failed:\n%s" % proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(context):
    runs = [one_run() for _ in range(context.repetitions())]
    results = context.results
    results.add(NAME, "templar: catalogue_resolved (%d entries)" % runs[0]["services"],
                [figures["templar: catalogue_resolved"] for figures in runs], target=TARGET)
    for label in runs[0]:
        if label in ("services", "templar: catalogue_resolved"):
            continue
        values = [figures.get(label) for figures in runs]
        if all(isinstance(value, (int, float)) for value in values):
            results.add(NAME, label, values)
        else:
            results.unavailable(NAME, label, next(str(v) for v in values if not isinstance(v, (int, float))))
