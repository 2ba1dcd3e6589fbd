# -*- coding: utf-8 -*-
"""alicia.platform.health_gate's action plugin: on the controller (connection
local, no become) the gate runs in the controller's process, with the
module's result; anywhere else the module runs. Real ansible-playbook runs
against localhost count module executions with an interpreter wrapper."""

import json
import sys
from unittest import mock

import pytest
import yaml

from ansible_collections.alicia.platform.plugins.action import health_gate as action


def gate_play(tmp_path, endpoints, **options):
    task = {"name": "Gate", "alicia.platform.health_gate": dict({"endpoints": endpoints}, **options),
            "register": "gated", "ignore_errors": True}
    show = {"name": "Result", "ansible.builtin.debug": {"var": "gated"}}
    path = tmp_path / "gate.yml"
    path.write_text(yaml.safe_dump([{"name": "Gate", "hosts": "localhost", "gather_facts": False,
                                     "tasks": [task, show]}]))
    return str(path)


@pytest.fixture
def gate(run_playbook, tmp_path):
    """gate(endpoints, *args, **options) -> (registered result, module executions)."""
    counter = tmp_path / "executions"
    wrapper = tmp_path / "counting-python"
    wrapper.write_text("#!/bin/sh\necho \"$$\" >> '%s'\nexec '%s' \"$@\"\n" % (counter, sys.executable))
    wrapper.chmod(0o755)

    def _gate(endpoints, *args, **options):
        counter.write_text("")
        proc = run_playbook(["-i", "localhost,", "-c", "local", gate_play(tmp_path, endpoints, **options)] + list(args),
                            python=str(wrapper), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
        (result,) = [t["hosts"]["localhost"] for t in tasks if t["task"]["name"] == "Gate"]
        return result, len(counter.read_text().split())
    return _gate


def test_on_the_controller_the_gate_runs_in_process_with_the_module_s_result(gate, http_server, refused_port):
    result, executions = gate([{"url": http_server.url("/healthy"), "service": "stt_service"}], timeout=5,
                              interval=0.1)
    assert executions == 0
    assert result.get("failed") is not True and result["changed"] is False
    assert result["healthy"] is True and [r["service"] for r in result["results"]] == ["stt_service"]
    assert result["results"][0]["status"] == 200

    result, executions = gate([{"url": http_server.url("/healthy"), "service": "stt_service"},
                               {"url": "http://127.0.0.1:%d/health" % refused_port, "service": "tts_service"}],
                              timeout=0.5, interval=0.1)
    assert executions == 0
    assert result["failed"] is True and result["unhealthy"] == ["tts_service"]
    assert "tts_service on 127.0.0.1" in result["msg"] and "connection refused" in result["msg"]


def test_check_mode_probes_once_warns_and_does_not_fail(gate, refused_port):
    result, executions = gate([{"url": "http://127.0.0.1:%d/health" % refused_port, "service": "tts_service"}],
                              "--check", timeout=30, interval=0.1)
    assert executions == 0
    assert result.get("failed") is not True and result["healthy"] is False
    assert result["results"][0]["attempts"] == 1
    assert any("check mode, one probe round" in w for w in result.get("warnings", []))


def test_bad_options_fail_like_the_module(gate, http_server):
    result, _ = gate([{"url": http_server.url("/healthy")}], timeout=0)
    assert result["failed"] is True
    assert result["msg"] == "timeout and interval must be positive, max_workers and max_restarts at least 1"
    result, _ = gate([{"url": http_server.url("/healthy")}], timout=5)
    assert result["failed"] is True and "timout" in result["msg"]
    result, _ = gate([{"service": "stt_service"}])
    assert result["failed"] is True and "url" in result["msg"]


def test_where_it_runs():
    assert action.in_process("local", False) is True
    assert action.in_process("local", True) is False
    for transport in ("ssh", "community.docker.docker", "paramiko", None):
        assert action.in_process(transport, False) is False


def test_a_remote_host_runs_the_module_once():
    task = mock.MagicMock(args={"endpoints": [{"url": "http://10.0.0.2:8001/health"}]}, async_val=0,
                          check_mode=False, diff=False)
    connection = mock.MagicMock(transport="ssh")
    play_context = mock.MagicMock(become=False)
    plugin = action.ActionModule(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
    with mock.patch.object(plugin, "_execute_module", return_value={"healthy": True, "changed": False}) as run:
        result = plugin.run(task_vars={})
    run.assert_called_once_with(module_name="alicia.platform.health_gate", module_args=task.args, task_vars={})
    assert result["healthy"] is True


def test_the_local_path_never_starts_the_module(http_server):
    task = mock.MagicMock(args={"endpoints": [{"url": http_server.url("/healthy"), "service": "s"}], "timeout": 5},
                          async_val=0, check_mode=False, diff=False)
    plugin = action.ActionModule(task, mock.MagicMock(transport="local"), mock.MagicMock(become=False), loader=None,
                                 templar=None, shared_loader_obj=None)
    with mock.patch.object(plugin, "_execute_module") as run:
        result = plugin.run(task_vars={})
    run.assert_not_called()
    assert result["healthy"] is True and result["changed"] is False
