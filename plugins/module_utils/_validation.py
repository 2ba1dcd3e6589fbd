# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of single values, shared by the catalogue checks and the role-input
checks: each returns None when the value is fine, else the text of the
problem (without the service or variable name; the caller adds those).

Values that may be secret are never put in a text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import is_int, is_number

# The broker's password and ACL files take these usernames as they are.
MQTT_USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
_MQTT_USERNAME = re.compile(r"[A-Za-z0-9_.@-]+\Z")
MQTT_TOPIC_MAX_BYTES = 65535

# Environment variable (and secret) names.
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Sizes: bytes, or a whole number with a binary suffix (systemd and docker both read these).
_SIZE = re.compile(r"([0-9]+)([KMGTkmgt]?)\Z")
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}

# Debian package names (Debian policy 5.6.1), with an optional :arch and =version.
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+:~-]+)?\Z")

# systemd service unit names.
_UNIT = re.compile(r"[A-Za-z0-9:_.@\\-]+\.service\Z")

LINE_BREAKS = ("\n", "\r", "\x00")


def is_control(char):
    """C0 and C1 control characters (NUL, newline, tab, DEL...)."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def has_line_break(value):
    """True when a string holds a newline, a carriage return or NUL."""
    return isinstance(value, str) and any(mark in value for mark in LINE_BREAKS)


def single_line_problem(value):
    if not isinstance(value, str):
        return "must be a string, got %s" % type(value).__name__
    if has_line_break(value):
        return "must be a single line (no newline, carriage return or NUL)"
    return None


def identifier_problem(name, what="variable name"):
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        return "invalid %s %r: use A-Z, a-z, 0-9 and _, not starting with a digit" % (what, name)
    return None


def mqtt_username_problem(username):
    if not isinstance(username, str) or not username:
        return "must be a non-empty string, got %r" % (username,)
    if not _MQTT_USERNAME.match(username):
        return ("invalid username %r: use only A-Z, a-z, 0-9 and _ . @ - (no +, #, /, spaces or control "
                "characters)" % (username,))
    return None


def mqtt_topic_problem(topic):
    """MQTT topic filter syntax, and nothing that could break an ACL line."""
    if not isinstance(topic, str):
        return "topic must be a string, got %r" % (topic,)
    if not topic:
        return "empty topic"
    if any(is_control(char) for char in topic):
        return "topic %r contains a control character (newline, NUL...)" % (topic,)
    if any(char.isspace() for char in topic):
        return "topic %r contains whitespace" % (topic,)
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        return "topic %r is not valid UTF-8" % (topic,)
    if size > MQTT_TOPIC_MAX_BYTES:
        return "topic is %d bytes long in UTF-8 (at most %d)" % (size, MQTT_TOPIC_MAX_BYTES)
    levels = topic.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return "invalid topic %r: '#' only as the whole last level" % (topic,)
        if "+" in level and level != "+":
            return "invalid topic %r: '+' only as a whole level" % (topic,)
    return None


def cpu_problem(value):
    if not is_number(value) or math.isnan(value) or math.isinf(value) or value <= 0:
        return "must be a positive number of CPU cores (for example 0.5 or 2), got %r" % (value,)
    return None


def size_bytes(value):
    """Bytes of a size (int bytes, or '512M', '1G', '64k': binary units); None when not a positive size."""
    if is_int(value):
        return value if value > 0 else None
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            size = int(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()]
            return size if size > 0 else None
    return None


def size_problem(value):
    if size_bytes(value) is None:
        return "must be a positive size: bytes, or a whole number with K, M, G or T (512M, 1G), got %r" % (value,)
    return None


def absolute_path_problem(path):
    if not isinstance(path, str) or not path.startswith("/"):
        return "must be an absolute path, got %r" % (path,)
    if any(is_control(char) or char.isspace() for char in path):
        return "path %r must not contain whitespace or control characters" % (path,)
    return None


def package_problem(name):
    if not isinstance(name, str) or not _PACKAGE.match(name):
        return "invalid Debian package name %r" % (name,)
    return None


def unit_problem(unit):
    if not isinstance(unit, str) or not _UNIT.match(unit):
        return "must be a systemd service unit name such as alicia-voice_router.service, got %r" % (unit,)
    return None
