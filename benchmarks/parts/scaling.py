"""Part scaling: site.yml on 1, 2 and 4 lab hosts, fresh and re-run, as ratios to 1 host.

Each repetition takes the three sizes in turn (1, 2, 4, so that the
machine's load is shared alike), each on new lab hosts (scripts/lab.sh up
LAB_HOSTS=n: the phase groups spread over the hosts, lab.sh's header), one
fresh converge and one re-run. Ratios are per repetition (n hosts over the
1 host of the same repetition), then the median.
"""

from . import lab, stats

NAME = "scaling"
NEEDS = "new labs of 1, 2 and 4 hosts per repetition (scripts/lab.sh)"
WHAT = "fresh and re-run time on 2 and 4 hosts over 1 host (target 4 hosts <= 1.3x)"
SIZES = (1, 2, 4)


def run(context):
    fresh = dict((size, []) for size in SIZES)
    rerun = dict((size, []) for size in SIZES)
    for index in range(context.repetitions()):
        for size in SIZES:
            context.lab_used = True
            context.deployed = None
            lab.fresh(size)
            fresh[size].append(lab.run_playbook("scaling-%d-fresh-%d" % (size, index + 1))["wall"])
            rerun[size].append(lab.run_playbook("scaling-%d-rerun-%d" % (size, index + 1))["wall"])
            context.deployed = size
    results = context.results
    for size in SIZES:
        results.add(NAME, "fresh converge, %d host(s)" % size, fresh[size])
        results.add(NAME, "re-run, %d host(s)" % size, rerun[size])
    for size in SIZES[1:]:
        target = ("<=", 1.3) if size == 4 else None
        results.add(NAME, "fresh: %d hosts / 1 host" % size, stats.paired_ratios(fresh[size], fresh[1]), unit="x",
                    target=target)
        results.add(NAME, "re-run: %d hosts / 1 host" % size, stats.paired_ratios(rerun[size], rerun[1]),
                    unit="x", target=target)
