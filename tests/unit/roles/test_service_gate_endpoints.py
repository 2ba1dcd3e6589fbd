# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service role's gates probe a service where it is reached: its `port`.

roles/service/vars/main.yml rendered by Ansible's own templar (with the
catalogue's and the role's defaults) for a docker service published on
8001 and listening on 9101 inside its container: the phase's local gate
(`_service_plan.endpoints`), the manual runtime's dependency checks on this
host and on another (`requires` of its control-script configuration in
`_service_files`) and its own start check all use 8001; only the container
keeps 9101 (the published-port mapping, and its HEALTHCHECK, which reads
SERVICE_PORT inside the container).
"""

import json

import pytest


# stt_service in docker (8001 published -> 9101 in the container) on v1;
# voice_router, which requires it, with the manual runtime on v1 or on r1.
OVERRIDES = {"stt_service": {"runtime": "docker", "listen_port": 9101},
             "voice_router": {"runtime": "manual"}}
GROUPS = {"alicia_voice": ["v1"], "alicia_router": ["r1"], "alicia_broker": ["b1"]}
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, "v1": {"alicia_address": "10.0.0.2"},
            "r1": {"alicia_address": "10.0.0.3"}}
SECRETS = dict((name, {"MQTT_PASSWORD": "unit-test"})
               for name in ("stt_service", "ai_service", "tts_service", "voice_router"))


ROLE_FILES = ["roles/catalogue/defaults/main.yml", "roles/service/defaults/main.yml", "roles/service/vars/main.yml"]


def render(render_with_templar, host, group_names, overrides, names):
    extra = {"catalogue_overrides": overrides, "group_names": group_names, "inventory_hostname": host,
             "service_phase": "voice", "groups": GROUPS, "hostvars": HOSTVARS, "catalogue_secrets": SECRETS}
    return render_with_templar(ROLE_FILES, extra, dict((name, name) for name in names))


@pytest.fixture(scope="module")
def on_v1(render_with_templar):
    """The voice phase on v1, which runs stt_service (docker) and voice_router (manual)."""
    return render(render_with_templar, "v1", ["alicia", "alicia_voice"], OVERRIDES,
                  ["_service_plan.endpoints", "_service_files", "_service_plan.containers"])


def manual_requires(files, name):
    """The dependency checks in the control-script configuration of the manual service ``name``."""
    (config,) = [f for f in files if f["path"].endswith("/manual/%s.json" % name)]
    return json.loads(config["content"])["requires"]


def test_the_local_gate_probes_a_docker_service_on_its_published_port(on_v1):
    urls = dict((e["service"], e["url"]) for e in on_v1["_service_plan.endpoints"])
    assert urls == {"stt_service": "http://127.0.0.1:8001/health", "ai_service": "http://127.0.0.1:8002/health",
                    "tts_service": "http://127.0.0.1:8003/health", "voice_router": "http://127.0.0.1:8004/health"}


def test_a_manual_dependant_on_the_same_host_checks_the_published_port(on_v1):
    checks = manual_requires(on_v1["_service_files"], "voice_router")
    assert [(c["name"], c["url"]) for c in checks] == [
        ("stt_service", "http://127.0.0.1:8001/health"), ("ai_service", "http://127.0.0.1:8002/health"),
        ("tts_service", "http://127.0.0.1:8003/health")]


def test_the_manual_service_s_own_start_check_uses_its_port(on_v1):
    config = [f for f in on_v1["_service_files"] if f["path"].endswith("/manual/voice_router.json")]
    assert len(config) == 1
    assert json.loads(config[0]["content"])["health"]["url"] == "http://127.0.0.1:8004/health"


def test_only_the_container_keeps_the_listen_port(on_v1):
    (container,) = on_v1["_service_plan.containers"]
    assert container["name"].endswith("stt_service")
    assert container["published_ports"] == ["8001:9101"]
    # The container's HEALTHCHECK runs inside it, on SERVICE_PORT (the listen_port).
    assert 'os.environ["SERVICE_PORT"]' in container["healthcheck"]["test"][2]


def test_a_manual_dependant_on_another_host_checks_the_published_port(render_with_templar):
    overrides = dict(OVERRIDES, voice_router={"runtime": "manual", "group": "alicia_router"})
    got = render(render_with_templar, "r1", ["alicia", "alicia_router"], overrides, ["_service_files"])
    checks = manual_requires(got["_service_files"], "voice_router")
    assert [(c["name"], c["url"]) for c in checks] == [
        ("stt_service@v1", "http://10.0.0.2:8001/health"), ("ai_service@v1", "http://10.0.0.2:8002/health"),
        ("tts_service@v1", "http://10.0.0.2:8003/health")]
