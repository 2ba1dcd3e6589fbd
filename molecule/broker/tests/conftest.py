"""Fixtures of the broker scenario.

The broker host runs the role; the client container sits on the same
network with Debian's mosquitto-clients, so the tests talk MQTT over the
network the way a service does. Credentials come from .lab/secrets.yml and
are written to 0600 files on the client (through stdin, never on a command
line), so a failing test never prints a password.
"""

import os
import re
import shlex
import sys
import uuid

import pytest
import testinfra
import yaml

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "broker")
BROKER = "alicia-%s" % SCENARIO
CLIENT = "alicia-%s-client" % SCENARIO
PROJECT = os.environ.get(
    "MOLECULE_PROJECT_DIRECTORY",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")),
)
PW_DIR = "/root/mqtt-pw"
CA_FILE = "/root/broker-ca.crt"
PORT = 1883
TLS_PORT = 8883
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
# docker_write: used by the tests.
from alicia_molecule import docker_write, resolved_catalogue, run_playbook  # noqa: E402,F401


class Hidden(dict):
    """A dict of secrets that pytest never prints (tracebacks show fixture values)."""

    def __repr__(self):
        return "<%d secrets hidden>" % len(self)


class Mqtt(object):
    """mosquitto_pub / mosquitto_sub on the client container."""

    def __init__(self, host):
        self.host = host

    @staticmethod
    def auth(user, password_file=None):
        if user is None:
            return ""
        return '-u %s -P "$(cat %s)"' % (shlex.quote(user), password_file or "%s/%s" % (PW_DIR, user))

    def connect_opts(self, port=PORT, tls=False):
        opts = "-h %s -p %d" % (BROKER, port)
        if tls:
            opts += " --cafile %s" % CA_FILE
        return opts

    def pub_cmd(self, user, topic, message=None, port=PORT, tls=False, extra="", password_file=None,
                payload_file=None):
        """A mosquitto_pub command line: message text, a payload file, or a
        null message (clears a retained one) when neither is given."""
        if payload_file:
            payload = "-f %s" % shlex.quote(payload_file)
        elif message is None:
            payload = "-n"
        else:
            payload = "-m %s" % shlex.quote(message)
        return "mosquitto_pub %s %s -q 1 -t %s %s %s" % (
            self.connect_opts(port, tls), self.auth(user, password_file), shlex.quote(topic), payload, extra)

    def pub(self, user, topic, message=None, **kwargs):
        return self.host.run(self.pub_cmd(user, topic, message, **kwargs))

    def capture(self, user, topics, publishes=(), wait=3, port=PORT, tls=False, count=None, fmt=None, extra=""):
        """Subscribe as `user` to `topics`, run the `publishes` shell commands
        once the subscription is up, and return the "topic payload" lines
        (or `fmt`, mosquitto_sub -F) received within `wait` seconds or
        after `count` messages. `extra`: more mosquitto_sub options (-V mqttv5)."""
        out = "/tmp/capture-%s" % uuid.uuid4().hex
        limit = "-C %d" % count if count else ""
        output = "-F %s" % shlex.quote(fmt) if fmt else "-v"
        # -d: the client's protocol lines too (line-buffered into the file), so the publishes
        # start once the broker has acknowledged the subscription (a fixed sleep misses it on
        # a loaded machine); the `wait` seconds of listening start then. Those lines are
        # dropped from the result.
        script = [
            "stdbuf -oL mosquitto_sub -d %s %s %s -q 1 %s %s %s > %s 2>&1 &" % (
                self.connect_opts(port, tls), self.auth(user), output, limit, extra,
                " ".join("-t %s" % shlex.quote(t) for t in topics), out),
            "sub=$!",
            "i=0; while [ $i -lt 150 ] && kill -0 $sub 2>/dev/null && ! grep -q SUBACK %s; do sleep 0.1; i=$((i+1)); done"
            % out,
        ]
        script.extend(publishes)
        script.extend(["i=0; while [ $i -lt %d ] && kill -0 $sub 2>/dev/null; do sleep 0.1; i=$((i+1)); done" % (wait * 10),
                       "kill $sub 2>/dev/null; wait $sub", "cat %s" % out, "rm -f %s" % out])
        result = self.host.run("\n".join(script))
        return [line for line in result.stdout.splitlines()
                if line.strip() and line != "Timed out" and not DEBUG_LINE.match(line)]


# mosquitto_sub -d's own lines (connection, subscription, each message received).
DEBUG_LINE = re.compile(r"^(Client \S+ (sending|received) |Subscribed \(mid)")


@pytest.fixture(scope="session")
def secrets():
    with open(os.path.join(PROJECT, ".lab/secrets.yml")) as handle:
        return Hidden(yaml.safe_load(handle))


@pytest.fixture(scope="session")
def catalogue():
    return resolved_catalogue()


@pytest.fixture(scope="session")
def users(secrets, catalogue):
    """username -> password for every broker account."""
    accounts = Hidden({
        "alicia_admin": secrets["broker_admin_password"],
        "alicia_monitor": secrets["broker_monitor_password"],
    })
    for name, entry in catalogue.items():
        if entry["kind"] == "service":
            accounts[entry["mqtt"]["username"]] = secrets["catalogue_secrets"][name]["MQTT_PASSWORD"]
    return accounts


@pytest.fixture(scope="session")
def broker():
    return testinfra.get_host("docker://%s" % BROKER)


@pytest.fixture(scope="session")
def client(broker, users):
    host = testinfra.get_host("docker://%s" % CLIENT)
    for user, password in users.items():
        docker_write(CLIENT, "%s/%s" % (PW_DIR, user), password)
    docker_write(CLIENT, "%s/wrong" % PW_DIR, "not-the-password-%s" % uuid.uuid4().hex)
    docker_write(CLIENT, CA_FILE, broker.file("/etc/mosquitto/certs/ca.crt").content_string)
    return host


@pytest.fixture(scope="session")
def mqtt(client):
    return Mqtt(client)


def run_converge(extra_vars=None, start_at=None):
    """Run the scenario's converge playbook again, with extra vars from a
    0600 file (they may carry secrets), from task `start_at` when given;
    returns (rc, output)."""
    scenario_dir = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", os.path.dirname(os.path.dirname(__file__)))
    start = ["--start-at-task", start_at] if start_at else []
    return run_playbook(os.path.join(scenario_dir, "converge.yml"), *start, extra_vars=extra_vars, timeout=None)


def changed_tasks(output):
    """Titles of the tasks and handlers that reported a change."""
    titles = []
    for block in re.split(r"\n(?=TASK \[|RUNNING HANDLER \[)", output):
        if re.search(r"^changed: ", block, re.M):
            titles.append(re.match(r"(?:TASK|RUNNING HANDLER) \[(?:[^:\]]+ : )?([^\]]+)\]", block).group(1))
    return titles
