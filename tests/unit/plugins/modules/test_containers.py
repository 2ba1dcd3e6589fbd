# -*- coding: utf-8 -*-
"""alicia.platform.containers run for real: the module file in a fresh Python
against the fake docker CLI (tests/unit/plugins/fake_docker.py), and the
action plugin through ansible-playbook on localhost, where the base image
archive must be copied only when it is needed."""

import json
import os

import pytest
import yaml

from ansible_collections.alicia.platform.tests.unit.plugins.fake_docker import FakeDocker, write_binary

BASE = "alicia-test/debian:bookworm"


@pytest.fixture
def docker(tmp_path):
    """A fake docker binary with the base image loaded: (FakeDocker, path of the binary)."""
    fake = FakeDocker(str(tmp_path / "docker.json"))
    fake.add_image(BASE)
    return fake, write_binary(str(tmp_path / "docker"), fake.path)


@pytest.fixture
def build_context(tmp_path):
    path = tmp_path / "ctx"
    path.mkdir()
    (path / "Dockerfile").write_text("FROM %s\nCOPY service.py /opt/service.py\n" % BASE)
    (path / "service.py").write_text("print('alicia')\n")
    return str(path)


def container(name, context, port):
    return dict(name=name, image="alicia/reference", build=context, user="0", group="0",
                published_ports=["%d:%d" % (port, port)], memory="64M", cpus=0.5,
                log_options={"max-size": "1048576", "max-file": "2"})


@pytest.fixture
def containers(run_module_file):
    """containers(binary, check=False, diff=False, **args) -> (rc, result)."""
    def _run(binary, check=False, diff=False, **args):
        args = dict(args, docker=binary, _ansible_check_mode=check, _ansible_diff=diff)
        args.setdefault("network", dict(name="alicia_network"))
        args.setdefault("base_image", BASE)
        return run_module_file("containers", args)
    return _run


def test_the_module_creates_then_leaves_alone(docker, containers, build_context):
    fake, binary = docker
    wanted = [container("alicia_a", build_context, 8001), container("alicia_b", build_context, 8002)]
    rc, result = containers(binary, diff=True, containers=wanted)
    assert rc == 0, result
    assert result["changed"] is True and result["created"] == ["alicia_a", "alicia_b"]
    assert len(result["built"]) == 1 and result["network_created"] is True
    assert fake.load()["containers"]["alicia_a"]["flags"]["--user"] == ["0:0"]
    assert result["diff"]["before"].endswith("alicia_a: absent\nalicia_b: absent\n")
    fake.calls()

    rc, result = containers(binary, containers=wanted)
    assert (rc, result["changed"]) == (0, False), result
    assert [c[:2] for c in fake.calls()] == [["network", "inspect"], ["image", "inspect"], ["container", "inspect"]]


def test_check_mode_changes_nothing(docker, containers, build_context):
    fake, binary = docker
    before = fake.load()
    rc, result = containers(binary, check=True, diff=True, containers=[container("alicia_a", build_context, 8001)])
    assert (rc, result["changed"], result["created"]) == (0, True, ["alicia_a"]), result
    assert fake.load() == before
    assert all(c[1] == "inspect" for c in fake.calls())


def test_without_a_docker_cli_check_mode_predicts_and_a_real_run_fails(containers, tmp_path, build_context):
    missing = str(tmp_path / "no-docker-here")
    rc, result = containers(missing, check=True, containers=[container("alicia_a", build_context, 8001)])
    assert (rc, result["changed"], result["created"]) == (0, True, ["alicia_a"]), result
    assert result["msg"].startswith("docker is not usable yet (no docker CLI on the host)")
    rc, result = containers(missing, containers=[container("alicia_a", build_context, 8001)])
    assert rc == 1 and result["msg"] == "containers: no docker CLI on the host (Debian: docker.io)"


def test_a_daemon_that_does_not_answer(docker, containers, build_context):
    fake, binary = docker
    data = fake.load()
    data["down"] = True
    fake.save(data)
    rc, result = containers(binary, check=True, containers=[container("alicia_a", build_context, 8001)])
    assert (rc, result["created"]) == (0, ["alicia_a"]), result
    assert "the daemon does not answer" in result["msg"]
    rc, result = containers(binary, containers=[container("alicia_a", build_context, 8001)])
    assert rc == 1 and result["msg"].startswith("containers: the Docker daemon does not answer (is docker.service "
                                                "running?): Cannot connect to the Docker daemon")


def test_bad_arguments_fail_naming_them(docker, containers, build_context):
    fake, binary = docker
    rc, result = containers(binary, containers=[container("alicia_a", build_context, 8001)], restart=["alicia_b"],
                            absent=["alicia_a"])
    assert rc == 1
    assert result["msg"] == ("containers: restart: alicia_b is not in containers (a container is recreated from its "
                             "definition); alicia_a is both in containers and in absent")
    assert fake.calls() == []


def test_a_removed_network_and_recreate_network(docker, containers, build_context):
    """An operator's docker network rm under stopped containers, repaired by a plain run; then
    recreate_network in check mode (nothing changes) and for real (a new network id, the containers on it)."""
    fake, binary = docker
    wanted = [container("alicia_a", build_context, 8001), container("alicia_b", build_context, 8002)]
    rc, result = containers(binary, containers=wanted)
    assert rc == 0, result
    first = result["network"]["id"]
    fake.run(["docker", "stop", "alicia_a", "alicia_b"])
    fake.run(["docker", "network", "rm", "alicia_network"])

    rc, result = containers(binary, containers=wanted)
    assert rc == 0, result
    assert (result["network_created"], result["recreated"]) == (True, ["alicia_a", "alicia_b"]), result
    assert result["containers"]["alicia_a"]["reason"] == "network alicia_network was removed (it is created again)"
    second = result["network"]["id"]
    assert second not in (None, first)
    fake.calls()

    before = fake.load()
    rc, result = containers(binary, check=True, containers=wanted, recreate_network=True)
    assert (rc, result["changed"], result["network_recreated"]) == (0, True, True), result
    assert result["network"] == {"name": "alicia_network", "id_before": second, "id": None}
    assert fake.load() == before and all(c[1] == "inspect" for c in fake.calls())

    rc, result = containers(binary, containers=wanted, recreate_network=True)
    assert (rc, result["network_recreated"], result["recreated"]) == (0, True, ["alicia_a", "alicia_b"]), result
    third = fake.load()["networks"]["alicia_network"]["id"]
    assert result["network"] == {"name": "alicia_network", "id_before": second, "id": third} and third != second
    assert all(c["status"] == "running" and c["networks"] == {"alicia_network": third}
               for c in fake.load()["containers"].values())


def test_recreate_network_without_a_network_is_refused(docker, containers):
    fake, binary = docker
    rc, result = containers(binary, network=None, absent=["alicia_a"], recreate_network=True)
    assert rc == 1 and result["msg"] == ("containers: recreate_network needs network (the network to remove and "
                                         "create again)")
    assert fake.calls() == []


# ---------------------------------------------------------------------------
# the action plugin: base_image_archive
# ---------------------------------------------------------------------------

@pytest.fixture
def play(tmp_path, run_playbook):
    """play(check=False) -> (rc, result of the task, output) of a playbook running the containers task."""
    def _run(binary, archive, context, check=False):
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "Demo", "hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "Demo | containers", "register": "demo",
                       "alicia.platform.containers": {
                           "docker": binary, "base_image": BASE, "base_image_archive": archive,
                           "network": {"name": "alicia_network"},
                           "containers": [container("alicia_a", context, 8001)]}},
                      {"name": "Demo | result", "ansible.builtin.copy": {
                          "content": "{{ demo | to_json }}", "dest": str(tmp_path / "result.json")},
                       "check_mode": False}],
        }]))
        args = ["-i", "localhost,", "-c", "local", str(playbook)] + (["--check"] if check else [])
        proc = run_playbook(args, python=os.path.realpath(os.sys.executable))
        result = None
        if os.path.exists(str(tmp_path / "result.json")):
            with open(str(tmp_path / "result.json")) as handle:
                result = json.load(handle)
            os.unlink(str(tmp_path / "result.json"))
        return proc.returncode, result, proc.stdout + proc.stderr
    return _run


def test_the_archive_is_copied_and_loaded_only_when_the_base_image_is_missing(docker, play, build_context, tmp_path):
    fake, binary = docker
    data = fake.load()
    del data["images"][BASE]
    fake.save(data)
    archive = tmp_path / "base-image.tar"
    archive.write_text(json.dumps({"tags": [BASE]}))

    rc, result, out = play(binary, str(archive), build_context, check=True)
    assert rc == 0, out[-3000:]
    assert result["base_image_loaded"] is True and "base_image_archive_copied" not in result
    assert "load" not in [c[0] for c in fake.calls()], "check mode never copies nor loads"

    rc, result, out = play(binary, str(archive), build_context)
    assert rc == 0, out[-3000:]
    assert result["base_image_loaded"] is True and result["base_image_archive_copied"] is True
    assert result["created"] == ["alicia_a"]
    loaded = fake.load()["loaded"]
    assert len(loaded) == 1 and loaded[0] != str(archive), "loaded from the copy on the host"
    assert not os.path.exists(loaded[0]), "the copy is removed with the task's temporary directory"
    assert [c[0] for c in fake.calls()].count("load") == 1

    rc, result, out = play(binary, str(archive), build_context)
    assert rc == 0, out[-3000:]
    assert result["changed"] is False and "base_image_archive_copied" not in result
    assert "load" not in [c[0] for c in fake.calls()]


def test_a_missing_archive_fails_only_when_it_is_needed(docker, play, build_context, tmp_path):
    fake, binary = docker
    rc, result, out = play(binary, str(tmp_path / "nowhere.tar"), build_context)
    assert rc == 0 and result["created"] == ["alicia_a"], out[-3000:]
    data = fake.load()
    del data["images"][BASE]
    data["containers"] = {}
    for tag in [t for t in data["images"] if t.startswith("alicia/reference:")]:
        del data["images"][tag]
    fake.save(data)
    rc, result, out = play(binary, str(tmp_path / "nowhere.tar"), build_context)
    assert rc != 0 and "containers: base_image_archive %s is not on the controller" % (tmp_path / "nowhere.tar") in out
