"""Part growth: the idempotent re-run with 22, 44 and 88 services on one host.

The extra services are copies of the reference service (catalogue entries
extra_001... through catalogue_overrides in an extra-vars file, spread over
the six phases, ports from 9100, their MQTT passwords kept from one size to
the next). Sizes are measured in increasing order, each deployed first
(untimed in the re-run figure; its time per added service is a figure of
its own), then re-run `runs` times. The sizes cannot alternate: a smaller
catalogue is not a no-op on a host deployed with a larger one (the firewall
and the broker's users follow the catalogue), so every switch would be a
deployment. Fitted seconds per added service and whether growth is linear:
parts/stats.py growth().
"""

from . import lab, stats

NAME = "growth"
NEEDS = "the one-host lab, deployed (made when missing); leaves the extra services on it"
WHAT = "re-run with 22, 44, 88 services: s per added service (target < 0.1 s), linear"
SIZES = (22, 44, 88)


def run(context):
    context.ensure_deployed(1)
    results = context.results
    medians = []
    previous = None
    for size in SIZES:
        extra = size - SIZES[0]
        files = [lab.extra_services(extra)] if extra else []
        if extra:
            context.deployed = "extra"
            deploy = lab.run_playbook("growth-deploy-%d" % size, extra_files=files)
            results.add(NAME, "deploying %d more services (%d -> %d), per added service"
                        % (size - previous, previous, size), deploy["wall"] / (size - previous), runs=1,
                        note="one run: %.1f s, changed=%d" % (deploy["wall"], lab.changed(deploy)))
        runs = [lab.run_playbook("growth-rerun-%d-%d" % (size, index + 1), extra_files=files)
                for index in range(context.repetitions())]
        walls = [r["wall"] for r in runs]
        results.add(NAME, "re-run with %d services" % size, walls,
                    note="changed %s, module executions %s" % ([lab.changed(r) for r in runs],
                                                               [lab.executions(r) for r in runs]))
        medians.append((size, stats.median(walls)))
        previous = size
    fit = stats.growth(medians)
    results.add(NAME, "re-run cost per added service (fit over 22/44/88)", fit["per_service"],
                target=("<", 0.1), note="segments %s s/service, r^2 %.2f"
                % (["%.3f" % s for s in fit["segments"]], fit["r_squared"]))
    results.add(NAME, "re-run growth is linear (1 = yes)", 1 if fit["linear"] else 0, unit="", target=("==", 1),
                note="no segment steeper than 1.5x the first (a quadratic cost doubles it; stats.growth)")
