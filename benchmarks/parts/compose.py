"""Part compose: the peer baseline, Debian's docker-compose against the collection's docker runtime.

On one new lab host that runs its own Docker engine (scripts/lab.sh up with
LAB_DOCKER=1), site.yml deploys all 22 services on the docker runtime (the
reference service image built on the host from the lab image, as the
platform_docker scenario does; this first converge is a figure of its own,
one run). Then Debian's docker-compose is installed on that host (apt, not
timed) and a compose file generated from the resolved catalogue
(parts/compose_file.py, seed 000's shape) with the image the collection
built, on the collection's Docker network, with the same secrets and
broker, is copied there. Each repetition, in alternating order, brings the
22 containers up by each contender on the same engine, with the other
contender's containers removed first (they publish the same ports):

  * compose: `docker-compose --compatibility up -d` (fresh), the time until
    Docker reports every container healthy, and `up -d` again (no-op);
  * collection: site.yml (fresh containers, health-gated), and again (no-op);
    then with the converge shortcut (alicia_converged_shortcut: true): one
    run that records the host's state (not timed), and again (the no-op,
    one read of the host).

Times of compose are taken on the host (date before and after), those of
site.yml on the controller. Ratios are per repetition. The systemd
runtime's re-run (part rerun, same run of run.py) is compared with the
compose no-op as medians.
"""

import json
import os
import subprocess
import time

import yaml

from . import catalogue_data, compose_file, lab, stats

NAME = "compose"
NEEDS = "a new one-host lab with its own Docker engine (LAB_DOCKER=1); apt on the host for docker-compose"
WHAT = "docker-compose vs the collection's docker runtime, same 22-service stack and engine (no-op <= 3x)"
PROJECT = "alicia_bench"
WORK = "/root/alicia-compose-bench"
IMAGE_ARCHIVE = os.path.join(lab.OUT, "base-image.tar")
BASE_IMAGE = os.environ.get("ALICIA_TEST_IMAGE", "alicia-test/debian:bookworm")
SHORTCUT = {"alicia_converged_shortcut": True}


# ``bash -c script`` on a lab host.
sh = lab.host_sh


def timed(host, command):
    """Seconds a command takes on the host (measured there); raises when it fails."""
    out = sh(host, 's=$(date +%%s%%N); %s > /tmp/compose-bench.log 2>&1; rc=$?; e=$(date +%%s%%N); '
                   'echo "$(( (e - s) / 1000 )) $rc"' % command)
    micros, rc = out.split()
    if rc != "0":
        raise RuntimeError("on %s: %s exited %s: %s" % (host, command, rc, sh(host, "tail -20 /tmp/compose-bench.log")))
    return int(micros) / 1e6


def base_image_archive():
    if not os.path.exists(IMAGE_ARCHIVE):
        os.makedirs(lab.OUT, exist_ok=True)
        subprocess.run(["docker", "save", "-o", IMAGE_ARCHIVE, BASE_IMAGE], check=True)
    return IMAGE_ARCHIVE


def docker_vars(overrides_extra=None):
    """Extra vars: every service of the shipped catalogue on the docker runtime, the lab image as the base."""
    services = catalogue_data.resolved()
    overrides = dict((name, {"runtime": "docker"}) for name, entry in services.items() if entry["kind"] == "service")
    path = os.path.join(lab.OUT, "compose-docker-runtime.yml")
    with open(path, "w") as handle:
        yaml.safe_dump({"catalogue_overrides": overrides, "service_docker_base_image": BASE_IMAGE,
                        "service_docker_base_image_archive": base_image_archive()}, handle)
    return path, overrides


def wait_healthy(host, names, timeout=180):
    """Seconds until Docker reports every container of `names` healthy."""
    started = time.monotonic()
    script = "docker inspect -f '{{.State.Health.Status}}' %s" % " ".join(names)
    while time.monotonic() - started < timeout:
        states = sh(host, script, check=False).split()
        if len(states) == len(names) and all(state == "healthy" for state in states):
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError("compose: not every container healthy after %d s" % timeout)


def run(context):
    context.lab_used = True
    context.deployed = None
    lab.fresh(1, docker=True)
    host = lab.running_hosts()[0]
    vars_file, overrides = docker_vars()
    first = lab.run_playbook("compose-collection-first", extra_files=[vars_file])
    results = context.results
    results.add(NAME, "collection, docker runtime: first converge of a new host (engine, image build)",
                first["wall"], runs=1, note="one run; changed=%d" % lab.changed(first))
    collection = sorted(sh(host, "docker ps --format '{{.Names}}'").split())
    image = sh(host, "docker images alicia/reference --format '{{.Repository}}:{{.Tag}}'").split()[0]
    network = sh(host, "docker ps -q | head -1 | xargs docker inspect -f "
                       "'{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}'").strip()
    gateway = sh(host, "docker network inspect %s -f '{{(index .IPAM.Config 0).Gateway}}'" % network).strip()
    with open(os.path.join(lab.ROOT, lab.INVENTORY, "group_vars", "all", "vault.yml")) as handle:
        secrets = yaml.safe_load(handle)["catalogue_secrets"]
    resolved = catalogue_data.resolved(overrides)
    document = compose_file.compose_document(resolved, image, secrets, broker=gateway,
                                             network={"name": network, "external": True},
                                             container_prefix="compose_alicia_")
    compose_names = sorted(service["container_name"] for service in document["services"].values())
    sh(host, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
             "docker-compose >/dev/null")
    version = sh(host, "docker-compose version --short").strip()
    sh(host, "mkdir -p %s && cat > %s/docker-compose.yml" % (WORK, WORK), stdin=json.dumps(document, indent=1))
    compose = "cd %s && docker-compose --compatibility -p %s" % (WORK, PROJECT)

    figures = dict((key, []) for key in ("compose_fresh", "compose_healthy", "compose_noop", "collection_fresh",
                                         "collection_noop", "collection_shortcut"))

    def run_compose():
        sh(host, "docker rm -f %s >/dev/null 2>&1 || true" % " ".join(collection))
        figures["compose_fresh"].append(timed(host, compose + " up -d"))
        figures["compose_healthy"].append(figures["compose_fresh"][-1] + wait_healthy(host, compose_names))
        figures["compose_noop"].append(timed(host, compose + " up -d"))
        sh(host, compose + " down >/dev/null 2>&1")

    def run_collection(index):
        sh(host, "docker rm -f %s >/dev/null 2>&1 || true" % " ".join(collection))
        fresh = lab.run_playbook("compose-collection-fresh-%d" % index, extra_files=[vars_file])
        figures["collection_fresh"].append(fresh["wall"])
        noop = lab.run_playbook("compose-collection-noop-%d" % index, extra_files=[vars_file])
        figures["collection_noop"].append(noop["wall"])
        if lab.changed(noop):
            results.note("compose: the collection's no-op run %d changed %d" % (index, lab.changed(noop)))
        lab.run_playbook("compose-collection-record-%d" % index, extra_files=[vars_file], extra=SHORTCUT)
        shortcut = lab.run_playbook("compose-collection-shortcut-%d" % index, extra_files=[vars_file], extra=SHORTCUT)
        figures["collection_shortcut"].append(shortcut["wall"])
        if lab.changed(shortcut) or lab.executions(shortcut) != 1:
            results.note("compose: the collection's shortcut no-op run %d changed %d in %d module executions"
                         % (index, lab.changed(shortcut), lab.executions(shortcut)))

    for index in range(context.repetitions()):
        if index % 2 == 0:
            run_compose()
            run_collection(index + 1)
        else:
            run_collection(index + 1)
            run_compose()
    note = "docker-compose %s, %d containers, same engine (lab host %s)" % (version, len(compose_names), host)
    results.add(NAME, "docker-compose up -d, fresh", figures["compose_fresh"], note=note)
    results.add(NAME, "docker-compose up -d, fresh, to all healthy", figures["compose_healthy"], note=note)
    results.add(NAME, "docker-compose up -d, no-op", figures["compose_noop"], note=note)
    results.add(NAME, "collection docker runtime: site.yml, containers fresh (gated)", figures["collection_fresh"])
    results.add(NAME, "collection docker runtime: site.yml no-op re-run", figures["collection_noop"])
    results.add(NAME, "ratio collection no-op / compose no-op", stats.paired_ratios(figures["collection_noop"],
                figures["compose_noop"]), unit="x", target=("<=", 3.0))
    results.add(NAME, "collection docker runtime: site.yml no-op, converge shortcut", figures["collection_shortcut"],
                note="alicia_converged_shortcut: true, after one run that recorded the host")
    results.add(NAME, "ratio collection no-op with the converge shortcut / compose no-op",
                stats.paired_ratios(figures["collection_shortcut"], figures["compose_noop"]), unit="x",
                target=("<=", 3.0))
    results.add(NAME, "ratio collection fresh / compose fresh to healthy",
                stats.paired_ratios(figures["collection_fresh"], figures["compose_healthy"]), unit="x")
    systemd = [figure for figure in results.figures if figure["part"] == "rerun"
               and figure["figure"] == "idempotent re-run, 1 host"]
    compose_noop = stats.median(figures["compose_noop"])
    if systemd and compose_noop:
        results.add(NAME, "ratio systemd runtime re-run (part rerun) / compose no-op",
                    systemd[0]["value"] / compose_noop, unit="x", target=("<=", 3.0),
                    note="medians of two parts of this run, not paired")
    else:
        results.unavailable(NAME, "ratio systemd runtime re-run / compose no-op", "part rerun not in this run")
    shortcut = [figure for figure in results.figures if figure["part"] == "rerun"
                and figure["figure"] == "idempotent re-run with the converge shortcut, 1 host"]
    if shortcut and compose_noop:
        results.add(NAME, "ratio systemd runtime re-run with the converge shortcut (part rerun) / compose no-op",
                    shortcut[0]["value"] / compose_noop, unit="x", target=("<=", 3.0),
                    note="medians of two parts of this run, not paired")
