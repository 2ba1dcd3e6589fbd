# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`port` and `listen_port` mean one thing for every runtime (issue 9 §2).

`port` is where a service is reached on its host (firewall, health sweep,
gates, dependants); `listen_port` is what its process binds. Only the
docker runtime maps the one to the other (published `port` -> container
`listen_port`), so preflight refuses a differing `listen_port` for a
host-network runtime (systemd, supervisor, manual), in the catalogue and
when a host's `service_runtime` forces such a runtime on a docker service.
"""

import pytest

from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule as CatalogueFilters
from ansible_collections.alicia.platform.plugins.filter.supervisor import FilterModule as SupervisorFilters
from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import host_runtime_errors

ONE_HOST = {"alicia_broker": ["h1"], "alicia_core": ["h1"], "alicia_management": ["h1"], "alicia_voice": ["h1"],
            "alicia_devices": ["h1"], "alicia_advanced": ["h1"], "alicia_observability": ["h1"]}


def refused(runtime, listen=9101, port=8001):
    return ("listen_port %d differs from port %d, which only the docker runtime can map (runtime %s binds the port "
            "it is reached at: set port to %d, or drop listen_port)" % (listen, port, runtime, listen))


# ---- the catalogue (catalogue_errors) ------------------------------------------

@pytest.mark.parametrize("runtime", ["systemd", "supervisor", "manual"])
def test_a_host_network_runtime_with_a_differing_listen_port_is_refused(resolve, runtime):
    catalogue = resolve({"stt_service": {"runtime": runtime, "listen_port": 9101}})
    assert cat.errors(catalogue, groups=ONE_HOST) == [
        "catalogue: service 'stt_service' field 'listen_port': %s" % refused(runtime)]


def test_the_default_runtime_is_refused_too(resolve):
    """An entry that names no runtime runs with the default, systemd."""
    catalogue = resolve({"voice_router": {"port": 8005, "listen_port": 9105}})
    assert catalogue["voice_router"]["runtime"] == "systemd"
    assert cat.errors(catalogue) == [
        "catalogue: service 'voice_router' field 'listen_port': listen_port 9105 differs from port 8005, which only "
        "the docker runtime can map (runtime systemd binds the port it is reached at: set port to 9105, or drop "
        "listen_port)"]


def test_the_docker_runtime_maps_port_to_a_differing_listen_port(resolve):
    catalogue = resolve({"stt_service": {"runtime": "docker", "listen_port": 9101}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []
    entry = catalogue["stt_service"]
    assert (entry["port"], entry["listen_port"], entry["env"]["SERVICE_PORT"]) == (8001, 9101, "9101")


@pytest.mark.parametrize("runtime", ["systemd", "supervisor", "manual", "docker"])
def test_a_listen_port_equal_to_port_is_accepted(resolve, runtime):
    catalogue = resolve({"stt_service": {"runtime": runtime, "listen_port": 8001}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []


@pytest.mark.parametrize("runtime", ["systemd", "supervisor", "manual", "docker"])
def test_an_omitted_listen_port_is_the_port(resolve, runtime):
    catalogue = resolve({"stt_service": {"runtime": runtime}})
    assert catalogue["stt_service"]["listen_port"] == 8001
    assert catalogue["stt_service"]["env"]["SERVICE_PORT"] == "8001"
    assert cat.errors(catalogue, groups=ONE_HOST) == []


def test_a_moved_service_sets_port_and_the_listen_port_follows(resolve):
    """The fix the message names: a service that binds 9101 itself is reached on 9101."""
    catalogue = resolve({"stt_service": {"port": 9101, "listen_port": 9101}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []
    assert [e["url"] for e in cat.health_endpoints(catalogue, services=["stt_service"])] == [
        "http://localhost:9101/health"]


def test_malformed_ports_are_reported_on_their_own_field_only(resolve):
    catalogue = resolve({"stt_service": {"listen_port": 70000}, "ai_service": {"listen_port": "9102"}})
    found = cat.errors(catalogue)
    assert found == ["catalogue: service 'stt_service' field 'listen_port': port 70000 out of range 1-65535",
                     "catalogue: service 'ai_service' field 'listen_port': port '9102' out of range 1-65535"]


def test_multi_instance_services_are_not_concerned(resolve):
    """Their instances listen on instance_ports (the balancer on port): listen_port has no use."""
    catalogue = resolve({"tts_service": {"instances": 2, "instance_ports": [8031, 8032], "listen_port": 9103}})
    assert not [m for m in cat.errors(catalogue, groups=ONE_HOST) if "listen_port" in m]


def test_the_broker_is_not_concerned(resolve):
    catalogue = resolve({"mqtt_broker": {"port": 1884, "listen_port": 1883}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []


def test_one_message_per_problem(resolve):
    """A differing listen_port that is also another service's port is one problem, reported once."""
    catalogue = resolve({"ai_service": {"listen_port": 8001}})  # stt_service's port
    assert cat.errors(catalogue, groups=ONE_HOST) == [
        "catalogue: service 'ai_service' field 'listen_port': %s" % refused("systemd", listen=8001, port=8002)]


def test_host_network_services_on_one_port_clash_on_port(resolve):
    catalogue = resolve({"stt_service": {"port": 9100}, "ai_service": {"port": 9100, "listen_port": 9100}})
    assert cat.errors(catalogue, groups={"alicia_voice": ["v1"], "alicia_broker": ["b1"]}) == [
        "catalogue: service 'ai_service' field 'port': port 9100 on host 'v1' already used by service 'stt_service'"]


def test_a_container_listen_port_may_be_another_services_port(resolve):
    """A docker service's listen_port is inside its container: only its port is bound on the host."""
    catalogue = resolve({"ai_service": {"runtime": "docker", "listen_port": 8001}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []


def test_the_catalogue_errors_filter_refuses_it(resolve):
    """The filter preflight calls (roles/catalogue/tasks/validate.yml)."""
    catalogue = resolve({"stt_service": {"runtime": "supervisor", "listen_port": 9101}})
    assert CatalogueFilters().filters()["catalogue_errors"](catalogue, groups=ONE_HOST) == [
        "catalogue: service 'stt_service' field 'listen_port': %s" % refused("supervisor")]


# ---- a host's service_runtime (service_runtime_errors) -------------------------

@pytest.fixture
def docker_stt(resolve):
    """stt_service in docker, published on 8001, listening on 9101 in its container: a valid catalogue."""
    catalogue = resolve({"stt_service": {"runtime": "docker", "listen_port": 9101}})
    assert cat.errors(catalogue, groups=ONE_HOST) == []
    return catalogue


@pytest.mark.parametrize("runtime", ["systemd", "supervisor", "manual"])
def test_a_host_forcing_a_host_network_runtime_on_it_is_refused(docker_stt, runtime):
    assert host_runtime_errors(runtime, "v1", catalogue=docker_stt, group_names=["alicia", "alicia_voice"]) == [
        "service_runtime on host 'v1': %s cannot run service 'stt_service' (field 'listen_port'): %s"
        % (runtime, refused(runtime))]


def test_a_host_that_does_not_run_it_or_forces_nothing_is_accepted(docker_stt):
    assert host_runtime_errors("systemd", "c1", catalogue=docker_stt, group_names=["alicia", "alicia_core"]) == []
    assert host_runtime_errors("", "v1", catalogue=docker_stt, group_names=["alicia", "alicia_voice"]) == []
    assert host_runtime_errors(None, "v1", catalogue=docker_stt, group_names=["alicia", "alicia_voice"]) == []


def test_a_forced_runtime_over_equal_ports_is_accepted(resolve):
    catalogue = resolve({"stt_service": {"runtime": "docker"},
                         "ai_service": {"runtime": "docker", "listen_port": 8002}})
    for runtime in ("systemd", "supervisor", "manual"):
        assert host_runtime_errors(runtime, "v1", catalogue=catalogue, group_names=["alicia_voice"]) == []


def test_a_host_network_entry_is_left_to_the_catalogue_checks(resolve):
    """Already refused by catalogue_errors (preflight stops there first): not named twice."""
    catalogue = resolve({"stt_service": {"runtime": "systemd", "listen_port": 9101}})
    assert host_runtime_errors("supervisor", "v1", catalogue=catalogue, group_names=["alicia_voice"]) == []


def test_every_refused_service_of_the_host_is_named(resolve):
    catalogue = resolve({"stt_service": {"runtime": "docker", "listen_port": 9101},
                         "tts_service": {"runtime": "docker", "listen_port": 9103},
                         "device_manager": {"runtime": "docker", "listen_port": 9106}})
    found = host_runtime_errors("manual", "v1", catalogue=catalogue, group_names=["alicia_voice"])
    assert found == [
        "service_runtime on host 'v1': manual cannot run service 'stt_service' (field 'listen_port'): %s"
        % refused("manual"),
        "service_runtime on host 'v1': manual cannot run service 'tts_service' (field 'listen_port'): %s"
        % refused("manual", listen=9103, port=8003)]


def test_the_service_runtime_errors_filter_refuses_it(docker_stt):
    """The filter playbooks/preflight.yml calls."""
    found = SupervisorFilters().filters()["service_runtime_errors"]("systemd", "v1", docker_stt, ["alicia_voice"])
    assert found == ["service_runtime on host 'v1': systemd cannot run service 'stt_service' (field 'listen_port'): "
                     "%s" % refused("systemd")]
