# -*- coding: utf-8 -*-
"""Shared fixtures for the unit tests of alicia.platform.

The checkout resolves as the collection through .collections (see
ansible.cfg); put it on sys.path so tests import
``ansible_collections.alicia.platform...`` like Ansible does.
Servers (HTTP, Mosquitto) are real processes or threads on 127.0.0.1.
"""

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("the server exited with code %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0f s" % (port, timeout))


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def catalogue_defaults():
    with open(os.path.join(ROOT, "roles/catalogue/defaults/main.yml")) as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def resolve(catalogue_defaults):
    """resolve(overrides=None, services=None) with the shipped defaults."""
    d = catalogue_defaults

    def _resolve(overrides=None, services=None):
        return cat.resolve(services if services is not None else d["catalogue_services"], overrides=overrides,
                           defaults=d["catalogue_service_defaults"], environment=d["catalogue_environment"],
                           phases=d["catalogue_phases"], broker=d["catalogue_broker"])
    return _resolve


@pytest.fixture
def shipped(resolve):
    return resolve()


# ---------------------------------------------------------------------------
# HTTP health servers
# ---------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """Behaviour by path; see HealthServer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):  # keep pytest output clean
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server API)
        server = self.server
        path = self.path.split("?")[0]
        with server.lock:
            server.hits[path] = server.hits.get(path, 0) + 1
            first = server.first_seen.setdefault(path, time.monotonic())
        if path == "/healthy":
            self._send(200, json.dumps({"status": "healthy", "version": "1.0.0"}))
        elif path == "/unhealthy":
            self._send(503, json.dumps({"status": "starting", "detail": "database not ready"}))
        elif path == "/slow":
            time.sleep(2.0)
            self._send(200, json.dumps({"status": "healthy"}))
        elif path.startswith("/delayed/"):
            after = float(path.rsplit("/", 1)[1])
            if time.monotonic() - first >= after:
                self._send(200, json.dumps({"status": "healthy"}))
            else:
                self._send(503, json.dumps({"status": "starting"}))
        elif path.startswith("/together/"):
            # Healthy only when N requests of this path are in flight at once: a
            # concurrency check that needs no clock (a serial client breaks the barrier).
            with server.lock:
                barrier = server.barriers.setdefault(path, threading.Barrier(int(path.rsplit("/", 1)[1]), timeout=10))
            try:
                barrier.wait()
                self._send(200, json.dumps({"status": "healthy"}))
            except threading.BrokenBarrierError:
                self._send(503, json.dumps({"status": "not concurrent"}))
        elif path == "/notjson":
            self._send(200, "<html><body>It works</body></html>", "text/html")
        elif path == "/wrong":
            self._send(200, json.dumps({"status": "degraded", "checks": {"mqtt": "down"}}))
        elif path == "/nested":
            self._send(200, json.dumps({"checks": {"mqtt": "ok", "ready": True}}))
        elif path == "/created":
            self._send(201, json.dumps({"status": "healthy"}))
        else:
            self._send(404, json.dumps({"error": "no such path"}))


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many probes connect at once
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A probe that timed out closed its end: not an error of the test server.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class HealthServer(object):
    def __init__(self):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.lock = threading.Lock()
        self.httpd.hits = {}
        self.httpd.first_seen = {}
        self.httpd.barriers = {}
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def hits(self, path):
        return self.httpd.hits.get(path, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    server = HealthServer()
    yield server
    server.close()


@pytest.fixture
def refused_port():
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


# ---------------------------------------------------------------------------
# Mosquitto
# ---------------------------------------------------------------------------

BROKER_USERS = {
    # user: (password, ACL lines)
    "stt_service": ("stt-secret", ["topic readwrite alicia/stt_service/#"]),
    "readonly": ("ro-secret", ["topic read alicia/readonly/#"]),
}


def _make_tls(directory):
    """A throwaway CA and a server certificate for 127.0.0.1, and a second, unrelated CA."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(path, private):
        with open(path, "wb") as handle:
            handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))

    def write_cert(path, cert):
        with open(path, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))

    def ca(name):
        private = key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(private.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False)
                .sign(private, hashes.SHA256()))
        return private, cert

    ca_key, ca_cert = ca("alicia test CA")
    _other_key, other_cert = ca("unrelated CA")
    server_key = key()
    server_cert = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
                   .issuer_name(ca_cert.subject).public_key(server_key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                               x509.DNSName("localhost")]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False)
                   .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    paths = dict((n, os.path.join(directory, n + ".pem")) for n in ("ca", "other_ca", "server", "server_key"))
    write_cert(paths["ca"], ca_cert)
    write_cert(paths["other_ca"], other_cert)
    write_cert(paths["server"], server_cert)
    write_key(paths["server_key"], server_key)
    return paths


class Broker(object):
    def __init__(self, directory):
        if not os.path.exists(MOSQUITTO):
            raise RuntimeError("mosquitto is not installed: run scripts/host-tools.sh")
        self.directory = directory
        self.port = free_port()
        self.tls_port = free_port()
        self.users = dict((user, spec[0]) for user, spec in BROKER_USERS.items())
        passwd = os.path.join(directory, "passwd")
        acl = os.path.join(directory, "acl")
        for i, (user, (password, _lines)) in enumerate(sorted(BROKER_USERS.items())):
            args = [MOSQUITTO_PASSWD, "-b"] + (["-c"] if i == 0 else []) + [passwd, user, password]
            subprocess.run(args, check=True, capture_output=True)
        with open(acl, "w") as handle:
            for user, (_password, lines) in sorted(BROKER_USERS.items()):
                handle.write("user %s\n%s\n\n" % (user, "\n".join(lines)))
        self.tls = _make_tls(directory)
        conf = os.path.join(directory, "mosquitto.conf")
        with open(conf, "w") as handle:
            handle.write("\n".join([
                # Started as root, mosquitto drops to the `mosquitto` user, which
                # cannot read pytest's private temporary directory: stay as is.
                "user %s" % getpass.getuser(),
                "per_listener_settings false",
                "allow_anonymous false",
                "password_file %s" % passwd,
                "acl_file %s" % acl,
                "persistence false",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "listener %d 127.0.0.1" % self.port,
                "listener %d 127.0.0.1" % self.tls_port,
                "cafile %s" % self.tls["ca"],
                "certfile %s" % self.tls["server"],
                "keyfile %s" % self.tls["server_key"],
                "",
            ]))
        self.log = open(os.path.join(directory, "mosquitto.log"), "w")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, proc=self.proc)
            wait_port(self.tls_port, proc=self.proc)
        except RuntimeError as exc:
            self.stop()
            with open(os.path.join(directory, "mosquitto.log")) as handle:
                raise RuntimeError("mosquitto did not start (%s):\n%s" % (exc, handle.read()[-2000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    instance = Broker(str(tmp_path_factory.mktemp("mosquitto")))
    yield instance
    instance.stop()


# ---------------------------------------------------------------------------
# Role variables and templates rendered by Ansible's own templar
# ---------------------------------------------------------------------------

TEMPLAR_SCRIPT = r"""
import json, sys
root, files, variables, expressions, template = (sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]),
                                                 json.loads(sys.argv[4]), sys.argv[5])
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
try:  # ansible-core 2.19: data tagging; role files are trusted templates
    from ansible.template import trust_as_template
except ImportError:  # 2.17, 2.18: every string is a template
    trust_as_template = None
init_plugin_loader([root + "/.collections"])


def trusted(value):
    if trust_as_template is None:
        return value
    if isinstance(value, dict):
        return dict((key, trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


loader = DataLoader()
merged = {}
for path in files:
    merged.update(trusted(loader.load_from_file(root + "/" + path)))
merged.update(variables)
templar = Templar(loader=loader, variables=merged)
if template:
    with open(root + "/" + template) as handle:
        print(templar.template(trusted(handle.read())))
else:
    print(json.dumps(dict((key, templar.template(trusted("{{ %s }}" % expr))) for key, expr in expressions.items())))
"""


@pytest.fixture(scope="session")
def render_with_templar():
    """render_with_templar(files, variables, expressions=None, template=None), in a fresh Python.

    Loads the YAML ``files`` (paths from the repository root: role defaults and
    vars) as trusted templates, adds ``variables`` (plain data), and returns
    ``{key: value}`` for the ``expressions`` mapping (key -> Jinja expression),
    or the text of ``template`` (a path from the root) rendered with them.
    """
    def _render(files, variables, expressions=None, template=None):
        proc = subprocess.run([sys.executable, "-c", TEMPLAR_SCRIPT, ROOT, json.dumps(list(files)),
                               json.dumps(variables), json.dumps(expressions or {}), template or ""],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout if template else json.loads(proc.stdout)
    return _render


# ---------------------------------------------------------------------------
# Running Ansible
# ---------------------------------------------------------------------------

def ansible_env(**extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_LOCAL_TEMP": os.path.join(ROOT, ".cache", "ansible-tmp"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def run_playbook():
    """run_playbook(args, python=None, **env) -> CompletedProcess, from the repository root.

    ``python`` sets ansible_python_interpreter (the modules' Python on localhost).
    """
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

    def _run(args, timeout=120, python=None, **env):
        args = list(args)
        if python:
            args += ["-e", "ansible_python_interpreter=%s" % python]
        return subprocess.run([binary] + args, cwd=ROOT, env=ansible_env(**env), capture_output=True,
                              text=True, timeout=timeout)
    return _run


class _Started(object):
    def __init__(self, proc):
        self.proc = proc

    def wait_result(self, timeout=180):
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def start_playbook():
    """start_playbook(args, python=None) -> handle with .wait_result(): runs in the background."""
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

    def _start(args, python=None, **env):
        args = list(args)
        if python:
            args += ["-e", "ansible_python_interpreter=%s" % python]
        return _Started(subprocess.Popen([binary] + args, cwd=ROOT, env=ansible_env(**env), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
    return _start


@pytest.fixture(scope="session")
def run_module_file(tmp_path_factory):
    """run_module_file(name, args) -> (rc, result): the module file run by a fresh
    Python, args from a file, as AnsibleModule supports. In a fresh process
    the module is not "on the controller", so warnings come back in the
    result instead of going to the controller's display."""
    directory = tmp_path_factory.mktemp("module-args")
    counter = [0]

    def _run(name, args, python=None):
        counter[0] += 1
        path = directory / ("args-%d.json" % counter[0])
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        proc = subprocess.run([python or sys.executable, os.path.join(ROOT, "plugins", "modules", name + ".py"),
                               str(path)], capture_output=True, text=True, env=env, timeout=60)
        try:
            return proc.returncode, json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("module %s printed no JSON: %s %s" % (name, proc.stdout, proc.stderr))
    return _run
