# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""supervisor_programs and manual_services run for real (a fresh Python per
run): supervisor_programs against a fake supervisorctl (a script over
tests/unit/plugins/fake_supervisor.py), manual_services against the real
control script (roles/service/files/alicia-servicectl) on a small HTTP
service, run as a throwaway user through the real setpriv (test_servicectl's
account and Lab). The lab's configurations and pid files are not in the
script's default directories: the module's config_dir and run_dir reach it."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.alicia.platform.tests.unit.plugins.fake_supervisor import FakeSupervisor
from ansible_collections.alicia.platform.tests.unit.plugins.test_servicectl import CTL, Lab, account, wait_gone  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".collections")
WRAPPER = """#!{python}
import sys
sys.path.insert(0, {collections!r})
from ansible_collections.alicia.platform.tests.unit.plugins.fake_supervisor import main
sys.exit(main())
"""


def run_module(tmp, name, args, env=None, check_mode=False):
    args_file = tmp / ("args-%s.json" % name)
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode)}))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", name + ".py"), str(args_file)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS, **(env or {})),
                          timeout=120)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON: %s %s" % (proc.stdout, proc.stderr))


class Supervisor(object):
    def __init__(self, tmp, fake):
        self.tmp = tmp
        self.bin = tmp / "supervisorctl"
        self.bin.write_text(WRAPPER.format(python=sys.executable, collections=COLLECTIONS))
        self.bin.chmod(0o755)
        self.state = tmp / "supervisor.json"
        self.save(fake)

    def save(self, fake):
        self.state.write_text(json.dumps(fake.to_json()))

    def load(self):
        return FakeSupervisor.from_json(json.loads(self.state.read_text()))

    def run(self, check_mode=False, **args):
        fake = self.load()
        fake.calls = []
        self.save(fake)
        rc, result = run_module(self.tmp, "supervisor_programs", dict(args, supervisorctl=str(self.bin)),
                                env={"FAKE_SUPERVISOR_STATE": str(self.state)}, check_mode=check_mode)
        return rc, result, self.load().calls


def test_supervisor_programs_first_run_rerun_and_one_changed(tmp_path):
    sup = Supervisor(tmp_path, FakeSupervisor(config={"alicia-a": "1", "alicia-b": "1"}))
    rc, result, calls = sup.run(check_mode=True, programs=["alicia-a", "alicia-b"])
    assert rc == 0 and result["changed"] and calls == [["status"]]
    assert result["actions"] == {"alicia-a": ["added"], "alicia-b": ["added"]}
    rc, result, calls = sup.run(programs=["alicia-a", "alicia-b"], updated=["alicia-a", "alicia-b"],
                                restart=["alicia-a", "alicia-b"])
    assert rc == 0 and calls == [["status"], ["update"], ["status"]]
    assert result["programs"]["alicia-a"]["state"] == "RUNNING" and result["programs"]["alicia-a"]["pid"]
    rc, result, calls = sup.run(programs=["alicia-a", "alicia-b"])
    assert rc == 0 and not result["changed"] and calls == [["status"]]
    pid_a = result["programs"]["alicia-a"]["pid"]
    rc, result, calls = sup.run(programs=["alicia-a", "alicia-b"], restart=["alicia-b"])
    assert calls == [["status"], ["restart", "alicia-b"], ["status"]]
    assert result["programs"]["alicia-a"]["pid"] == pid_a


def test_supervisor_programs_failure_message(tmp_path):
    sup = Supervisor(tmp_path, FakeSupervisor())
    rc, result, _calls = sup.run(programs=["alicia-ghost"])
    assert rc == 1 and "supervisord has no program alicia-ghost" in result["msg"]


def test_supervisor_programs_without_supervisorctl(tmp_path):
    args = dict(programs=["alicia-a"], supervisorctl=None)
    env = {"PATH": str(tmp_path)}
    rc, result = run_module(tmp_path, "supervisor_programs", args, env=env, check_mode=True)
    assert rc == 0 and result["actions"] == {"alicia-a": ["added"]}
    rc, result = run_module(tmp_path, "supervisor_programs", dict(args, state="absent"), env=env)
    assert rc == 0 and not result["changed"]
    rc, result = run_module(tmp_path, "supervisor_programs", args, env=env)
    assert rc == 1 and "install the supervisor package" in result["msg"]


@pytest.fixture
def lab(tmp_path, account):
    lab = Lab(tmp_path, account)
    lab.module_args = dict(ctl=CTL, config_dir=str(lab.conf), run_dir=str(lab.run_dir))
    yield lab
    lab.cleanup()


def test_manual_services_start_leave_alone_restart_changed_stop(lab):
    lab.add("a")
    lab.add("b")
    args = dict(services=["a", "b"], **lab.module_args)
    rc, result = run_module(lab.tmp, "manual_services", args, check_mode=True)
    assert rc == 0 and result["actions"] == {"a": ["started"], "b": ["started"]}
    assert not (lab.run_dir / "a.pid").exists()
    rc, result = run_module(lab.tmp, "manual_services", args)
    assert rc == 0 and result["changed"] and result["services"]["a"]["healthy"], result
    pids = dict((n, result["services"][n]["pid"]) for n in ("a", "b"))
    rc, result = run_module(lab.tmp, "manual_services", args)
    assert rc == 0 and not result["changed"] and result["services"]["a"]["pid"] == pids["a"]
    rc, result = run_module(lab.tmp, "manual_services", dict(args, restart=["b"]))
    assert result["actions"] == {"b": ["restarted"]} and result["services"]["b"]["pid"] != pids["b"]
    assert result["services"]["a"]["pid"] == pids["a"]
    rc, result = run_module(lab.tmp, "manual_services", dict(args, state="stopped"))
    assert rc == 0 and result["actions"] == {"a": ["stopped"], "b": ["stopped"]}
    assert result["services"]["a"]["graceful"] is True


def test_manual_services_failure_names_the_service_with_its_log(lab):
    lab.add("crash", env={"CRASH": "1"})
    rc, result = run_module(lab.tmp, "manual_services", dict(services=["crash"], **lab.module_args))
    assert rc == 1 and "crash: exited with code 3" in result["msg"] and "fatal: cannot start" in result["msg"]


def test_manual_services_other_directories_reach_the_script(lab):
    """config_dir and run_dir on every call: the script reads the configuration
    in config_dir, writes and reads a pid file in run_dir when the
    configuration names none, and stops a service whose configuration is gone
    (it left the runtime) through run_dir's pid file."""
    data = lab.add("a")
    del data["pid_file"]
    (lab.conf / "a.json").write_text(json.dumps(data))
    args = dict(services=["a"], **lab.module_args)
    rc, result = run_module(lab.tmp, "manual_services", dict(services=["a"], ctl=CTL))
    assert rc == 1 and "cannot read the configuration /etc/alicia/manual/a.json" in result["msg"], result
    rc, result = run_module(lab.tmp, "manual_services", args)
    assert rc == 0 and result["actions"] == {"a": ["started"]}, result
    pid = result["services"]["a"]["pid"]
    assert (lab.run_dir / "a.pid").read_text().strip() == str(pid)
    rc, result = run_module(lab.tmp, "manual_services", args)
    assert rc == 0 and not result["changed"] and result["services"]["a"]["pid"] == pid
    (lab.conf / "a.json").unlink()
    rc, result = run_module(lab.tmp, "manual_services", dict(services=[], absent=["a"], **lab.module_args))
    assert rc == 0 and result["actions"] == {"a": ["stopped"]}, result
    assert not (lab.run_dir / "a.pid").exists() and wait_gone(pid)


def test_manual_services_without_the_script(tmp_path):
    args = dict(services=["a"], ctl=str(tmp_path / "missing"))
    rc, result = run_module(tmp_path, "manual_services", args, check_mode=True)
    assert rc == 0 and result["actions"] == {"a": ["started"]}
    rc, result = run_module(tmp_path, "manual_services", dict(args, state="absent"))
    assert rc == 0 and not result["changed"]
    rc, result = run_module(tmp_path, "manual_services", args)
    assert rc == 1 and "not found" in result["msg"]
