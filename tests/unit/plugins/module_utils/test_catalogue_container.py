# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Alicia platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue's container artifact (issue 9 §2): preflight checks the
fields naming the service and the field; the containers module builds with the
artifact's own Dockerfile (``dockerfile``), which is part of the image's tag."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils import _containers as ct
from ansible_collections.alicia.platform.tests.unit.plugins.fake_docker import FakeDocker

BASE = "alicia-test/debian:bookworm"
CONTEXT = "<the build context>"


def errors_of(catalogue, service):
    return [m for m in cat.errors(catalogue) if "service '%s'" % service in m]


@pytest.fixture
def context(tmp_path):
    path = tmp_path / "stt"
    path.mkdir()
    (path / "Dockerfile").write_text("FROM %s\nCOPY app.py /opt/app.py\n" % BASE)
    (path / "app.py").write_text("print('stt')\n")
    (path / "Dockerfile.prod").write_text("FROM %s\nCOPY app.py /opt/prod.py\n" % BASE)
    return str(path)


def container(artifact, runtime="docker"):
    return {"stt_service": {"runtime": runtime, "artifact": dict(artifact, type="container")}}


def test_a_container_from_a_context_or_an_image_passes(resolve, context):
    for artifact in ({"context": context}, {"context": context, "dockerfile": "Dockerfile.prod"},
                     {"image": "alicia/stt:1.4"}, {"image": "registry.local:5000/team/stt-service:2026.12_1"}):
        assert errors_of(resolve(container(artifact)), "stt_service") == [], artifact


@pytest.mark.parametrize("artifact, field, text", [
    ({}, "artifact", "exactly one of context"),
    ({"context": CONTEXT, "image": "alicia/stt:1.4"}, "artifact", "exactly one of context"),
    ({"context": "images/stt"}, "artifact.context", "absolute path of a build context directory"),
    ({"context": "/nonexistent/alicia-context"}, "artifact.context", "is not a directory on the controller"),
    ({"context": CONTEXT, "dockerfile": "Containerfile"}, "artifact.dockerfile", "has no Containerfile"),
    ({"context": CONTEXT, "dockerfile": "../Dockerfile"}, "artifact.dockerfile", "stay inside the build context"),
    ({"context": CONTEXT, "dockerfile": "/etc/Dockerfile"}, "artifact.dockerfile", "stay inside the build context"),
    ({"image": "alicia/stt"}, "artifact.image", "name with its tag"),
    ({"image": "Alicia/STT:1"}, "artifact.image", "name with its tag"),
    ({"image": "alicia/stt:1.4\nevil"}, "artifact.image", "name with its tag"),
    ({"image": "alicia/stt:1.4", "dockerfile": "Dockerfile"}, "artifact.dockerfile", "goes with context only"),
    ({"context": CONTEXT, "src": "/srv/app"}, "artifact", "unknown key(s) for a container: src"),
])
def test_bad_container_fields_fail_naming_the_service_and_field(resolve, context, artifact, field, text):
    if artifact.get("context") == CONTEXT:
        artifact = dict(artifact, context=context)
    errors = errors_of(resolve(container(artifact)), "stt_service")
    assert any("field '%s'" % field in e and text in e for e in errors), errors


@pytest.mark.parametrize("runtime", ["systemd", "supervisor", "manual"])
def test_a_container_needs_the_docker_runtime(resolve, context, runtime):
    errors = errors_of(resolve(container({"context": context}, runtime=runtime)), "stt_service")
    assert any("field 'artifact.type'" in e and "runtime docker only" in e for e in errors), errors


# ---- the containers module: the artifact's Dockerfile ----------------------------

def spec(name, build, **extra):
    base = dict(name=name, image="alicia/stt_service", build=build, user=None, group=None, network="alicia_network",
                env_file=None, published_ports=["8001:8001"], volumes=[], tmpfs=[], read_only=False, cap_drop=[],
                cap_add=[], security_opts=[], memory=None, memory_reservation=None, cpus=None, cpu_shares=None,
                restart_policy="unless-stopped", restart_retries=None, healthcheck=None, log_driver="json-file",
                log_options={}, labels={}, stop_timeout=None, command=None, hostname=None, dockerfile=None)
    base.update(extra)
    return base


def test_the_dockerfile_is_passed_to_docker_build_and_is_part_of_the_tag(tmp_path, context):
    fake = FakeDocker(str(tmp_path / "docker.json"))
    fake.add_image(BASE)
    network = dict(name="alicia_network", driver="bridge", subnet=None, ip_range=None, gateway=None, options={})
    params = dict(network=network, base_image=BASE,
                  containers=[spec("alicia_a", context), spec("alicia_b", context, dockerfile="Dockerfile.prod",
                                                                  published_ports=["8002:8002"])])
    result = ct.reconcile(params, ct.Docker("docker", fake.run), sleep=lambda s: None, routes=lambda: [])
    default = "alicia/stt_service:%s" % ct.context_hash(context)[:12]
    prod = ct.image_tag(params["containers"][1], {context: ct.context_hash(context)})
    assert prod != default and prod.startswith("alicia/stt_service:")
    assert sorted(result["built"]) == sorted([default, prod])
    builds = [c for c in fake.calls() if c[0] == "build"]
    assert [c[-3:] for c in builds if "--file" in c] == [["--file", context + "/Dockerfile.prod", context]]
    assert len([c for c in builds if "--file" not in c]) == 1
    containers = fake.load()["containers"]
    assert (containers["alicia_a"]["image"], containers["alicia_b"]["image"]) == (default, prod)
    again = ct.reconcile(params, ct.Docker("docker", fake.run), sleep=lambda s: None, routes=lambda: [])
    assert again["changed"] is False and again["built"] == []


@pytest.mark.parametrize("extra, text", [
    (dict(dockerfile="../Dockerfile"), "relative to the build context"),
    (dict(dockerfile="/etc/Dockerfile"), "relative to the build context"),
    (dict(image="alicia/stt:1", dockerfile="Dockerfile"), "needs build"),
])
def test_a_bad_dockerfile_argument_is_refused(extra, text):
    build = None if "image" in extra else "/opt/alicia/stt/image"
    errors = ct.check_args([spec("alicia_a", build, **extra)])
    assert any("dockerfile" in e and text in e for e in errors), errors
