# -*- coding: utf-8 -*-
"""The containers reconcile (plugins/module_utils/_containers.py) in process, against the fake
docker CLI of tests/unit/plugins/fake_docker.py: the calls it makes, what it
changes, and what stops it before anything changes."""

import collections
import json
import os
import time

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _containers as ct
from ansible_collections.alicia.platform.tests.unit.plugins.fake_docker import FakeDocker

BASE = "alicia-test/debian:bookworm"
NETWORK = dict(name="alicia_network", driver="bridge", subnet="172.20.0.0/16", ip_range="172.20.240.0/20",
               gateway="172.20.0.1", options={})
Account = collections.namedtuple("Account", "pw_uid pw_gid")
Group = collections.namedtuple("Group", "gr_gid")


def users(user, group):
    """resolve_user on a fake host where alicia is 990:990 and docker's group is 991."""
    return ct.resolve_user(user, group, lookup_user=lambda n: {"alicia": Account(990, 990)}[n],
                           lookup_group=lambda n: {"alicia": Group(990), "docker": Group(991)}[n])


@pytest.fixture
def fake(tmp_path):
    docker = FakeDocker(str(tmp_path / "docker.json"))
    docker.add_image(BASE)
    return docker


@pytest.fixture
def context(tmp_path):
    """context(name, artifact=...) -> a build context directory with a Dockerfile FROM the base image."""
    def _make(name="reference", artifact="print('alicia')\n", extra=None):
        path = tmp_path / "contexts" / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "Dockerfile").write_text("FROM %s\nCOPY service.py /opt/service.py\n" % BASE)
        (path / "service.py").write_text(artifact)
        for file_name in extra or ():
            (path / file_name).write_text("")
        return str(path)
    return _make


def spec(name, build, **extra):
    port = extra.pop("port", 8001)
    base = dict(name=name, image="alicia/reference", build=build, user="alicia", group=None, network=None,
                env_file=None, published_ports=["%d:%d" % (port, port)], volumes=[],
                tmpfs=["/tmp"], read_only=True, cap_drop=["ALL"], cap_add=[], security_opts=["no-new-privileges"],
                memory="512M", memory_reservation="256M", cpus=1.0, cpu_shares=512, restart_policy="unless-stopped",
                restart_retries=None, healthcheck=dict(test=["python3", "-c", "print(1)", "/health"], interval="10s",
                                                       timeout="5s", retries=3, start_period="10s", disable=False),
                log_driver="json-file", log_options={"max-size": "52428800", "max-file": "5"}, labels={},
                stop_timeout=15, command=None, hostname=None)
    base.update(extra)
    return base


def reconcile(fake, check=False, diff=False, routes=(), **params):
    params.setdefault("network", dict(NETWORK))
    params.setdefault("base_image", BASE)
    return ct.reconcile(params, ct.Docker("docker", fake.run), check_mode=check, want_diff=diff,
                        sleep=lambda s: None, users=users, routes=lambda: list(routes))


INSPECTS = (["network", "inspect"], ["image", "inspect"], ["container", "inspect"])


def verbs(calls):
    return [" ".join(c[:2]) if c[0] in ("network", "image", "container") else c[0] for c in calls]


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("512M", 512 * 1024 ** 2), ("1G", 1024 ** 3), ("64k", 65536), ("512m", 512 * 1024 ** 2), ("1048576", 1048576),
    (4096, 4096), ("2T", 2 * 1024 ** 4), ("0", None), ("1.5G", None), ("512MB", None), (True, None), (None, None),
])
def test_size_bytes(value, expected):
    assert ct.size_bytes(value) == expected


def test_context_hash_follows_content_names_and_the_executable_bit(context):
    one = context("one")
    two = context("two")
    assert ct.context_hash(one) == ct.context_hash(two), "same files, same hash, wherever they are"
    os.chmod(os.path.join(two, "service.py"), 0o755)
    assert ct.context_hash(one) != ct.context_hash(two)
    three = context("three", artifact="print('changed')\n")
    assert ct.context_hash(one) != ct.context_hash(three)
    four = context("four", extra=["README"])
    assert ct.context_hash(one) != ct.context_hash(four)


def test_created_epoch():
    assert ct.created_epoch("1970-01-01T00:00:10.500000000Z") == 10.5
    assert ct.created_epoch("1970-01-01T01:00:10+01:00") == 10
    assert ct.created_epoch("yesterday") is None


def test_resolve_user():
    assert users("alicia", None) == "990:990"
    assert users("alicia", "docker") == "990:991"
    assert users("1000", "1000") == "1000:1000"
    assert users("1000", None) == "1000"
    assert users(None, None) is None
    with pytest.raises(KeyError):
        users("nobody-here", None)


def test_create_args_map_every_option():
    args = ct.create_args(spec("alicia_stt", "/ctx", env_file="/etc/alicia/stt.env"), "alicia/reference:abc",
                          "990:990", "alicia_network")
    line = " ".join(args)
    for part in ("create --name alicia_stt", "--network alicia_network", "--user 990:990",
                 "--env-file /etc/alicia/stt.env", "--publish 8001:8001", "--tmpfs /tmp", "--read-only",
                 "--cap-drop ALL", "--security-opt no-new-privileges", "--memory %d" % (512 * 1024 ** 2),
                 "--memory-reservation %d" % (256 * 1024 ** 2), "--cpus 1 ", "--cpu-shares 512",
                 "--restart unless-stopped", "--health-cmd python3 -c 'print(1)' /health", "--health-interval 10s",
                 "--health-timeout 5s", "--health-start-period 10s", "--health-retries 3", "--log-driver json-file",
                 "--log-opt max-file=5 --log-opt max-size=52428800", "--stop-timeout 15",
                 "--label alicia.platform.managed=true"):
        assert part in line, part
    no_health = ct.create_args(spec("x", "/c", healthcheck=dict(disable=True), restart_policy="on-failure",
                                    restart_retries=5), "i", None, "n")
    assert "--no-healthcheck" in no_health and "on-failure:5" in no_health and "--user" not in no_health


# ---------------------------------------------------------------------------
# reconcile
# ---------------------------------------------------------------------------

def test_fresh_host_network_one_shared_image_containers_then_an_idempotent_rerun(fake, context):
    ctx = context()
    containers = [spec("alicia_a", ctx, port=8001), spec("alicia_b", ctx, port=8002),
                  spec("alicia_c", context("copy"), port=8003)]  # same files elsewhere: the same image
    result = reconcile(fake, diff=True, containers=containers)
    calls = fake.calls()
    assert verbs(calls) == ["network inspect", "image inspect", "container inspect", "network create", "build",
                            "create", "create", "create", "start", "container inspect"]
    tag = "alicia/reference:%s" % ct.context_hash(ctx)[:12]
    assert result["built"] == [tag] and result["network_created"] is True
    assert (result["created"], result["started"]) == (["alicia_a", "alicia_b", "alicia_c"],) * 2
    assert result["changed"] is True and result["recreated"] == [] and result["removed"] == []
    assert calls[3] == ["network", "create", "--driver", "bridge", "--subnet", "172.20.0.0/16", "--ip-range",
                        "172.20.240.0/20", "--gateway", "172.20.0.1", "--label", "alicia.platform.managed=true",
                        "alicia_network"]
    assert calls[8] == ["start", "alicia_a", "alicia_b", "alicia_c"], "one start for all"
    state = fake.load()["containers"]
    assert all(c["status"] == "running" and c["image"] == tag for c in state.values())
    assert state["alicia_a"]["flags"]["--user"] == ["990:990"]
    assert result["containers"]["alicia_a"]["after"]["status"] == "running"
    assert "image %s: built\n" % tag in result["diff"]["after"]
    assert "alicia_a: absent\n" in result["diff"]["before"]
    assert "alicia_a: running (%s)\n" % tag in result["diff"]["after"]

    again = reconcile(fake, containers=containers)
    assert fake.calls() == [["network", "inspect", "alicia_network"], ["image", "inspect", tag, BASE],
                            ["container", "inspect", "alicia_a", "alicia_b", "alicia_c"]], "a re-run only reads"
    assert again["changed"] is False and again["built"] == []
    assert all(again["containers"][n]["actions"] == [] for n in ("alicia_a", "alicia_b", "alicia_c"))
    assert again["msg"] == "3 containers in the desired state"


def test_a_changed_artifact_builds_a_new_image_recreates_its_users_and_prunes_the_old_one(fake, context):
    one, two = context("one"), context("two", artifact="print('b')\n")
    containers = [spec("alicia_a", one), spec("alicia_b", two, port=8002)]
    reconcile(fake, containers=containers)
    old = "alicia/reference:%s" % ct.context_hash(one)[:12]
    fake.calls()
    context("one", artifact="print('new release')\n")
    new = "alicia/reference:%s" % ct.context_hash(one)[:12]
    result = reconcile(fake, containers=containers, prune_images=True)
    assert result["built"] == [new]
    assert (result["recreated"], result["started"]) == (["alicia_a"], ["alicia_a"])
    assert result["containers"]["alicia_a"]["reason"] == "configuration changed"
    assert result["containers"]["alicia_b"]["actions"] == []
    assert result["pruned"] == [old]
    assert old not in fake.load()["images"] and new in fake.load()["images"]
    calls = fake.calls()
    assert ["stop", "alicia_a"] in calls and ["rm", "--force", "alicia_a"] in calls
    assert ["image", "rm", old] in calls


def test_restart_recreates_exactly_the_listed_containers(fake, context):
    ctx = context()
    containers = [spec("alicia_a", ctx), spec("alicia_b", ctx, port=8002)]
    reconcile(fake, containers=containers)
    first = fake.load()["containers"]["alicia_a"]["id"]
    fake.calls()
    result = reconcile(fake, containers=containers, restart=["alicia_a"])
    assert (result["recreated"], result["created"], result["started"]) == (["alicia_a"], [], ["alicia_a"])
    assert result["containers"]["alicia_a"]["reason"] == "asked to restart (its files changed)"
    assert fake.load()["containers"]["alicia_a"]["id"] != first
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect", "stop", "rm", "create",
                                   "start", "container inspect"]


def test_a_changed_setting_recreates_only_that_container(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx), spec("alicia_b", ctx, port=8002)])
    result = reconcile(fake, containers=[spec("alicia_a", ctx, memory="1G"), spec("alicia_b", ctx, port=8002)])
    assert result["recreated"] == ["alicia_a"] and result["containers"]["alicia_b"]["actions"] == []
    assert fake.load()["containers"]["alicia_a"]["flags"]["--memory"] == [str(1024 ** 3)]


def test_a_stopped_container_is_started_not_recreated(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    fake.update("containers", "alicia_a", status="exited")
    first = fake.load()["containers"]["alicia_a"]["id"]
    fake.calls()
    result = reconcile(fake, containers=[spec("alicia_a", ctx)])
    assert (result["started"], result["recreated"], result["created"]) == (["alicia_a"], [], [])
    assert fake.load()["containers"]["alicia_a"]["id"] == first
    assert "stop" not in verbs(fake.calls())


def test_an_env_file_newer_than_its_container_recreates_it(fake, context, tmp_path):
    env = tmp_path / "a.env"
    env.write_text("A=1\n")
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx, env_file=str(env))])
    assert reconcile(fake, containers=[spec("alicia_a", ctx, env_file=str(env))])["changed"] is False
    # The file was rewritten after the container was created (a run that failed before recreating it).
    future = time.time() + 5
    os.utime(str(env), (future, future))
    result = reconcile(fake, containers=[spec("alicia_a", ctx, env_file=str(env))])
    assert result["recreated"] == ["alicia_a"]
    assert result["containers"]["alicia_a"]["reason"] == "environment file newer than the container"


def test_a_container_created_by_hand_under_the_name_is_recreated(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    fake.update("containers", "alicia_a", labels={})
    result = reconcile(fake, containers=[spec("alicia_a", ctx)])
    assert result["containers"]["alicia_a"]["reason"] == "not created by this module"


def test_absent_containers_are_stopped_and_removed(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx), spec("alicia_old", ctx, port=8002)])
    fake.calls()
    result = reconcile(fake, containers=[spec("alicia_a", ctx)], absent=["alicia_old", "alicia_never"])
    assert result["removed"] == ["alicia_old"] and result["containers"]["alicia_never"]["actions"] == []
    assert "alicia_old" not in fake.load()["containers"]
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect", "stop", "rm"]


def test_check_mode_only_reads_and_predicts(fake, context):
    ctx = context()
    before = fake.load()
    result = reconcile(fake, check=True, diff=True, containers=[spec("alicia_a", ctx)],
                       absent=["alicia_old"])
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect"]
    assert fake.load() == before
    assert result["changed"] is True and result["network_created"] is True
    assert result["built"] == ["alicia/reference:%s" % ct.context_hash(ctx)[:12]]
    assert result["containers"]["alicia_a"]["actions"] == ["created", "started"]
    assert result["diff"]["after"].endswith("alicia_a: running (%s)\n" % result["built"][0])


def test_check_mode_with_a_build_context_not_written_yet(fake, tmp_path):
    result = reconcile(fake, check=True, containers=[spec("alicia_a", str(tmp_path / "later"))])
    assert result["built"] == ["alicia/reference:<to build>"]
    with pytest.raises(ct.ContainersError, match="build context .*later is not a directory"):
        reconcile(fake, containers=[spec("alicia_a", str(tmp_path / "later"))])


def test_predict_without_docker():
    result = ct.predict_without_docker(dict(containers=[spec("alicia_a", "/c")], absent=["alicia_x"],
                                            network=NETWORK), "no docker CLI on the host", want_diff=True)
    assert result["changed"] is True and result["created"] == ["alicia_a"] and result["removed"] == []
    assert result["msg"].startswith("docker is not usable yet (no docker CLI on the host)")


# ---------------------------------------------------------------------------
# what stops the run before anything changes
# ---------------------------------------------------------------------------

def assert_unchanged(fake, before):
    assert fake.load() == before
    assert not [c for c in fake.calls() if c[0] not in ("network", "image", "container") or c[1] != "inspect"]


def test_an_existing_network_that_differs_fails_naming_the_difference(fake, context):
    fake.run(["docker", "network", "create", "--driver", "bridge", "--subnet", "10.9.0.0/16", "alicia_network"])
    fake.calls()
    before = fake.load()
    with pytest.raises(ct.ContainersError) as info:
        reconcile(fake, containers=[spec("alicia_a", context())])
    assert "network alicia_network exists with subnet 10.9.0.0/16 (wanted 172.20.0.0/16), ip-range none " \
           "(wanted 172.20.240.0/20), gateway none (wanted 172.20.0.1)" in info.value.msg
    assert_unchanged(fake, before)


def test_a_new_subnet_that_overlaps_a_host_route_fails(fake, context):
    import ipaddress
    before = fake.load()
    with pytest.raises(ct.ContainersError, match="subnet 172.20.0.0/16 overlaps the host's route"
                                                 r"\(s\) 172.20.0.0/24 on eth0"):
        reconcile(fake, containers=[spec("alicia_a", context())],
                  routes=[("eth0", ipaddress.ip_network("172.20.0.0/24")), ("docker0", ipaddress.ip_network("172.17.0.0/16"))])
    assert_unchanged(fake, before)


def test_read_routes(tmp_path):
    table = tmp_path / "route"
    table.write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
                     "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                     "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    assert [(i, str(n)) for i, n in ct.read_routes(str(table))] == [("eth0", "172.17.0.0/16")]
    assert ct.read_routes(str(tmp_path / "none")) == []


def test_an_image_that_is_not_there_and_not_built_fails(fake):
    before = fake.load()
    with pytest.raises(ct.ContainersError, match="alicia_a: image registry.example/x:1 is not on the host "
                                                 r"\(it is never pulled\)"):
        reconcile(fake, containers=[spec("alicia_a", None, image="registry.example/x:1")])
    assert_unchanged(fake, before)


def test_the_base_image_is_loaded_only_when_a_build_needs_it(fake, context, tmp_path):
    data = fake.load()
    del data["images"][BASE]
    fake.save(data)
    archive = tmp_path / "base.tar"
    archive.write_text(json.dumps({"tags": [BASE]}))
    ctx = context()
    # Without an archive: nothing changes.
    with pytest.raises(ct.ContainersError, match="base image alicia-test/debian:bookworm is not on the host and "
                                                 "1 image.s. must be built"):
        reconcile(fake, containers=[spec("alicia_a", ctx)])
    # The action plugin's promise: the module asks for it and changes nothing.
    before = fake.load()
    fake.calls()
    result = reconcile(fake, containers=[spec("alicia_a", ctx)], base_image_archive="/controller/base.tar")
    assert (result["changed"], result["base_image_missing"]) == (False, True)
    assert_unchanged(fake, before)
    # With it on the host: loaded, then the image built from it.
    result = reconcile(fake, containers=[spec("alicia_a", ctx)], base_image_load=str(archive))
    assert result["base_image_loaded"] is True and result["created"] == ["alicia_a"]
    assert fake.load()["loaded"] == [str(archive)]
    # The base image is only looked at, never loaded again.
    again = reconcile(fake, containers=[spec("alicia_a", ctx)], base_image_load=str(archive))
    assert again["changed"] is False and again["base_image_loaded"] is False


def test_bad_arguments_fail_without_a_docker_call(fake, context):
    ctx = context()
    with pytest.raises(ct.ContainersError) as info:
        reconcile(fake, containers=[spec("alicia_a", ctx, published_ports=["80"], memory="lots"),
                                    spec("alicia_a", ctx, image="alicia/reference:tagged"),
                                    spec("bad name", ctx, restart_retries=3)],
                  restart=["alicia_z"], absent=["alicia_a"])
    message = info.value.msg
    for part in ("containers[0] (alicia_a): published port '80' must be",
                 "containers[0] (alicia_a): memory must be a positive size",
                 "containers[1] (alicia_a): alicia_a is listed twice in containers",
                 "containers[1] (alicia_a): image 'alicia/reference:tagged' must be a repository name without a tag",
                 "containers[2] (bad name): restart_retries needs restart_policy on-failure",
                 "container name 'bad name' must be letters",
                 "restart: alicia_z is not in containers",
                 "alicia_a is both in containers and in absent"):
        assert part in message, part
    assert fake.calls() == []


# ---------------------------------------------------------------------------
# failures while acting
# ---------------------------------------------------------------------------

def test_a_container_that_exits_at_start_is_named_with_its_logs(fake, context):
    ctx = context(extra=["CRASH"])
    with pytest.raises(ct.ContainersError) as info:
        reconcile(fake, containers=[spec("alicia_a", ctx), spec("alicia_b", context("ok"), port=8002)])
    assert info.value.failed_containers == ["alicia_a"]
    assert info.value.msg.startswith("alicia_a not running after start\nalicia_a (exited):\n")
    assert "configuration error: missing MQTT_PASSWORD" in info.value.msg
    assert info.value.result["started"] == ["alicia_a", "alicia_b"]


def test_a_port_already_taken_fails_naming_the_container(fake, context):
    data = fake.load()
    data["busy_ports"] = [8002]
    fake.save(data)
    ctx = context()
    with pytest.raises(ct.ContainersError) as info:
        reconcile(fake, containers=[spec("alicia_a", ctx), spec("alicia_b", ctx, port=8002)])
    assert info.value.failed_containers == ["alicia_b"]
    assert "docker start failed (rc 1) for alicia_b: " in info.value.msg
    assert "Bind for 0.0.0.0:8002 failed: port is already allocated" in info.value.msg
    assert fake.load()["containers"]["alicia_a"]["status"] == "running"


def test_a_failed_build_names_the_image(fake, context):
    with pytest.raises(ct.ContainersError, match="docker build of alicia/reference:[0-9a-f]{12} from .* failed "
                                                 r"\(rc 1\): The command '/bin/sh -c apt-get"):
        reconcile(fake, containers=[spec("alicia_a", context(extra=["FAIL"]))])


def test_a_daemon_that_does_not_answer(fake, context):
    data = fake.load()
    data["down"] = True
    fake.save(data)
    with pytest.raises(ct.DockerUnavailable, match="Cannot connect to the Docker daemon"):
        reconcile(fake, containers=[spec("alicia_a", context())])


def test_results_never_carry_the_containers_environment(fake, context):
    ctx = context()
    first = reconcile(fake, diff=True, containers=[spec("alicia_a", ctx)])
    second = reconcile(fake, diff=True, containers=[spec("alicia_a", ctx)], restart=["alicia_a"])
    assert "not-for-results" not in json.dumps([first, second])


# ---------------------------------------------------------------------------
# the network a container points at (docker start fails on a removed network's id)
# ---------------------------------------------------------------------------

def network_id(fake, name="alicia_network"):
    return fake.load()["networks"][name]["id"]


def attached_to(fake, container, name="alicia_network"):
    return fake.load()["containers"][container]["networks"].get(name)


def stop_and_remove_the_network(fake, containers):
    """What an operator does: the containers stopped, then docker network rm (refused while they run)."""
    assert fake.run(["docker", "network", "rm", "alicia_network"])[0] == 1, "active endpoints"
    fake.run(["docker", "stop"] + list(containers))
    assert fake.run(["docker", "network", "rm", "alicia_network"])[0] == 0


def test_a_container_whose_network_was_recreated_by_hand_is_recreated_on_the_new_one(fake, context):
    ctx = context()
    containers = [spec("alicia_a", ctx), spec("alicia_b", ctx, port=8002)]
    reconcile(fake, containers=containers)
    old = network_id(fake)
    assert attached_to(fake, "alicia_a") == old
    stop_and_remove_the_network(fake, ["alicia_a", "alicia_b"])
    fake.run(["docker"] + ct.network_create_args(NETWORK))
    new = network_id(fake)
    assert new != old
    # What the reconcile must not do: start it as it is.
    rc, _out, err = fake.run(["docker", "start", "alicia_a"])
    assert rc == 1 and "network %s not found" % old in err
    fake.calls()

    result = reconcile(fake, diff=True, containers=containers)
    assert (result["recreated"], result["started"]) == (["alicia_a", "alicia_b"], ["alicia_a", "alicia_b"]), result
    assert result["containers"]["alicia_a"]["reason"] == (
        "network alicia_network was recreated (the container points at its old id %s, now %s)" % (old[:12], new[:12]))
    assert result["network_created"] is False and result["network_recreated"] is False
    assert result["network"] == dict(name="alicia_network", id_before=new, id=new)
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect", "rm", "create", "create",
                                   "start", "container inspect"], "stopped already: no docker stop"
    state = fake.load()["containers"]
    assert all(c["status"] == "running" and c["networks"] == {"alicia_network": new} for c in state.values())
    assert reconcile(fake, containers=containers)["changed"] is False, "then it is left alone"


def test_a_container_whose_network_was_removed_is_recreated_after_the_network_is_created(fake, context):
    ctx = context()
    containers = [spec("alicia_a", ctx)]
    reconcile(fake, containers=containers)
    stop_and_remove_the_network(fake, ["alicia_a"])
    fake.calls()

    predicted = reconcile(fake, check=True, containers=containers)
    assert (predicted["network_created"], predicted["recreated"]) == (True, ["alicia_a"]), predicted
    assert predicted["containers"]["alicia_a"]["reason"] == "network alicia_network was removed (it is created again)"
    assert predicted["network"] == dict(name="alicia_network", id_before=None, id=None)
    fake.calls()

    result = reconcile(fake, containers=containers)
    assert (result["network_created"], result["recreated"]) == (True, ["alicia_a"]), result
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect", "network create", "rm",
                                   "create", "start", "container inspect"]
    assert result["network"]["id"] == network_id(fake) == attached_to(fake, "alicia_a")
    assert fake.load()["containers"]["alicia_a"]["status"] == "running"


def test_a_container_taken_off_its_network_is_recreated(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    fake.update("containers", "alicia_a", networks={})   # docker network disconnect alicia_network alicia_a
    result = reconcile(fake, containers=[spec("alicia_a", ctx)])
    assert result["recreated"] == ["alicia_a"]
    assert result["containers"]["alicia_a"]["reason"] == "not attached to network alicia_network"
    assert attached_to(fake, "alicia_a") == network_id(fake)


def test_a_container_never_started_has_no_network_id_yet_and_is_only_started(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    fake.update("containers", "alicia_a", status="created", networks={"alicia_network": ""})
    first = fake.load()["containers"]["alicia_a"]["id"]
    result = reconcile(fake, containers=[spec("alicia_a", ctx)])
    assert (result["started"], result["recreated"]) == (["alicia_a"], [])
    assert fake.load()["containers"]["alicia_a"]["id"] == first


def test_another_network_a_container_joins_must_exist(fake, context):
    ctx = context()
    with pytest.raises(ct.ContainersError, match="alicia_a: network alicia_other does not exist on the host "
                                                 r"\(only network.name is created\)"):
        reconcile(fake, containers=[spec("alicia_a", ctx, network="alicia_other")])
    assert fake.calls()[0] == ["network", "inspect", "alicia_network", "alicia_other"], "one inspect for both"
    fake.run(["docker", "network", "create", "--driver", "bridge", "alicia_other"])
    result = reconcile(fake, containers=[spec("alicia_a", ctx, network="alicia_other")])
    assert result["created"] == ["alicia_a"] and attached_to(fake, "alicia_a", "alicia_other") == network_id(
        fake, "alicia_other")


def test_inspect_takes_both_cli_wordings_of_a_missing_network():
    for err in ("Error: No such network: alicia_network\n",                          # docker 20.10's CLI
                "Error response from daemon: network alicia_network not found\n"):   # newer CLIs
        docker = ct.Docker("docker", lambda argv, err=err: (1, "[]\n", err))
        assert docker.inspect("network", ["alicia_network"]) == {}
    docker = ct.Docker("docker", lambda argv: (1, "", "permission denied while trying to connect\n"))
    with pytest.raises(ct.ContainersError, match="docker network inspect alicia_network failed"):
        docker.inspect("network", ["alicia_network"])


# ---------------------------------------------------------------------------
# recreate_network
# ---------------------------------------------------------------------------

def test_recreate_network_takes_its_containers_off_recreates_it_and_puts_them_back(fake, context):
    ctx = context()
    containers = [spec("alicia_a", ctx), spec("alicia_b", ctx, port=8002)]
    reconcile(fake, containers=containers + [spec("alicia_old", ctx, port=8003)])
    old = network_id(fake)
    fake.calls()

    result = reconcile(fake, diff=True, containers=containers, absent=["alicia_old"], recreate_network=True)
    new = network_id(fake)
    assert new != old
    assert verbs(fake.calls()) == ["network inspect", "image inspect", "container inspect", "stop", "rm",
                                   "network rm", "network create", "create", "create", "start", "container inspect"]
    assert (result["changed"], result["network_recreated"], result["network_created"]) == (True, True, False)
    assert result["network"] == dict(name="alicia_network", id_before=old, id=new)
    assert (result["recreated"], result["removed"]) == (["alicia_a", "alicia_b"], ["alicia_old"])
    assert result["containers"]["alicia_a"]["reason"] == "network alicia_network is recreated"
    assert result["msg"].startswith("network alicia_network recreated (id %s -> %s); " % (old[:12], new[:12]))
    assert result["diff"]["before"].startswith("network alicia_network: id %s\n" % old[:12])
    assert result["diff"]["after"].startswith("network alicia_network: recreated (id %s)\n" % new[:12])
    data = fake.load()
    assert data["networks"]["alicia_network"]["subnet"] == NETWORK["subnet"]
    assert sorted(data["containers"]) == ["alicia_a", "alicia_b"]
    assert all(c["status"] == "running" and c["networks"] == {"alicia_network": new}
               for c in data["containers"].values())
    # Not idempotent by design: every call recreates it again.
    assert reconcile(fake, containers=containers, recreate_network=True)["network"]["id"] not in (old, new)


def test_recreate_network_after_every_container_was_removed(fake, context):
    """The recovery's step: the phases stopped (their containers removed), then only the network."""
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    old = network_id(fake)
    fake.run(["docker", "rm", "--force", "alicia_a"])
    fake.calls()
    result = reconcile(fake, network=dict(NETWORK), base_image=None, absent=["alicia_a"], recreate_network=True)
    assert verbs(fake.calls()) == ["network inspect", "container inspect", "network rm", "network create"]
    assert (result["network_recreated"], result["removed"]) == (True, [])
    assert result["network"]["id_before"] == old and result["network"]["id"] == network_id(fake) != old


def test_recreate_network_creates_a_missing_one(fake):
    result = reconcile(fake, network=dict(NETWORK), base_image=None, recreate_network=True)
    assert (result["network_created"], result["network_recreated"]) == (True, False)
    assert verbs(fake.calls()) == ["network inspect", "network create"]
    assert result["network"] == dict(name="alicia_network", id_before=None, id=network_id(fake))


def test_recreate_network_in_check_mode_only_reads_and_predicts(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx)])
    old = network_id(fake)
    fake.calls()
    before = fake.load()
    result = reconcile(fake, check=True, diff=True, containers=[spec("alicia_a", ctx)], recreate_network=True)
    assert_unchanged(fake, before)
    assert (result["changed"], result["network_recreated"], result["recreated"]) == (True, True, ["alicia_a"])
    assert result["network"] == dict(name="alicia_network", id_before=old, id=None)
    assert result["msg"].startswith("network alicia_network recreated (id %s -> new)" % old[:12])


def test_recreate_network_refuses_a_running_container_it_does_not_name(fake, context):
    ctx = context()
    reconcile(fake, containers=[spec("alicia_a", ctx), spec("someone_else", ctx, port=8002)])
    fake.calls()
    before = fake.load()
    with pytest.raises(ct.ContainersError) as info:
        reconcile(fake, containers=[spec("alicia_a", ctx)], recreate_network=True)
    assert info.value.msg == ("network alicia_network cannot be recreated: someone_else running on it and not in this "
                              "call's containers (on this network) or absent; stop them or list them")
    assert_unchanged(fake, before)
    # Stopped, it does not hold the network: the network goes, the container stays (the next run that
    # manages it recreates it, see above).
    fake.run(["docker", "stop", "someone_else"])
    result = reconcile(fake, containers=[spec("alicia_a", ctx)], recreate_network=True)
    assert result["network_recreated"] is True and "someone_else" in fake.load()["containers"]


def test_recreate_network_replaces_a_network_that_differs_and_ignores_its_own_route(fake, context):
    import ipaddress
    fake.run(["docker", "network", "create", "--driver", "bridge", "--subnet", "172.20.0.0/16", "alicia_network"])
    own = "br-%s" % network_id(fake)[:12]
    ctx = context()
    with pytest.raises(ct.ContainersError, match="network alicia_network exists with ip-range none"):
        reconcile(fake, containers=[spec("alicia_a", ctx)])
    routes = [(own, ipaddress.ip_network("172.20.0.0/16")), ("eth0", ipaddress.ip_network("10.0.0.0/24"))]
    result = reconcile(fake, containers=[spec("alicia_a", ctx)], recreate_network=True, routes=routes)
    assert result["network_recreated"] is True and result["created"] == ["alicia_a"]
    assert fake.load()["networks"]["alicia_network"]["ip_range"] == NETWORK["ip_range"]
    # A route of another interface still counts.
    with pytest.raises(ct.ContainersError, match="subnet 172.20.0.0/16 overlaps the host's route.s. 172.20.1.0/24 "
                                                 "on eth1"):
        reconcile(fake, containers=[spec("alicia_a", ctx)], recreate_network=True,
                  routes=[("eth1", ipaddress.ip_network("172.20.1.0/24"))])


def test_recreate_network_needs_a_network(fake):
    with pytest.raises(ct.ContainersError, match="recreate_network needs network"):
        ct.reconcile(dict(containers=[], absent=["alicia_a"], recreate_network=True), ct.Docker("docker", fake.run))
    assert fake.calls() == []
