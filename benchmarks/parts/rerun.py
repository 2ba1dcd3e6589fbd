"""Part rerun: site.yml again on the deployed one-host lab (idempotent re-run).

Wall time, module executions (the alicia.platform.module_count callback,
largest host) and the PLAY RECAP changed count of each repetition. Facts are
cached (ansible.cfg), as in everyday use. Deploys the lab first when this
run has not (that deployment is not timed).
"""

from . import lab

NAME = "rerun"
NEEDS = "the one-host lab, deployed (made when missing)"
WHAT = "idempotent re-run: time (target < 10 s), module executions (9), changed (0)"


def run(context):
    context.ensure_deployed(1)
    runs = [lab.run_playbook("rerun-%d" % (index + 1)) for index in range(context.repetitions())]
    results = context.results
    results.add(NAME, "idempotent re-run, 1 host", [r["wall"] for r in runs], target=("<", 10.0))
    results.add(NAME, "re-run: module executions (largest host)", [lab.executions(r) for r in runs], unit="",
                target=("<=", 9))
    results.add(NAME, "re-run: changed (PLAY RECAP)", [lab.changed(r) for r in runs], unit="", target=("==", 0),
                value=max(lab.changed(r) for r in runs))
