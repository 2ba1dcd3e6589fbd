"""Part converge: site.yml on new lab hosts (fresh converge), and memory.

Each repetition replaces the one-host lab (scripts/lab.sh down, up; no
cached facts) and runs playbooks/site.yml: all 23 units, the packages
installed from the Debian mirror (the lab image has none of them). While it
runs, the controller's process tree (ansible-playbook and its workers) is
sampled every 0.25 s from /proc: the peak of its summed resident memory and
of its largest process. After the last one, the resident memory of each
running reference-service unit on the host.

With the packages already in the image: after the first repetition, the
packages that site.yml installed (``apt-mark showmanual`` on the converged
host, less the lab image's own) are installed from the mirror on a new host
of the lab image, which is committed as PACKAGED_IMAGE (removed at the
end). Each repetition then also converges a new host of that image, the two
alternating (mirror first in odd repetitions, image first in even ones),
and their ratio is reported per repetition. The last converge leaves the
lab deployed for the parts after it.
"""

import subprocess

from . import lab, stats

NAME = "converge"
NEEDS = "a new one-host lab per repetition (scripts/lab.sh)"
WHAT = "fresh site.yml on a new lab host (target < 60 s), controller peak RSS, RSS per service instance"
TARGET = ("<", 60.0)
PACKAGED_IMAGE = "alicia-bench/debian-packaged:bookworm"
BASE_IMAGE = "alicia-test/debian:bookworm"


def installed_packages(host):
    """The packages site.yml installed on a converged ``host``: its manually installed ones less the image's."""
    on_host = set(lab.host_sh(host, "apt-mark showmanual").split())
    in_image = subprocess.run(["docker", "run", "--rm", BASE_IMAGE, "apt-mark", "showmanual"], capture_output=True,
                              text=True, check=True).stdout.split()
    return sorted(on_host - set(in_image))


def packaged_image(packages):
    """A new lab host with ``packages`` installed from the mirror, committed as PACKAGED_IMAGE."""
    lab.fresh(1)
    host = lab.running_hosts()[0]
    lab.host_sh(host, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                      "--no-install-recommends %s >/dev/null" % " ".join(packages))
    subprocess.run(["docker", "commit", host, PACKAGED_IMAGE], check=True, capture_output=True)
    lab.lab("down")


def run(context):
    walls, changed, executions, total, single = [], [], [], [], []
    packaged, packages = [], None

    def from_mirror(index):
        context.deployed = None
        lab.fresh(1)
        result = lab.run_playbook("fresh-%d" % (index + 1), sample_rss=True)
        context.deployed = 1
        walls.append(result["wall"])
        changed.append(lab.changed(result))
        executions.append(lab.executions(result))
        total.append(result["rss_total_mib"])
        single.append(result["rss_single_mib"])

    def from_image(index):
        context.deployed = None
        lab.fresh(1, image=PACKAGED_IMAGE)
        packaged.append(lab.run_playbook("fresh-packaged-%d" % (index + 1))["wall"])
        context.deployed = 1

    context.lab_used = True
    try:
        for index in range(context.repetitions()):
            if index == 0:
                from_mirror(index)
                packages = installed_packages(lab.running_hosts()[0])
                packaged_image(packages)
                from_image(index)
            elif index % 2:
                from_image(index)
                from_mirror(index)
            else:
                from_mirror(index)
                from_image(index)
    finally:
        subprocess.run(["docker", "image", "rm", "-f", PACKAGED_IMAGE], capture_output=True)
    results = context.results
    results.add(NAME, "fresh converge, 1 host, 23 units, packages installed", walls, target=TARGET,
                note="changed per run: %s" % changed)
    results.add(NAME, "fresh converge with the packages already in the image", packaged, target=TARGET,
                note="image: the lab image plus %s" % ", ".join(packages or []))
    results.add(NAME, "ratio packages in the image / from the mirror", stats.paired_ratios(packaged, walls), unit="x")
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
