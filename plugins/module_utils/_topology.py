# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform an inventory describes, as data and as an SVG picture
(playbooks/topology.yml, filters topology_model and topology_svg).

- ``model`` builds, from the resolved catalogue, ``groups`` and
  ``hostvars``: each host with its groups, the services it runs (ports,
  instances), the HAProxy balancer in front of its multi-instance services,
  what its nftables firewall opens to whom, and the MQTT edges from the
  services' hosts to the broker host. It reuses the catalogue's own answers
  (host_services, balancer_services, host_docker_network) and reads the
  network_hardening role's variables like roles/network_hardening does.
- ``svg`` draws that model in plain Python: one box per host in a grid, the
  broker's hosts in a column on the left, an MQTT bus from every service
  host to the broker, a legend of the firewall's sources. Deterministic (the
  same inventory gives the same bytes), no Graphviz needed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from xml.sax.saxutils import escape, quoteattr

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    CatalogueError,
    is_list,
    native,
    require_catalogue,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import (
    BALANCER_SERVER_ADDRESS,
    _address,
    balancer_services,
    has_instances,
    host_docker_network,
    host_services,
)
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_order import order

# The network_hardening role's defaults (roles/network_hardening/defaults/main.yml;
# a unit test keeps them equal) for a host whose inventory does not set them:
# role defaults are not part of ``hostvars``.
HARDENING_DEFAULTS = {
    "network_hardening_firewall_enabled": True,
    "network_hardening_ssh_port": 22,
    "network_hardening_ssh_sources": [],
    "network_hardening_platform_networks": [],
    "network_hardening_client_networks": [],
}
# The hosts baseline.yml (and so network_hardening) runs on.
PLATFORM_GROUP = "alicia"
# firewall.allow_from when an entry does not say (the role's template).
DEFAULT_ALLOW_FROM = "platform"
# Where a named allow_from takes its sources from.
ALLOW_FROM_VARIABLES = {"platform": "network_hardening_platform_networks",
                        "clients": "network_hardening_client_networks"}
ANY = "any"
_IGNORED_GROUPS = ("all", "ungrouped")


def _hostvar(hostvars, host, name):
    """``hostvars[host][name]`` as plain data, or None when unset or not renderable."""
    if hostvars is None:
        return None
    try:
        value = hostvars[host].get(name)
    except Exception:  # pylint: disable=broad-except  # HostVars may fail to template one var
        return None
    return None if value is None else native(value)


def _setting(hostvars, host, name):
    value = _hostvar(hostvars, host, name)
    return HARDENING_DEFAULTS[name] if value is None else value


def _as_bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


def _networks(value):
    return [str(item) for item in value] if is_list(value) else []


def _host_groups(groups):
    """host -> the sorted inventory groups it is in (``all``/``ungrouped`` left out)."""
    result = {}
    for group in sorted(groups or {}):
        if group in _IGNORED_GROUPS:
            continue
        for host in groups[group] or []:
            result.setdefault(str(host), []).append(str(group))
    return result


def _broker_name(catalogue, broker):
    if broker:
        if broker not in catalogue or not isinstance(catalogue[broker], dict):
            raise CatalogueError("topology: unknown broker entry '%s'" % broker)
        return broker
    names = [n for n, e in catalogue.items() if isinstance(e, dict) and e.get("kind") == "broker"]
    return names[0] if names else None


def _firewall_rule(entry, settings):
    """What the firewall opens for one entry: its port, the allow_from label and the sources."""
    firewall = entry.get("firewall") if isinstance(entry.get("firewall"), dict) else {}
    allow = firewall.get("allow_from") or DEFAULT_ALLOW_FROM
    if is_list(allow):
        label, sources = "cidrs", [str(item) for item in allow]
    elif allow == ANY:
        label, sources = ANY, [ANY]
    else:
        label, sources = str(allow), _networks(settings.get(ALLOW_FROM_VARIABLES.get(allow, ""), []))
    return {"port": entry.get("port"), "service": entry.get("name"), "allow_from": label, "sources": sources}


def _firewall(host, entries, groups_of_host, hostvars, catalogue):
    managed_host = PLATFORM_GROUP in groups_of_host
    settings = dict((name, _setting(hostvars, host, name)) for name in HARDENING_DEFAULTS)
    enabled = managed_host and _as_bool(settings["network_hardening_firewall_enabled"])
    ssh_sources = _networks(settings["network_hardening_ssh_sources"])
    result = {
        "managed": enabled,
        "reason": (None if enabled else "host not in group '%s'" % PLATFORM_GROUP if not managed_host
                   else "network_hardening_firewall_enabled is false"),
        "ssh": {"port": settings["network_hardening_ssh_port"], "sources": ssh_sources or [ANY]},
        "platform_networks": _networks(settings["network_hardening_platform_networks"]),
        "client_networks": _networks(settings["network_hardening_client_networks"]),
        "rules": [],
    }
    if not enabled:
        return result
    # The entries of the host that publish a port, lowest port first (the
    # role's _network_hardening_services).
    published = sorted((e for e in entries if e.get("port") is not None), key=lambda e: int(e["port"]))
    rules = [_firewall_rule(entry, settings) for entry in published]
    network = host_docker_network(catalogue, groups_of_host)
    if network:
        # The containers of the docker-runtime services reach the broker of this host.
        for entry in published:
            if entry.get("kind") == "broker":
                rules.append({"port": entry.get("port"), "service": entry.get("name"),
                              "allow_from": "docker", "sources": [str(network.get("subnet"))]})
    result["rules"] = rules
    return result


def _service(entry, runtime, balanced):
    kind = entry.get("kind", "service")
    item = {
        "name": entry.get("name"),
        "kind": kind,
        "phase": entry.get("phase"),
        "port": entry.get("port"),
        "listen_port": entry.get("listen_port"),
        "runtime": (runtime or entry.get("runtime")) if kind == "service" else None,
        "allow_from": _firewall_rule(entry, {})["allow_from"],
        "balanced": balanced,
        "instances": [],
    }
    if has_instances(entry):
        item["instances"] = [{"name": instance.get("name"), "address": BALANCER_SERVER_ADDRESS,
                              "port": instance.get("listen_port")} for instance in entry["instance_list"]]
    return item


def model(catalogue, groups, hostvars=None, broker=None, address_var="alicia_address", title="Alicia platform"):
    """The topology of the platform an inventory describes, as plain data.

    ``catalogue`` is ``catalogue_resolved``; ``groups`` maps inventory groups
    to hosts (Ansible's ``groups``); ``hostvars`` gives each host's address
    (``address_var``, then ansible_host) and its network_hardening and
    service_runtime variables. ``broker`` names the broker entry (default:
    the first entry of kind broker).

    Returns ``{title, broker, hosts, mqtt, unplaced}``: ``hosts`` are the
    hosts of group ``alicia`` and any other host running an entry, the
    broker's hosts first, then in deployment order of the first service
    each runs; each holds its groups, services (port, runtime, instances,
    allow_from), balancer (HAProxy: the catalogue's balancer_services) and
    firewall (what it opens to whom) and mqtt (its edge, or None). ``mqtt``
    holds one edge per host that runs services: where they connect, as
    roles/service's service_mqtt_broker (the first broker host's address;
    127.0.0.1 and ``local`` on a broker host). ``unplaced`` lists the
    entries whose group has no hosts.
    """
    require_catalogue(catalogue)
    if not hasattr(groups, "get"):
        raise CatalogueError("topology: groups must map inventory groups to hosts, got %r" % (groups,))
    groups = dict((str(g), [str(h) for h in (hosts or [])]) for g, hosts in native(groups).items())
    broker_name = _broker_name(catalogue, broker)
    sequence = order(catalogue)
    rank = dict((name, i) for i, name in enumerate(sequence))
    host_groups = _host_groups(groups)
    broker_entry = catalogue.get(broker_name) if broker_name else None
    broker_hosts = list(groups.get(broker_entry.get("group")) or []) if broker_entry else []

    candidates = list(groups.get(PLATFORM_GROUP) or [])
    for name in sequence:
        entry = catalogue[name]
        for host in groups.get(entry.get("group")) or []:
            if host not in candidates:
                candidates.append(host)

    hosts = []
    for host in candidates:
        groups_of_host = host_groups.get(host, [])
        entries = host_services(catalogue, groups_of_host)
        runtime = _hostvar(hostvars, host, "service_runtime") or None
        balancer = balancer_services(catalogue, groups_of_host)
        balanced = set(item["name"] for item in balancer)
        services = [_service(entry, runtime, entry.get("name") in balanced)
                    for entry in sorted(entries, key=lambda e: rank.get(e.get("name"), len(rank)))]
        hosts.append({
            "name": host,
            "address": _address(host, hostvars, address_var),
            "groups": groups_of_host,
            "placement_groups": sorted(set(e.get("group") for e in entries)),
            "service_runtime": runtime,
            "broker": host in broker_hosts,
            "services": services,
            "balancer": [{"name": item["name"], "port": item["port"], "bind": item["bind"],
                          "balance": item["balance"], "servers": item["servers"]} for item in balancer],
            "firewall": _firewall(host, entries, groups_of_host, hostvars, catalogue),
        })
    first_service = dict((h["name"], min([rank.get(s["name"], len(rank)) for s in h["services"]] or [len(rank)]))
                         for h in hosts)
    hosts.sort(key=lambda h: (not h["broker"], first_service[h["name"]], h["name"]))

    mqtt = []
    target = broker_hosts[0] if broker_hosts else None
    port = broker_entry.get("port") if broker_entry else None
    target_address = _address(target, hostvars, address_var) if target else None
    for item in hosts:
        item["mqtt"] = None
        if any(s["kind"] == "service" for s in item["services"]):
            # Where the host's services connect (roles/service: service_mqtt_broker).
            local = item["broker"]
            edge = {"from": item["name"], "to": item["name"] if local else target,
                    "address": "127.0.0.1" if local else target_address, "port": port, "local": local}
            item["mqtt"] = edge
            mqtt.append(edge)
    unplaced = [name for name in sequence if not groups.get(catalogue[name].get("group"))]
    return {
        "title": title,
        "broker": {"name": broker_name, "port": port, "group": broker_entry.get("group") if broker_entry else None,
                   "hosts": broker_hosts},
        "hosts": hosts,
        "mqtt": mqtt,
        "unplaced": unplaced,
    }


# ---- SVG ---------------------------------------------------------------------

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FONT_SIZE = 12
CHAR_WIDTH = 7.3  # a monospace character at FONT_SIZE, generously
LINE = 17
PAD = 10
GAP = 40
MARGIN = 20
COLUMNS = 3
LEGEND_WRAP = 110
WRAP = 52  # characters of a wrapped line in a host box (groups, HAProxy servers)
BUS_GUTTER = 90  # between the broker column and the MQTT bus (room for its label)
# Colours of the firewall's sources (the tag after each port), and the rest.
SOURCE_COLOURS = {"platform": "#1f6fb2", "clients": "#d9822b", "any": "#c23030", "cidrs": "#7b52ab",
                  "docker": "#2e8b57", "closed": "#8a8a8a", "off": "#8a8a8a"}
BROKER_FILL = "#fff4d6"
HOST_FILL = "#f5f8fc"
HEADER_FILL = "#dbe6f3"
MQTT_COLOUR = "#b8860b"
TEXT = "#1a1a1a"
MUTED = "#5c5c5c"


def _text(x, y, content, colour=TEXT, weight=None, size=FONT_SIZE, anchor=None):
    attrs = ['x="%g"' % x, 'y="%g"' % y, "fill=%s" % quoteattr(colour)]
    if weight:
        attrs.append('font-weight="%s"' % weight)
    if size != FONT_SIZE:
        attrs.append('font-size="%d"' % size)
    if anchor:
        attrs.append('text-anchor="%s"' % anchor)
    return "<text %s>%s</text>" % (" ".join(attrs), escape(str(content)))


def _port(value):
    return ":%s" % value if value is not None else ""


def _source_tag(rule):
    """The tag's key (colour) and its text for one firewall rule."""
    label = rule["allow_from"]
    if label == ANY:
        return "any", "any"
    if not rule["sources"]:
        return "closed", "%s (none set)" % label
    return label, label


def _host_lines(host):
    """The lines of one host box: (kind, text, colour key or None, indent)."""
    lines = []
    if host["address"] != host["name"]:
        lines.append(("muted", host["address"], None))
    placement = host["placement_groups"]
    others = [g for g in host["groups"] if g not in placement]
    for label, names in (("groups: ", placement), ("also in: ", others)):
        for text in _wrap(names, WRAP - len(label)):
            lines.append(("muted", label + text, None))
            label = " " * len(label)
    if host.get("service_runtime"):
        lines.append(("muted", "runtime of every service: %s" % host["service_runtime"], None))
    rules = dict((rule["service"], rule) for rule in host["firewall"]["rules"] if rule["allow_from"] != "docker")
    if host["services"]:
        lines.append(("rule", None, None))
    for service in host["services"]:
        rule = rules.get(service["name"])
        if rule is None:
            key, tag = "off", "not filtered"
        else:
            key, tag = _source_tag(rule)
        name = service["name"] + (" (broker)" if service["kind"] == "broker" else "")
        if service["instances"]:
            name += " x%d" % len(service["instances"])
        lines.append(("service", (name, _port(service["port"]), tag), key))
        if service["runtime"] not in (None, "systemd", host.get("service_runtime")):
            lines.append(("detail", "  runtime %s" % service["runtime"], None))
        if service["listen_port"] not in (None, service["port"]):
            lines.append(("detail", "  listens on %s" % service["listen_port"], None))
        if rule is not None and rule["allow_from"] == "cidrs":
            lines.append(("detail", "  from " + ", ".join(rule["sources"]), None))
        for instance in service["instances"]:
            lines.append(("detail", "  instance %s on %s:%s" % (instance["name"], instance["address"],
                                                                instance["port"]), None))
    for balanced in host["balancer"]:
        lines.append(("rule", None, None))
        lines.append(("balancer", "HAProxy %s:%s -> %s (%s)" % (
            balanced["bind"], balanced["port"], balanced["name"], balanced["balance"]), None))
        for text in _wrap(["%s:%s" % (s["address"], s["port"]) for s in balanced["servers"]], WRAP - 7):
            lines.append(("detail", "  over " + text, None))
    edge = host.get("mqtt")
    if edge:
        lines.append(("rule", None, None))
        where = "%s%s" % (edge["address"] or "(no broker host)", _port(edge["port"]))
        lines.append(("muted", "services -> MQTT %s%s" % (where, " (local broker)" if edge["local"] else ""), None))
    firewall = host["firewall"]
    lines.append(("rule", None, None))
    if firewall["managed"]:
        lines.append(("muted", "nftables: default drop; ssh %s from %s" % (
            firewall["ssh"]["port"], ", ".join(firewall["ssh"]["sources"])), None))
        for rule in firewall["rules"]:
            if rule["allow_from"] == "docker":
                lines.append(("muted", "  %s%s from containers %s" % (
                    rule["service"], _port(rule["port"]), ", ".join(rule["sources"])), None))
    else:
        lines.append(("muted", "firewall not managed (%s)" % firewall["reason"], None))
    return lines


def _wrap(items, width):
    """``items`` joined by ", " in lines of at most ``width`` characters (one item may exceed it)."""
    result, current = [], ""
    for item in items:
        candidate = item if not current else current + ", " + item
        if current and len(candidate) > width:
            result.append(current + ",")
            current = item
        else:
            current = candidate
    if current:
        result.append(current)
    return result


def _line_chars(line):
    kind, content, _key = line
    if kind == "service":
        name, port, tag = content
        return len(name) + len(port) + len(tag) + 6
    return len(content or "")


def _uniform(hosts, field):
    values = set(tuple(h["firewall"][field]) for h in hosts if h["firewall"]["managed"])
    return list(values.pop()) if len(values) == 1 else None


def _legend(topology):
    """The legend's lines: (colour key or None, text)."""
    hosts = topology["hosts"]
    managed = [h for h in hosts if h["firewall"]["managed"]]
    used = set()
    for host in managed:
        for rule in host["firewall"]["rules"]:
            used.add(_source_tag(rule)[0])
    lines = [(None, "Firewall (network_hardening): each port is open to the sources of its tag; the rest is dropped.")]
    for label, variable, field in (("platform", "network_hardening_platform_networks", "platform_networks"),
                                   ("clients", "network_hardening_client_networks", "client_networks")):
        networks = _uniform(hosts, field)
        if networks is None and managed:
            lines.append((label, "%s: %s, per host:" % (label, variable)))
            values = []
            for host in managed:
                value = ", ".join(host["firewall"][field]) or "none set"
                if value not in values:
                    values.append(value)
            for value in values:
                names = [h["name"] for h in managed if (", ".join(h["firewall"][field]) or "none set") == value]
                for index, text in enumerate(_wrap(names, LEGEND_WRAP)):
                    lines.append(("indent", ("%s on " % value if not index else "    ") + text))
        else:
            shown = ", ".join(networks or []) or "none set: closed to other hosts"
            lines.append((label, "%s: %s (%s)" % (label, shown, variable)))
    extra = [("any", "any: every source"), ("cidrs", "cidrs: the entry's own firewall.allow_from list"),
             ("closed", "(none set): the variable is empty, the port is closed to other hosts"),
             ("off", "not filtered: the host's firewall is not managed by network_hardening")]
    lines.extend(item for item in extra if item[0] in used or (item[0] == "off" and len(managed) < len(hosts)))
    broker = topology["broker"]
    if broker["name"]:
        target = broker["hosts"][0] if broker["hosts"] else "no host in group %s" % broker["group"]
        lines.append(("mqtt", "MQTT: services connect to %s%s on %s (127.0.0.1 on the broker's own host)"
                      % (broker["name"], _port(broker["port"]), target)))
    if topology["unplaced"]:
        lines.append((None, "Not placed (their group has no hosts): " + ", ".join(topology["unplaced"])))
    return lines


def svg(topology, columns=COLUMNS):
    """The topology (``model``'s result) as a standalone SVG document (text).

    One box per host: the broker's hosts in a column on the left, the others
    in a grid of ``columns`` columns. In a box: the host's address and
    groups, one line per service (name, published port, a tag coloured by
    who the firewall lets in), instances and HAProxy, and the firewall's SSH
    rule. A bus joins the hosts that run services to the broker's host
    (MQTT). A legend explains the tags with the inventory's networks.
    """
    if not isinstance(topology, dict) or "hosts" not in topology:
        raise CatalogueError("topology: svg needs the result of topology_model")
    columns = max(1, int(columns))
    hosts = topology["hosts"]
    lines = dict((h["name"], _host_lines(h)) for h in hosts)
    services = [line[1] for ls in lines.values() for line in ls if line[0] == "service"]
    # Service lines: the name, the port right-aligned, the tag in a column of its own.
    columns_chars = sum(max([len(part) for part in parts] + [0]) for parts in zip(*services)) + 6 if services else 0
    chars = max([len(h["name"]) + 2 for h in hosts] + [_line_chars(line) for ls in lines.values() for line in ls]
                + [columns_chars, 30])
    width = int(chars * CHAR_WIDTH + 2 * PAD)

    def box_height(host):
        return LINE + PAD + len(lines[host["name"]]) * LINE + PAD

    brokers = [h for h in hosts if h["broker"]]
    others = [h for h in hosts if not h["broker"]]
    title_height = 40
    top = MARGIN + title_height
    left = MARGIN
    grid_left = left + (width + BUS_GUTTER + GAP if brokers else 0)
    tag_width = max([len(service[2]) for service in services] + [0]) * CHAR_WIDTH + 6
    positions = {}
    y = top + GAP // 2
    for host in brokers:
        positions[host["name"]] = (left, y)
        y += box_height(host) + GAP
    bottom = y
    rows = [others[i:i + columns] for i in range(0, len(others), columns)]
    row_tops = []
    y = top + GAP // 2
    for row in rows:
        row_tops.append(y)
        for index, host in enumerate(row):
            positions[host["name"]] = (grid_left + index * (width + GAP), y)
        y += max(box_height(h) for h in row) + GAP
    bottom = max(bottom, y)
    grid_columns = min(columns, len(others)) if others else 0
    total_width = max(grid_left + grid_columns * (width + GAP) - GAP + MARGIN, left + width + MARGIN, 640)
    legend = _legend(topology)
    legend_top = bottom
    legend_chars = max([len(text) + 4 for _key, text in legend] + [0])
    total_width = max(total_width, int(MARGIN * 2 + legend_chars * CHAR_WIDTH))
    total_height = legend_top + len(legend) * LINE + PAD + MARGIN

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family=%s font-size="%d">' % (total_width, total_height, total_width, total_height,
                                               quoteattr(FONT), FONT_SIZE),
           "<title>%s</title>" % escape(str(topology.get("title") or "")),
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="%s"/></marker></defs>' % MQTT_COLOUR,
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (total_width, total_height),
           _text(MARGIN, MARGIN + 18, topology.get("title") or "", weight="bold", size=18)]
    if not hosts:
        out.append(_text(MARGIN, top + 20, "No hosts in this inventory: nothing is placed.", colour=MUTED))

    # MQTT: a bus in the gutter right of the broker column, a channel above
    # each grid row, a stub down to each service host; an arrow into the broker.
    edges = [e for e in topology["mqtt"] if not e["local"] and e["to"] in positions and e["from"] in positions]
    if edges:
        bx, by = positions[edges[0]["to"]]
        target_y = by + LINE + PAD + LINE // 2
        bus_x = bx + width + BUS_GUTTER
        # Edges come from hosts of the grid only (a broker host's services are local).
        drawn_rows = sorted(set(positions[e["from"]][1] for e in edges))
        lowest = max(max(drawn_rows) - GAP // 2, target_y)
        stroke = 'stroke="%s" stroke-width="2" fill="none"' % MQTT_COLOUR
        out.append('<path d="M %g %g L %g %g" %s marker-end="url(#arrow)"/>'
                   % (bus_x, target_y, bx + width, target_y, stroke))
        out.append('<path d="M %g %g L %g %g" %s/>' % (bus_x, min(target_y, top), bus_x, lowest, stroke))
        out.append(_text(bx + width + 14, target_y - 6, "MQTT%s" % _port(topology["broker"]["port"]),
                         colour=MQTT_COLOUR, weight="bold", size=11))
        for row_y in drawn_rows:
            channel = row_y - GAP // 2
            right = max(positions[e["from"]][0] for e in edges if positions[e["from"]][1] == row_y) + width // 2
            out.append('<path d="M %g %g L %g %g" %s/>' % (bus_x, channel, right, channel, stroke))
        for edge in edges:
            x, y = positions[edge["from"]]
            out.append('<path d="M %g %g L %g %g" %s/>' % (x + width // 2, y - GAP // 2, x + width // 2, y, stroke))

    for host in hosts:
        x, y = positions[host["name"]]
        height = box_height(host)
        fill = BROKER_FILL if host["broker"] else HOST_FILL
        out.append('<g class="host" id=%s>' % quoteattr("host-" + host["name"]))
        out.append('<rect x="%g" y="%g" width="%d" height="%d" rx="6" fill="%s" stroke="#4a5a6a"/>'
                   % (x, y, width, height, fill))
        out.append('<rect x="%g" y="%g" width="%d" height="%d" rx="6" fill="%s"/>'
                   % (x, y, width, LINE + PAD, HEADER_FILL))
        out.append(_text(x + PAD, y + LINE, host["name"], weight="bold"))
        line_y = y + LINE + PAD
        for kind, content, key in lines[host["name"]]:
            base = line_y + LINE - 4
            if kind == "rule":
                out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#c5ced8"/>'
                           % (x + PAD, line_y + LINE // 2, x + width - PAD, line_y + LINE // 2))
            elif kind == "service":
                name, port, tag = content
                out.append(_text(x + PAD, base, name, weight="bold" if "(broker)" in name else None))
                tag_x = x + width - PAD - tag_width
                out.append(_text(tag_x - 6, base, port, anchor="end"))
                out.append('<rect x="%g" y="%g" width="%g" height="%d" rx="3" fill="%s"/>'
                           % (tag_x, line_y + 2, len(tag) * CHAR_WIDTH + 6, LINE - 3, SOURCE_COLOURS[key]))
                out.append(_text(tag_x + 3, base, tag, colour="#ffffff", size=11))
            elif kind == "balancer":
                out.append(_text(x + PAD, base, content, weight="bold"))
            else:
                # SVG collapses leading spaces: indent by position.
                indent = (len(content) - len(content.lstrip(" "))) * CHAR_WIDTH
                out.append(_text(x + PAD + indent, base, content.lstrip(" "), colour=MUTED if kind == "muted" else TEXT,
                                 size=11 if kind == "detail" else FONT_SIZE))
            line_y += LINE
        out.append("</g>")

    y = legend_top
    for key, text in legend:
        base = y + LINE - 4
        if key == "mqtt":
            out.append('<path d="M %g %g L %g %g" stroke="%s" stroke-width="2" marker-end="url(#arrow)"/>'
                       % (MARGIN, base - 4, MARGIN + 24, base - 4, MQTT_COLOUR))
            out.append(_text(MARGIN + 30, base, text))
        elif key in SOURCE_COLOURS:
            out.append('<rect x="%g" y="%g" width="22" height="%d" rx="3" fill="%s"/>'
                       % (MARGIN, y + 2, LINE - 3, SOURCE_COLOURS[key]))
            out.append(_text(MARGIN + 30, base, text))
        elif key == "indent":
            indent = (len(text) - len(text.lstrip(" "))) * CHAR_WIDTH
            out.append(_text(MARGIN + 30 + indent, base, text.lstrip(" ")))
        else:
            out.append(_text(MARGIN, base, text, weight="bold"))
        y += LINE
    out.append("</svg>")
    return "\n".join(out) + "\n"
