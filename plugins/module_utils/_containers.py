# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many Docker containers reconciled in one module execution, as plain functions.

Used by the alicia.platform.containers module. Standard library only; every
docker call goes through a ``Docker`` object built on a ``run`` callable
(``module.run_command`` in the module, anything in tests): the docker CLI
is all the host needs.

Flow: ``check_args`` (every problem with the arguments), ``plan`` (reads
the host - one ``docker network inspect`` of every network named, one
``docker image inspect`` of every image wanted, one ``docker container
inspect`` of every container named - and decides what to do and the
problems that stop the run before anything changes), then ``reconcile``
creates the network, loads the base image, builds the missing images,
stops and removes in one call each, (with ``recreate_network``: removes the
network and creates it again), creates each new container, starts in one
call, and reads the started containers again.

A container is recreated when the network it should be on is not the one
it points at: Docker remembers the network's id in the container
(``NetworkSettings.Networks.<name>.NetworkID``) and ``docker start`` of a
container whose network was removed, or removed and created again under
the same name, fails with ``network <id> not found``.

Nothing here prints or exits; errors are ``ContainersError`` with the
partial result attached. Environment files are only ever named to docker
(``--env-file``), never read here, and the containers' environment that
``docker inspect`` returns is never put in a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import grp
import hashlib
import ipaddress
import json
import os
import pwd
import re
import shlex
import socket
import struct
import time

MANAGED_LABEL = "alicia.platform.managed"
CONFIG_LABEL = "alicia.platform.config"
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
# Container states (State.Status).
RUNNING = ("running",)
TRANSITIONAL = ("created", "restarting", "removing")
FAILED = ("exited", "dead")
ACTIONS = ("removed", "recreated", "created", "started")

LOG_LINES = 20
OUTPUT_LIMIT = 2000
POLL_INTERVAL = 0.5
HASH_LENGTH = 12

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*\Z")
_PORT = re.compile(r"(?:(?P<ip>[0-9.]+|\[[0-9a-fA-F:]+\]):)?(?P<host>[0-9]{1,5}):(?P<inner>[0-9]{1,5})"
                   r"(?:/(?P<proto>tcp|udp|sctp))?\Z")
_SIZE = re.compile(r"([0-9]+)([bkmgtBKMGT]?)\Z")
_DURATION = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h)\Z")
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}

HEALTHCHECK_OPTIONS = dict(
    test=dict(type="list", elements="str"),
    interval=dict(type="str"),
    timeout=dict(type="str"),
    retries=dict(type="int"),
    start_period=dict(type="str"),
    disable=dict(type="bool", default=False),
)

CONTAINER_OPTIONS = dict(
    name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    build=dict(type="path"),
    dockerfile=dict(type="str"),
    command=dict(type="list", elements="str"),
    env_file=dict(type="path"),
    user=dict(type="str"),
    group=dict(type="str"),
    network=dict(type="str"),
    hostname=dict(type="str"),
    published_ports=dict(type="list", elements="str", default=[]),
    volumes=dict(type="list", elements="str", default=[]),
    tmpfs=dict(type="list", elements="str", default=[]),
    read_only=dict(type="bool", default=False),
    cap_drop=dict(type="list", elements="str", default=[]),
    cap_add=dict(type="list", elements="str", default=[]),
    security_opts=dict(type="list", elements="str", default=[]),
    memory=dict(type="str"),
    memory_reservation=dict(type="str"),
    cpus=dict(type="float"),
    cpu_shares=dict(type="int"),
    restart_policy=dict(type="str", choices=list(RESTART_POLICIES), default="unless-stopped"),
    restart_retries=dict(type="int"),
    healthcheck=dict(type="dict", options=HEALTHCHECK_OPTIONS),
    log_driver=dict(type="str", default="json-file"),
    log_options=dict(type="dict", default={}),
    labels=dict(type="dict", default={}),
    stop_timeout=dict(type="int"),
)

NETWORK_OPTIONS = dict(
    name=dict(type="str", required=True),
    driver=dict(type="str", default="bridge"),
    subnet=dict(type="str"),
    ip_range=dict(type="str"),
    gateway=dict(type="str"),
    options=dict(type="dict", default={}),
)


def argument_spec():
    """The module's argument spec."""
    return dict(
        containers=dict(type="list", elements="dict", default=[], options=CONTAINER_OPTIONS),
        restart=dict(type="list", elements="str", default=[]),
        absent=dict(type="list", elements="str", default=[]),
        network=dict(type="dict", options=NETWORK_OPTIONS),
        base_image=dict(type="str"),
        base_image_archive=dict(type="str"),
        base_image_load=dict(type="path"),
        prune_images=dict(type="bool", default=False),
        recreate_network=dict(type="bool", default=False),
        wait=dict(type="float", default=0),
        docker=dict(type="path"),
    )


class ContainersError(Exception):
    """A problem that stops the run; ``result`` holds what was done before it."""

    def __init__(self, msg, result=None, failed_containers=None):
        super(ContainersError, self).__init__(msg)
        self.msg = msg
        self.result = result
        self.failed_containers = list(failed_containers or [])


def _trim(text, limit=OUTPUT_LIMIT):
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def size_bytes(value):
    """A memory size as bytes: an int, digits, or digits with b, k, m, g or t (binary, any case); None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _SIZE.match(str(value).strip()) if value is not None else None
    if not match:
        return None
    number = int(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()]
    return number if number > 0 else None


def context_hash(path):
    """sha256 over a build context: each file's relative path, executable bit and content, in sorted order."""
    digest = hashlib.sha256()
    entries = []
    for directory, subdirs, files in os.walk(path):
        subdirs.sort()
        for name in files:
            full = os.path.join(directory, name)
            entries.append((os.path.relpath(full, path), full))
    for relative, full in sorted(entries):
        digest.update(relative.encode("utf-8") + b"\0")
        digest.update(b"x" if os.stat(full).st_mode & 0o111 else b"-")
        with open(full, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def created_epoch(text):
    """Docker's Created time (RFC 3339, nanoseconds, UTC) as seconds since the epoch; None if unreadable."""
    match = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z", text or "")
    if not match:
        return None
    seconds = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    fraction = float("0" + match.group(2)[:10]) if match.group(2) else 0.0
    zone = match.group(3)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds + fraction


def resolve_user(user, group, lookup_user=pwd.getpwnam, lookup_group=grp.getgrnam):
    """"uid:gid" for a user (name or uid) and group (name or gid; default the user's primary group)."""
    uid = gid = None
    if user is not None:
        if str(user).isdigit():
            uid = int(user)
        else:
            entry = lookup_user(user)
            uid, gid = entry.pw_uid, entry.pw_gid
    if group is not None:
        gid = int(group) if str(group).isdigit() else lookup_group(group).gr_gid
    if uid is None:
        return None if gid is None else "0:%d" % gid
    return "%d:%d" % (uid, gid) if gid is not None else str(uid)


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def _check_container(where, spec, network, errors):
    name = spec.get("name")
    image = spec.get("image")
    if spec.get("build"):
        if not isinstance(image, str) or not _REPOSITORY.match(image):
            errors.append("%s: image %r must be a repository name without a tag when build is set "
                          "(the tag is the hash of the build context)" % (where, image))
    elif not isinstance(image, str) or not image.strip() or image != image.strip():
        errors.append("%s: image is required" % where)
    dockerfile = spec.get("dockerfile")
    if dockerfile is not None and (not spec.get("build") or not dockerfile or dockerfile.startswith("/")
                                   or ".." in dockerfile.split("/")):
        errors.append("%s: dockerfile %r must be a path relative to the build context (and needs build)"
                      % (where, dockerfile))
    if not spec.get("network") and not network:
        errors.append("%s: no network (set network.name or containers[].network)" % where)
    for port in spec.get("published_ports") or []:
        match = _PORT.match(port or "")
        if not match or not all(1 <= int(match.group(k)) <= 65535 for k in ("host", "inner")):
            errors.append("%s: published port %r must be [address:]host_port:container_port[/tcp|udp|sctp]"
                          % (where, port))
    for key in ("memory", "memory_reservation"):
        if spec.get(key) is not None and size_bytes(spec[key]) is None:
            errors.append("%s: %s must be a positive size (bytes, or with k, m, g or t), got %r"
                          % (where, key, spec[key]))
    if spec.get("cpus") is not None and spec["cpus"] <= 0:
        errors.append("%s: cpus must be positive, got %r" % (where, spec["cpus"]))
    if spec.get("cpu_shares") is not None and spec["cpu_shares"] < 2:
        errors.append("%s: cpu_shares must be at least 2, got %r" % (where, spec["cpu_shares"]))
    if spec.get("restart_retries") is not None and spec.get("restart_policy") != "on-failure":
        errors.append("%s: restart_retries needs restart_policy on-failure" % where)
    health = spec.get("healthcheck")
    if health and not health.get("disable"):
        if not health.get("test"):
            errors.append("%s: healthcheck.test is required (or healthcheck.disable)" % where)
        for key in ("interval", "timeout", "start_period"):
            if health.get(key) is not None and not _DURATION.match(str(health[key])):
                errors.append("%s: healthcheck.%s must be a duration such as 10s or 1m30s, got %r"
                              % (where, key, health[key]))
    for key, value in (spec.get("log_options") or {}).items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            errors.append("%s: log_options.%s must be a string or a number, got %r" % (where, key, value))
    for key, value in (spec.get("labels") or {}).items():
        if key in (MANAGED_LABEL, CONFIG_LABEL):
            errors.append("%s: label %s is the module's own" % (where, key))
    if name and not _NAME.match(name):
        errors.append("%s: container name %r must be letters, digits, _ . - (starting with a letter or digit)"
                      % (where, name))


def check_args(containers, restart=None, absent=None, network=None, wait=0, recreate_network=False):
    """Every problem with the arguments as a list of messages (empty when fine); no docker call."""
    errors = []
    names = []
    for index, spec in enumerate(containers or []):
        where = "containers[%d]" % index
        name = spec.get("name")
        if isinstance(name, str) and name:
            where = "%s (%s)" % (where, name)
        if not isinstance(name, str) or not name:
            errors.append("%s: a container name is required" % where)
        elif name in names:
            errors.append("%s: %s is listed twice in containers" % (where, name))
        else:
            names.append(name)
        _check_container(where, spec, network, errors)
    for option, listed in (("restart", restart or []), ("absent", absent or [])):
        seen = set()
        for index, name in enumerate(listed):
            where = "%s[%d]" % (option, index)
            if not isinstance(name, str) or not _NAME.match(name or ""):
                errors.append("%s: %r is not a container name" % (where, name))
            elif name in seen:
                errors.append("%s: %s is listed twice in %s" % (where, name, option))
            seen.add(name)
    for name in restart or []:
        if name not in names:
            errors.append("restart: %s is not in containers (a container is recreated from its definition)" % name)
    for name in absent or []:
        if name in names:
            errors.append("%s is both in containers and in absent" % name)
    if network:
        if not _NAME.match(network.get("name") or ""):
            errors.append("network.name %r is not a Docker network name" % (network.get("name"),))
    elif recreate_network:
        errors.append("recreate_network needs network (the network to remove and create again)")
    if wait is not None and wait < 0:
        errors.append("wait must be 0 or more seconds, got %r" % (wait,))
    return errors


# ---------------------------------------------------------------------------
# docker
# ---------------------------------------------------------------------------

class DockerUnavailable(Exception):
    """The docker CLI cannot reach the daemon."""


def _unreachable(err):
    text = (err or "").lower()
    return "cannot connect to the docker daemon" in text or "is the docker daemon running" in text \
        or "error during connect" in text


class Docker(object):
    """The docker CLI through ``run(argv) -> (rc, stdout, stderr)``; ``calls`` records every argv run."""

    def __init__(self, binary, run):
        self.binary = binary
        self.run = run
        self.calls = []

    def __call__(self, *args):
        argv = [self.binary] + list(args)
        self.calls.append(argv)
        rc, out, err = self.run(argv)
        if rc != 0 and _unreachable(err):
            raise DockerUnavailable(_trim(err))
        return rc, out, err

    def inspect(self, kind, names):
        """name -> inspect document of every ``kind`` (container, image, network) that exists, in ONE call."""
        if not names:
            return {}
        rc, out, err = self(kind, "inspect", *names)
        try:
            documents = json.loads(out or "[]")
        except ValueError:
            raise ContainersError("docker %s inspect %s printed no JSON (rc %d): %s"
                                  % (kind, " ".join(names), rc, _trim(err or out) or "no output"))
        # "Error: No such network: x" (docker 20.10's CLI), "Error response from daemon: network x not found" (newer).
        if rc != 0 and not documents and "no such" not in (err or "").lower() and "not found" not in (err or ""):
            raise ContainersError("docker %s inspect %s failed (rc %d): %s"
                                  % (kind, " ".join(names), rc, _trim(err or out) or "no output"))
        found = {}
        for document in documents or []:
            if kind == "container":
                found[document.get("Name", "").lstrip("/")] = document
            elif kind == "image":
                for tag in document.get("RepoTags") or []:
                    found[tag] = document
                found[document.get("Id")] = document
            else:
                found[document.get("Name")] = document
        if kind == "image":  # an inspected name without a registry-less tag (ubuntu -> ubuntu:latest)
            for name in names:
                if name not in found and ":" not in name.rsplit("/", 1)[-1] and name + ":latest" in found:
                    found[name] = found[name + ":latest"]
        return found

    def log_lines(self, name):
        rc, out, err = self("logs", "--tail", str(LOG_LINES), name)
        lines = [line.rstrip() for line in ((out or "") + (err or "")).splitlines() if line.strip()]
        return lines[-LOG_LINES:]


# ---------------------------------------------------------------------------
# Desired containers
# ---------------------------------------------------------------------------

def image_tag(spec, hashes):
    """The image a container runs: ``repository:<context hash>`` when built, else ``image``."""
    if spec.get("build"):
        digest = hashes.get(spec["build"])
        if digest and spec.get("dockerfile"):
            # Another Dockerfile of the same context is another image.
            digest = hashlib.sha256(("%s\0%s" % (digest, spec["dockerfile"])).encode("utf-8")).hexdigest()
        return "%s:%s" % (spec["image"], digest[:HASH_LENGTH]) if digest else "%s:<to build>" % spec["image"]
    return spec["image"]


def _healthcheck_args(health):
    if not health:
        return []
    if health.get("disable"):
        return ["--no-healthcheck"]
    args = ["--health-cmd", " ".join(shlex.quote(part) for part in health["test"])]
    for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                      ("start_period", "--health-start-period")):
        if health.get(key) is not None:
            args += [flag, str(health[key])]
    if health.get("retries") is not None:
        args += ["--health-retries", str(health["retries"])]
    return args


def create_args(spec, image, user, default_network):
    """The ``docker create`` arguments of a container (labels last, without the config label)."""
    args = ["create", "--name", spec["name"]]
    if spec.get("hostname"):
        args += ["--hostname", spec["hostname"]]
    args += ["--network", spec.get("network") or default_network]
    if user:
        args += ["--user", user]
    if spec.get("env_file"):
        args += ["--env-file", spec["env_file"]]
    for port in spec.get("published_ports") or []:
        args += ["--publish", port]
    for volume in spec.get("volumes") or []:
        args += ["--volume", volume]
    for mount in spec.get("tmpfs") or []:
        args += ["--tmpfs", mount]
    if spec.get("read_only"):
        args.append("--read-only")
    for cap in spec.get("cap_drop") or []:
        args += ["--cap-drop", cap]
    for cap in spec.get("cap_add") or []:
        args += ["--cap-add", cap]
    for option in spec.get("security_opts") or []:
        args += ["--security-opt", option]
    if spec.get("memory") is not None:
        args += ["--memory", str(size_bytes(spec["memory"]))]
    if spec.get("memory_reservation") is not None:
        args += ["--memory-reservation", str(size_bytes(spec["memory_reservation"]))]
    if spec.get("cpus") is not None:
        args += ["--cpus", "%g" % spec["cpus"]]
    if spec.get("cpu_shares") is not None:
        args += ["--cpu-shares", str(spec["cpu_shares"])]
    policy = spec.get("restart_policy") or "unless-stopped"
    if policy == "on-failure" and spec.get("restart_retries") is not None:
        policy += ":%d" % spec["restart_retries"]
    args += ["--restart", policy]
    args += _healthcheck_args(spec.get("healthcheck"))
    args += ["--log-driver", spec.get("log_driver") or "json-file"]
    for key, value in sorted((spec.get("log_options") or {}).items()):
        args += ["--log-opt", "%s=%s" % (key, value)]
    if spec.get("stop_timeout") is not None:
        args += ["--stop-timeout", str(spec["stop_timeout"])]
    labels = dict(spec.get("labels") or {})
    labels[MANAGED_LABEL] = "true"
    for key, value in sorted(labels.items()):
        args += ["--label", "%s=%s" % (key, value)]
    return args


def config_hash(args, image, command):
    """The hash of everything a container is created with (its CONFIG_LABEL)."""
    text = json.dumps([args, image, list(command or [])], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def container_state(document):
    """What results show of a container (never its environment)."""
    if document is None:
        return dict(exists=False, status="absent", health=None, image=None, config=None, id=None, log_path=None)
    state = document.get("State") or {}
    config = document.get("Config") or {}
    labels = config.get("Labels") or {}
    return dict(exists=True, status=state.get("Status") or "unknown",
                health=(state.get("Health") or {}).get("Status"),
                image=config.get("Image"), config=labels.get(CONFIG_LABEL), id=(document.get("Id") or "")[:12],
                log_path=document.get("LogPath") or None)


def describe(state):
    """How a container shows in messages and diffs: absent, running (alicia/reference:abc), exited (...)."""
    if not state["exists"]:
        return "absent"
    return "%s (%s)" % (state["status"], state["image"] or "unknown image")


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------

class Plan(object):
    """What a run does: the network, the base image, builds, and per container its actions and reasons."""

    def __init__(self):
        self.network_create = None   # the docker network create argv
        self.network_remove = None   # recreate_network: the name of the network removed first (when it exists)
        self.network_id = None       # the Id of the network as read (None when missing)
        self.base_load = False
        self.base_missing = False
        self.builds = []             # [(tag, context)]
        self.dockerfiles = {}        # tag -> Dockerfile relative to its context (when not the default)
        self.actions = {}            # name -> [actions]
        self.reasons = {}            # name -> why it is recreated
        self.create = {}             # name -> (argv, config hash, image)
        self.problems = []


def _network_problems(desired, existing):
    """Differences between the wanted network and the one on the host, as text."""
    differences = []
    if desired.get("driver") and existing.get("Driver") != desired["driver"]:
        differences.append("driver %s (wanted %s)" % (existing.get("Driver"), desired["driver"]))
    configs = ((existing.get("IPAM") or {}).get("Config")) or [{}]
    config = configs[0] or {}
    for key, field in (("subnet", "Subnet"), ("ip_range", "IPRange"), ("gateway", "Gateway")):
        if desired.get(key) and config.get(field, "") != desired[key]:
            differences.append("%s %s (wanted %s)" % (key.replace("_", "-"), config.get(field) or "none",
                                                      desired[key]))
    return differences


def network_create_args(network):
    args = ["network", "create", "--driver", network.get("driver") or "bridge"]
    for key, flag in (("subnet", "--subnet"), ("ip_range", "--ip-range"), ("gateway", "--gateway")):
        if network.get(key):
            args += [flag, network[key]]
    for key, value in sorted((network.get("options") or {}).items()):
        args += ["--opt", "%s=%s" % (key, value)]
    args += ["--label", "%s=true" % MANAGED_LABEL, network["name"]]
    return args


def _route_overlaps(subnet, routes, ignore=()):
    """The host routes (from /proc/net/route) that overlap a subnet, as text (those on ``ignore`` interfaces left out)."""
    wanted = ipaddress.ip_network(subnet, strict=False)
    found = []
    for interface, network in routes:
        if interface in ignore:
            continue
        if network.prefixlen and network.overlaps(wanted):
            found.append("%s on %s" % (network, interface))
    return found


def bridge_interface(existing):
    """The host interface of a bridge network (its route is its own, not an overlap): br-<id12> or the name option."""
    options = existing.get("Options") or {}
    return options.get("com.docker.network.bridge.name") or "br-%s" % (existing.get("Id") or "")[:12]


def network_reason(name, document, networks, default_network, recreated=None):
    """Why an existing container must be recreated for its network ``name``, or None.

    ``networks`` maps the names of the networks that exist to their inspect
    documents. Docker starts a stopped container on the network id it was
    attached to, so a network removed (and maybe created again: a new id)
    under it makes ``docker start`` fail; a container taken off its network
    (docker network disconnect) would run unreachable. An id not recorded
    yet (created, never started) is resolved by name: nothing to do.
    """
    if recreated == name:
        return "network %s is recreated" % name
    attached = ((document.get("NetworkSettings") or {}).get("Networks")) or {}
    if name not in attached:
        return "not attached to network %s" % name
    current = networks.get(name)
    if current is None:
        if name == default_network:
            return "network %s was removed (it is created again)" % name
        return None
    was = (attached[name] or {}).get("NetworkID") or ""
    if was and current.get("Id") and was != current["Id"]:
        return "network %s was recreated (the container points at its old id %s, now %s)" % (
            name, was[:HASH_LENGTH], current["Id"][:HASH_LENGTH])
    return None


def read_routes(path="/proc/net/route"):
    """The host's IPv4 routes [(interface, network)] (the default route left out)."""
    routes = []
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()[1:]
    except (IOError, OSError):
        return routes
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = socket.inet_ntoa(struct.pack("<L", int(fields[1], 16)))
            mask = socket.inet_ntoa(struct.pack("<L", int(fields[7], 16)))
            network = ipaddress.ip_network("%s/%s" % (destination, mask), strict=False)
        except (ValueError, struct.error):
            continue
        if network.prefixlen:
            routes.append((fields[0], network))
    return routes


def plan(params, docker, check_mode=False, users=resolve_user, routes=read_routes, stat=os.stat):
    """(Plan, states, images): what to do, read with at most three docker calls."""
    result = Plan()
    containers = params.get("containers") or []
    restart = params.get("restart") or []
    absent = params.get("absent") or []
    network = params.get("network")
    default_network = network["name"] if network else None
    recreate = bool(network and params.get("recreate_network"))

    # The networks: one inspect of O(network) and of every other network a container joins.
    wanted_networks = [default_network] if network else []
    for spec in containers:
        if spec.get("network") and spec["network"] not in wanted_networks:
            wanted_networks.append(spec["network"])
    networks = docker.inspect("network", wanted_networks)
    if network:
        existing = networks.get(network["name"])
        result.network_id = (existing or {}).get("Id")
        if existing is None or recreate:
            result.network_create = network_create_args(network)
            if recreate and existing is not None:
                result.network_remove = network["name"]
            if network.get("subnet"):
                # The network being replaced routes its own subnet.
                ignore = [bridge_interface(existing)] if existing is not None else []
                overlaps = _route_overlaps(network["subnet"], routes(), ignore)
                if overlaps:
                    result.problems.append(
                        "network %s: subnet %s overlaps the host's route(s) %s: containers could not reach those "
                        "addresses; choose another subnet" % (network["name"], network["subnet"], ", ".join(overlaps)))
        else:
            differences = _network_problems(network, existing)
            if differences:
                result.problems.append(
                    "network %s exists with %s: remove it (docker network rm %s, after removing its containers) or "
                    "ask for the network it is" % (network["name"], ", ".join(differences), network["name"]))

    # Images: one inspect for every tag wanted and the base image.
    hashes = {}
    for spec in containers:
        context = spec.get("build")
        if context and context not in hashes:
            if os.path.isdir(context):
                hashes[context] = context_hash(context)
            elif not check_mode:
                result.problems.append("%s: build context %s is not a directory" % (spec["name"], context))
    tags = []
    for spec in containers:
        tag = image_tag(spec, hashes)
        if tag not in tags and not tag.endswith(":<to build>"):
            tags.append(tag)
    base = params.get("base_image")
    images = docker.inspect("image", tags + ([base] if base and base not in tags else []))
    for spec in containers:
        tag = image_tag(spec, hashes)
        if tag in images:
            continue
        if spec.get("build"):
            # Contexts with the same files give the same tag: built once.
            if tag not in [built for built, _context in result.builds]:
                result.builds.append((tag, spec["build"]))
                if spec.get("dockerfile"):
                    result.dockerfiles[tag] = spec["dockerfile"]
        else:
            result.problems.append("%s: image %s is not on the host (it is never pulled)" % (spec["name"], tag))
    if result.builds and base and base not in images:
        result.base_missing = True
        if params.get("base_image_load"):
            result.base_load = True
        elif not params.get("base_image_archive") and not check_mode:
            result.problems.append(
                "base image %s is not on the host and %d image(s) must be built from it (%s): load it "
                "(docker load -i <archive>) or set base_image_archive"
                % (base, len(result.builds), ", ".join(tag for tag, _c in result.builds)))

    # Containers: one inspect for every container named.
    names = [spec["name"] for spec in containers] + list(absent)
    found = docker.inspect("container", names)
    states = dict((name, container_state(found.get(name))) for name in names)
    for spec in containers:
        name = spec["name"]
        joins = spec.get("network") or default_network
        if joins != default_network and joins not in networks and not check_mode:
            result.problems.append("%s: network %s does not exist on the host (only network.name is created)"
                                   % (name, joins))
        try:
            user = users(spec.get("user"), spec.get("group"))
        except KeyError as exc:
            if not check_mode:
                result.problems.append("%s: user or group not found on the host: %s" % (name, exc))
            user = "%s:%s" % (spec.get("user") or "", spec.get("group") or "")
        image = image_tag(spec, hashes)
        args = create_args(spec, image, user, default_network)
        digest = config_hash(args, image, spec.get("command"))
        args = args + ["--label", "%s=%s" % (CONFIG_LABEL, digest), image] + list(spec.get("command") or [])
        result.create[name] = (args, digest, image)
        document = found.get(name)
        state = states[name]
        why = []
        if document is not None:
            if state["config"] != digest:
                why.append("configuration changed" if state["config"] else "not created by this module")
            elif image in images and document.get("Image") != images[image].get("Id"):
                why.append("image %s was rebuilt" % image)
            elif image not in images:
                why.append("image %s is new" % image)
            reason = network_reason(joins, document, networks, default_network,
                                    recreated=result.network_remove)
            if reason:
                why.append(reason)
            if name in restart:
                why.append("asked to restart (its files changed)")
            env_file = spec.get("env_file")
            if env_file and not why:
                try:
                    modified = stat(env_file).st_mtime
                except (IOError, OSError):
                    modified = None
                created = created_epoch(document.get("Created"))
                if modified is not None and created is not None and modified > created:
                    why.append("environment file newer than the container")
        if document is None:
            result.actions[name] = ["created", "started"]
        elif why:
            result.actions[name] = ["recreated", "started"]
            result.reasons[name] = "; ".join(why)
        elif state["status"] not in RUNNING + ("restarting",):
            result.actions[name] = ["started"]
        else:
            result.actions[name] = []
    for name in absent:
        result.actions[name] = ["removed"] if states[name]["exists"] else []

    # recreate_network: Docker refuses to remove a network a running container is attached to.
    if result.network_remove:
        going = [n for n in names if set(result.actions.get(n) or []) & {"removed", "recreated"}]
        attached = sorted((entry or {}).get("Name") or container_id[:HASH_LENGTH] for container_id, entry
                          in ((networks[default_network].get("Containers")) or {}).items())
        blocking = [n for n in attached if n not in going]
        if blocking:
            result.problems.append(
                "network %s cannot be recreated: %s running on it and not in this call's containers (on this "
                "network) or absent; stop them or list them" % (default_network, ", ".join(blocking)))
    return result, states, images


# ---------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------

class Outcome(object):
    """The result being built: per container before/after/actions, the lists per action, the diff."""

    def __init__(self, names, states, want_diff):
        self.names = list(names)
        self.want_diff = want_diff
        self.before = dict((name, dict(states[name])) for name in self.names)
        self.after = dict((name, dict(states[name])) for name in self.names)
        self.done = dict((name, []) for name in self.names)
        self.reasons = {}
        self.network_created = False
        self.network_recreated = False
        self.network = None          # {name, id_before, id} when the call has a network
        self.base_image_loaded = False
        self.built = []
        self.pruned = []

    def record(self, name, action, image=None):
        if action not in self.done[name]:
            self.done[name].append(action)
        after = self.after[name]
        if action == "removed":
            self.after[name] = container_state(None)
        elif action in ("created", "recreated"):
            after.update(exists=True, status="created", image=image, health=None, log_path=None)
        elif action == "started":
            after.update(status="running")

    def result(self):
        containers = {}
        lists = dict((action, []) for action in ACTIONS)
        changed_lines, before_lines, after_lines = [], [], []
        for name in self.names:
            done = [a for a in ACTIONS if a in self.done[name]]
            containers[name] = dict(actions=done, before=self.before[name], after=self.after[name])
            if name in self.reasons:
                containers[name]["reason"] = self.reasons[name]
            for action in done:
                lists[action].append(name)
            if done:
                before_text, after_text = describe(self.before[name]), describe(self.after[name])
                if "recreated" in done:
                    after_text += " (recreated: %s)" % self.reasons.get(name, "")
                before_lines.append("%s: %s\n" % (name, before_text))
                after_lines.append("%s: %s\n" % (name, after_text))
                changed_lines.append("%s %s -> %s" % (name, before_text, after_text))
        changed = bool(changed_lines or self.network_created or self.network_recreated or self.base_image_loaded
                       or self.built or self.pruned)
        result = dict(changed=changed, containers=containers, network_created=self.network_created,
                      network_recreated=self.network_recreated,
                      base_image_loaded=self.base_image_loaded, built=list(self.built), pruned=list(self.pruned))
        if self.network is not None:
            result["network"] = dict(self.network)
        result.update(lists)
        parts = []
        if self.network_recreated:
            network = self.network or {}
            parts.append("network %s recreated (id %s -> %s)" % (
                network.get("name"), (network.get("id_before") or "?")[:HASH_LENGTH],
                (network.get("id") or "new")[:HASH_LENGTH]))
        if self.network_created:
            parts.append("network created")
        if self.base_image_loaded:
            parts.append("base image loaded")
        if self.built:
            parts.append("built %s" % ", ".join(self.built))
        if changed_lines:
            parts.append("%d of %d containers changed: %s"
                         % (len(changed_lines), len(self.names), "; ".join(changed_lines)))
        if self.pruned:
            parts.append("removed unused images %s" % ", ".join(self.pruned))
        result["msg"] = "; ".join(parts) if parts else "%d containers in the desired state" % len(self.names)
        if self.want_diff:
            header = "docker containers"
            before_text, after_text = "".join(before_lines), "".join(after_lines)
            if self.network_created:
                after_text = "network: created\n" + after_text
                before_text = "network: absent\n" + before_text
            if self.network_recreated:
                network = self.network or {}
                new_id = " (id %s)" % network["id"][:HASH_LENGTH] if network.get("id") else ""
                after_text = "network %s: recreated%s\n" % (network.get("name"), new_id) + after_text
                old_id = (network.get("id_before") or "")[:HASH_LENGTH]
                before_text = "network %s: id %s\n" % (network.get("name"), old_id) + before_text
            for tag in self.built:
                after_text = "image %s: built\n" % tag + after_text
                before_text = "image %s: absent\n" % tag + before_text
            result["diff"] = dict(before_header=header, after_header=header, before=before_text, after=after_text)
        return result


# ---------------------------------------------------------------------------
# Reconciling
# ---------------------------------------------------------------------------

def _fail_call(outcome, what, rc, out, err, names=None):
    return ContainersError("%s failed (rc %d): %s" % (what, rc, _trim(err or out) or "no output"),
                           result=outcome.result(), failed_containers=names or [])


def _report(docker, names, states):
    lines = []
    for name in names:
        state = states.get(name) or container_state(None)
        lines.append("%s (%s%s):" % (name, state["status"], ", health %s" % state["health"] if state["health"] else ""))
        lines.extend("  " + line for line in docker.log_lines(name))
    return lines


def _verify(docker, outcome, names, wait, sleep, clock):
    """Read the started containers until none is transitional or ``wait`` seconds passed; fail on the broken ones."""
    deadline = clock() + (wait or 0)
    while True:
        found = docker.inspect("container", names)
        states = dict((name, container_state(found.get(name))) for name in names)
        pending = [n for n in names if states[n]["status"] in TRANSITIONAL]
        if not pending or clock() >= deadline:
            break
        sleep(min(POLL_INTERVAL, max(deadline - clock(), 0)))
    for name in names:
        outcome.after[name] = states[name]
    broken = [n for n in names if states[n]["status"] in FAILED + ("restarting",) or not states[n]["exists"]]
    late = [n for n in pending if wait and n not in broken]
    if broken or late:
        parts = []
        if broken:
            parts.append("%s not running after start" % ", ".join(broken))
        if late:
            parts.append("%s not running after %g s" % (", ".join(late), wait))
        raise ContainersError("; ".join(parts) + "\n" + "\n".join(_report(docker, broken + late, states)),
                              result=outcome.result(), failed_containers=broken + late)


def _prune(docker, outcome, repositories, keep):
    """Remove the images of ``repositories`` that this module built, no wanted tag, no container uses."""
    rc, out, err = docker("image", "ls", "--filter", "label=%s=true" % MANAGED_LABEL,
                          "--format", "{{.Repository}}:{{.Tag}}")
    if rc != 0:
        return
    old = [line.strip() for line in (out or "").splitlines()
           if line.strip() and line.strip().rsplit(":", 1)[0] in repositories and line.strip() not in keep]
    if not old:
        return
    rc, out, err = docker("image", "rm", *old)
    # Images still used by a container are refused by docker and stay.
    outcome.pruned = [tag for tag in old if ("Untagged: %s" % tag) in (out or "")]


def _create_network(docker, outcome, the_plan, recreated=False):
    """docker network create; the new Id (``docker network create`` prints it) in the outcome."""
    rc, out, err = docker(*the_plan.network_create)
    if rc != 0:
        raise _fail_call(outcome, "docker network create %s%s" % (
            the_plan.network_create[-1], " (the old one was removed)" if recreated else ""), rc, out, err)
    if recreated:
        outcome.network_recreated = True
    else:
        outcome.network_created = True
    if outcome.network is not None:
        outcome.network["id"] = (out or "").strip().splitlines()[-1].strip() if (out or "").strip() else None


def predict_without_docker(params, reason, want_diff=False):
    """Check mode on a host without a usable docker (the engine is not installed yet): everything is created."""
    containers = params.get("containers") or []
    names = [spec["name"] for spec in containers] + list(params.get("absent") or [])
    states = dict((name, container_state(None)) for name in names)
    outcome = Outcome(names, states, want_diff)
    outcome.network_created = bool(params.get("network"))
    for spec in containers:
        image = spec["image"] + (":<to build>" if spec.get("build") else "")
        if spec.get("build") and image not in outcome.built:
            outcome.built.append(image)
        outcome.record(spec["name"], "created", image=image)
        outcome.record(spec["name"], "started")
    result = outcome.result()
    result["msg"] = "docker is not usable yet (%s): %s" % (reason, result["msg"])
    return result


def reconcile(params, docker, check_mode=False, want_diff=False, sleep=time.sleep, clock=time.monotonic,
              users=resolve_user, routes=read_routes, stat=os.stat):
    """Bring the containers of ``params`` (the module's options) to their desired state; the result dict.

    Raises ContainersError for bad arguments, a network that differs (unless
    recreate_network), running containers this call does not name on a
    network to recreate, a missing image or base image (before anything
    changes) and for a failed docker call or container (with the partial
    result).
    """
    containers = params.get("containers") or []
    restart = params.get("restart") or []
    absent = params.get("absent") or []
    wait = params.get("wait") or 0
    errors = check_args(containers, restart, absent, params.get("network"), wait, params.get("recreate_network"))
    if errors:
        raise ContainersError("; ".join(errors))

    the_plan, states, images = plan(params, docker, check_mode=check_mode, users=users, routes=routes, stat=stat)
    names = [spec["name"] for spec in containers] + list(absent)
    outcome = Outcome(names, states, want_diff)
    outcome.reasons = dict(the_plan.reasons)
    network_name = (params.get("network") or {}).get("name")
    if network_name:
        outcome.network = dict(name=network_name, id_before=the_plan.network_id,
                               id=None if the_plan.network_create else the_plan.network_id)
    if the_plan.problems:
        raise ContainersError("; ".join(the_plan.problems), result=outcome.result())
    if the_plan.base_missing and not the_plan.base_load and not check_mode:
        # The action plugin copies base_image_archive to the host and runs the module again.
        result = outcome.result()
        result.update(changed=False, base_image_missing=True,
                      msg="base image %s is missing: the archive is needed" % params.get("base_image"))
        return result

    if check_mode:
        outcome.network_created = the_plan.network_create is not None and the_plan.network_remove is None
        outcome.network_recreated = the_plan.network_remove is not None
        outcome.base_image_loaded = the_plan.base_missing
        outcome.built = [tag for tag, _context in the_plan.builds]
        for name in names:
            for action in the_plan.actions[name]:
                outcome.record(name, action, image=the_plan.create.get(name, (None, None, None))[2])
        return outcome.result()

    if the_plan.network_create and not params.get("recreate_network"):
        _create_network(docker, outcome, the_plan)
    if the_plan.base_load:
        rc, out, err = docker("load", "--input", params["base_image_load"])
        if rc != 0:
            raise _fail_call(outcome, "docker load of %s" % params["base_image_load"], rc, out, err)
        if params["base_image"] not in docker.inspect("image", [params["base_image"]]):
            raise ContainersError("docker load of %s did not give the base image %s: %s"
                                  % (params["base_image_load"], params["base_image"], _trim(out)),
                                  result=outcome.result())
        outcome.base_image_loaded = True
    for tag, context in the_plan.builds:
        dockerfile = the_plan.dockerfiles.get(tag)
        options = ["--file", os.path.join(context, dockerfile)] if dockerfile else []
        rc, out, err = docker("build", "--quiet", "--label", "%s=true" % MANAGED_LABEL, "--tag", tag,
                              *(options + [context]))
        if rc != 0:
            raise _fail_call(outcome, "docker build of %s from %s" % (tag, context), rc, out, err)
        outcome.built.append(tag)

    to_remove = [n for n in names if set(the_plan.actions[n]) & {"removed", "recreated"}]
    running = [n for n in to_remove if states[n]["status"] in RUNNING + ("restarting",)]
    if running:
        rc, out, err = docker("stop", *running)
        if rc != 0:
            raise _fail_call(outcome, "docker stop", rc, out, err, running)
    if to_remove:
        rc, out, err = docker("rm", "--force", *to_remove)
        if rc != 0:
            raise _fail_call(outcome, "docker rm", rc, out, err, to_remove)
        for name in to_remove:
            if "removed" in the_plan.actions[name]:
                outcome.record(name, "removed")
    if the_plan.network_remove:
        # Its containers are gone (the plan refused running ones it does not manage).
        rc, out, err = docker("network", "rm", the_plan.network_remove)
        if rc != 0:
            raise _fail_call(outcome, "docker network rm %s" % the_plan.network_remove, rc, out, err)
        outcome.network["id"] = None
    if the_plan.network_create and params.get("recreate_network"):
        _create_network(docker, outcome, the_plan, recreated=bool(the_plan.network_remove))
    to_create = [n for n in names if set(the_plan.actions[n]) & {"created", "recreated"}]
    for name in to_create:
        args, _digest, image = the_plan.create[name]
        rc, out, err = docker(*args)
        if rc != 0:
            raise _fail_call(outcome, "docker create %s" % name, rc, out, err, [name])
        outcome.record(name, "recreated" if "recreated" in the_plan.actions[name] else "created", image=image)
    to_start = [n for n in names if "started" in the_plan.actions[n]]
    if to_start:
        rc, out, err = docker("start", *to_start)
        for name in to_start:
            outcome.record(name, "started")
        if rc != 0:
            found = docker.inspect("container", to_start)
            now = dict((n, container_state(found.get(n))) for n in to_start)
            failing = [n for n in to_start if now[n]["status"] not in RUNNING] or list(to_start)
            for name in to_start:
                outcome.after[name] = now[name]
            raise ContainersError("docker start failed (rc %d) for %s: %s\n%s"
                                  % (rc, ", ".join(failing), _trim(err or out) or "no output",
                                     "\n".join(_report(docker, failing, now))),
                                  result=outcome.result(), failed_containers=failing)
        _verify(docker, outcome, to_start, wait, sleep, clock)
    if outcome.built and params.get("prune_images"):
        repositories = set(tag.rsplit(":", 1)[0] for tag in outcome.built)
        keep = set(image for _args, _digest, image in the_plan.create.values())
        _prune(docker, outcome, repositories, keep)
    return outcome.result()
