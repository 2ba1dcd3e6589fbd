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

DEFAULT_PHASES = ("core", "management", "voice", "devices", "advanced", "observability")
DEFAULT_RUNTIMES = ("systemd", "supervisor", "manual", "docker")
DEPENDENCY_TYPES = ("required", "optional")
KINDS = ("service", "broker")


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
