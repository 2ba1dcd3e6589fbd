"""Part converge: site.yml on new lab hosts (fresh converge), and memory.

Each repetition replaces the one-host lab (scripts/lab.sh down, up; no
cached facts) and runs playbooks/site.yml: all 23 units, the packages
installed from the Debian mirror (the lab image has none of them). While it
runs, the controller's process tree (ansible-playbook and its workers) is
sampled every 0.25 s from /proc: the peak of its summed resident memory and
of its largest process. After the last one, the resident memory of each
running reference-service unit on the host. The last repetition leaves the
lab deployed for the parts after it.
"""

from . import lab

NAME = "converge"
NEEDS = "a new one-host lab per repetition (scripts/lab.sh)"
WHAT = "fresh site.yml on a new lab host (target < 60 s), controller peak RSS, RSS per service instance"
TARGET = ("<", 60.0)


def run(context):
    walls, changed, executions, total, single = [], [], [], [], []
    for index in range(context.repetitions()):
        context.lab_used = True
        context.deployed = None
        lab.fresh(1)
        result = lab.run_playbook("fresh-%d" % (index + 1), sample_rss=True)
        context.deployed = 1
        walls.append(result["wall"])
        changed.append(lab.changed(result))
        executions.append(lab.executions(result))
        total.append(result["rss_total_mib"])
        single.append(result["rss_single_mib"])
    results = context.results
    results.add(NAME, "fresh converge, 1 host, 23 units, packages installed", walls, target=TARGET,
                note="changed per run: %s" % changed)
    results.add(NAME, "fresh converge: module executions (largest host)", executions, unit="")
    results.add("memory", "controller peak RSS during a fresh converge (process tree)", total, unit="MiB")
    results.add("memory", "controller peak RSS, largest single process", single, unit="MiB")
    host = lab.running_hosts()[0]
    rss = lab.service_rss(host)
    if rss:
        results.add("memory", "RSS per reference-service instance (median of %d units)" % len(rss),
                    sorted(rss.values()), unit="MiB")
    else:
        results.unavailable("memory", "RSS per reference-service instance", "no running alicia-*.service on %s"
                            % host)
    results.unavailable(NAME, "fresh converge with the packages already in the image",
                        "not measured: needs a lab image with the packages baked in (not built by this bench)")
