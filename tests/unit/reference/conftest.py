# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the reference service tests (roles/service/files/alicia_reference_service.py).

- ``bus``: a fresh Mosquitto per test on 127.0.0.1 whose users and ACLs are
  generated from the shipped catalogue the way the broker role's acl.j2 does
  (publish -> write, subscribe -> read, both -> readwrite), plus an ``admin``
  that may read and write everything. It can be stopped and started again on
  the same port. Fresh per test, so no retained message leaks between tests.
- ``python``: the interpreters the service runs under: the controller's
  venv (paho-mqtt 2.x) and /usr/bin/python3 with Debian's python3-paho-mqtt
  1.6 (what Debian 12 targets have).
- ``start_service``: the service as a subprocess with a clean environment,
  stdout and stderr in files (like systemd's append: logs); killed at teardown.
- ``watch``: an MQTT subscriber (admin, paho 2.x in-process) that records
  messages.

The helpers of tests/unit/conftest.py (free_port, wait_port, the Mosquitto
binaries, the catalogue module) are loaded from that file by path: pytest
imports every conftest.py as the module ``conftest``, so it cannot be
imported by name from here. Its fixtures (shipped, the resolved catalogue...) are shared
by pytest as usual.
"""

import getpass
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("alicia_unit_conftest",
                                               os.path.join(os.path.dirname(HERE), "conftest.py"))
unit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unit)

ROOT = unit.ROOT
SCRIPT = os.path.join(ROOT, "roles", "service", "files", "alicia_reference_service.py")
SYSTEM_PYTHON = "/usr/bin/python3"
ADMIN = ("admin", "admin-secret")
DEADLINE = 10.0  # seconds any single wait may take before the test fails


def password_for(name):
    return "%s-secret" % name


def wait_until(predicate, timeout=DEADLINE, what="the condition", interval=0.02):
    """Poll ``predicate`` until it returns something truthy; return it. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timeout after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Mosquitto with the catalogue's users and ACLs
# ---------------------------------------------------------------------------

# The broker role's default broker_registry_readers.
REGISTRY_READERS = ("discovery_service", "health_monitor")


def catalogue_acl(resolved):
    """Mosquitto ACL lines as the broker role's acl.j2 renders them from the catalogue (and its registry lines)."""
    lines = ["user %s" % ADMIN[0], "topic readwrite #", ""]
    for name, entry in resolved.items():
        if not entry.get("mqtt"):
            continue
        publish, subscribe = entry["mqtt"]["publish"], entry["mqtt"]["subscribe"]
        lines.append("user %s" % entry["mqtt"]["username"])
        lines += ["topic %s %s" % ("readwrite" if topic in subscribe else "write", topic) for topic in publish]
        lines += ["topic read %s" % topic for topic in subscribe if topic not in publish]
        # The registry: each service writes its instances' entries, the registry readers read them all.
        lines.append("topic write alicia/registry/%s/#" % name)
        if name in REGISTRY_READERS:
            lines.append("topic read alicia/registry/#")
        lines.append("")
    return "\n".join(lines)


_AUTH = {}


@pytest.fixture
def bus_auth(tmp_path_factory, shipped):
    """Password file and ACL for every service of the shipped catalogue (``shipped``, the resolved
    catalogue of tests/unit/conftest.py; password '<name>-secret') and admin. Built once."""
    if not _AUTH:
        directory = str(tmp_path_factory.mktemp("reference-bus-auth"))
        users = dict((e["mqtt"]["username"], password_for(n)) for n, e in shipped.items() if e.get("mqtt"))
        users[ADMIN[0]] = ADMIN[1]
        passwd, acl = os.path.join(directory, "passwd"), os.path.join(directory, "acl")
        # mosquitto_passwd -U hashes a whole file of user:password lines at once.
        with open(passwd, "w") as handle:
            handle.write("".join("%s:%s\n" % item for item in sorted(users.items())))
        subprocess.run([unit.MOSQUITTO_PASSWD, "-U", passwd], check=True, capture_output=True)
        with open(acl, "w") as handle:
            handle.write(catalogue_acl(shipped))
        _AUTH.update({"passwd": passwd, "acl": acl, "users": users})
    return _AUTH


class Bus(object):
    """A Mosquitto that can be stopped and started again on the same port."""

    def __init__(self, directory, auth):
        self.directory = directory
        self.port = unit.free_port()
        self.users = auth["users"]
        self.conf = os.path.join(directory, "mosquitto.conf")
        with open(self.conf, "w") as handle:
            handle.write("\n".join([
                "user %s" % getpass.getuser(),
                "per_listener_settings false",
                "allow_anonymous false",
                "password_file %s" % auth["passwd"],
                "acl_file %s" % auth["acl"],
                "persistence false",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "listener %d 127.0.0.1" % self.port,
                "",
            ]))
        self.proc = None
        self.log = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.directory, "mosquitto.log"), "a")
        self.proc = subprocess.Popen([unit.MOSQUITTO, "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        unit.wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def bus(tmp_path, bus_auth):
    directory = tmp_path / "bus"
    directory.mkdir()
    instance = Bus(str(directory), bus_auth)
    yield instance
    instance.stop()


# ---------------------------------------------------------------------------
# The interpreters
# ---------------------------------------------------------------------------

def _paho_version(python):
    proc = subprocess.run([python, "-c", "import paho.mqtt; print(paho.mqtt.__version__)"], capture_output=True,
                          text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


# (interpreter, the paho-mqtt major version it must have): the controller's
# venv (requirements.txt pins 2.x) and Debian's python3-paho-mqtt 1.6 in
# /usr/bin/python3, as on lab targets. `make setup` and scripts/unit.sh
# install the Debian package (scripts/host-tools.sh).
PYTHONS = [
    pytest.param((sys.executable, "2"), id="venv-paho2"),
    pytest.param((SYSTEM_PYTHON, "1"), id="debian-paho16"),
]


@pytest.fixture(scope="session", params=PYTHONS)
def python(request):
    """(interpreter, paho version). Fails, never skips, when the interpreter has no paho-mqtt or another
    major version than its variant's: a variant that did not run would pass for one that works."""
    interpreter, major = request.param
    version = _paho_version(interpreter)
    if version is None:
        pytest.fail("%s has no paho-mqtt: the paho %s.x variant cannot run (Debian: python3-paho-mqtt, which "
                    "scripts/host-tools.sh installs; `make setup` and scripts/unit.sh run it)" % (interpreter, major),
                    pytrace=False)
    if version.split(".")[0] != major:
        pytest.fail("%s has paho-mqtt %s: this variant needs %s.x" % (interpreter, version, major), pytrace=False)
    return interpreter, version


# ---------------------------------------------------------------------------
# The service as a process
# ---------------------------------------------------------------------------

class Service(object):
    def __init__(self, python, env, directory):
        self.env = env
        self.name = env.get("SERVICE_NAME")
        self.port = int(env["SERVICE_PORT"]) if str(env.get("SERVICE_PORT", "")).isdigit() else None
        self.log_path = os.path.join(directory, "stdout.log")
        self.err_path = os.path.join(directory, "stderr.log")
        with open(self.log_path, "ab") as out, open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen([python, SCRIPT], env=env, stdout=out, stderr=err, cwd=directory,
                                         stdin=subprocess.DEVNULL)

    # -- process -------------------------------------------------------
    @property
    def running(self):
        return self.proc.poll() is None

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait_exit(self, timeout=DEADLINE):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("the service did not exit within %.0f s; log:\n%s" % (timeout, self.log()[-3000:]))

    def kill(self):
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def wait_log(self, text, count=1, timeout=DEADLINE):
        return wait_until(lambda: self.log().count(text) >= count, timeout,
                          "%d log line(s) with %r; log:\n%s" % (count, text, self.log()[-2000:]))

    # -- HTTP ----------------------------------------------------------
    def request(self, path, method="GET"):
        """(status, headers, body text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, dict((k.lower(), v) for k, v in response.getheaders()), \
                response.read().decode("utf-8")
        finally:
            conn.close()

    def get_json(self, path):
        status, headers, body = self.request(path)
        assert headers["content-type"] == "application/json", headers
        return status, json.loads(body)

    def listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait_listening(self, timeout=DEADLINE):
        def ready():
            if not self.running:
                raise AssertionError("the service exited with %s; stderr: %s; log:\n%s"
                                     % (self.proc.returncode, self.stderr(), self.log()[-2000:]))
            return self.listening()
        wait_until(ready, timeout, "the service to listen on port %s" % self.port)

    def wait_health(self, status="healthy", timeout=DEADLINE):
        """Wait until /health says ``status``; return the document."""
        self.wait_listening(timeout)

        def probe():
            code, document = self.get_json("/health")
            assert code == 200, (code, document)
            return document if document["status"] == status else None
        return wait_until(probe, timeout, "/health to say %s; log:\n%s" % (status, self.log()[-2000:]))

    def metrics(self):
        """{(name, frozenset(labels)): value} of a /metrics scrape, checking the text format."""
        status, headers, body = self.request("/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        return parse_metrics(body)


def parse_metrics(text):
    """Parse the Prometheus text format strictly enough to catch malformed output."""
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
    typed, helped, samples = {}, set(), {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split()
            assert kind in ("counter", "gauge"), line
            typed[name] = kind
        else:
            match = sample.match(line)
            assert match, "not a Prometheus sample line: %r" % line
            name, labels, value = match.groups()
            assert name in typed and name in helped, "%s has no # TYPE/# HELP" % name
            if typed[name] == "counter":
                assert name.endswith("_total"), name
            samples[(name, frozenset(label.findall(labels)))] = float(value)
    return samples


@pytest.fixture
def start_service(python, tmp_path, request):
    """start_service(name="stt_service", **env) -> Service; env values of None remove the variable.
    MQTT_PORT defaults to the ``bus`` fixture's broker, started only then."""
    started = []

    def _start(name="stt_service", **env):
        port = env["MQTT_PORT"] if "MQTT_PORT" in env else request.getfixturevalue("bus").port
        full = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "SERVICE_NAME": name,
            "SERVICE_PORT": str(unit.free_port()),
            "SERVICE_VERSION": "1.2.3",
            "ENVIRONMENT": "test",
            "SERVICE_BIND": "127.0.0.1",
            "MQTT_BROKER": "127.0.0.1",
            "MQTT_PORT": str(port),
            "MQTT_USERNAME": name,
            "MQTT_PASSWORD": password_for(name),
            "MQTT_RECONNECT_MAX_DELAY": "1",
        }
        for key, value in env.items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = str(value)
        directory = tmp_path / ("service-%d" % len(started))
        directory.mkdir()
        service = Service(python[0], full, str(directory))
        started.append(service)
        return service

    yield _start
    for service in started:
        service.kill()


# ---------------------------------------------------------------------------
# An MQTT subscriber
# ---------------------------------------------------------------------------

class Watcher(object):
    """Subscribes (as admin) and records (topic, payload text, retain) tuples."""

    def __init__(self, port, topics, user=ADMIN[0], password=ADMIN[1]):
        self.messages = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda client, *_a: client.subscribe([(topic, 1) for topic in topics])
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self.subscribed.wait(DEADLINE):
            raise AssertionError("the watcher could not subscribe to %s" % topics)

    def _on_message(self, _client, _userdata, message):
        with self.cond:
            self.messages.append((message.topic, message.payload.decode("utf-8", "replace"), bool(message.retain)))
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.messages)

    def wait(self, topic, payload=None, since=0, timeout=DEADLINE, check=None):
        """The first message on ``topic`` (with ``payload``, or passing ``check``) at index >= ``since``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(since, len(self.messages)):
                    message = self.messages[index]
                    if message[0] == topic and (payload is None or message[1] == payload) \
                            and (check is None or check(message)):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no message %r on %s within %.0f s; got %r"
                                         % (payload, topic, timeout, self.messages[-10:]))
                self.cond.wait(remaining)

    def wait_count(self, topic, count, timeout=DEADLINE):
        """The first ``count`` messages on ``topic``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.messages if m[0] == topic]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("%d of %d messages on %s within %.0f s" % (len(found), count, topic, timeout))
                self.cond.wait(remaining)

    def on(self, topic):
        with self.cond:
            return [m for m in self.messages if m[0] == topic]

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1).wait_for_publish(DEADLINE)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def watch(bus):
    """watch(*topics) -> Watcher subscribed to them on ``bus``; closed at teardown."""
    watchers = []

    def _watch(*topics):
        watcher = Watcher(bus.port, list(topics))
        watchers.append(watcher)
        return watcher

    yield _watch
    for watcher in watchers:
        try:
            watcher.close()
        except Exception:  # pylint: disable=broad-except
            pass
