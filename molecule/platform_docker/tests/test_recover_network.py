"""The docker network of the platform_docker scenario lost and recovered (issue
10 section 4: "recover after the docker network was deleted").

Runs after test_platform_docker.py (file order) on the converged platform:
an operator stops the containers and deletes the network (`docker network
rm` refuses it while they run); a plain converge then recreates every
container that still points at the deleted network's id (`docker start` of
such a container fails); playbooks/recover.yml after the same deletion ends
with a network of a new id, every container attached to it, every /health
healthy, and a platform a converge then leaves unchanged.

recover.yml runs with the scenario's settings: the first play of
converge.yml (the docker runtime for every service, the firewall's
addresses, multi_language's build context), written next to converge.yml
for the run and given to the same ansible-playbook before recover.yml, so
its facts hold for the whole run as they do for converge.yml's site.yml.
"""

import json
import os
import re
import sys
import tempfile

import pytest
import testinfra
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_by_port, recap, resolved_catalogue, run_playbook, wait_until  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
SCENARIO = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
CONVERGE = os.path.join(SCENARIO, "converge.yml")
RECOVER = os.path.join(PROJECT, "playbooks", "recover.yml")
HOST = "alicia-docker-host"
NETWORK = "alicia_network"
SUBNET = "10.213."

CATALOGUE = resolved_catalogue()
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")
CONTAINERS = ["alicia_%s" % s for s in SERVICES]


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (HOST, INVENTORY))


def run(*playbooks):
    """ansible-playbook of the given playbooks (and options) in one run: (rc, output without colours)."""
    return run_playbook(*playbooks, inventory=INVENTORY, timeout=1200)


def recover():
    """playbooks/recover.yml with converge.yml's settings (its first play, run first in the same run)."""
    with open(CONVERGE) as handle:
        plays = yaml.safe_load(handle)
    settings = plays[0]
    assert settings["hosts"] == "localhost" and "import_playbook" not in settings, settings.get("name")
    handle, path = tempfile.mkstemp(prefix=".recover-settings-", suffix=".yml", dir=SCENARIO)
    try:
        with os.fdopen(handle, "w") as out:
            out.write("---\n" + yaml.safe_dump([settings], sort_keys=False, width=1000))
        return run(path, RECOVER)
    finally:
        os.unlink(path)


def network(host):
    """The scenario host's alicia_network inspect document, or None when it does not exist."""
    result = host.run("docker network inspect %s", NETWORK)
    return json.loads(result.stdout)[0] if result.rc == 0 else None


def inspect(host, names):
    out = host.check_output("docker container inspect" + " %s" * len(names), *names)
    return dict((doc["Name"].lstrip("/"), doc) for doc in json.loads(out))


def health(host):
    ports = [str(CATALOGUE[s]["port"]) for s in SERVICES]
    out = health_by_port(host, ports)
    return dict((s, (out[p].get("status"), out[p].get("broker_connected"))) for s, p in zip(SERVICES, ports))


def delete_the_network(host):
    """What an operator does: docker network rm, refused while containers run; stop them, then remove it."""
    assert network(host) is not None
    refused = host.run("docker network rm %s", NETWORK)
    assert refused.rc != 0 and "active endpoints" in refused.stdout + refused.stderr, refused.stderr
    host.check_output("docker stop --time 5 %s" % " ".join(CONTAINERS))
    host.check_output("docker network rm %s", NETWORK)
    assert network(host) is None
    # The failure the platform must repair: a container points at the deleted network's id.
    started = host.run("docker start %s", CONTAINERS[0])
    assert started.rc != 0 and re.search(r"network [0-9a-f]{64} not found", started.stdout + started.stderr), \
        started.stderr


def assert_every_service_on_the_network_and_healthy(host, old_network_id, old_containers):
    now = network(host)
    assert now is not None, "%s is missing" % NETWORK
    assert now["Id"] != old_network_id, "the network has a new id"
    assert now["IPAM"]["Config"][0]["Subnet"] == "10.213.0.0/16", now["IPAM"]
    assert now["Labels"].get("alicia.platform.managed") == "true"
    docs = inspect(host, CONTAINERS)
    assert sorted(docs) == sorted(CONTAINERS)
    for name, doc in docs.items():
        assert doc["State"]["Status"] == "running", (name, doc["State"])
        assert doc["Id"] != old_containers[name], "%s was created again" % name
        networks = doc["NetworkSettings"]["Networks"]
        assert list(networks) == [NETWORK], (name, list(networks))
        assert networks[NETWORK]["NetworkID"] == now["Id"], name
        assert networks[NETWORK]["IPAddress"].startswith(SUBNET), (name, networks[NETWORK]["IPAddress"])
    # The network's own view: all 22 attached.
    attached = sorted(entry["Name"] for entry in (network(host)["Containers"] or {}).values())
    assert attached == sorted(CONTAINERS), attached
    # /health of every service on its published port, connected to the broker.
    assert wait_until(lambda: set(health(host).values()) == {("healthy", True)}, 60), health(host)

    def docker_health():
        return set((d["State"].get("Health") or {}).get("Status") for d in inspect(host, CONTAINERS).values())
    assert wait_until(lambda: docker_health() == {"healthy"}, 60), docker_health()


def ids(host):
    return network(host)["Id"], dict((name, doc["Id"]) for name, doc in inspect(host, CONTAINERS).items())


def test_a_converge_recreates_the_containers_of_a_deleted_network(host):
    """site.yml alone: every container still pointing at the deleted network's id is recreated (the
    first phase creates the network again, each phase recreates its containers), not started as is."""
    old_network, old_containers = ids(host)
    delete_the_network(host)
    rc, out = run("--diff", CONVERGE)
    assert rc == 0, out[-4000:]
    out = re.sub(r"\s+", " ", out)   # the reasons, as the diffs print them (lines may wrap)
    assert "network alicia_network was removed (it is created again)" in out, out[-4000:]
    assert "network alicia_network was recreated (the container points at its old id %s" % old_network[:12] in out
    assert_every_service_on_the_network_and_healthy(host, old_network, old_containers)


def test_recover_after_the_docker_network_was_deleted(host):
    old_network, old_containers = ids(host)
    delete_the_network(host)
    rc, out = recover()
    assert rc == 0, out[-4000:]
    assert re.search(r"alicia_network on %s:\s+created,\s+id\s+none\s+->\s+[0-9a-f]{12}" % HOST, out), out[-4000:]
    assert_every_service_on_the_network_and_healthy(host, old_network, old_containers)
    # And the platform it leaves is converged: a re-run changes nothing. (A recover with the network
    # intact takes the same path: the network removed and created again, recreate_network's unit tests.)
    new_network = network(host)["Id"]
    rc, out = run(CONVERGE)
    assert rc == 0 and recap(out, HOST)["changed"] == 0, out[-4000:]
    assert network(host)["Id"] == new_network
