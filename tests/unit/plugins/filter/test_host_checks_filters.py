# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/filter/host_checks.py, and the pre-deployment host checks of
roles/service/tasks/plan.yml run for real by ansible-playbook on localhost:
the files action passes report_host to the module, and the plan's own
expressions (read from plan.yml) turn a port this test holds into a failure
naming the host, the service, the port, the PID and the command."""

import json
import os
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.alicia.platform.plugins.filter.host_checks import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp

FILTERS = FilterModule().filters()
GROUPS = {"alicia_voice": ["localhost"], "alicia_broker": ["b1"]}


def test_every_filter_has_its_documentation(root):
    for name in FILTERS:
        assert os.path.exists(os.path.join(root, "plugins", "filter", name + ".yml")), name


def test_bad_input_fails_as_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="host checks: bad plan"):
        FILTERS["service_host_check_request"]({"entries": []})
    assert FILTERS["service_host_check_problems"]({"settings": {}, "host": "h", "entries": []}, {}) == []


def plan_tasks(root):
    with open(os.path.join(root, "roles", "service", "tasks", "plan.yml")) as handle:
        tasks = yaml.safe_load(handle)
    by_name = dict((task["name"], task) for task in tasks)
    files = by_name["Service | plan | files of every service of this host that differ, and the state of its units "
                    "(check mode)"]
    problems = by_name["Service | plan | the phases with something to do on this host"]["ansible.builtin.set_fact"]
    return files["alicia.platform.files"]["report_host"], problems["_service_host_problems"], \
        by_name["Service | plan | pre-deployment host checks"]


@pytest.fixture
def listener():
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def run_plan_checks(root, tmp_path, run_playbook, resolve, port, min_free_mb=1, checks=True, venv_bytes=None):
    overrides = {"port": port, "listen_port": port}
    if venv_bytes is not None:
        overrides["artifact"] = {"type": "python_app", "src": str(tmp_path / "app")}
    catalogue = resolve({"stt_service": overrides})
    plan = sp.plan(catalogue, ["stt_service"], ["alicia_voice"], "localhost", groups=GROUPS,
                   settings={"install_dir": str(tmp_path / "opt"), "data_dir": str(tmp_path / "data")})
    report_host, problems, fail = plan_tasks(root)
    variables = {"_service_plan": plan, "service_host_checks": checks, "service_host_check_min_free_mb": min_free_mb}
    if venv_bytes is not None:
        # The venvs check-mode result plan.yml registers: the service's venv to build, and its estimate.
        variables["_service_plan_venvs"] = {"changed": True, "venvs": [
            {"path": plan["venv_of"]["stt_service"], "changed": True, "action": "created",
             "estimate_bytes": venv_bytes, "estimate_from": "default"}]}
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    marker = tmp_path / "marker"
    play = [{"name": "Plan checks", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "files (check mode)", "alicia.platform.files": {
            "files": [{"path": str(marker), "content": "x\n"}], "report_host": report_host},
         "check_mode": True, "register": "_service_plan_files"},
        {"name": "problems", "ansible.builtin.set_fact": {"_service_host_problems": problems}},
        fail,
    ]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    proc = run_playbook(["-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                         "-e", "@" + str(tmp_path / "vars.json")], python=sys.executable, ANSIBLE_NOCOLOR="1")
    assert not marker.exists()
    return proc


def test_a_port_held_by_another_process_fails_the_plan_naming_it(root, tmp_path, run_playbook, resolve, listener):
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, listener)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Pre-deployment checks failed on localhost" in out, out
    assert "localhost: service stt_service needs port %d (service), held by PID %d (" % (listener, os.getpid()) in out
    assert "python" in out.split("held by PID %d (" % os.getpid(), 1)[1].split(")")[0], out
    assert "1 problem(s)" in out, out


def test_a_free_port_and_enough_disk_pass_and_too_little_disk_fails(root, tmp_path, run_playbook, resolve, listener):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    free = sock.getsockname()[1]
    sock.close()
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, free)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, free, min_free_mb=10 ** 9)
    assert proc.returncode != 0 and "MB needed (service_host_check_min_free_mb)" in proc.stdout, proc.stdout
    # Off: neither read nor judged.
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, listener, checks=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_virtualenv_to_build_that_does_not_fit_fails_the_plan_naming_it(root, tmp_path, run_playbook, resolve):
    """plan.yml's expression passes the venvs check-mode result: its estimate counts on the install
    directory's file system (here far more than any disk has)."""
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    free = sock.getsockname()[1]
    sock.close()
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, free, venv_bytes=2 ** 60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    # Both directories on one file system (this test's): judged once, their needs added up.
    assert "localhost: %s and %s (file system of " % (tmp_path / "opt", tmp_path / "data") in out, out
    assert "for the new releases and virtualenvs of stt_service (virtualenv %d MB), plus 1 MB " \
           "(service_host_check_min_free_mb)" % (2 ** 40) in out, out
    # A small one fits.
    proc = run_plan_checks(root, tmp_path, run_playbook, resolve, free, venv_bytes=1024)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_filter_counts_release_files_and_venvs_of_the_results(resolve):
    plan = sp.plan(resolve({"stt_service": {"artifact": {"type": "python_app", "src": "/nonexistent"}}}),
                   ["stt_service"], ["alicia_voice"], "localhost", groups=GROUPS)
    files = {"changed_keys": ["stt_service"], "host": {"listeners": {}, "mem_available_mb": None, "paths": {
        "/opt/alicia": {"checked": "/opt", "free_mb": 300, "needed_by_key": {"stt_service": 40 * 1024 * 1024}}}}}
    venvs = {"venvs": [{"path": plan["venv_of"]["stt_service"], "changed": True, "estimate_bytes": 10 * 1024 * 1024}]}
    problems = FILTERS["service_host_check_problems"]
    assert problems(plan, files, 250, True, venvs) == []
    found = problems(plan, files, 251, venvs=venvs)
    assert found == ["localhost: /opt/alicia (file system of /opt) has 300 MB free, 301 MB needed: 50 MB for the new "
                     "releases and virtualenvs of stt_service (files 40 MB, virtualenv 10 MB), plus 251 MB "
                     "(service_host_check_min_free_mb)"], found
    # A skipped venvs task (no venvs) and no venvs argument: the files alone.
    assert problems(plan, files, 260, venvs={"skipped": True}) == problems(plan, files, 260) == []
