# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared basics of the catalogue modules: the error type, plain copies,
recursive merge, message format and small type tests.

Private: import the public names from module_utils/catalogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import posixpath
import re

DEFAULT_PHASES = ("core", "management", "voice", "devices", "advanced", "observability")
# The one list of runtimes (the service role has one strategy per name:
# module_utils/_service_plan.py RUNTIMES).
DEFAULT_RUNTIMES = ("systemd", "supervisor", "manual", "docker")
# The runtimes whose process binds on the host's network (it binds the port it
# is reached at), which a host may also force on all its services
# (service_runtime): all but docker, which needs its network and images.
HOST_RUNTIMES = tuple(runtime for runtime in DEFAULT_RUNTIMES if runtime != "docker")
DEPENDENCY_TYPES = ("required", "optional")
KINDS = ("service", "broker")

# Multi-instance services (instances > 1): each instance is a systemd unit
# alicia-<instance name>.service; the names share one namespace with the
# services' own units (alicia-<service>.service).
INSTANCE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
INSTANCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
# The health sweep's row of the balanced (published) port of a multi-instance service.
BALANCED_INSTANCE = "balanced"


class CatalogueError(ValueError):
    """A catalogue entry is malformed; the message names service and field."""

    def __init__(self, message, service=None, field=None):
        super(CatalogueError, self).__init__(message)
        self.service = service
        self.field = field


def native(value):
    """A deep copy made of plain dicts, lists, str, int, float, bool and None.

    Ansible 2.19 hands filters tagged (and lazily templated) containers;
    ``copy.deepcopy`` of those copies every tag and is thousands of times
    slower than this. Iterating renders nested templates, so the copy is
    plain, final data. A vault-encrypted string (ansible-core 2.19's
    EncryptedString, AnsibleVaultEncryptedUnicode before) becomes its text.
    """
    if hasattr(value, "_ciphertext") and not isinstance(value, (str, bytes)):
        return str.__str__(str(value))
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        return dict((native(key), native(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [native(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    return copy.deepcopy(value)


def merge(base, override):
    """Recursively merge ``override`` into a copy of ``base`` (dicts only)."""
    result = native(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = native(value)
    return result


def fmt(service, field, text):
    """The catalogue's message format: names the service and the field."""
    return "catalogue: service '%s' field '%s': %s" % (service, field, text)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_list(value):
    """A list or tuple (not a string, not a mapping)."""
    return isinstance(value, (list, tuple))


def unique(items):
    """``items`` without repeats, first occurrence kept (items need not be hashable)."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def hosts_of(entry, groups):
    """The hosts of an entry's inventory group (``groups``: group -> hosts)."""
    hosts = groups.get(entry.get("group")) if hasattr(groups, "get") else None
    return list(hosts or [])


def require_catalogue(catalogue):
    if not isinstance(catalogue, dict):
        raise CatalogueError("catalogue: the resolved catalogue must be a mapping of service name to entry")


def instance_count(entry):
    """N when ``entry`` asks for more than one instance (``instances`` an int > 1), else None."""
    instances = entry.get("instances", 1) if isinstance(entry, dict) else None
    return instances if is_int(instances) and instances > 1 else None


# Blue-green services (``slot_ports``): two slots, each a systemd unit
# alicia-<service>-<slot>.service on its own loopback port and release, behind
# the balancer on the service's port; one serves, the other is stopped but
# installed (the service role's alicia.platform.slots switches between them).
SLOTS = ("blue", "green")


def slot_ports_of(entry):
    """The two ports of a blue-green entry (``slot_ports``, well formed), else None."""
    ports = entry.get("slot_ports") if isinstance(entry, dict) else None
    if not is_list(ports) or len(ports) != len(SLOTS):
        return None
    if not all(is_int(port) and 1 <= port <= 65535 for port in ports) or ports[0] == ports[1]:
        return None
    return list(ports)


def has_slots(entry):
    """Whether ``entry`` asks for blue-green slots (a ``slot_ports`` field, well formed or not)."""
    return isinstance(entry, dict) and entry.get("kind", "service") == "service" and entry.get("slot_ports") is not None


def default_instance_names(name, count):
    """``<service>-1`` .. ``<service>-N``."""
    return ["%s-%d" % (name, index) for index in range(1, count + 1)]


def instance_names(name, entry):
    """The instance names of a multi-instance entry: its ``instance_names`` when
    given (as given, for errors() to check), else the defaults; [] for one instance."""
    count = instance_count(entry)
    if count is None:
        return []
    listed = entry.get("instance_names")
    if listed is None:
        return default_instance_names(name, count)
    return list(listed) if is_list(listed) else []


def well_formed_ports(ports, count):
    """``ports`` as a list when it is ``count`` ints 1-65535, else None."""
    if not is_list(ports) or len(ports) != count:
        return None
    if not all(is_int(port) and 1 <= port <= 65535 for port in ports):
        return None
    return list(ports)


def instance_log(log_path, instance):
    """``<directory of the service's log>/<instance>.log``."""
    directory = posixpath.dirname(log_path) if isinstance(log_path, str) and log_path.startswith("/") else ""
    return "%s/%s.log" % (directory or "/var/log/alicia", instance)
