# -*- coding: utf-8 -*-
"""molecule/_lib/alicia_molecule.py's shared helpers of the Molecule tests,
without Molecule: run_playbook (the command, the 0600 extra-vars file, the
environment; then a real ansible-playbook run on localhost), recap/recaps
(PLAY RECAP) and health_of (one /health read on a host, through health_by_port)."""

import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import threading

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "molecule", "_lib"))
import alicia_molecule  # noqa: E402
from alicia_molecule import health_of, recap, recaps, run_playbook, task_status  # noqa: E402

OUTPUT = """PLAY RECAP *********************************************************************
alicia-multihost-app1      : ok=12   changed=3    unreachable=0    failed=0    skipped=4    rescued=0    ignored=0
alicia-multihost-app2      : ok=7    changed=0    unreachable=1    failed=2    skipped=0    rescued=0    ignored=0
localhost                  : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


# ---- recap / recaps -----------------------------------------------------------------------

def test_recaps_reads_every_host_of_the_play_recap():
    assert recaps("TASK [x] ***\nok: [a]\n\n" + OUTPUT) == {
        "alicia-multihost-app1": {"ok": 12, "changed": 3, "unreachable": 0, "failed": 0},
        "alicia-multihost-app2": {"ok": 7, "changed": 0, "unreachable": 1, "failed": 2},
        "localhost": {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0},
    }
    assert recaps("PLAY [x]\nno recap here\n") == {}


def test_recap_of_a_host_and_of_the_only_host():
    assert recap(OUTPUT, "alicia-multihost-app2") == {"ok": 7, "changed": 0, "unreachable": 1, "failed": 2}
    assert recap("PLAY RECAP ***\nalicia-default : ok=5 changed=1 unreachable=0 failed=0 skipped=2\n") == {
        "ok": 5, "changed": 1, "unreachable": 0, "failed": 0}


def test_task_status_of_a_host_under_a_task():
    out = ("TASK [alicia.platform.service : Service | the canaries rolled first] ****\n"
           "changed: [app1]\nok: [app2]\n\n"
           "TASK [alicia.platform.service : Service | each canary watched at the balancer] ****\n"
           "skipping: [app2] => (item=b-1)\nchanged: [app1] => (item=a-1)\n\n"
           "TASK [alicia.platform.service : Service | the other instances rolled] ****\n"
           "skipping: [app2]\n\nPLAY RECAP ****\napp1 : ok=3\n")
    assert task_status(out, "the canaries rolled first", "app1") == "changed"
    assert task_status(out, "the canaries rolled first", "app2") == "ok"
    assert task_status(out, "each canary watched at the balancer", "app1") == "changed"
    assert task_status(out, "each canary watched at the balancer", "app2") == "skipping"
    # The host has no line under the task, or no such task.
    assert task_status(out, "the other instances rolled", "app1") is None
    assert task_status(out, "a task that did not run", "app1") is None


@pytest.mark.parametrize("host", ["alicia-multihost-app3", None])
def test_recap_fails_with_the_output_without_the_host_or_with_several(host):
    with pytest.raises(AssertionError) as info:
        recap(OUTPUT, host)
    assert "alicia-multihost-app1" in str(info.value)


# ---- run_playbook: the command it runs -------------------------------------------------------

class Recorder(object):
    """Stands in for subprocess.run: records the call, and the extra-vars file while it exists."""

    def __init__(self, output):
        self.output, self.calls = output, []

    def __call__(self, cmd, **kwargs):
        extra = None
        if "-e" in cmd:
            path = cmd[cmd.index("-e") + 1][1:]
            with open(path) as handle:
                extra = (path, stat.S_IMODE(os.stat(path).st_mode), json.load(handle))
        self.calls.append({"cmd": cmd, "extra": extra, **kwargs})
        return subprocess.CompletedProcess(cmd, 2, self.output)


def test_run_playbook_builds_the_command_with_a_0600_extra_vars_file(monkeypatch):
    fake = Recorder("\x1b[0;32mok: [localhost]\x1b[0m\n")
    monkeypatch.setattr(alicia_molecule.subprocess, "run", fake)
    monkeypatch.setenv("MOLECULE_INVENTORY_FILE", "/molecule/inventory.yml")
    rc, out = run_playbook("/p/site.yml", "--tags", "voice", extra_vars={"catalogue_secrets": {"a": "s3cret"}},
                           check=True)
    assert (rc, out) == (2, "ok: [localhost]\n")
    [call] = fake.calls
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    path, mode, data = call["extra"]
    assert call["cmd"] == [ansible_playbook, "-i", "/molecule/inventory.yml", "/p/site.yml", "--tags", "voice",
                           "--check", "-e", "@" + path]
    # The secret only in a 0600 file, never on the command line; the file is gone afterwards.
    assert mode == 0o600 and data == {"catalogue_secrets": {"a": "s3cret"}}
    assert not any("s3cret" in word for word in call["cmd"]) and not os.path.exists(path)
    assert (call["stdout"], call["stderr"], call["timeout"], call["check"]) == (
        subprocess.PIPE, subprocess.STDOUT, 900, False)
    env = call["env"]
    assert (env["ANSIBLE_NOCOLOR"], env["ANSIBLE_FORCE_COLOR"]) == ("1", "0")
    # The module counts go to a throwaway file beside the extra vars (module_count.json stays the idempotence run's).
    assert env["ALICIA_MODULE_COUNT_FILE"] == os.path.join(os.path.dirname(path), "module_count.json")


def test_run_playbook_inventory_count_file_environment_and_timeout(monkeypatch):
    fake = Recorder("")
    monkeypatch.setattr(alicia_molecule.subprocess, "run", fake)
    monkeypatch.setenv("MOLECULE_INVENTORY_FILE", "/molecule/inventory.yml")
    run_playbook("/p/a.yml", "/p/b.yml", inventory="/other/hosts.yml", count_file="/eph/count.json",
                 env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_NOCOLOR": "0"}, timeout=None)
    [call] = fake.calls
    assert call["cmd"][1:] == ["-i", "/other/hosts.yml", "/p/a.yml", "/p/b.yml"] and call["extra"] is None
    assert call["timeout"] is None
    env = call["env"]
    assert (env["ALICIA_MODULE_COUNT_FILE"], env["ANSIBLE_CALLBACK_RESULT_FORMAT"], env["ANSIBLE_NOCOLOR"]) == (
        "/eph/count.json", "json", "0")


# ---- run_playbook: a real ansible-playbook run --------------------------------------------------

PLAYBOOK = """---
- name: Probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Report the extra variable and check mode
      ansible.builtin.debug:
        msg: >-
          greeting={{ greeting }} check={{ ansible_check_mode }}
          counts={{ lookup('env', 'ALICIA_MODULE_COUNT_FILE') }}
      changed_when: true
"""


def test_run_playbook_runs_ansible_playbook_on_localhost(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", os.path.join(ROOT, ".cache", "ansible-tmp"))
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    counts = str(tmp_path / "counts.json")
    rc, out = run_playbook(str(playbook), "-c", "local", extra_vars={"greeting": "hello there"}, check=True,
                           inventory="localhost,", count_file=counts, timeout=120)
    assert rc == 0, out[-3000:]
    assert "greeting=hello there check=True counts=%s" % counts in out, out[-3000:]
    assert recap(out, "localhost") == {"ok": 1, "changed": 1, "unreachable": 0, "failed": 0}


# ---- health_of -------------------------------------------------------------------------------

class LocalNode(object):
    """What health_by_port asks of a testinfra host: check_output with quoted %s arguments, run here."""

    def check_output(self, command, *args):
        return subprocess.run(command % tuple(shlex.quote(str(a)) for a in args), shell=True, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout


class _Health(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        status, body = self.server.answer if self.path == "/health" else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def services():
    """port -> what its /health answers: healthy JSON, 503 with JSON, 200 without JSON; and a closed port."""
    answers = [(200, json.dumps({"status": "healthy", "version": "1.2.0"}).encode()),
               (503, json.dumps({"status": "starting"}).encode()), (200, b"<html>It works</html>")]
    servers = []
    for answer in answers:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
        server.answer, server.daemon_threads = answer, True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    yield [s.server_address[1] for s in servers] + [closed]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_health_of_is_the_json_of_a_port_or_none_while_it_does_not_answer_it(services):
    healthy, starting, not_json, closed = services
    node = LocalNode()
    assert health_of(node, healthy) == {"status": "healthy", "version": "1.2.0"}
    assert health_of(node, starting) is None
    assert health_of(node, not_json) is None
    assert health_of(node, closed) is None
