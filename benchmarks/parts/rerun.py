"""Part rerun: site.yml again on the deployed one-host lab (idempotent re-run).

Wall time, module executions (the alicia.platform.module_count callback,
largest host) and the PLAY RECAP changed count of each repetition. Facts are
cached (ansible.cfg), as in everyday use. Deploys the lab first when this
run has not (that deployment is not timed). Then the same with the converge
shortcut (alicia_converged_shortcut: true): one run that records the host's
state (not timed), then the repetitions, each one read of the host. And
the floor under any run, alternating in each repetition: ansible-playbook
with one empty play on the lab host (start-up), with one `command` task
(start-up and one module execution), and site.yml under a tag no task has
(start-up, parsing site.yml and preflight, which runs under any tags).
"""

import os

from . import lab

NAME = "rerun"
NEEDS = "the one-host lab, deployed (made when missing)"
WHAT = "idempotent re-run: time (target < 10 s), module executions (9), changed (0); with the converge shortcut"
SHORTCUT = {"alicia_converged_shortcut": True}
FLOOR = """
- name: Floor
  hosts: alicia
  gather_facts: false
  tasks: %s
"""
ONE_MODULE = """
    - name: Floor | one module execution
      ansible.builtin.command: "true"
      changed_when: false
"""


def run(context):
    context.ensure_deployed(1)
    runs = [lab.run_playbook("rerun-%d" % (index + 1)) for index in range(context.repetitions())]
    results = context.results
    results.add(NAME, "idempotent re-run, 1 host", [r["wall"] for r in runs], target=("<", 10.0))
    results.add(NAME, "re-run: module executions (largest host)", [lab.executions(r) for r in runs], unit="",
                target=("<=", 9))
    results.add(NAME, "re-run: changed (PLAY RECAP)", [lab.changed(r) for r in runs], unit="", target=("==", 0),
                value=max(lab.changed(r) for r in runs))

    record = lab.run_playbook("rerun-shortcut-record", extra=SHORTCUT)
    if record["rc"] != 0:
        raise RuntimeError("the run that records the converge failed (rc %d): see %s" % (record["rc"], record["log"]))
    runs = [lab.run_playbook("rerun-shortcut-%d" % (index + 1), extra=SHORTCUT)
            for index in range(context.repetitions())]
    results.add(NAME, "idempotent re-run with the converge shortcut, 1 host", [r["wall"] for r in runs],
                target=("<", 10.0), note="alicia_converged_shortcut: true, after one run that recorded the host")
    results.add(NAME, "re-run with the converge shortcut: module executions", [lab.executions(r) for r in runs],
                unit="", target=("<=", 1))
    results.add(NAME, "re-run with the converge shortcut: changed (PLAY RECAP)", [lab.changed(r) for r in runs],
                unit="", target=("==", 0), value=max(lab.changed(r) for r in runs))

    os.makedirs(lab.OUT, exist_ok=True)
    floors = {}
    for label, tasks in (("empty", "[]"), ("one", ONE_MODULE)):
        floors[label] = os.path.join(lab.OUT, "floor-%s.yml" % label)
        with open(floors[label], "w") as handle:
            handle.write(FLOOR % tasks)
    figures = {"empty": [], "one": [], "preflight": []}
    for index in range(context.repetitions()):
        figures["empty"].append(lab.run_playbook("floor-empty-%d" % (index + 1), playbook=floors["empty"])["wall"])
        figures["one"].append(lab.run_playbook("floor-one-%d" % (index + 1), playbook=floors["one"])["wall"])
        figures["preflight"].append(lab.run_playbook("floor-preflight-%d" % (index + 1),
                                                     args=["--tags", "alicia_no_such_tag"])["wall"])
    results.add(NAME, "floor: ansible-playbook, one empty play on the lab host", figures["empty"])
    results.add(NAME, "floor: ansible-playbook, one play of one command task", figures["one"])
    results.add(NAME, "floor: site.yml to the end of preflight (a tag no task has)", figures["preflight"],
                note="start-up, site.yml parsed, preflight's controller tasks; no host touched")
