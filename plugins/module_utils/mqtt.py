# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MQTT broker round-trip check for the mqtt_check module, as plain functions.

Works with paho-mqtt 1.6 (Debian bookworm's python3-paho-mqtt, on lab
targets) and paho-mqtt 2.x (the controller's virtualenv): the callbacks take
the arguments of both callback API versions, and reason codes are compared
by value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl
import time
import traceback
import uuid

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt import __version__ as PAHO_VERSION
    HAS_PAHO = True
    PAHO_IMPORT_ERROR = None
except ImportError:
    mqtt = None
    HAS_PAHO = False
    PAHO_IMPORT_ERROR = traceback.format_exc()
    PAHO_VERSION = None

# CONNACK return codes of MQTT 3.1.1, and the MQTT 5 reason codes paho 2.x
# turns them into.
_CONNACK = {
    1: ("protocol", "the broker refused the protocol version"),
    2: ("protocol", "the broker rejected the client id"),
    3: ("unavailable", "the broker is unavailable"),
    4: ("bad_credentials", "bad username or password"),
    5: ("bad_credentials", "not authorised to connect: bad username or password"),
    128: ("unavailable", "the broker refused the connection (unspecified error)"),
    132: ("protocol", "the broker refused the protocol version"),
    133: ("protocol", "the broker rejected the client id"),
    134: ("bad_credentials", "bad username or password"),
    135: ("bad_credentials", "not authorised to connect: bad username or password"),
    136: ("unavailable", "the broker is unavailable"),
}


class MqttCheckError(Exception):
    """A failed check. ``kind`` is one of: missing_library, connection_refused,
    connection_error, tls, timeout, bad_credentials, not_authorised,
    protocol, unavailable."""

    def __init__(self, kind, message, details=None):
        super(MqttCheckError, self).__init__(message)
        self.kind = kind
        self.details = details or {}


def _code(value):
    """The integer of a paho 1.6 int or a paho 2.x ReasonCode."""
    return int(getattr(value, "value", value))


def _new_client(client_id):
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt >= 2.0
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)


def default_topic(username=None, client_id=None):
    """A topic in the account's own tree (alicia/<username>/#), which the
    catalogue's ACLs grant every service."""
    return "alicia/%s/healthcheck" % (username or client_id or "anonymous")


def check(host, port=1883, username=None, password=None, client_id=None, topic=None, tls=False,
          ca_cert=None, client_cert=None, client_key=None, tls_insecure=False, timeout=10.0, qos=1,
          keepalive=30, clock=time.monotonic):
    """Connect, subscribe to ``topic``, publish on it and wait for the message.

    Returns {latency: {connect, subscribe, round_trip, total}, topic,
    client_id, paho_version}; raises MqttCheckError with a ``kind`` and a
    message that says what failed. ``clock`` times the latencies and the
    ``timeout`` deadline (the tests pass a fake one).
    """
    if not HAS_PAHO:
        raise MqttCheckError("missing_library", "the paho-mqtt Python library is not installed")
    if qos not in (0, 1, 2):
        raise MqttCheckError("protocol", "qos must be 0, 1 or 2, got %r" % (qos,))
    client_id = client_id or "alicia-check-%s" % uuid.uuid4().hex[:12]
    topic = topic or default_topic(username, client_id)
    token = "alicia-healthcheck %s" % uuid.uuid4().hex
    where = "%s:%s" % (host, port)
    state = {"connack": None, "suback": None, "puback": False, "received": None, "disconnected": False}
    started = clock()
    deadline = started + float(timeout)

    def on_connect(_client, _userdata, _flags, rc, *_args):
        state["connack"] = (_code(rc), str(rc))
        state["connack_at"] = clock()

    def on_subscribe(_client, _userdata, _mid, granted, *_args):
        state["suback"] = [_code(g) for g in granted]
        state["suback_at"] = clock()

    def on_publish(_client, _userdata, _mid, *_args):
        state["puback"] = True

    def on_message(_client, _userdata, message):
        if message.topic == topic and message.payload.decode("utf-8", "replace") == token:
            state["received"] = clock()

    def on_disconnect(_client, _userdata, *_args):
        state["disconnected"] = True

    client = _new_client(client_id)
    if hasattr(client, "connect_timeout"):  # paho-mqtt >= 2.0
        client.connect_timeout = float(timeout)
    else:
        client._connect_timeout = float(timeout)  # pylint: disable=protected-access
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    if username:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=ca_cert or None, certfile=client_cert or None, keyfile=client_key or None,
                       cert_reqs=ssl.CERT_NONE if tls_insecure else ssl.CERT_REQUIRED)
        if tls_insecure:
            client.tls_insecure_set(True)

    def pump(until, what):
        while not until():
            if clock() >= deadline:
                raise MqttCheckError("timeout", "timeout after %.1f s waiting for %s from %s" % (timeout, what, where))
            client.loop(timeout=0.05)
            if state["disconnected"] and not until():
                return False
        return True

    try:
        try:
            client.connect(host, int(port), int(keepalive))
        except ConnectionRefusedError:
            raise MqttCheckError("connection_refused", "connection refused by %s: is the broker running?" % where)
        except (socket.timeout, TimeoutError):
            raise MqttCheckError("timeout", "timeout after %.1f s connecting to %s" % (timeout, where))
        except ssl.SSLError as exc:
            raise MqttCheckError("tls", "TLS handshake with %s failed: %s" % (where, exc))
        except socket.gaierror as exc:
            raise MqttCheckError("connection_error", "cannot resolve %s: %s" % (host, exc))
        except OSError as exc:
            raise MqttCheckError("connection_error", "cannot connect to %s: %s" % (where, exc))

        if not pump(lambda: state["connack"] is not None, "the CONNACK"):
            raise MqttCheckError("connection_error", "%s closed the connection before CONNACK" % where)
        code, text = state["connack"][0], state["connack"][1]
        if code != 0:
            kind, message = _CONNACK.get(code, ("protocol", "connection refused: %s" % text))
            user = " for user '%s'" % username if username else " (anonymous)"
            raise MqttCheckError(kind, "%s refused the login%s: %s (CONNACK %d)" % (where, user, message, code))
        connected = state["connack_at"]

        client.subscribe(topic, qos)
        if not pump(lambda: state["suback"] is not None, "the SUBACK"):
            raise MqttCheckError("not_authorised", "not authorised: %s closed the connection on subscribe to '%s'"
                                 % (where, topic))
        if any(code >= 128 for code in state["suback"]):
            raise MqttCheckError("not_authorised", "not authorised: %s refused the subscription to '%s' (ACL)"
                                 % (where, topic))
        subscribed = state["suback_at"]

        sent = clock()
        info = client.publish(topic, token, qos=qos)
        if _code(info.rc) != 0:
            raise MqttCheckError("not_authorised", "not authorised: publish to '%s' failed (rc %d)"
                                 % (topic, _code(info.rc)))
        try:
            arrived = pump(lambda: state["received"] is not None, "the test message")
        except MqttCheckError:
            arrived = False
        if not arrived:
            if qos > 0 and not state["puback"] and not state["disconnected"]:
                raise MqttCheckError("timeout", "timeout after %.1f s: %s did not acknowledge the publish to '%s'"
                                     % (timeout, where, topic))
            raise MqttCheckError("not_authorised",
                                 "not authorised: the test message published to '%s' never arrived within %.1f s "
                                 "(the ACL denies publish or subscribe on it for %s)"
                                 % (topic, timeout, "user '%s'" % username if username else "anonymous clients"))
        received = state["received"]
        return {
            "topic": topic,
            "client_id": client_id,
            "paho_version": PAHO_VERSION,
            "latency": {
                "connect": round(connected - started, 4),
                "subscribe": round(subscribed - connected, 4),
                "round_trip": round(received - sent, 4),
                "total": round(received - started, 4),
            },
        }
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.01)
        except Exception:  # pylint: disable=broad-except
            pass
