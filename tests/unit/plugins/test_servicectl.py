# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/service/files/alicia-servicectl (the manual runtime's control
script) run for real, as a subprocess, on a small HTTP service with /health:
start detached and healthy, a second start leaves it alone, status exit
codes, stop graceful (SIGTERM) or SIGKILL after stop_timeout, environment
file checks, required dependencies, a crashing service's log tail. setpriv
is a stand-in that drops its options (the tests do not run as root)."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CTL = os.path.join(ROOT, "roles", "service", "files", "alicia-servicectl")

SERVICE = r'''
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(os.environ["SERVICE_PORT"])
if os.environ.get("CRASH"):
    print("fatal: cannot start", flush=True)
    sys.exit(3)
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    def stop(signum, frame):
        print("SIGTERM received: stopping", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": os.environ.get("STATUS", "healthy"), "tricky": os.environ.get("TRICKY")}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
time.sleep(float(os.environ.get("DELAY", "0")))
print("listening on %d" % port, flush=True)
HTTPServer(("127.0.0.1", port), H).serve_forever()
'''

SETPRIV = "#!/bin/sh\n# stand-in: drop setpriv's options\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift\nexec \"$@\"\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab(object):
    def __init__(self, tmp):
        self.tmp = tmp
        self.conf = tmp / "conf"
        self.run_dir = tmp / "run"
        self.conf.mkdir()
        (tmp / "service.py").write_text(SERVICE)
        setpriv = tmp / "setpriv"
        setpriv.write_text(SETPRIV)
        setpriv.chmod(0o755)
        self.env = dict(os.environ, ALICIA_SERVICECTL_CONFIG_DIR=str(self.conf),
                        ALICIA_SERVICECTL_RUN_DIR=str(self.run_dir), ALICIA_SERVICECTL_SETPRIV=str(setpriv))
        self.started = []

    def add(self, name, env=None, **config):
        port = free_port()
        values = dict({"SERVICE_PORT": str(port)}, **(env or {}))
        env_file = self.tmp / (name + ".env")
        env_file.write_text("# managed\n" + "".join('%s="%s"\n' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                                                  for k, v in sorted(values.items())))
        env_file.chmod(0o640)
        data = {"command": [sys.executable, str(self.tmp / "service.py")], "user": "alicia", "group": "alicia",
                "directory": str(self.tmp), "env_file": str(env_file), "log": str(self.tmp / (name + ".log")),
                "pid_file": str(self.run_dir / (name + ".pid")),
                "health": {"url": "http://127.0.0.1:%d/health" % port, "json_field": "status",
                           "json_value": "healthy", "timeout": 2},
                "start_timeout": 10, "stop_timeout": 5, "restart_delay": 0, "max_restarts": 0, "requires": []}
        data.update(config)
        (self.conf / (name + ".json")).write_text(json.dumps(data))
        self.started.append(name)
        return data

    def ctl(self, name, verb):
        proc = subprocess.run([sys.executable, CTL, name, verb, "--json"], capture_output=True, text=True,
                              env=self.env, timeout=60)
        return proc.returncode, json.loads(proc.stdout)

    def cleanup(self):
        for name in self.started:
            try:
                pid = int((self.run_dir / (name + ".pid")).read_text())
                os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass


def gone(pid):
    """No such process, or a zombie waiting for its new parent to reap it."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    yield lab
    lab.cleanup()


def test_start_status_stop_graceful(lab):
    data = lab.add("svc", env={"TRICKY": 'say "hi", \\ $HOME %h'})
    rc, result = lab.ctl("svc", "start")
    assert rc == 0 and result["action"] == "started" and result["healthy"], result
    pid = result["pid"]
    assert int((lab.run_dir / "svc.pid").read_text()) == pid
    # Detached: its own session.
    assert os.getsid(pid) == pid
    rc, again = lab.ctl("svc", "start")
    assert rc == 0 and again["action"] == "none" and again["pid"] == pid
    rc, status = lab.ctl("svc", "status")
    assert rc == 0 and status["running"] and status["healthy"] and status["health"]["tricky"] == 'say "hi", \\ $HOME %h'
    rc, stopped = lab.ctl("svc", "stop")
    assert rc == 0 and stopped["action"] == "stopped" and stopped["graceful"] is True
    assert stopped["seconds"] < data["stop_timeout"]
    assert "SIGTERM received: stopping" in open(data["log"]).read()
    assert not (lab.run_dir / "svc.pid").exists() and gone(pid)
    rc, status = lab.ctl("svc", "status")
    assert rc == 3 and not status["running"]
    rc, again = lab.ctl("svc", "stop")
    assert rc == 0 and again["action"] == "none"


def test_sigterm_ignored_killed_after_stop_timeout(lab):
    lab.add("stubborn", env={"IGNORE_TERM": "1"}, stop_timeout=1)
    assert lab.ctl("stubborn", "start")[0] == 0
    rc, stopped = lab.ctl("stubborn", "stop")
    assert rc == 0 and stopped["graceful"] is False and 1 <= stopped["seconds"] < 5, stopped


def test_restart_gives_a_new_pid(lab):
    lab.add("svc")
    pid = lab.ctl("svc", "start")[1]["pid"]
    rc, result = lab.ctl("svc", "restart")
    assert rc == 0 and result["action"] == "restarted" and result["pid"] != pid


def test_unhealthy_running_instance_is_status_1(lab):
    lab.add("sick", env={"STATUS": "degraded"}, start_timeout=1)
    rc, result = lab.ctl("sick", "start")
    assert rc == 1 and "not healthy within 1 s" in result["message"]
    assert not (lab.run_dir / "sick.pid").exists()


def test_crash_fails_with_the_log_tail_after_max_restarts(lab):
    lab.add("crash", env={"CRASH": "1"}, max_restarts=2)
    rc, result = lab.ctl("crash", "start")
    assert rc == 1 and result["failed"]
    assert "exited with code 3 (after 3 starts)" in result["message"]
    assert result["message"].count("fatal: cannot start") == 3


def test_environment_file_readable_by_others_refused(lab):
    data = lab.add("svc")
    os.chmod(data["env_file"], 0o644)
    rc, result = lab.ctl("svc", "start")
    assert rc == 1 and "mode 0644 lets others read it" in result["message"]


def test_environment_file_bad_line_named_without_value(lab):
    data = lab.add("svc")
    with open(data["env_file"], "a") as handle:
        handle.write("PASSWORD=unquoted-secret\n")
    rc, result = lab.ctl("svc", "start")
    assert rc == 1 and "line 3 is not NAME=\"value\"" in result["message"]
    assert "unquoted-secret" not in result["message"]


def test_required_dependency_must_be_healthy(lab):
    dep = lab.add("dep")
    lab.add("svc", requires=[dict(dep["health"], name="dep")])
    rc, result = lab.ctl("svc", "start")
    assert rc == 1 and "required dependency dep is not healthy" in result["message"]
    assert lab.ctl("dep", "start")[0] == 0
    assert lab.ctl("svc", "start")[0] == 0


def test_killed_instance_is_not_restarted_and_stale_pid_cleaned(lab):
    lab.add("svc")
    pid = lab.ctl("svc", "start")[1]["pid"]
    os.killpg(pid, signal.SIGKILL)
    time.sleep(0.3)
    rc, status = lab.ctl("svc", "status")
    assert rc == 3 and not status["running"]
    rc, result = lab.ctl("svc", "start")
    assert rc == 0 and result["action"] == "started" and result["pid"] != pid


def test_stop_without_configuration_uses_the_default_pid_file(lab):
    lab.add("svc")
    pid = lab.ctl("svc", "start")[1]["pid"]
    os.unlink(str(lab.conf / "svc.json"))
    # The default pid file is RUN_DIR/<name>.pid, where the test put it.
    rc, result = lab.ctl("svc", "stop")
    assert rc == 0 and result["action"] == "stopped"
    assert gone(pid)


def test_usage():
    proc = subprocess.run([sys.executable, CTL, "Bad-Name", "start"], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
    assert stat.S_IMODE(os.stat(CTL).st_mode) & 0o111
