"""The broker, seen from a client container on the platform network.

Every check talks MQTT (or TLS) to the running broker, or reads the unit,
the files and the logs it actually uses. Tests that re-run the converge
playbook (rejected config with a password change, the password change back,
missing password) come last, in that order, and leave the broker as they
found it.
"""

import copy
import re
import time
import uuid

import pytest
from conftest import BROKER, CA_FILE, CLIENT, PW_DIR, TLS_PORT, changed_tasks, docker_write, run_converge
from alicia_molecule import recap  # noqa: E402  (molecule/_lib: on sys.path through conftest.py)

ADMIN = "alicia_admin"
MONITOR = "alicia_monitor"
SERVICE_A = "security_gateway"
SERVICE_B = "device_registry"
NEW_PASSWORD = "changed-%s" % uuid.uuid4().hex
# The first task of the broker's users step (run_converge starts there).
USERS_START = "Broker | users | what the current password file was built from, its checksum, and the unit's state"
# The broker role's default broker_registry_readers.
REGISTRY_READERS = ("discovery_service", "health_monitor")
ACL_LINE = re.compile(r"^(user [A-Za-z0-9_.@-]+|topic (read|write|readwrite) \S+)$")


@pytest.fixture(scope="module")
def a(catalogue):
    return catalogue[SERVICE_A]["mqtt"]["username"]


@pytest.fixture(scope="module")
def b(catalogue):
    return catalogue[SERVICE_B]["mqtt"]["username"]


def main_pid(broker):
    return int(broker.service("mosquitto").systemd_properties["MainPID"])


# ---- unit and files ---------------------------------------------------------

def test_broker_runs_as_a_hardened_unit(broker):
    service = broker.service("mosquitto")
    assert service.is_running
    assert service.is_enabled
    props = service.systemd_properties
    assert props["User"] == "mosquitto"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["PrivateDevices"] == "yes"
    assert props["NoNewPrivileges"] == "yes"
    capabilities = broker.check_output("systemctl show -p CapabilityBoundingSet -p AmbientCapabilities mosquitto")
    assert sorted(capabilities.split()) == ["AmbientCapabilities=", "CapabilityBoundingSet="]
    assert set(props["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert set(props["ReadWritePaths"].split()) == {"/var/lib/mosquitto", "/var/log/mosquitto"}
    assert "@" not in props["SystemCallFilter"] and "bind" in props["SystemCallFilter"].split()
    assert "reboot" not in props["SystemCallFilter"].split()
    assert broker.process.get(comm="mosquitto").user == "mosquitto"
    # The catalogue entry's resources (mqtt_broker: cpu_limit 1.0, memory_limit 256M,
    # memory_reservation 64M), as the services' units get theirs.
    assert props["CPUQuotaPerSecUSec"] == "1s"
    assert (props["MemoryMax"], props["MemoryLow"]) == (str(256 * 1024 * 1024), str(64 * 1024 * 1024))


def test_systemd_analyze_exposure_is_low(broker):
    out = broker.check_output("systemd-analyze security --no-pager mosquitto.service")
    exposure = float(re.search(r"Overall exposure level for mosquitto.service: ([0-9.]+)", out).group(1))
    assert exposure <= 2.0, out


def test_listeners(broker, client):
    assert broker.socket("tcp://0.0.0.0:1883").is_listening
    assert broker.socket("tcp://0.0.0.0:%d" % TLS_PORT).is_listening
    assert broker.socket("tcp://127.0.0.1:1880").is_listening
    assert not broker.socket("tcp://0.0.0.0:1880").is_listening
    probe = client.run("python3 -c 'import socket; socket.create_connection((\"%s\", 1880), 3)'" % BROKER)
    assert probe.rc != 0 and "refused" in probe.stderr


def test_password_file_holds_hashes_only(broker, users):
    passwd = broker.file("/etc/mosquitto/passwd")
    assert (passwd.user, passwd.group, passwd.mode) == ("root", "mosquitto", 0o640)
    content = passwd.content_string
    entries = dict(line.split(":", 1) for line in content.splitlines())
    assert set(entries) == set(users)
    assert all(value.startswith("$7$") for value in entries.values())
    assert not any(password in content for password in users.values())
    state = broker.file("/etc/mosquitto/.passwd.state")
    assert (state.user, state.group, state.mode) == ("root", "root", 0o600)
    assert not any(password in state.content_string for password in users.values())


def test_acl_file_follows_the_catalogue(broker, catalogue):
    acl = broker.file("/etc/mosquitto/acl")
    assert (acl.user, acl.group, acl.mode) == ("root", "mosquitto", 0o640)
    blocks, user = {None: {}}, None
    for line in acl.content_string.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assert ACL_LINE.match(line), "ACL line with extra content (a trailing comment?): %r" % line
        words = line.split()
        if words[0] == "user":
            user = words[1]
            assert user not in blocks, "user %s listed twice" % user
            blocks[user] = {}
        else:
            blocks[user][words[2]] = words[1]
    assert blocks[None] == {"$SYS/#": "read"}
    assert blocks[ADMIN] == {"#": "readwrite", "$SYS/#": "read"}
    assert blocks[MONITOR] == {"$SYS/#": "read", "alicia/health/#": "read", "alicia/registry/#": "read"}
    services = [entry for entry in catalogue.values() if entry["kind"] == "service"]
    assert len(services) == 22
    for entry in services:
        mqtt = entry["mqtt"]
        want = dict((t, "readwrite" if t in mqtt["subscribe"] else "write") for t in mqtt["publish"])
        want.update((t, "read") for t in mqtt["subscribe"] if t not in want)
        # The registry: each service writes its own entries; the registry readers read them all.
        want["alicia/registry/%s/#" % entry["name"]] = "write"
        if entry["name"] in REGISTRY_READERS:
            want["alicia/registry/#"] = "read"
        assert blocks[mqtt["username"]] == want, entry["name"]
    assert set(blocks) == {None, ADMIN, MONITOR} | set(e["mqtt"]["username"] for e in services)


def test_config_locks_down_every_network_listener(broker):
    config = broker.file("/etc/mosquitto/mosquitto.conf").content_string
    listeners = re.split(r"^listener ", config, flags=re.M)[1:]
    assert len(listeners) == 3
    for block in listeners:
        port, address = block.split("\n", 1)[0].split()
        anonymous = re.search(r"^allow_anonymous (\w+)$", block, re.M).group(1)
        assert anonymous == ("true" if address == "127.0.0.1" else "false"), block
    assert re.search(r"^persistence true$", config, re.M)
    assert re.search(r"^persistence_location /var/lib/mosquitto/$", config, re.M)
    assert re.search(r"^log_dest file /var/log/mosquitto/mosquitto.log$", config, re.M)
    assert re.search(r"^connection_messages true$", config, re.M)
    assert not re.search(r"^log_type (debug|all)$", config, re.M)
    assert int(re.search(r"^max_packet_size (\d+)$", config, re.M).group(1)) >= 10 * 1024 * 1024


# ---- authentication -----------------------------------------------------------

@pytest.mark.parametrize("port,tls", [(1883, False), (TLS_PORT, True)])
def test_anonymous_clients_are_refused(mqtt, a, port, tls):
    result = mqtt.pub(None, "alicia/%s/anonymous" % a, "x", port=port, tls=tls)
    assert result.rc != 0
    assert "not authorised" in (result.stdout + result.stderr)


def test_wrong_password_is_refused(mqtt, a):
    result = mqtt.pub(a, "alicia/%s/wrong" % a, "x", password_file="%s/wrong" % PW_DIR)
    assert result.rc != 0
    assert "not authorised" in (result.stdout + result.stderr)


# ---- ACLs -----------------------------------------------------------------------

def test_service_publishes_and_reads_its_own_tree(mqtt, a):
    topic = "alicia/%s/status" % SERVICE_A
    lines = mqtt.capture(a, ["alicia/%s/#" % SERVICE_A], [mqtt.pub_cmd(a, topic, "up")], count=1)
    assert lines == ["%s up" % topic]


def test_service_uses_its_catalogue_topics(mqtt, a):
    lines = mqtt.capture(ADMIN, ["alicia/auth/events"], [mqtt.pub_cmd(a, "alicia/auth/events", "login")], count=1)
    assert lines == ["alicia/auth/events login"]
    lines = mqtt.capture(a, ["alicia/auth/request"], [mqtt.pub_cmd(ADMIN, "alicia/auth/request", "verify")], count=1)
    assert lines == ["alicia/auth/request verify"]


def test_service_cannot_publish_on_another_services_command_topic(mqtt, a):
    command = "alicia/%s/command" % SERVICE_B
    control = "alicia/%s/control" % SERVICE_A
    attempt = [mqtt.pub_cmd(a, command, "reboot"), mqtt.pub_cmd(a, control, "sent-after")]
    lines = mqtt.capture(ADMIN, [command, control], attempt * 2, wait=3)
    assert "%s sent-after" % control in lines  # the admin subscriber was listening
    assert not [line for line in lines if line.startswith(command)]


def test_service_cannot_read_another_services_tree(mqtt, a, b):
    control = "alicia/%s/control" % SERVICE_A
    publishes = [mqtt.pub_cmd(b, "alicia/%s/status" % SERVICE_B, "private"), mqtt.pub_cmd(a, control, "mine")]
    lines = mqtt.capture(a, ["alicia/%s/#" % SERVICE_B, control], publishes, wait=3)
    assert "%s mine" % control in lines
    assert not [line for line in lines if line.startswith("alicia/%s/" % SERVICE_B)]


def test_monitoring_user_reads_sys_and_health(mqtt, a):
    lines = mqtt.capture(MONITOR, ["$SYS/broker/version"], count=1, wait=5)
    assert len(lines) == 1 and lines[0].startswith("$SYS/broker/version mosquitto version 2.")
    health = "alicia/health/%s" % SERVICE_A
    lines = mqtt.capture(MONITOR, ["alicia/health/#"], [mqtt.pub_cmd(a, health, "healthy")], count=1)
    assert lines == ["%s healthy" % health]


def test_services_cannot_read_sys(mqtt, a):
    # Positive control in the same window: the same client, with the same
    # credentials, subscribed in the same SUBSCRIBE, receives a message on a
    # topic it may read; so an empty $SYS is the ACL, not a client that could
    # not connect or subscribe. $SYS/broker/version is retained (the monitoring
    # user reads it at once: test_monitoring_user_reads_sys_and_health).
    control = "alicia/%s/control" % SERVICE_A
    lines = mqtt.capture(a, ["$SYS/broker/version", control], [mqtt.pub_cmd(a, control, "sys-control")], wait=2)
    assert "%s sys-control" % control in lines, lines
    assert not [line for line in lines if line.startswith("$SYS/")], lines


# ---- service registry (alicia/registry/<service>/<instance>) and shared subscriptions ----

def test_a_service_writes_its_registry_entry_which_the_readers_and_the_monitor_read(mqtt, a, catalogue):
    entry = "alicia/registry/%s/%s-1" % (SERVICE_A, SERVICE_A)
    reader = catalogue["discovery_service"]["mqtt"]["username"]
    monitor_reader = catalogue["health_monitor"]["mqtt"]["username"]
    try:
        assert mqtt.pub(a, entry, '{"state": "running"}', extra="-r").rc == 0
        for user in (reader, monitor_reader, MONITOR):
            lines = mqtt.capture(user, ["alicia/registry/#"], count=1, wait=5)
            assert lines == ['%s {"state": "running"}' % entry], (user, lines)
    finally:
        mqtt.pub(ADMIN, entry, None, extra="-r")


def test_registry_entries_are_written_only_by_their_service_and_read_only_by_the_readers(mqtt, a, b):
    # b may neither write under a's registry tree nor read the registry; a's own entry is the
    # positive control in the same window (b's publish is dropped, a's goes through).
    forged = "alicia/registry/%s/forged" % SERVICE_A
    own = "alicia/registry/%s/%s" % (SERVICE_A, SERVICE_A)
    try:
        lines = mqtt.capture(ADMIN, ["alicia/registry/#"],
                             [mqtt.pub_cmd(b, forged, "forged", extra="-r"), mqtt.pub_cmd(a, own, "mine", extra="-r")],
                             wait=3)
        assert "%s mine" % own in lines, lines
        assert not [line for line in lines if line.startswith(forged)], lines
        control = "alicia/%s/control" % SERVICE_B
        lines = mqtt.capture(b, ["alicia/registry/#", control], [mqtt.pub_cmd(b, control, "b-control")], wait=2)
        assert "%s b-control" % control in lines, lines
        assert not [line for line in lines if line.startswith("alicia/registry/")], lines
    finally:
        mqtt.pub(ADMIN, own, None, extra="-r")
        mqtt.pub(ADMIN, forged, None, extra="-r")


def test_a_service_receives_its_commands_through_a_shared_subscription(mqtt, a):
    # MQTT 3.1.1 (mosquitto_sub's default) and 5: Mosquitto 2 checks what a shared subscriber
    # receives against each message's topic, which the service's own-tree line grants.
    command = "alicia/%s/command" % SERVICE_A
    for version in ("mqttv311", "mqttv5"):
        shared = "$share/%s/%s" % (SERVICE_A, command)
        lines = mqtt.capture(a, [shared], [mqtt.pub_cmd(ADMIN, command, "cmd-%s" % version)], count=1, wait=5,
                             extra="-V %s" % version)
        assert lines == ["%s cmd-%s" % (command, version)], (version, lines)


def test_a_shared_subscription_does_not_open_another_services_commands(mqtt, a, b):
    command = "alicia/%s/command" % SERVICE_B
    control = "alicia/%s/control" % SERVICE_A
    lines = mqtt.capture(a, ["$share/%s/%s" % (SERVICE_B, command), control],
                         [mqtt.pub_cmd(ADMIN, command, "not-for-a"), mqtt.pub_cmd(a, control, "a-control")], wait=3)
    assert "%s a-control" % control in lines, lines
    assert not [line for line in lines if line.startswith(command)], lines


PROBE = r"""
import sys, time
import paho.mqtt.client as mqtt
got = []
client = mqtt.Client()
client.on_connect = lambda c, u, f, rc, *a: c.subscribe(sys.argv[1])
client.on_message = lambda c, u, m: got.append(m.topic)
client.connect("127.0.0.1", 1880)
client.loop_start()
end = time.time() + float(sys.argv[2])
while time.time() < end and not got:
    time.sleep(0.1)
client.loop_stop()
print(" ".join(got))
"""


def test_loopback_probe_reads_only_sys_anonymously(broker, mqtt):
    broker.run("cat > /tmp/probe.py <<'EOF'\n%s\nEOF" % PROBE)
    assert broker.check_output("python3 /tmp/probe.py '$SYS/broker/version' 5") == "$SYS/broker/version"
    topic = "alicia/health/probe-test"
    assert mqtt.pub(ADMIN, topic, "retained", extra="-r").rc == 0
    try:
        assert broker.check_output("python3 /tmp/probe.py 'alicia/health/#' 2") == ""
    finally:
        mqtt.pub(ADMIN, topic, None, extra="-r")


# ---- TLS and limits ---------------------------------------------------------------

HANDSHAKE = r"""
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1] or None)
with socket.create_connection((sys.argv[2], int(sys.argv[3])), 5) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[2]) as tls:
        print(tls.version(), dict(x[0] for x in tls.getpeercert()["subject"])["commonName"])
"""


def test_tls_handshake_with_the_ca(client):
    client.run("cat > /tmp/handshake.py <<'EOF'\n%s\nEOF" % HANDSHAKE)
    out = client.check_output("python3 /tmp/handshake.py %s %s %d" % (CA_FILE, BROKER, TLS_PORT))
    assert re.match(r"^TLSv1\.[23] %s$" % BROKER, out)


def test_tls_refuses_clients_without_the_ca(client, mqtt, a):
    client.run("cat > /tmp/handshake.py <<'EOF'\n%s\nEOF" % HANDSHAKE)
    result = client.run("python3 /tmp/handshake.py '' %s %d" % (BROKER, TLS_PORT))
    assert result.rc != 0 and "CERTIFICATE_VERIFY_FAILED" in result.stderr
    result = mqtt.pub(a, "alicia/%s/tls" % SERVICE_A, "x", port=TLS_PORT, extra="--capath /etc/ssl/certs")
    assert result.rc != 0
    plain = mqtt.pub(a, "alicia/%s/tls" % SERVICE_A, "x", port=TLS_PORT)
    assert plain.rc != 0


def test_tls_round_trip(mqtt, a):
    topic = "alicia/%s/tls" % SERVICE_A
    lines = mqtt.capture(a, [topic], [mqtt.pub_cmd(a, topic, "secure", port=TLS_PORT, tls=True)],
                         port=TLS_PORT, tls=True, count=1)
    assert lines == ["%s secure" % topic]


def test_audio_sized_payloads_pass_and_oversize_is_refused(client, mqtt, a):
    client.run_test("head -c 5242880 /dev/urandom > /tmp/audio-5m && head -c 11534336 /dev/zero > /tmp/audio-11m")
    topic = "alicia/%s/audio" % SERVICE_A
    publishes = [mqtt.pub_cmd(a, topic, payload_file="/tmp/audio-5m"),
                 mqtt.pub_cmd(a, topic, payload_file="/tmp/audio-11m")]
    lines = mqtt.capture(a, [topic], publishes, wait=6, fmt="%t %l")
    assert lines == ["%s 5242880" % topic]


# ---- persistence, reloads, rejected input (these re-run the broker or the role) --

def test_retained_message_survives_a_restart(broker, mqtt, a):
    topic = "alicia/%s/retained" % SERVICE_A
    value = uuid.uuid4().hex
    assert mqtt.pub(a, topic, value, extra="-r").rc == 0
    before = main_pid(broker)
    broker.run_test("systemctl restart mosquitto")
    assert main_pid(broker) != before
    try:
        lines = mqtt.capture(a, [topic], count=1, wait=5)
        assert lines == ["%s %s" % (topic, value)]
    finally:
        mqtt.pub(a, topic, None, extra="-r")


@pytest.fixture(scope="module")
def b_subscriber(client, mqtt, b):
    """Service B, subscribed to its own tree for the rest of the module."""
    out = "/tmp/b-subscriber.out"
    started = client.run_test("nohup mosquitto_sub %s %s -v -q 1 -t %s > %s 2>&1 & echo $!" % (
        mqtt.connect_opts(), mqtt.auth(b), "'alicia/%s/#'" % SERVICE_B, out))
    pid = started.stdout.strip()
    time.sleep(1)
    yield pid, out
    client.run("kill %s" % pid)


def assert_still_subscribed(client, mqtt, b, subscriber, message):
    pid, out = subscriber
    assert client.run("kill -0 %s" % pid).rc == 0, "service B's connection was dropped"
    topic = "alicia/%s/event" % SERVICE_B
    assert mqtt.pub(b, topic, message).rc == 0
    for _ in range(20):
        if "%s %s" % (topic, message) in client.file(out).content_string:
            return
        time.sleep(0.25)
    raise AssertionError("service B's subscription stopped receiving: %r" % client.file(out).content_string)


def test_rejected_config_leaves_the_broker_running_its_config(broker, client, mqtt, secrets, a, b, b_subscriber):
    """A bad value fails with mosquitto's own message; the live config and
    the running broker stay as they were. The password change written before
    the failure is still applied (by a reload), never lost with the run."""
    pid = main_pid(broker)
    config = broker.file("/etc/mosquitto/mosquitto.conf").sha256sum
    docker_write(CLIENT, "%s/new-password" % PW_DIR, NEW_PASSWORD)
    changed = copy.deepcopy(secrets)
    changed["catalogue_secrets"][SERVICE_A]["MQTT_PASSWORD"] = NEW_PASSWORD
    changed["broker_config_extra"] = "max_packet_size not-a-number"
    rc, out = run_converge(changed, start_at=USERS_START)
    assert rc != 0
    assert "Mosquitto rejected the new configuration, so the live file was left untouched" in out, out[-4000:]
    assert "Invalid max_packet_size value" in out and "max_packet_size not-a-number" in out, out[-4000:]
    assert broker.file("/etc/mosquitto/mosquitto.conf").sha256sum == config
    assert main_pid(broker) == pid, "the broker restarted"
    assert broker.service("mosquitto").is_running
    assert mqtt.pub(a, "alicia/%s/x" % SERVICE_A, "new", password_file="%s/new-password" % PW_DIR).rc == 0
    assert mqtt.pub(a, "alicia/%s/x" % SERVICE_A, "old").rc != 0
    assert_still_subscribed(client, mqtt, b, b_subscriber, "after-rejected-config")


def test_password_change_reloads_without_dropping_other_services(broker, client, mqtt, a, b, b_subscriber):
    """Back to the lab password: only the users tasks and the reload handler
    change anything, the broker keeps its process and service B stays
    connected and receiving."""
    pid = main_pid(broker)
    rc, out = run_converge(start_at=USERS_START)
    assert rc == 0, out[-4000:]
    changed = [title for title in changed_tasks(out) if not title.startswith("Broker | users | ")]
    assert changed == ["Broker | reload mosquitto"], out
    assert main_pid(broker) == pid, "the broker restarted instead of reloading"
    assert mqtt.pub(a, "alicia/%s/x" % SERVICE_A, "lab").rc == 0
    assert mqtt.pub(a, "alicia/%s/x" % SERVICE_A, "new", password_file="%s/new-password" % PW_DIR).rc != 0
    assert_still_subscribed(client, mqtt, b, b_subscriber, "after-password-change")


def test_missing_service_password_fails_before_touching_the_host(broker, secrets):
    passwd = broker.file("/etc/mosquitto/passwd").sha256sum
    without = copy.deepcopy(secrets)
    del without["catalogue_secrets"]["tts_service"]
    rc, out = run_converge(without)
    assert rc != 0
    assert "service 'tts_service' field 'secrets': missing required secret 'MQTT_PASSWORD'" in out, out[-4000:]
    assert changed_tasks(out) == [] and recap(out, BROKER)["changed"] == 0, out[-4000:]
    assert broker.file("/etc/mosquitto/passwd").sha256sum == passwd
