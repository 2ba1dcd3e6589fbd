# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network inputs: IPv4/IPv6 addresses and CIDRs, ports, the catalogue's
``firewall.allow_from`` and the checks of the network_hardening role's
variables (network_hardening_errors).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import is_int, is_list
from ansible_collections.alicia.platform.plugins.module_utils._validation import has_line_break

ALLOW_FROM_NAMES = ("platform", "clients", "any")
NETWORK_SETTINGS = ("ssh_sources", "platform_networks", "client_networks")
RULE_SETTINGS = ("extra_rules", "output_rules")
HARDENING_SETTINGS = NETWORK_SETTINGS + RULE_SETTINGS + ("ssh_port", "icmp_rate", "icmp_burst")
_ICMP_RATE = re.compile(r"[0-9]+/(second|minute|hour|day)\Z")
_DIGITS = re.compile(r"[0-9]+\Z")


def is_network(value):
    """An IPv4 or IPv6 address or CIDR (host bits may be set: 10.0.0.1/8)."""
    if not isinstance(value, str) or not value or "%" in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def invalid_networks(items):
    """The items of a list that are not addresses or CIDRs, as text."""
    return [item if isinstance(item, str) else repr(item) for item in items if not is_network(item)]


def port_number(value):
    """The port as an int (ints and digit strings, like Jinja's ``| int``), or None when not 1-65535."""
    if isinstance(value, str) and _DIGITS.match(value):
        value = int(value)
    if is_int(value) and 1 <= value <= 65535:
        return value
    return None


def _whole_number(value):
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return value if is_int(value) else None


def allow_from_problem(value):
    """None when ``firewall.allow_from`` is valid (None means platform), else the problem."""
    if value is None or (isinstance(value, str) and value in ALLOW_FROM_NAMES):
        return None
    text = ("must be one of %s or a non-empty list of IPv4/IPv6 addresses or CIDRs, got %s"
            % (", ".join(ALLOW_FROM_NAMES), _json(value)))
    if not is_list(value) or not value:
        return text
    bad = invalid_networks(value)
    if bad:
        return "%s; not valid: %s" % (text, ", ".join(bad))
    return None


def _json(value):
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def network_hardening_errors(settings, services=None):
    """Problems of the network_hardening role's inputs, one message each.

    ``settings`` holds the role's variables without their prefix
    (ssh_sources, platform_networks, client_networks, ssh_port, icmp_rate,
    icmp_burst, extra_rules, output_rules); a key that is not given is not
    checked. ``services`` are resolved catalogue entries (those of the host):
    their ``port`` and ``firewall.allow_from``. Messages name the variable
    (``network_hardening_<key>``) or the service.
    """
    found = []
    if not isinstance(settings, dict):
        return ["network_hardening: settings must be a mapping of setting name to value, got %s"
                % type(settings).__name__]
    unknown = sorted(str(key) for key in settings if key not in HARDENING_SETTINGS)
    if unknown:
        found.append("network_hardening: unknown setting(s) %s (known: %s)"
                     % (", ".join(unknown), ", ".join(HARDENING_SETTINGS)))
    for key in NETWORK_SETTINGS:
        if key not in settings:
            continue
        value = settings[key]
        if not is_list(value):
            found.append("network_hardening: network_hardening_%s must be a list of IPv4/IPv6 addresses or CIDRs, "
                         "got %s" % (key, _json(value)))
            continue
        bad = invalid_networks(value)
        if bad:
            found.append("network_hardening: network_hardening_%s must list IPv4/IPv6 addresses or CIDRs "
                         "(10.0.0.0/8, fd00::/8); not valid: %s" % (key, ", ".join(bad)))
    if "ssh_port" in settings and port_number(settings["ssh_port"]) is None:
        found.append("network_hardening: network_hardening_ssh_port must be 1-65535, got %r" % (settings["ssh_port"],))
    if "icmp_rate" in settings:
        rate = settings["icmp_rate"]
        if not isinstance(rate, str) or not _ICMP_RATE.match(rate):
            found.append("network_hardening: network_hardening_icmp_rate must be N/second|minute|hour|day "
                         "(nft limit rate), got %r" % (rate,))
    if "icmp_burst" in settings:
        burst = _whole_number(settings["icmp_burst"])
        if burst is None or burst <= 0:
            found.append("network_hardening: network_hardening_icmp_burst must be a whole number > 0, got %r"
                         % (settings["icmp_burst"],))
    for key in RULE_SETTINGS:
        if key not in settings:
            continue
        rules = settings[key]
        if not is_list(rules):
            found.append("network_hardening: network_hardening_%s must be a list of nft rules, got %s"
                         % (key, _json(rules)))
            continue
        for position, rule in enumerate(rules):
            if not isinstance(rule, str) or has_line_break(rule):
                found.append("network_hardening: network_hardening_%s item %d must be a single-line string "
                             "(one nft rule)" % (key, position + 1))
    found.extend(_service_errors(services))
    return found


def _service_errors(services):
    found = []
    if services is None:
        return found
    if isinstance(services, dict):
        services = list(services.values())
    if not is_list(services):
        return ["network_hardening: services must be a list of catalogue entries, got %s" % type(services).__name__]
    for entry in services:
        if not isinstance(entry, dict):
            found.append("network_hardening: services must be catalogue entries (mappings), got %r" % (entry,))
            continue
        name = entry.get("name")
        port = entry.get("port")
        if port is not None and port_number(port) is None:
            found.append("network_hardening: service '%s': port must be 1-65535 (got %r)" % (name, port))
        firewall = entry.get("firewall")
        if firewall is not None and not isinstance(firewall, dict):
            found.append("network_hardening: service '%s': firewall must be a mapping {allow_from}, got %s"
                         % (name, _json(firewall)))
            continue
        problem = allow_from_problem((firewall or {}).get("allow_from"))
        if problem:
            found.append("network_hardening: service '%s': firewall.allow_from %s" % (name, problem))
    return found
