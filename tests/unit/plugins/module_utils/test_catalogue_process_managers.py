# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue's process-manager runtimes (supervisor, manual): preflight
accepts them, checks the `restart` settings naming the service and the
field, and the host side adds `supervisor` to the packages of a host that
runs such a service (or whose service_runtime forces it)."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import host_runtime_errors, restart_problems

BASE = ["logrotate", "nftables"]


@pytest.mark.parametrize("runtime", ["supervisor", "manual"])
def test_runtime_accepted(resolve, runtime):
    assert cat.errors(resolve({"stt_service": {"runtime": runtime}})) == []


def test_shipped_restart_defaults(shipped):
    entry = shipped["tts_service"]
    assert entry["restart"] == {"max_restarts": 0, "restart_delay": 5, "stop_timeout": 15}
    # The broker takes no service restart settings.
    assert "restart" not in shipped["mqtt_broker"]


def test_restart_override_merges_over_the_defaults(resolve):
    entry = resolve({"tts_service": {"restart": {"max_restarts": 3}}})["tts_service"]
    assert entry["restart"] == {"max_restarts": 3, "restart_delay": 5, "stop_timeout": 15}


@pytest.mark.parametrize("restart,field,text", [
    ({"max_restarts": -1}, "restart.max_restarts", "must be a whole number 0-1000 (0: no limit), got -1"),
    ({"max_restarts": "3"}, "restart.max_restarts", "got '3'"),
    ({"max_restarts": True}, "restart.max_restarts", "got True"),
    ({"restart_delay": 1.5}, "restart.restart_delay", "must be a whole number of seconds 0-3600, got 1.5"),
    ({"stop_timeout": 0}, "restart.stop_timeout", "must be a whole number of seconds 1-3600, got 0"),
    ({"stop_timeout": 4000}, "restart.stop_timeout", "got 4000"),
    ({"retries": 2}, "restart", "unknown key(s) retries (known: max_restarts, restart_delay, stop_timeout)"),
])
def test_bad_restart_names_service_and_field(resolve, restart, field, text):
    found = cat.errors(resolve({"tts_service": {"restart": restart}}))
    assert len(found) == 1, found
    assert found[0].startswith("catalogue: service 'tts_service' field '%s': " % field), found
    assert text in found[0]


def test_restart_not_a_mapping(resolve):
    catalogue = resolve()
    catalogue["stt_service"]["restart"] = [3, 5, 15]
    assert cat.errors(catalogue) == ["catalogue: service 'stt_service' field 'restart': must be a mapping of "
                                     "max_restarts, restart_delay, stop_timeout, got list"]


def test_restart_problems_of_a_valid_mapping():
    assert restart_problems({"max_restarts": 0, "restart_delay": 0, "stop_timeout": 1}) == []
    assert restart_problems({}) == []


def test_supervisor_package_only_with_a_supervisor_service(resolve):
    plain = cat.host_packages(resolve(), ["alicia_voice"], base=BASE)
    assert "supervisor" not in plain
    voice = cat.host_packages(resolve({"stt_service": {"runtime": "supervisor"}}), ["alicia_voice"], base=BASE)
    assert voice == sorted(plain + ["supervisor"])
    # Another host (core) does not run stt_service: no supervisor there.
    core = cat.host_packages(resolve({"stt_service": {"runtime": "supervisor"}}), ["alicia_core"], base=BASE)
    assert "supervisor" not in core


def test_manual_needs_no_package(resolve):
    catalogue = resolve({"stt_service": {"runtime": "manual"}})
    assert "supervisor" not in cat.host_packages(catalogue, ["alicia_voice"], base=BASE)


def test_host_runtime_forces_supervisor(resolve):
    packages = cat.host_packages(resolve(), ["alicia_core"], base=BASE, runtime="supervisor")
    assert "supervisor" in packages and "python3-paho-mqtt" in packages
    # A host running only the broker (kind broker) needs no supervisor.
    assert "supervisor" not in cat.host_packages(resolve(), ["alicia_broker"], base=BASE, runtime="supervisor")
    # Forcing a host-network runtime over a docker entry installs its own packages, not the engine.
    forced = cat.host_packages(resolve({"stt_service": {"runtime": "docker"}}), ["alicia_voice"], base=BASE,
                               runtime="manual")
    assert "docker.io" not in forced and "python3-paho-mqtt" in forced


@pytest.mark.parametrize("value", ["", None, "systemd", "supervisor", "manual"])
def test_host_runtime_valid(value):
    assert host_runtime_errors(value, "h1") == []


@pytest.mark.parametrize("value", ["docker", "upstart", 3, ["supervisor"]])
def test_host_runtime_invalid_names_host_and_value(value):
    assert host_runtime_errors(value, "h1") == [
        "service_runtime on host 'h1': must be one of systemd, supervisor, manual (or empty: each service's own "
        "runtime), got %r" % (value,)]


def test_a_forced_runtime_other_than_systemd_refuses_a_multi_instance_service_of_the_host():
    catalogue = {
        "tts_service": {"kind": "service", "group": "alicia_voice",
                        "instance_list": [{"name": "tts-primary"}, {"name": "tts-secondary"}]},
        "stt_service": {"kind": "service", "group": "alicia_voice", "instance_list": []},
        "device_manager": {"kind": "service", "group": "alicia_devices", "instance_list": [{"name": "dm-1"}, {"name": "dm-2"}]},
    }
    assert host_runtime_errors("supervisor", "h1", catalogue=catalogue, group_names=["alicia_voice"]) == [
        "service_runtime on host 'h1': supervisor cannot run service 'tts_service': it has 2 instances "
        "(field 'instances'), which only the systemd runtime runs"]
    assert host_runtime_errors("systemd", "h1", catalogue=catalogue, group_names=["alicia_voice"]) == []
    assert host_runtime_errors("manual", "h2", catalogue=catalogue, group_names=["alicia_core"]) == []
    assert host_runtime_errors("", "h1", catalogue=catalogue, group_names=["alicia_voice"]) == []
