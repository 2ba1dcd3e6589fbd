# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the broker role's inputs against the resolved catalogue
(broker_errors). The services' MQTT passwords are not checked here:
catalogue errors() with the secrets does that, in one place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import require_catalogue
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import mqtt_errors
from ansible_collections.alicia.platform.plugins.module_utils._validation import (
    absolute_path_problem,
    has_line_break,
    mqtt_username_problem,
)

BROKER_SETTINGS = (
    "broker", "admin_username", "admin_password", "monitor_username", "monitor_password",
    "runtime", "config_dir", "tls_enabled", "tls_source", "tls_ca_content", "tls_cert_content", "tls_key_content",
    "tls_ca_file", "tls_cert_file", "tls_key_file", "check_enabled", "check_service", "registry_readers",
)
RUNTIMES = ("systemd", "docker")
TLS_SOURCES = ("generate", "content", "files")
_TLS_PARTS = ("ca", "cert", "key")


def _password_errors(settings, key):
    value = settings.get(key)
    variable = "broker_%s" % key
    if value is None or (isinstance(value, str) and not value):
        return ["broker: %s: must be set (from Vault)" % variable]
    if not isinstance(value, str):
        return ["broker: %s: must be a string (from Vault), got %s" % (variable, type(value).__name__)]
    if has_line_break(value):
        return ["broker: %s: must be a single line (no newline, carriage return or NUL)" % variable]
    return []


def _services(catalogue):
    return [(name, entry) for name, entry in catalogue.items()
            if isinstance(entry, dict) and entry.get("kind", "service") == "service"]


def _username_errors(settings, services):
    found = []
    accounts = []
    for key in ("admin_username", "monitor_username"):
        username = settings.get(key)
        problem = mqtt_username_problem(username)
        if problem:
            found.append("broker: broker_%s: %s" % (key, problem))
        accounts.append((username, "broker_%s" % key))
    for name, entry in services:
        mqtt = entry.get("mqtt")
        if isinstance(mqtt, dict):
            accounts.append((mqtt.get("username"), "service '%s'" % name))
    owners = {}
    for username, owner in accounts:
        if isinstance(username, str) and username:
            owners.setdefault(username, []).append(owner)
    for username, names in owners.items():
        if len(names) > 1:
            found.append("broker: MQTT username '%s' is used by more than one account: %s"
                         % (username, ", ".join(names)))
    return found


def _tls_errors(settings):
    found = []
    source = settings.get("tls_source", "generate")
    if source not in TLS_SOURCES:
        found.append("broker: broker_tls_source: must be one of %s, got %r" % (", ".join(TLS_SOURCES), source))
    if source == "content":
        for part in _TLS_PARTS:
            value = settings.get("tls_%s_content" % part)
            if not isinstance(value, str) or not value.strip():
                # Never the value: the key is secret.
                found.append("broker: broker_tls_%s_content: must be set when broker_tls_source is 'content'" % part)
    files = [("tls_%s_file" % part, settings.get("tls_%s_file" % part)) for part in _TLS_PARTS
             if "tls_%s_file" % part in settings]
    for key, path in files:
        problem = absolute_path_problem(path)
        if problem:
            found.append("broker: broker_%s: %s" % (key, problem))
    config_dir = settings.get("config_dir")
    if settings.get("runtime", "systemd") == "docker" and isinstance(config_dir, str) and config_dir.startswith("/"):
        prefix = config_dir.rstrip("/") + "/"
        for key, path in files:
            if isinstance(path, str) and path.startswith("/") and not posixpath.normpath(path).startswith(prefix):
                found.append("broker: broker_%s: %s must be under broker_config_dir (%s), the directory mounted "
                             "into the container (broker_runtime docker)" % (key, path, config_dir))
    return found


def _registry_reader_errors(readers, names):
    if not isinstance(readers, (list, tuple)) or not all(isinstance(name, str) for name in readers):
        return ["broker: broker_registry_readers: must be a list of catalogue service names, got %r" % (readers,)]
    return ["broker: broker_registry_readers: '%s' is not a service of the catalogue" % name
            for name in readers if name not in names]


def broker_errors(catalogue, settings):
    """Problems of the broker role's inputs, one message each (empty: all good).

    ``settings`` holds the role's variables without their ``broker_``
    prefix (``broker`` is the broker's catalogue entry name, from
    catalogue_broker); a key that is not given is not checked, except the
    passwords, which must be set. Messages name the variable; passwords and
    TLS contents are never put in a message.
    """
    require_catalogue(catalogue)
    if not isinstance(settings, dict):
        return ["broker: settings must be a mapping of setting name to value, got %s" % type(settings).__name__]
    found = []
    unknown = sorted(str(key) for key in settings if key not in BROKER_SETTINGS)
    if unknown:
        found.append("broker: unknown setting(s) %s (known: %s)" % (", ".join(unknown), ", ".join(BROKER_SETTINGS)))
    broker = settings.get("broker", "mqtt_broker")
    entry = catalogue.get(broker) if isinstance(broker, str) else None
    if not isinstance(entry, dict) or entry.get("kind") != "broker":
        found.append("broker: catalogue entry '%s' (catalogue_broker) is missing or not of kind 'broker'" % (broker,))
    for key in ("admin_password", "monitor_password"):
        found.extend(_password_errors(settings, key))
    services = _services(catalogue)
    found.extend(_username_errors(settings, services))
    found.extend(mqtt_errors(catalogue))
    runtime = settings.get("runtime", "systemd")
    if runtime not in RUNTIMES:
        found.append("broker: broker_runtime: must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
    elif runtime != "docker" and isinstance(entry, dict) and entry.get("listen_port") != entry.get("port"):
        # As for the services: the clients, the firewall and the gate use `port`; only a
        # container maps it to another port the process binds.
        found.append("broker: catalogue entry '%s' field 'listen_port': listen_port %s differs from port %s, which "
                     "only broker_runtime docker can map (under %s Mosquitto binds the port it is reached at)"
                     % (broker, entry.get("listen_port"), entry.get("port"), runtime))
    if "config_dir" in settings:
        problem = absolute_path_problem(settings["config_dir"])
        if problem:
            found.append("broker: broker_config_dir: %s" % problem)
    if settings.get("tls_enabled"):
        found.extend(_tls_errors(settings))
    if "registry_readers" in settings:
        found.extend(_registry_reader_errors(settings["registry_readers"], [name for name, _entry in services]))
    if settings.get("check_enabled"):
        names = [name for name, _entry in services]
        check = settings.get("check_service") or ""
        if not names:
            found.append("broker: broker_check_enabled: the catalogue has no service to check the broker with")
        elif check and check not in names:
            found.append("broker: broker_check_service '%s' is not a service of the catalogue" % (check,))
    return found
