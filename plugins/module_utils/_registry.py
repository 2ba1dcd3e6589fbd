# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service registry (seed 004's ServiceRegistry), as plain functions.

Every running instance keeps its own entry as a retained MQTT message on
``alicia/registry/<service>/<instance>`` (the reference service publishes it
on connect and with each heartbeat, marks it "draining" when it stops, and
clears it with an empty retained message on a clean stop). This module reads
those entries back (``collect``), turns them into rows with the age of each
heartbeat (``rows``, ``table``), picks the entries silent for longer than the
stale period (``stale``, default 300 s as in seed 004) and clears them
(``clear``). It also gives the per-host registry files the service role
writes as desired state (``host_files``, ``removed_host_files``): one JSON
file per service under ``<data_dir>/registry.d/`` (a name no service can
have), written by the role's files batch (a temporary file renamed over the
old one).

paho-mqtt 1.6 (Debian 12, on targets) and 2.x; ``clock`` is
for the tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import ssl
import time
import uuid

from ansible_collections.alicia.platform.plugins.module_utils import mqtt as mqtt_utils

ROOT = "alicia/registry"
DEFAULT_STALE_AFTER = 300.0
FIELDS = ("service", "instance", "host", "port", "version", "health_url", "state")


class RegistryError(Exception):
    """The broker could not be read or written; ``kind`` as mqtt.MqttCheckError's."""

    def __init__(self, kind, message):
        super(RegistryError, self).__init__(message)
        self.kind = kind


def topic(service, instance, root=ROOT):
    """The retained topic of one instance's entry."""
    return "%s/%s/%s" % (root, service, instance)


def parse(message_topic, payload, root=ROOT):
    """One retained message as an entry: the JSON object with ``topic`` added,
    None for an empty (cleared) message; a payload that is not a JSON object
    is an entry with ``error`` (it is still cleaned up when stale)."""
    if payload in (None, b"", ""):
        return None
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    parts = message_topic[len(root) + 1:].split("/") if message_topic.startswith(root + "/") else []
    fallback = {"service": parts[0] if parts else None, "instance": parts[1] if len(parts) > 1 else None}
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        entry = dict(fallback, error="not a JSON object")
    else:
        entry = dict(fallback)
        entry.update(document)
    entry["topic"] = message_topic
    return entry


def _age(entry, now):
    stamp = entry.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        return None
    return round(max(now - float(stamp), 0.0), 1)


def rows(messages, now, stale_after=DEFAULT_STALE_AFTER, services=None, root=ROOT):
    """The entries of ``messages`` ({topic: payload}) as rows sorted by service,
    instance and host: FIELDS plus ``heartbeat_age`` (seconds since the entry's
    timestamp, None when it has none), ``stale`` (no heartbeat for longer than
    ``stale_after``, or no timestamp at all), ``topic`` and ``error`` when the
    payload was unreadable. ``services``: only those."""
    if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)) or stale_after <= 0:
        raise RegistryError("protocol", "stale_after must be a number of seconds > 0, got %r" % (stale_after,))
    found = []
    for message_topic, payload in messages.items():
        entry = parse(message_topic, payload, root)
        if entry is None or (services and entry.get("service") not in services):
            continue
        age = _age(entry, now)
        row = dict((field, entry.get(field)) for field in FIELDS)
        row.update({"heartbeat_age": age, "stale": age is None or age > stale_after, "topic": message_topic})
        if entry.get("error"):
            row["error"] = entry["error"]
        found.append(row)
    return sorted(found, key=lambda r: (str(r["service"]), str(r["instance"]), str(r["host"]), r["topic"]))


def stale(found):
    """The topics of the stale rows."""
    return [row["topic"] for row in found if row["stale"]]


def _cell(value):
    return "-" if value is None or value == "" else str(value)


def table(found, stale_after=DEFAULT_STALE_AFTER):
    """Aligned text lines: a header, one line per row, a total."""
    header = ("service", "instance", "host", "port", "version", "state", "heartbeat_age_s", "stale")
    lines = [header] + [(_cell(r["service"]), _cell(r["instance"]), _cell(r["host"]), _cell(r["port"]),
                         _cell(r["version"]), _cell(r["state"]) if not r.get("error") else "unreadable",
                         _cell(r["heartbeat_age"]), "yes" if r["stale"] else "no") for r in found]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
    count = sum(1 for r in found if r["stale"])
    text.append("%d registered, %d stale (no heartbeat for more than %g s)" % (len(found), count, stale_after))
    return text


# ---- the broker ---------------------------------------------------------------------

def _connect(host, port, username, password, tls, ca_cert, tls_insecure, timeout, clock):
    if not mqtt_utils.HAS_PAHO:
        raise RegistryError("missing_library", "the paho-mqtt Python library is not installed")
    client = mqtt_utils._new_client("alicia-registry-%s" % uuid.uuid4().hex[:12])  # pylint: disable=protected-access
    state = {"connack": None, "suback": None, "messages": {}, "last": None, "published": set()}

    def on_connect(_client, _userdata, _flags, rc, *_args):
        state["connack"] = mqtt_utils._code(rc)  # pylint: disable=protected-access

    def on_subscribe(_client, _userdata, _mid, granted, *_args):
        state["suback"] = [mqtt_utils._code(g) for g in granted]  # pylint: disable=protected-access
        state["last"] = clock()

    def on_message(_client, _userdata, message):
        if message.retain:
            state["messages"][message.topic] = message.payload
        state["last"] = clock()

    def on_publish(_client, _userdata, mid, *_args):
        state["published"].add(mid)

    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.on_message, client.on_publish = on_message, on_publish
    if username:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=ca_cert or None, cert_reqs=ssl.CERT_NONE if tls_insecure else ssl.CERT_REQUIRED)
        if tls_insecure:
            client.tls_insecure_set(True)
    where = "%s:%s" % (host, port)
    try:
        client.connect(host, int(port), 30)
    except (OSError, ssl.SSLError) as exc:
        raise RegistryError("connection_error", "cannot connect to %s: %s" % (where, exc))
    deadline = clock() + timeout
    while state["connack"] is None:
        if clock() >= deadline:
            raise RegistryError("timeout", "timeout after %.1f s waiting for the CONNACK of %s" % (timeout, where))
        client.loop(timeout=0.05)
    if state["connack"] != 0:
        kind, text = mqtt_utils._CONNACK.get(  # pylint: disable=protected-access
            state["connack"], ("protocol", "connection refused (%s)" % state["connack"]))
        raise RegistryError(kind, "%s refused the login of '%s': %s" % (where, username or "anonymous", text))
    return client, state


def collect(host, port=1883, username=None, password=None, root=ROOT, wait=2.0, settle=0.5, timeout=10.0,
            tls=False, ca_cert=None, tls_insecure=False, clear_topics=None, clock=time.monotonic):
    """Read the retained entries under ``root/#``: {topic: payload bytes}.

    The broker sends the retained messages right after the SUBACK; reading stops
    once none came for ``settle`` s, or after ``wait`` s at most. With
    ``clear_topics`` (a callable given the messages read, returning topics), an
    empty retained message is published on each of those topics on the same
    connection (QoS 1, acknowledged) before it closes; then returns
    (messages, cleared topics)."""
    client, state = _connect(host, port, username, password, tls, ca_cert, tls_insecure, timeout, clock)
    try:
        client.subscribe(root + "/#", 1)
        started = clock()
        while True:
            client.loop(timeout=0.05)
            now = clock()
            if state["suback"] is not None and any(code >= 128 for code in state["suback"]):
                raise RegistryError("not_authorised", "not authorised: the broker refused the subscription to %s/# "
                                    "for '%s' (ACL)" % (root, username or "anonymous"))
            if now - started >= wait:
                break
            if state["suback"] is not None and now - state["last"] >= settle:
                break
        if state["suback"] is None:
            raise RegistryError("timeout", "timeout after %.1f s waiting for the SUBACK of %s/#" % (wait, root))
        messages = dict(state["messages"])
        if clear_topics is None:
            return messages
        topics = list(clear_topics(messages))
        mids = []
        for name in topics:
            info = client.publish(name, b"", qos=1, retain=True)
            if mqtt_utils._code(info.rc) != 0:  # pylint: disable=protected-access
                raise RegistryError("not_authorised", "publish to %s failed (rc %d)"
                                    % (name, mqtt_utils._code(info.rc)))  # pylint: disable=protected-access
            mids.append(info.mid)
        deadline = clock() + timeout
        while not set(mids) <= state["published"]:
            if clock() >= deadline:
                raise RegistryError("timeout", "timeout after %.1f s: the broker did not acknowledge clearing %d "
                                    "entr%s" % (timeout, len(mids), "y" if len(mids) == 1 else "ies"))
            client.loop(timeout=0.05)
        return messages, topics
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.01)
        except Exception:  # pylint: disable=broad-except
            pass


# ---- the per-host registry files (the service role's files batch) ----------------------

def _instances(svc):
    listed = svc.get("instance_list") or []
    if listed:
        return [(inst["name"], inst.get("listen_port")) for inst in listed]
    return [(svc["name"], svc.get("port"))]


def host_document(svc, host):
    """What the registry file of ``svc`` on ``host`` says: the deployed instances
    (desired state; the live state is the retained MQTT entry)."""
    health = svc.get("health") or {}
    path = health.get("path", "/health") if isinstance(health, dict) else "/health"
    return {
        "service": svc["name"],
        "host": host,
        "version": str(svc.get("version", "")),
        "runtime": svc.get("runtime"),
        "registry_topic": "%s/%s/#" % (ROOT, svc["name"]),
        "instances": [{"instance": name, "port": port, "health_url": "http://%s:%s%s" % (host, port, path),
                       "state": "deployed", "topic": topic(svc["name"], name)} for name, port in _instances(svc)],
    }


def host_file(svc, host, data_dir="/var/lib/alicia"):
    """The path of ``svc``'s registry file on a host."""
    return "%s/registry.d/%s.json" % (data_dir.rstrip("/"), svc["name"])


def host_files(entries, host, data_dir="/var/lib/alicia"):
    """Files-batch entries: the registry directory, then one JSON file per service
    of ``entries`` (the plan's catalogue entries), 0644 (no secret in it). No
    ``key``: writing them restarts nothing."""
    if not entries:
        return []
    files = [{"path": "%s/registry.d" % data_dir.rstrip("/"), "state": "directory", "mode": "0755"}]
    for svc in entries:
        files.append({"path": host_file(svc, host, data_dir), "mode": "0644",
                      "content": json.dumps(host_document(svc, host), indent=2, sort_keys=True) + "\n"})
    return files


def removed_host_files(entries, data_dir="/var/lib/alicia"):
    """Files-batch entries for tasks/remove.yml: each service's registry file absent."""
    return [{"path": host_file(svc, None, data_dir), "state": "absent"} for svc in entries]
