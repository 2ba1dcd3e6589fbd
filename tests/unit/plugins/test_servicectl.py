# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/service/files/alicia-servicectl (the manual runtime's control
script) run for real, as a subprocess, on a small HTTP service with /health:
start detached and healthy, a second start leaves it alone, status exit
codes, stop graceful (SIGTERM) or SIGKILL after stop_timeout, environment
file checks, required dependencies, a crashing service's log tail.

The switch to the service user is the real one: the tests run as root (as
the script does on a host), create a throwaway system user and group
(useradd; userdel at the end of the session) and the script calls the real
/usr/bin/setpriv; the service process is read back in /proc (uid, gid,
supplementary groups, no_new_privs, capabilities). The paths the role gives
(configuration and run directories) are the script's --config-dir and
--run-dir. The stop timeout's wait is tested in-process with a fake clock:
nothing asserts on wall-clock time."""

import importlib.machinery
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CTL = os.path.join(ROOT, "roles", "service", "files", "alicia-servicectl")
SETPRIV = "/usr/bin/setpriv"
# A supplementary group the calling root process carries: the service must not inherit it.
CALLER_EXTRA_GID = 4242

SERVICE = r"""
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
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_of(uid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat("/proc/" + entry).st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


class Account(object):
    """A throwaway system user with its own group (no home, nologin), made with useradd and removed
    with userdel. The control script runs as root on hosts, so its tests do too: anything else fails."""

    def __init__(self):
        assert os.geteuid() == 0, ("the alicia-servicectl tests run as root (the script does on hosts): they "
                                   "create a throwaway user and switch to it with the real setpriv")
        assert os.access(SETPRIV, os.X_OK), "%s is missing (util-linux)" % SETPRIV
        self.name = "alicia-ctl-%s" % uuid.uuid4().hex[:8]
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        self.name], check=True, capture_output=True)
        entry = pwd.getpwnam(self.name)
        self.group, self.uid, self.gid = self.name, entry.pw_uid, entry.pw_gid

    def remove(self):
        for pid in processes_of(self.uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["userdel", "--force", self.name], capture_output=True)
        subprocess.run(["groupdel", self.group], capture_output=True)


@pytest.fixture(scope="session")
def account():
    made = Account()
    yield made
    made.remove()


class Lab(object):
    """Configurations, environment files, logs and pid files under ``tmp`` (root's, as on a host);
    the service's code and working directory in a directory the service user can reach."""

    def __init__(self, tmp, account):
        self.tmp = tmp
        self.account = account
        self.conf = tmp / "conf"
        self.run_dir = tmp / "run"
        self.conf.mkdir()
        self.home = tempfile.mkdtemp(prefix="alicia-servicectl-")
        os.chmod(self.home, 0o755)
        self.script = os.path.join(self.home, "service.py")
        with open(self.script, "w") as handle:
            handle.write(SERVICE)
        os.chmod(self.script, 0o644)
        self.data = os.path.join(self.home, "data")
        os.mkdir(self.data, 0o750)
        os.chown(self.data, account.uid, account.gid)
        self.started = []

    def args(self):
        """The options the role's call would add for other directories."""
        return ["--config-dir", str(self.conf), "--run-dir", str(self.run_dir)]

    def add(self, name, env=None, **config):
        port = free_port()
        values = dict({"SERVICE_PORT": str(port)}, **(env or {}))
        env_file = self.tmp / (name + ".env")
        env_file.write_text("# managed\n" + "".join('%s="%s"\n' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                                                  for k, v in sorted(values.items())))
        env_file.chmod(0o640)
        data = {"command": ["/usr/bin/python3", self.script], "user": self.account.name,
                "group": self.account.group, "directory": self.data, "env_file": str(env_file),
                "log": str(self.tmp / (name + ".log")), "pid_file": str(self.run_dir / (name + ".pid")),
                "health": {"url": "http://127.0.0.1:%d/health" % port, "json_field": "status",
                           "json_value": "healthy", "timeout": 2},
                "start_timeout": 10, "stop_timeout": 5, "restart_delay": 0, "max_restarts": 0, "requires": []}
        data.update(config)
        (self.conf / (name + ".json")).write_text(json.dumps(data))
        self.started.append(name)
        return data

    def ctl(self, name, verb):
        # The caller is root with an extra supplementary group, which the service must not keep.
        proc = subprocess.run([CTL, name, verb, "--json"] + self.args(), capture_output=True, text=True,
                              timeout=60, extra_groups=[0, CALLER_EXTRA_GID])
        return proc.returncode, json.loads(proc.stdout)

    def cleanup(self):
        for name in self.started:
            try:
                pid = int((self.run_dir / (name + ".pid")).read_text())
                os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.home, ignore_errors=True)


def gone(pid):
    """No such process, or a zombie waiting for its new parent to reap it."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_gone(pid, polls=200):
    """Poll (bounded by count) until ``pid`` is gone; whether it went."""
    for _ in range(polls):
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


def proc_status(pid):
    """/proc/<pid>/status as {field: value}."""
    with open("/proc/%d/status" % pid) as handle:
        return dict(line.split(":", 1)[0:2] for line in handle.read().splitlines() if ":" in line)


@pytest.fixture
def lab(tmp_path, account):
    lab = Lab(tmp_path, account)
    yield lab
    lab.cleanup()


def test_the_service_runs_as_its_user_without_extra_groups_or_new_privileges(lab, account):
    lab.add("svc")
    rc, result = lab.ctl("svc", "start")
    assert rc == 0 and result["action"] == "started", result
    status = proc_status(result["pid"])
    # setpriv exec'd the command: the pid the script recorded is the service's own process.
    assert "service.py" in open("/proc/%d/cmdline" % result["pid"]).read()
    # Real, effective, saved and filesystem ids: the service user's and group's.
    assert status["Uid"].split() == [str(account.uid)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(account.gid)] * 4, status["Gid"]
    # Supplementary groups: the user's own (initgroups), none of the caller's (0, CALLER_EXTRA_GID).
    assert status["Groups"].split() == [str(account.gid)], status["Groups"]
    assert status["NoNewPrivs"].strip() == "1"
    for caps in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(status[caps], 16) == 0, (caps, status[caps])
    # The process cannot gain root back: it cannot signal a root process.
    assert account.uid != 0 and status["Uid"].split()[0] != "0"


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
    assert "SIGTERM received: stopping" in open(data["log"]).read()
    assert not (lab.run_dir / "svc.pid").exists() and gone(pid)
    rc, status = lab.ctl("svc", "status")
    assert rc == 3 and not status["running"]
    rc, again = lab.ctl("svc", "stop")
    assert rc == 0 and again["action"] == "none"


def test_sigterm_ignored_killed_after_stop_timeout(lab):
    data = lab.add("stubborn", env={"IGNORE_TERM": "1"}, stop_timeout=1)
    pid = lab.ctl("stubborn", "start")[1]["pid"]
    rc, stopped = lab.ctl("stubborn", "stop")
    assert rc == 0 and stopped["action"] == "stopped" and stopped["graceful"] is False, stopped
    assert "killed (SIGKILL) after 1 s" in stopped["message"]
    assert "SIGTERM received" not in open(data["log"]).read()
    assert wait_gone(pid) and not (lab.run_dir / "stubborn.pid").exists()


# ---- the stop timeout, with a fake clock ------------------------------------------

def load_ctl():
    """The control script as a module (its file has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("alicia_servicectl", CTL)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class FakeClock(object):
    """time for the script: monotonic() reads it, sleep() moves it on and counts."""

    def __init__(self):
        self.now, self.sleeps = 0.0, 0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.sleeps += 1


class FakeProcess(object):
    """A process group that dies at SIGKILL, or after ``lives`` polls following SIGTERM (None: never)."""

    def __init__(self, clock, lives=None):
        self.clock, self.lives, self.polls, self.signals, self.dead = clock, lives, 0, [], False

    def killpg(self, pid, signum):
        self.signals.append((signum, self.clock.now))
        if signum == signal.SIGKILL:
            self.dead = True

    def alive(self, pid, config=None):
        self.polls += 1
        if self.lives is not None and self.polls > self.lives:
            self.dead = True
        return not self.dead


@pytest.fixture
def fake(monkeypatch):
    ctl = load_ctl()
    clock = FakeClock()

    def make(lives=None):
        process = FakeProcess(clock, lives)
        monkeypatch.setattr(ctl, "time", clock)
        monkeypatch.setattr(ctl, "alive", process.alive)
        monkeypatch.setattr(ctl, "_reap", lambda pid: None)
        monkeypatch.setattr(ctl, "os", type("FakeOs", (), {"killpg": staticmethod(process.killpg),
                                                           "kill": staticmethod(process.killpg)}))
        return ctl, clock, process
    return make


def test_terminate_sigkills_after_the_stop_timeout_fake_clock(fake):
    ctl, clock, process = fake(lives=None)
    graceful, seconds = ctl._terminate(4321, 1.5)
    assert graceful is False
    # SIGTERM at once; SIGKILL once the 1.5 s have passed: 15 polls 0.1 s apart (plus one poll
    # that sees the SIGKILLed process gone), not before and not a poll later.
    assert [signum for signum, _ in process.signals] == [signal.SIGTERM, signal.SIGKILL], process.signals
    assert process.signals[0][1] == 0.0 and process.signals[1][1] == pytest.approx(1.5), process.signals
    assert clock.sleeps == 15 and process.polls == 16
    assert seconds == pytest.approx(1.5)


def test_terminate_returns_as_soon_as_the_process_is_gone_fake_clock(fake):
    ctl, clock, process = fake(lives=3)
    graceful, seconds = ctl._terminate(4321, 15)
    assert graceful is True and process.signals == [(signal.SIGTERM, 0.0)]
    assert clock.sleeps == 3 and process.polls == 4 and seconds == pytest.approx(0.3)


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
    assert wait_gone(pid)
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
    for args in (["Bad-Name", "start"], ["svc", "reload"], ["svc", "start", "--config-dir"],
                 ["svc", "start", "--config-dir", "relative"], ["svc", "start", "--setpriv", "/bin/true"]):
        proc = subprocess.run([CTL] + args, capture_output=True, text=True)
        assert proc.returncode == 2 and "usage" in proc.stderr, args
    assert stat.S_IMODE(os.stat(CTL).st_mode) & 0o111


def test_no_test_switch_in_the_environment():
    """The shipped script reads no environment variable of its own: the paths are options, setpriv fixed."""
    text = open(CTL).read()
    assert "os.environ" not in text and "getenv" not in text and "ALICIA_SERVICECTL" not in text
    assert 'SETPRIV = "/usr/bin/setpriv"' in text


def test_a_symlink_planted_in_the_run_dir_or_log_path_is_never_written_through(lab, account, tmp_path):
    """The run directory (and log directory) may be the service user's: root must not follow its links."""
    data = lab.add("svc")
    lab.run_dir.mkdir(exist_ok=True)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    # The service user plants links where root writes the pid file's temporary name and the log.
    os.symlink(str(victim), str(lab.run_dir / "svc.pid.tmp"))
    rc, result = lab.ctl("svc", "start")
    assert rc == 0 and result["action"] == "started", result
    assert victim.read_text() == "root's file\n"
    assert int((lab.run_dir / "svc.pid").read_text()) == result["pid"]
    assert not os.path.islink(str(lab.run_dir / "svc.pid"))
    lab.ctl("svc", "stop")
    os.unlink(data["log"])
    os.symlink(str(victim), data["log"])
    rc, result = lab.ctl("svc", "start")
    assert rc != 0 and result["failed"] and "cannot open the log" in result["message"], result
    assert victim.read_text() == "root's file\n"


def test_a_pid_file_the_service_user_wrote_is_not_trusted(lab, account):
    """A pid the service user wrote into the pid file is never signalled as root."""
    lab.add("svc", command=["/bin/sleep", "300"])
    lab.run_dir.mkdir(exist_ok=True)
    # A root process that is not the service, running the configured command line.
    bystander = subprocess.Popen(["/bin/sleep", "300"], start_new_session=True)
    try:
        pid_file = lab.run_dir / "svc.pid"
        pid_file.write_text("%d\n" % bystander.pid)
        os.chown(str(pid_file), account.uid, account.gid)
        rc, result = lab.ctl("svc", "stop")
        assert rc == 0 and result["action"] in ("none", "cleaned"), result
        assert bystander.poll() is None, "the bystander was signalled"
        # The same pid file written by root is ours: then stop signals it (the positive control).
        pid_file.write_text("%d\n" % bystander.pid)
        os.chown(str(pid_file), 0, 0)
        rc, result = lab.ctl("svc", "stop")
        assert rc == 0 and result["action"] == "stopped", result
        assert wait_gone(bystander.pid)
    finally:
        if bystander.poll() is None:
            bystander.kill()
        bystander.wait()
