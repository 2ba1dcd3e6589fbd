#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alicia reference service: a small, real service that honours the
contract every Alicia service keeps, so the lab and the tests run a real
platform.

Standard library and paho-mqtt only (1.6, Debian 12's python3-paho-mqtt, or
2.x). Configuration comes from the environment:

  required  SERVICE_NAME, SERVICE_PORT, SERVICE_VERSION, ENVIRONMENT,
            MQTT_BROKER, MQTT_PORT, MQTT_USERNAME, MQTT_PASSWORD
  optional  SERVICE_BIND (0.0.0.0), LOG_LEVEL (INFO), HEARTBEAT_INTERVAL (10 s),
            MQTT_KEEPALIVE (30 s), MQTT_RECONNECT_MAX_DELAY (30 s),
            SERVICE_INSTANCE (the instance's name, default SERVICE_NAME),
            SERVICE_ADVERTISE_PORT (the port the registry entry gives, on
            SERVICE_HOST, default SERVICE_PORT: a blue-green slot gives its
            service's published port, the balancer's),
            SERVICE_CONFIG (a JSON object file: the instance's settings, e.g.
            seed 004's TTS engine_type, enable_coqui, coqui_model; its
            log_level and health_check_interval override LOG_LEVEL and
            HEARTBEAT_INTERVAL), SERVICE_PID_FILE (written once HTTP
            listens, removed on a clean stop), SERVICE_HOST (the host name
            the registry entry gives, default the machine's host name),
            MQTT_DRAIN_TIMEOUT (5 s: how long a stop may wait for in-flight
            commands), MQTT_DRAIN_QUIET (0.5 s: no command for that long
            after the unsubscribe means none is still on its way)
  faults    ALICIA_FAULT_START_DELAY (s before HTTP listens),
            ALICIA_FAULT_UNHEALTHY=1, ALICIA_FAULT_FAIL_AT_START=1,
            ALICIA_FAULT_EXIT_AFTER (s, then exit 3 like a crash),
            ALICIA_FAULT_EXIT_WITHOUT_BROKER (s: exit 3 once the broker has
            been out of reach that long, at start or after losing it, as
            the real Alicia services exit when they cannot reach the bus)

HTTP on SERVICE_BIND:SERVICE_PORT:
  GET /health   always 200, {"status": "healthy"|"unhealthy", "service", "instance",
                "version", "broker_connected", "uptime_s", "environment",
                "settings"}; healthy iff the
                broker connection is up (and no ALICIA_FAULT_UNHEALTHY)
  GET /ready    the same document, 200 when healthy, 503 otherwise
  GET /metrics  Prometheus text format 0.0.4
  anything else 404 (other methods 405), JSON

MQTT (login MQTT_USERNAME, topics under SERVICE_NAME, inside the ACL the
catalogue grants every service: publish alicia/<name>/#, alicia/health/<name>,
alicia/discovery/<name>, alicia/registry/<name>/#; subscribe alicia/<name>/#):
  alicia/<name>/status     retained "online" on connect; "offline" on a clean
                           stop and as the last will (crash, SIGKILL)
  alicia/discovery/<name>  retained JSON description, on connect
  alicia/health/<name>     heartbeat JSON every HEARTBEAT_INTERVAL s
  alicia/registry/<name>/<instance>
                           retained registry entry (service, instance, host,
                           port, version, health_url, state "running", the
                           heartbeat's timestamp) on connect and with each
                           heartbeat; state "draining" when a stop begins, then
                           cleared (an empty retained message) on a clean stop.
                           A crash leaves it with its last timestamp, for
                           playbooks/discover.yml --tags cleanup.
  alicia/<name>/command    JSON {"action": "ping"|"health", "id": ...} in, as
                           the Mosquitto 2 shared subscription
                           $share/<name>/alicia/<name>/command: when two
                           versions run at once (blue-green), each command
                           goes to one of them only;
  alicia/<name>/response   the answer out ({"ok": false, "error"} when unknown),
                           with the instance and version that handled it.
Reconnects with paho's backoff when the broker goes away.

Logs: one line per event on stdout (line-buffered, for a log file appended to
by systemd), "<UTC time> <LEVEL> <service>[<pid>] <message>".
Signals: SIGTERM/SIGINT stop cleanly (exit 0): the instance drains first
(registry state "draining", unsubscribe from the command topic, wait for the
UNSUBACK, the commands still arriving and their answers, at most
MQTT_DRAIN_TIMEOUT s), so a command is never lost with it; SIGHUP is logged only.
Exit codes: 0 stopped, 1 startup failure, 2 bad configuration, 3 simulated crash.
"""

import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt import __version__ as PAHO_VERSION
except ImportError:  # reported after the configuration is read
    mqtt = None
    PAHO_VERSION = None

PROG = "alicia_reference_service"
REQUIRED = ("SERVICE_NAME", "SERVICE_PORT", "SERVICE_VERSION", "ENVIRONMENT",
            "MQTT_BROKER", "MQTT_PORT", "MQTT_USERNAME", "MQTT_PASSWORD")
LOG_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
              "WARN": logging.WARNING, "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}
NAME_RE = re.compile(r"^[a-z0-9_]+$")
INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
KNOWN_PATHS = ("/health", "/ready", "/metrics")
COMMANDS = ("health", "ping")
EXIT_OK, EXIT_STARTUP, EXIT_CONFIG, EXIT_CRASH = 0, 1, 2, 3

LOG = logging.getLogger(PROG)


class ConfigError(Exception):
    """The environment does not hold a usable configuration."""


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

def _number(env, name, default, kind=float, minimum=None, maximum=None, positive=False):
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")) \
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (positive and value <= 0):
        if kind is int:
            want = "an integer %s-%s" % (minimum, maximum) if maximum is not None else "an integer >= %s" % minimum
        else:
            want = "a number of seconds > 0" if positive else "a number of seconds >= 0"
        raise ConfigError("%s must be %s, got %r" % (name, want, raw))
    return value


def _flag(env, name):
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError("%s must be 1 or 0, got %r" % (name, env.get(name)))


def load_settings(path):
    """The instance's settings from SERVICE_CONFIG: a JSON object of scalars."""
    try:
        with open(path, "r") as handle:
            settings = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError("SERVICE_CONFIG %s cannot be read as JSON: %s" % (path, exc))
    if not isinstance(settings, dict):
        raise ConfigError("SERVICE_CONFIG %s must hold a JSON object, got %s" % (path, type(settings).__name__))
    for key, value in settings.items():
        if isinstance(value, (dict, list)):
            raise ConfigError("SERVICE_CONFIG %s: setting %r must be a scalar, got %s"
                              % (path, key, type(value).__name__))
    return settings


def load_config(env):
    """The configuration from an environment mapping; raises ConfigError with
    one line that names the variable. Never includes the password's value.
    The settings file (SERVICE_CONFIG) wins over LOG_LEVEL and HEARTBEAT_INTERVAL."""
    missing = [name for name in REQUIRED if not env.get(name, "").strip()]
    if missing:
        raise ConfigError("missing required environment variable%s: %s"
                          % ("s" if len(missing) > 1 else "", ", ".join(missing)))
    name = env["SERVICE_NAME"].strip()
    if not NAME_RE.match(name):
        raise ConfigError("SERVICE_NAME must be a catalogue name (a-z, 0-9 and _ only), got %r" % name)
    instance = env.get("SERVICE_INSTANCE", "").strip() or name
    if not INSTANCE_RE.match(instance):
        raise ConfigError("SERVICE_INSTANCE must be an instance name (a-z, 0-9, _ and -), got %r" % instance)
    settings = load_settings(env["SERVICE_CONFIG"].strip()) if env.get("SERVICE_CONFIG", "").strip() else {}
    env = dict(env)
    if settings.get("log_level") is not None:
        env["LOG_LEVEL"] = str(settings["log_level"])
    if settings.get("health_check_interval") is not None:
        env["HEARTBEAT_INTERVAL"] = str(settings["health_check_interval"])
    level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got %r"
                          % env.get("LOG_LEVEL"))
    return {
        "name": name,
        "instance": instance,
        "settings": settings,
        "pid_file": env.get("SERVICE_PID_FILE", "").strip() or None,
        "port": _number(env, "SERVICE_PORT", None, int, 1, 65535),
        "advertise_port": _number(env, "SERVICE_ADVERTISE_PORT", None, int, 1, 65535),
        "version": env["SERVICE_VERSION"].strip(),
        "environment": env["ENVIRONMENT"].strip(),
        "bind": env.get("SERVICE_BIND", "").strip() or "0.0.0.0",
        "log_level": LOG_LEVELS[level],
        "broker": env["MQTT_BROKER"].strip(),
        "broker_port": _number(env, "MQTT_PORT", None, int, 1, 65535),
        "username": env["MQTT_USERNAME"].strip(),
        "password": env["MQTT_PASSWORD"],
        "heartbeat": _number(env, "HEARTBEAT_INTERVAL", 10.0, positive=True),
        "keepalive": _number(env, "MQTT_KEEPALIVE", 30, int, 5, 65535),
        "reconnect_max": _number(env, "MQTT_RECONNECT_MAX_DELAY", 30, int, 1, 3600),
        "fault_start_delay": _number(env, "ALICIA_FAULT_START_DELAY", 0.0, minimum=0),
        "fault_unhealthy": _flag(env, "ALICIA_FAULT_UNHEALTHY"),
        "fault_fail_at_start": _flag(env, "ALICIA_FAULT_FAIL_AT_START"),
        "fault_exit_after": _number(env, "ALICIA_FAULT_EXIT_AFTER", None, positive=True),
        "fault_exit_without_broker": _number(env, "ALICIA_FAULT_EXIT_WITHOUT_BROKER", None, positive=True),
        "host": env.get("SERVICE_HOST", "").strip() or socket.gethostname(),
        "drain_timeout": _number(env, "MQTT_DRAIN_TIMEOUT", 5.0, minimum=0),
        "drain_quiet": _number(env, "MQTT_DRAIN_QUIET", 0.5, minimum=0),
    }


def topics(name, instance=None):
    """The topics the service uses, all inside the catalogue's own-topic ACL.
    ``command_filter`` is what it subscribes to: the command topic as a Mosquitto 2
    shared subscription, one group per service, so that two versions of one
    service running at once (a blue-green switch) share the commands instead of
    both acting on each."""
    return {
        "status": "alicia/%s/status" % name,
        "command": "alicia/%s/command" % name,
        "command_filter": "$share/%s/alicia/%s/command" % (name, name),
        "response": "alicia/%s/response" % name,
        "health": "alicia/health/%s" % name,
        "discovery": "alicia/discovery/%s" % name,
        "registry": "alicia/registry/%s/%s" % (name, instance or name),
    }


# ---------------------------------------------------------------------------
# Logging: one line per record, UTC timestamps, flushed at once
# ---------------------------------------------------------------------------

def one_line(text):
    return str(text).replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class _Formatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record):
        return one_line(super().format(record))

    def formatException(self, ei):  # noqa: N802 (logging API)
        return " | ".join(super().formatException(ei).splitlines())


def setup_logging(config):
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Formatter("%(asctime)s.%(msecs)03dZ %(levelname)s " + config["instance"]
                                    + "[%(process)d] %(message)s", "%Y-%m-%dT%H:%M:%S"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(config["log_level"])
    LOG.propagate = False


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------

def new_state(config):
    return {
        "config": config,
        "topics": topics(config["name"], config["instance"]),
        "started": time.monotonic(),
        "started_at": time.time(),
        "draining": False,
        "inflight": 0,
        "last_command": time.monotonic(),
        "unsubscribed": threading.Event(),
        "answers": [],
        "lock": threading.Lock(),
        "connected": False,
        "stop": threading.Event(),
        "signal": None,
        "requests": dict((path, 0) for path in KNOWN_PATHS + ("other",)),
        "errors": 0,
        "received": 0,
        "published": 0,
        "connects": 0,
        "client": None,
    }


def uptime(state):
    return time.monotonic() - state["started"]


def is_healthy(state):
    return state["connected"] and not state["config"]["fault_unhealthy"]


def health_document(state):
    config = state["config"]
    return {
        "status": "healthy" if is_healthy(state) else "unhealthy",
        "service": config["name"],
        "instance": config["instance"],
        "version": config["version"],
        "broker_connected": bool(state["connected"]),
        "uptime_s": round(uptime(state), 3),
        "environment": config["environment"],
        "settings": config["settings"],
    }


def count(state, key, amount=1):
    with state["lock"]:
        state[key] += amount


# ---------------------------------------------------------------------------
# MQTT
# ---------------------------------------------------------------------------

def _code(value):
    """The integer of a paho 1.6 int or a paho 2.x ReasonCode."""
    return int(getattr(value, "value", value))


def publish(state, topic, payload, qos=0, retain=False):
    """Publish when connected; True when paho accepted the message."""
    client = state["client"]
    if client is None or not state["connected"]:
        return None
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload, sort_keys=True)
    info = client.publish(topic, payload, qos=qos, retain=retain)
    if _code(info.rc) == 0:
        count(state, "published")
        return info
    LOG.warning("publish to %s failed (rc %d)", topic, _code(info.rc))
    return None


def heartbeat(state):
    document = health_document(state)
    document.update({"timestamp": round(time.time(), 3), "pid": os.getpid(), "host": socket.gethostname()})
    return publish(state, state["topics"]["health"], document)


def registry_document(state, status=None):
    """The instance's registry entry (alicia/registry/<name>/<instance>, retained)."""
    config = state["config"]
    port = config.get("advertise_port") or config["port"]
    # Behind the balancer (an advertised port), the service is reached on every address of the host.
    bound = config["bind"] in ("0.0.0.0", "::", "") or config.get("advertise_port")
    address = config["host"] if bound else config["bind"]
    if ":" in address:
        address = "[%s]" % address
    return {
        "service": config["name"], "instance": config["instance"], "host": config["host"],
        "port": port, "version": config["version"], "environment": config["environment"],
        "health_url": "http://%s:%d/health" % (address, port),
        "state": status or ("draining" if state["draining"] else "running"),
        "health": "healthy" if is_healthy(state) else "unhealthy",
        "pid": os.getpid(), "started": round(state["started_at"], 3), "timestamp": round(time.time(), 3),
    }


def register(state, status=None):
    """Publish the retained registry entry; the MessageInfo, None when not connected."""
    return publish(state, state["topics"]["registry"], registry_document(state, status), qos=1, retain=True)


def discovery_document(state):
    config = state["config"]
    return {
        "service": config["name"], "instance": config["instance"], "version": config["version"],
        "environment": config["environment"], "host": socket.gethostname(), "port": config["port"], "pid": os.getpid(),
        "health": "/health", "ready": "/ready", "metrics": "/metrics",
        "command_topic": state["topics"]["command"], "response_topic": state["topics"]["response"],
    }


def answer(state, payload):
    """The response to one command payload (bytes)."""
    try:
        command = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {"service": state["config"]["name"], "ok": False, "error": "invalid command: not JSON (%s)" % exc}
    if not isinstance(command, dict):
        return {"service": state["config"]["name"], "ok": False, "error": "invalid command: not a JSON object"}
    action = command.get("action")
    response = {"service": state["config"]["name"], "action": action, "instance": state["config"]["instance"],
                "version": state["config"]["version"]}
    if "id" in command:
        response["id"] = command["id"]
    if action == "ping":
        response.update({"ok": True, "result": "pong"})
    elif action == "health":
        response.update({"ok": True, "result": health_document(state)})
    else:
        response.update({"ok": False, "error": "unknown action %s" % json.dumps(action),
                         "actions": list(COMMANDS)})
    return response


# Callbacks take the arguments of both paho callback API versions (1.6: VERSION1
# only; 2.x: VERSION2 requested in start_mqtt); userdata is the state.

def _on_connect(client, state, _flags, rc, *_args):
    code = _code(rc)
    if code != 0:
        text = str(rc) if hasattr(rc, "value") else mqtt.connack_string(code)
        LOG.error("broker %s:%d refused the login of user '%s': %s (CONNACK %d); retrying",
                  state["config"]["broker"], state["config"]["broker_port"], state["config"]["username"],
                  text, code)
        return
    names = state["topics"]
    if not state["draining"]:
        client.subscribe(names["command_filter"], qos=1)
    state["connected"] = True
    count(state, "connects")
    publish(state, names["status"], "online", qos=1, retain=True)
    publish(state, names["discovery"], discovery_document(state), qos=1, retain=True)
    heartbeat(state)
    register(state)
    LOG.info("connected to the broker %s:%d as '%s'", state["config"]["broker"], state["config"]["broker_port"],
             state["config"]["username"])


def _on_disconnect(_client, state, *args):
    # 1.6: (rc); 2.x: (disconnect_flags, reason_code, properties)
    was = state["connected"]
    state["connected"] = False
    code = _code(args[1] if len(args) >= 3 else args[0]) if args else 0
    if state["stop"].is_set():
        return
    if was:
        LOG.warning("lost the broker connection (rc %d); reconnecting", code)


def _on_unsubscribe(_client, state, *_args):
    state["unsubscribed"].set()


def _on_message(_client, state, message):
    count(state, "received")
    if message.topic != state["topics"]["command"]:
        return
    with state["lock"]:
        state["inflight"] += 1
        state["last_command"] = time.monotonic()
    try:
        response = answer(state, message.payload)
        LOG.info("command %s on %s: %s (id %s, %s %s)", json.dumps(response.get("action")), message.topic,
                 "ok" if response.get("ok") else response.get("error"), json.dumps(response.get("id")),
                 state["config"]["instance"], state["config"]["version"])
        info = publish(state, state["topics"]["response"], response, qos=1)
        if info is not None:
            with state["lock"]:
                state["answers"] = [item for item in state["answers"] if not item.is_published()] + [info]
    finally:
        with state["lock"]:
            state["inflight"] -= 1
            state["last_command"] = time.monotonic()


def drain(state, clock=time.monotonic, poll=0.02):
    """Stop taking commands before stopping (blue-green, rolling): registry state
    "draining", unsubscribe from the shared command subscription and wait for the
    UNSUBACK, then until no command is being handled or arrived for
    MQTT_DRAIN_QUIET s (messages the broker had queued for this client come
    after the UNSUBACK), then until every answer is acknowledged. Bounded by
    MQTT_DRAIN_TIMEOUT. Returns True when it drained, False on the timeout or
    without a broker connection (the broker then hands the commands to the others)."""
    config = state["config"]
    client = state["client"]
    state["draining"] = True
    if client is None or not state["connected"]:
        return False
    deadline = clock() + config["drain_timeout"]
    register(state)
    result = client.unsubscribe(state["topics"]["command_filter"])
    if _code(result[0]) != 0:
        return False
    while not state["unsubscribed"].wait(poll):
        if clock() >= deadline or not state["connected"]:
            LOG.warning("drain: no UNSUBACK within %.1f s", config["drain_timeout"])
            return False
    while True:
        with state["lock"]:
            busy = state["inflight"] > 0 or clock() - state["last_command"] < config["drain_quiet"]
            pending = [item for item in state["answers"] if not item.is_published()]
        if not busy and not pending:
            LOG.info("drain: unsubscribed from %s, no command in flight", state["topics"]["command_filter"])
            return True
        if clock() >= deadline:
            LOG.warning("drain: %d answer(s) unacknowledged after %.1f s", len(pending), config["drain_timeout"])
            return False
        time.sleep(poll)


def start_mqtt(state):
    config = state["config"]
    client_id = "alicia-%s-%s-%d" % (config["name"], socket.gethostname(), os.getpid())
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt >= 2.0
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             userdata=state)
    else:
        client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311, userdata=state)
    client.suppress_exceptions = True
    if config["log_level"] <= logging.DEBUG:
        client.enable_logger(LOG)
    client.username_pw_set(config["username"], config["password"])
    client.will_set(state["topics"]["status"], "offline", qos=1, retain=True)
    client.reconnect_delay_set(min_delay=1, max_delay=config["reconnect_max"])
    client.on_connect = _on_connect
    client.on_disconnect = _on_disconnect
    client.on_message = _on_message
    client.on_unsubscribe = _on_unsubscribe
    state["client"] = client
    client.connect_async(config["broker"], config["broker_port"], keepalive=config["keepalive"])
    client.loop_start()  # connects, and reconnects with backoff, in paho's thread
    LOG.info("connecting to the broker %s:%d as '%s' (paho-mqtt %s)", config["broker"], config["broker_port"],
             config["username"], PAHO_VERSION)
    return client


def stop_mqtt(state, timeout=1.5):
    """Clear the registry entry, publish the retained 'offline', disconnect, stop
    paho's thread (bounded)."""
    client = state["client"]
    if client is None:
        return
    cleared = publish(state, state["topics"]["registry"], b"", qos=1, retain=True)
    info = publish(state, state["topics"]["status"], "offline", qos=1, retain=True)
    for item in (cleared, info):
        if item is not None:
            try:
                item.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
    client.disconnect()
    stopper = threading.Thread(target=client.loop_stop, name="mqtt-stop", daemon=True)
    stopper.start()
    stopper.join(timeout)
    state["connected"] = False


def heartbeat_loop(state):
    while not state["stop"].wait(state["config"]["heartbeat"]):
        try:
            heartbeat(state)
            register(state)
        except Exception:  # pylint: disable=broad-except
            LOG.exception("heartbeat failed")


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics_text(state):
    """The Prometheus text exposition (format 0.0.4)."""
    config = state["config"]
    service = 'service="%s"' % _label(config["name"])
    with state["lock"]:
        requests = dict(state["requests"])
        errors, received, published, connects = (state["errors"], state["received"], state["published"],
                                                 state["connects"])
    lines = []

    def metric(name, kind, help_text, samples):
        lines.append("# HELP %s %s" % (name, help_text))
        lines.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            lines.append("%s{%s} %s" % (name, labels, value))

    info = '%s,version="%s",environment="%s"' % (service, _label(config["version"]), _label(config["environment"]))
    metric("alicia_service_info", "gauge", "Service identity.", [(info, 1)])
    metric("alicia_http_requests_total", "counter", "HTTP requests by path (unknown paths as other).",
           [('%s,path="%s"' % (service, _label(path)), requests[path]) for path in KNOWN_PATHS + ("other",)])
    metric("alicia_http_errors_total", "counter", "HTTP responses with a status of 400 or more.",
           [(service, errors)])
    metric("alicia_uptime_seconds", "gauge", "Seconds since the service started.",
           [(service, "%.3f" % uptime(state))])
    metric("alicia_mqtt_connected", "gauge", "1 when the broker connection is up.",
           [(service, 1 if state["connected"] else 0)])
    metric("alicia_healthy", "gauge", "1 when /health reports healthy.", [(service, 1 if is_healthy(state) else 0)])
    metric("alicia_mqtt_connects_total", "counter", "Successful broker connections (reconnects included).",
           [(service, connects)])
    metric("alicia_mqtt_messages_received_total", "counter", "MQTT messages received.", [(service, received)])
    metric("alicia_mqtt_messages_published_total", "counter", "MQTT messages published.", [(service, published)])
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    """GET /health, /ready, /metrics; JSON 404 and 405 for the rest."""

    server_version = "alicia-reference-service"
    timeout = 10  # a client that never sends its request does not hold a thread forever

    def _send(self, status, body, content_type="application/json", head=False):
        data = (json.dumps(body, sort_keys=True) + "\n").encode() if isinstance(body, dict) else body.encode()
        if status >= 400:
            count(self.server.state, "errors")
        self._answered = True  # access logged below, with the size, not by send_response
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 405:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if not head:
            self.wfile.write(data)
        self._access(status, len(data))

    def _access(self, status, size):
        began = getattr(self, "_began", None)
        elapsed = (time.monotonic() - began) * 1000 if began is not None else 0.0
        LOG.info('access %s "%s" %s %s %.1fms', self.client_address[0], self.requestline, status, size, elapsed)

    def _get(self, head=False):
        state = self.server.state
        path = self.path.split("?", 1)[0]
        with state["lock"]:
            key = path if path in state["requests"] else "other"
            state["requests"][key] += 1
        try:
            if path == "/health":
                self._send(200, health_document(state), head=head)
            elif path == "/ready":
                self._send(200 if is_healthy(state) else 503, health_document(state), head=head)
            elif path == "/metrics":
                self._send(200, metrics_text(state), "text/plain; version=0.0.4; charset=utf-8", head=head)
            else:
                self._send(404, {"error": "not found", "path": path, "paths": list(KNOWN_PATHS)}, head=head)
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:  # pylint: disable=broad-except
            LOG.exception("error answering %s", path)
            self._send(500, {"error": "internal error"}, head=head)

    def do_GET(self):  # noqa: N802 (http.server API)
        self._get()

    def do_HEAD(self):  # noqa: N802
        self._get(head=True)

    def _not_allowed(self):
        self._send(405, {"error": "method not allowed", "allow": ["GET", "HEAD"]})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_request(self, code="-", size="-"):
        # Only for answers http.server makes itself (400 bad request, 414...).
        if getattr(self, "_answered", False):
            return
        status = int(getattr(code, "value", code)) if str(code).isdigit() or hasattr(code, "value") else code
        if isinstance(status, int) and status >= 400:
            count(self.server.state, "errors")
        self._access(status, size)

    def log_error(self, fmt, *args):
        LOG.warning("http %s: %s", self.client_address[0], fmt % args)

    def log_message(self, fmt, *args):
        LOG.info("http %s: %s", self.client_address[0], fmt % args)

    def parse_request(self):
        self._began = time.monotonic()
        return super().parse_request()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, state):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            LOG.debug("http %s: %s", client_address[0], error)
        else:
            LOG.exception("http %s: unhandled error", client_address[0])


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def install_signals(state):
    def stop(signum, _frame):
        if state["signal"] is None:
            state["signal"] = signal.Signals(signum).name
        state["stop"].set()

    def hup(_signum, _frame):
        LOG.info("SIGHUP received (logs go to stdout; nothing to reopen)")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)


def crash_after(seconds):
    def crash():
        LOG.error("fault: exiting with code %d after %.1f s (ALICIA_FAULT_EXIT_AFTER)", EXIT_CRASH, seconds)
        logging.shutdown()
        os._exit(EXIT_CRASH)  # no clean MQTT disconnect: the broker sends the last will
    timer = threading.Timer(seconds, crash)
    timer.daemon = True
    timer.start()
    return timer


def exit_without_broker(state, seconds, poll=0.2, clock=time.monotonic, exit_=os._exit):
    """Watch the broker connection: exit 3 once it has been down ``seconds`` (ALICIA_FAULT_EXIT_WITHOUT_BROKER).

    Runs until the stop event is set; returns False then. ``clock`` and ``exit_`` are for the tests.
    """
    down_since = clock()
    while not state["stop"].wait(poll):
        if state["connected"]:
            down_since = None
            continue
        if down_since is None:
            down_since = clock()
        elif clock() - down_since >= seconds:
            LOG.error("fault: exiting with code %d: no broker connection for %.1f s (ALICIA_FAULT_EXIT_WITHOUT_BROKER)",
                      EXIT_CRASH, seconds)
            logging.shutdown()
            exit_(EXIT_CRASH)
            return True
    return False


def main(env=None):
    env = os.environ if env is None else env
    try:
        config = load_config(env)
    except ConfigError as exc:
        sys.stderr.write("%s: configuration error: %s\n" % (PROG, one_line(exc)))
        return EXIT_CONFIG
    setup_logging(config)
    state = new_state(config)
    install_signals(state)

    if config["fault_fail_at_start"]:
        sys.stderr.write("%s: fault: failing at start (ALICIA_FAULT_FAIL_AT_START=1)\n" % PROG)
        LOG.error("fault: failing at start (ALICIA_FAULT_FAIL_AT_START=1)")
        return EXIT_STARTUP
    if mqtt is None:
        sys.stderr.write("%s: the paho-mqtt Python library is not installed (Debian: python3-paho-mqtt)\n" % PROG)
        return EXIT_STARTUP
    LOG.info("starting %s %s (%s, instance %s), Python %s, paho-mqtt %s", config["name"], config["version"],
             config["environment"], config["instance"], ".".join(str(part) for part in sys.version_info[:3]), PAHO_VERSION)
    if config["fault_exit_after"]:
        crash_after(config["fault_exit_after"])
    if config["fault_start_delay"]:
        LOG.warning("fault: delaying the HTTP listener by %.1f s (ALICIA_FAULT_START_DELAY)",
                    config["fault_start_delay"])
        if state["stop"].wait(config["fault_start_delay"]):
            LOG.info("%s received during the start delay: stopped", state["signal"])
            return EXIT_OK

    try:
        httpd = Server((config["bind"], config["port"]), state)
    except OSError as exc:
        LOG.error("cannot listen on %s:%d: %s", config["bind"], config["port"], exc)
        return EXIT_STARTUP
    server = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True)
    server.start()
    LOG.info("HTTP listening on %s:%d", config["bind"], config["port"])
    if config["pid_file"] and not write_pid_file(config["pid_file"]):
        httpd.shutdown()
        httpd.server_close()
        return EXIT_STARTUP
    start_mqtt(state)
    if config["fault_unhealthy"]:
        LOG.warning("fault: always reporting unhealthy (ALICIA_FAULT_UNHEALTHY=1)")
    threading.Thread(target=heartbeat_loop, args=(state,), name="heartbeat", daemon=True).start()
    if config["fault_exit_without_broker"]:
        LOG.warning("fault: exiting when the broker is out of reach for %.1f s (ALICIA_FAULT_EXIT_WITHOUT_BROKER)",
                    config["fault_exit_without_broker"])
        threading.Thread(target=exit_without_broker, args=(state, config["fault_exit_without_broker"]),
                         name="broker-watch", daemon=True).start()

    while not state["stop"].wait(0.5):
        pass
    LOG.info("%s received: stopping", state["signal"])
    drain(state)
    httpd.shutdown()
    httpd.server_close()
    stop_mqtt(state)
    if config["pid_file"]:
        remove_pid_file(config["pid_file"])
    LOG.info("stopped")
    return EXIT_OK


def write_pid_file(path):
    """The process id in ``path`` (written beside it, then renamed); False when it cannot be written."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(temporary, "w") as handle:
            handle.write("%d\n" % os.getpid())
        os.rename(temporary, path)
    except OSError as exc:
        LOG.error("cannot write the pid file %s: %s", path, exc)
        return False
    return True


def remove_pid_file(path):
    """Remove ``path`` if it still holds this process's id (a newer instance may have replaced it)."""
    try:
        with open(path) as handle:
            if handle.read().strip() != str(os.getpid()):
                return
        os.remove(path)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
