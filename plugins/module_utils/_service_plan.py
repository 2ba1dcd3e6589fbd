# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service role's derived state, in plain Python: what a host should run
(``plan``: its entries by runtime, units, containers, programs, manual
services, instances, virtualenvs, endpoints, and a table of the files
batch's keys), the files batch itself (``files``), and what to do once the
modules have reported (``followups``, ``plan_work``, ``restart_report``,
``unhealthy_logs``).

One strategy per runtime (systemd, docker, supervisor, manual) in
``RUNTIMES``; one per artifact in _service_layout. A key of the files batch
is a label: the plan's ``keys`` table says what it stands for
(``{service, kind, action, followup, target}``), and the follow-ups read that
table, never the label's text.

Private: reached through plugins/filter/service_plan.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math

from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.alicia.platform.plugins.module_utils import _registry
from ansible_collections.alicia.platform.plugins.module_utils import _service_layout as layout
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import CatalogueError
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import (
    health_endpoints,
    host_docker_network,
    service_env,
)

# What the follow-ups hold (plan()["followups"] keys), each a list in the order found.
FOLLOWUPS = ("units_restart", "units_absent", "containers_restart", "containers_absent", "programs_updated",
             "programs_restart", "programs_absent", "manual_restart", "manual_absent", "instances_roll",
             "slots_refresh")


class ServicePlanError(ValueError):
    """Bad input to the plan; the message names the service and the field."""


def _key(keys, key, service, kind, action, followup=None, target=None):
    if key not in keys:
        keys[key] = {"service": service, "kind": kind, "action": action, "followup": followup, "target": target}
    return key


# ---- One strategy per runtime -------------------------------------------------------

class Systemd(object):
    """A hardened systemd unit per service (a target over one unit per instance for a multi-instance service)."""

    name = "systemd"

    @staticmethod
    def runner(svc, s):
        return {"unit": svc["unit"]}

    @staticmethod
    def keys(svc, s, keys):
        if layout.slots(svc, s):
            # Blue-green: alicia.platform.slots compares the live slot's release and
            # environment with these files itself; a change of the slots' units switches.
            _key(keys, svc["name"], svc["name"], "service", "switch")
            _key(keys, svc["name"] + ":slots", svc["name"], "slot_units", "switch", "slots_refresh", svc["name"])
            _key(keys, svc["name"] + ":single", svc["name"], "single_unit", "stop", "units_absent",
                 "alicia-%s.service" % svc["name"])
            return
        _key(keys, svc["name"], svc["name"], "service", "restart", "units_restart", svc["unit"])
        if layout.instances(svc):
            # A service now run as several instances: its single-instance unit stops first (it holds the port).
            _key(keys, svc["name"] + ":single", svc["name"], "single_unit", "stop", "units_absent",
                 "alicia-%s.service" % svc["name"])

    @staticmethod
    def files(svc, s, ctx):
        name = svc["name"]
        # Blue-green: the release's code changing in place (the same version) switches slots.
        files = layout.release_files(svc, s, name + ":slots" if layout.slots(svc, s) else name)
        unit_vars = {"svc": svc, "home": layout.home(svc, s), "after": ctx["local_deps"].get(name, []),
                     "venv": (ctx["venv_of"].get(name) or {}).get("path", ""),
                     "hardening": dict(s["systemd_hardening"], **(svc.get("systemd") or {})),
                     "restart": layout.restart_settings(svc, s), "instance": None, "slot": None}
        files += [
            {"path": layout.data_dir(svc, s), "state": "directory", "owner": s["user"], "group": s["group"],
             "mode": "0750", "key": name},
            {"path": layout.env_file(name, s), "template": "service.env.j2", "group": s["group"], "mode": "0640",
             "secret": True, "key": name, "vars": {"env": ctx["env"](name, ctx["mqtt_broker"])}},
        ]
        if layout.slots(svc, s):
            files += Systemd.slot_files(svc, s, unit_vars)
        elif layout.instances(svc):
            files += [
                {"path": layout.unit_path(svc["unit"]), "template": "service.target.j2", "key": name,
                 "vars": {"svc": svc}},
                {"path": layout.unit_path("alicia-%s.service" % name), "state": "absent", "key": name + ":single"},
            ]
            for inst in layout.instances(svc):
                settings_file = "%s/%s.json" % (s["config_dir"], inst["name"])
                files += [
                    {"path": settings_file, "content": layout.nice_json(inst["settings"]), "group": s["group"],
                     "mode": "0640", "key": name},
                    {"path": layout.env_file(inst["name"], s), "template": "service.env.j2", "group": s["group"],
                     "mode": "0640", "key": name,
                     "vars": {"env": {"SERVICE_NAME": name, "SERVICE_INSTANCE": inst["name"],
                                      "SERVICE_PORT": str(inst["listen_port"]), "SERVICE_BIND": "127.0.0.1",
                                      "SERVICE_CONFIG": settings_file,
                                      "SERVICE_PID_FILE": "%s/%s.pid" % (s["instance_pid_dir"], inst["name"])}}},
                    {"path": layout.unit_path(inst["unit"]), "template": "service.unit.j2", "key": name,
                     "vars": dict(unit_vars, instance=inst)},
                ]
        else:
            if svc.get("settings"):
                files.append({"path": "%s/%s.json" % (s["config_dir"], name), "content": layout.nice_json(svc["settings"]),
                              "group": s["group"], "mode": "0640", "key": name})
            files.append({"path": layout.unit_path(svc["unit"]), "template": "service.unit.j2", "key": name,
                          "vars": unit_vars})
        return files

    @staticmethod
    def slot_files(svc, s, unit_vars):
        """A blue-green service's target (it pulls the live slot, the enabled one),
        and per slot its own values (port, name, address) and its unit."""
        name = svc["name"]
        files = [
            {"path": layout.unit_path(svc["unit"]), "template": "service.target.j2", "key": name + ":slots",
             "vars": {"svc": svc}},
            {"path": layout.unit_path("alicia-%s.service" % name), "state": "absent", "key": name + ":single"},
        ]
        if svc.get("settings"):
            files.append({"path": "%s/%s.json" % (s["config_dir"], name), "content": layout.nice_json(svc["settings"]),
                          "group": s["group"], "mode": "0640", "key": name + ":slots"})
        for slot in layout.slots(svc, s):
            # Registered as <service>-<slot> on the published port (the balancer's).
            env = {"SERVICE_NAME": name, "SERVICE_INSTANCE": slot["name"], "SERVICE_PORT": str(slot["listen_port"]),
                   "SERVICE_BIND": "127.0.0.1", "SERVICE_ADVERTISE_PORT": str(svc["port"])}
            if svc.get("settings"):
                env["SERVICE_CONFIG"] = "%s/%s.json" % (s["config_dir"], name)
            files += [
                {"path": layout.env_file(slot["name"], s), "template": "service.env.j2", "group": s["group"],
                 "mode": "0640", "key": name + ":slots", "vars": {"env": env}},
                {"path": layout.unit_path(slot["unit"]), "template": "service.unit.j2", "key": name + ":slots",
                 "vars": dict(unit_vars, instance=slot, slot=slot)},
            ]
        return files


def gate_key(svc, keys):
    """Every runtime: the marker a failed health gate left (gate.yml), removed; its
    follow-up is the service's own restart, so the run restarts it and gates it
    again (a failed deploy is never reported a success by the next run)."""
    own = keys[svc["name"]]
    return _key(keys, svc["name"] + ":gate", svc["name"], "gate_failed", "restart", own["followup"], own["target"])


def gate_files(entries, s):
    """The failed-gate markers of ``entries``, each wanted absent, keyed by ``gate_key``."""
    return [{"path": layout.gate_marker(svc["name"], s), "state": "absent", "key": svc["name"] + ":gate"}
            for svc in entries]


def _left_unit(svc, keys):
    """A unit left by the systemd runtime, removed (its service then stopped)."""
    return {"path": layout.unit_path(svc["unit"]), "state": "absent",
            "key": _key(keys, svc["name"] + ":unit", svc["name"], "unit", "stop", "units_absent", svc["unit"])}


class Docker(object):
    """A container per service, built on the host from its artifact (no registry)."""

    name = "docker"

    @staticmethod
    def container_name(svc, s):
        return s["docker_container_prefix"] + svc["name"]

    @classmethod
    def runner(cls, svc, s):
        return {"container": cls.container_name(svc, s)}

    @classmethod
    def keys(cls, svc, s, keys):
        _key(keys, svc["name"], svc["name"], "service", "restart", "containers_restart", cls.container_name(svc, s))
        _key(keys, svc["name"] + ":unit", svc["name"], "unit", "stop", "units_absent", svc["unit"])
        if layout.artifact_type(svc) == "container" and svc["artifact"].get("context") is None:
            _key(keys, svc["name"] + ":context", svc["name"], "context", "remove")

    @staticmethod
    def files(svc, s, ctx):
        name = svc["name"]
        home = layout.home(svc, s)
        if layout.artifact_type(svc) == "container":
            # A context from the controller (one tree: <home>/image), or an image
            # already on the host (a context left by another artifact removed).
            files = [{"path": home, "state": "directory", "mode": "0755", "key": name}]
            if svc["artifact"].get("context") is not None:
                files.append({"path": home + "/image", "state": "tree", "src": svc["artifact"]["context"],
                              "directory_mode": "0755", "key": name})
            else:
                files.append({"path": home + "/image", "state": "absent", "key": name + ":context"})
        else:
            files = [
                {"path": home, "state": "directory", "mode": "0755", "key": name},
                {"path": home + "/image", "state": "directory", "mode": "0755", "key": name},
                {"path": home + "/image/" + layout.REFERENCE_SCRIPT, "src": layout.REFERENCE_SCRIPT, "mode": "0755",
                 "key": name},
                {"path": home + "/image/Dockerfile", "template": "docker/Dockerfile.j2", "key": name,
                 "vars": {"svc": svc, "health_command": docker_health_command(
                     {"path": "/health", "status": 200, "json_field": "status", "json_value": "healthy"}, 4)}},
            ]
        files += [
            {"path": layout.data_dir(svc, s), "state": "directory", "owner": s["user"], "group": s["group"],
             "mode": "0750", "key": name},
            {"path": layout.env_file(name, s), "template": "docker/service.env.j2", "group": s["group"],
             "mode": "0640", "secret": True, "key": name, "vars": {"env": ctx["env"](name, ctx["docker_mqtt_broker"])}},
            _left_unit(svc, ctx["keys"]),
        ]
        return files

    @classmethod
    def leftover(cls, svc, s, keys):
        """For a systemd service: a build context left by this runtime, removed (its container then removed)."""
        if svc["runtime"] != "systemd":
            return []
        key = _key(keys, svc["name"] + ":container", svc["name"], "container", "remove", "containers_absent",
                   cls.container_name(svc, s))
        return [{"path": layout.home(svc, s) + "/image", "state": "absent", "key": key}]


def docker_health_command(health, timeout):
    """The container health check's command (python3 -c DOCKER_HEALTH_SCRIPT and its arguments)."""
    value = health.get("json_value")
    if not isinstance(value, str):
        value = "" if value is None else json.dumps(value)
    return ["python3", "-c", layout.DOCKER_HEALTH_SCRIPT, health.get("path", "/health"), str(health.get("status", 200)),
            health.get("json_field") or "", value, str(timeout)]


def container(svc, s, network_name):
    """alicia.platform.containers' entry of one docker service."""
    data = layout.data_dir(svc, s)
    health = svc.get("health")
    log = svc.get("log") or {}
    healthcheck = {"disable": True}
    if health:
        timeout = float(health.get("timeout", 5))
        healthcheck = {"test": docker_health_command(health, timeout),
                       "interval": s["docker_health_interval"], "timeout": "%ds" % int(math.ceil(timeout + 1)),
                       "start_period": s["docker_health_start_period"], "retries": s["docker_health_retries"]}
    artifact = svc.get("artifact") or {}
    image = {"image": "alicia/" + layout.artifact_type(svc), "build": layout.home(svc, s) + "/image"}
    if layout.artifact_type(svc) == "container" and artifact.get("image") is not None:
        image = {"image": artifact["image"]}
    elif layout.artifact_type(svc) == "container":
        image = {"image": "alicia/" + svc["name"], "build": image["build"]}
        if (artifact.get("dockerfile") or "Dockerfile") != "Dockerfile":
            image["dockerfile"] = artifact["dockerfile"]
    resources = svc["resources"]
    image.update({
        "name": Docker.container_name(svc, s),
        "env_file": layout.env_file(svc["name"], s),
        "user": s["user"], "group": s["group"],
        "network": network_name,
        "published_ports": ["%s:%s" % (svc["port"], svc["listen_port"])],
        "volumes": ["%s:%s" % (data, data)],
        "tmpfs": ["/tmp:rw,noexec,nosuid,size=16m"],
        "read_only": True, "cap_drop": ["ALL"], "security_opts": ["no-new-privileges"],
        "memory": str(resources["memory_limit"]),
        "memory_reservation": str(resources["memory_reservation"]),
        "cpus": float(resources["cpu_limit"]),
        "cpu_shares": max(2, int(round(float(resources["cpu_reservation"]) * 1024))),
        "restart_policy": (svc.get("docker") or {}).get("restart_policy") or s["docker_restart_policy"],
        "healthcheck": healthcheck,
        "log_driver": "json-file",
        "log_options": {"max-size": str(human_to_bytes(log.get("max_size") or s["docker_log_max_size"])),
                        "max-file": str(log.get("max_file") or s["docker_log_max_file"])},
        "labels": {"alicia.platform.service": svc["name"], "alicia.platform.phase": svc["phase"]},
        "stop_timeout": s["timeout_stop_sec"],
    })
    return image


class Supervisor(object):
    """A supervisord program per service (Debian's supervisor), one section each."""

    name = "supervisor"

    @staticmethod
    def program(svc, s):
        return s["supervisor_prefix"] + svc["name"]

    @classmethod
    def runner(cls, svc, s):
        return {"program": cls.program(svc, s)}

    @classmethod
    def keys(cls, svc, s, keys):
        _key(keys, svc["name"], svc["name"], "service", "restart", "programs_restart", cls.program(svc, s))
        # A changed section: one supervisorctl update, which restarts the program.
        _key(keys, svc["name"] + ":program", svc["name"], "program", "update", "programs_updated",
             cls.program(svc, s))
        _key(keys, svc["name"] + ":unit", svc["name"], "unit", "stop", "units_absent", svc["unit"])

    @classmethod
    def files(cls, svc, s, ctx):
        name = svc["name"]
        env = ctx["env"](name, ctx["mqtt_broker"])
        return layout.release_files(svc, s, name) + [
            {"path": layout.data_dir(svc, s), "state": "directory", "owner": s["user"], "group": s["group"],
             "mode": "0750", "key": name},
            {"path": layout.env_file(name, s), "template": "service.env.j2", "group": s["group"], "mode": "0640",
             "secret": True, "key": name, "vars": {"env": env}},
            {"path": cls.section(svc, s), "template": "supervisor/program.conf.j2", "mode": "0640", "secret": True,
             "key": name + ":program",
             "vars": {"svc": svc, "home": layout.home(svc, s), "env": env, "program": cls.program(svc, s),
                      "restart": layout.restart_settings(svc, s)}},
            _left_unit(svc, ctx["keys"]),
        ]

    @classmethod
    def section(cls, svc, s):
        return "%s/%s.conf" % (s["supervisor_conf_dir"], cls.program(svc, s))

    @classmethod
    def leftover(cls, svc, s, keys):
        """For a service run otherwise: a section left by this runtime, removed (its program then stopped and removed)."""
        if svc["runtime"] == "supervisor":
            return []
        key = _key(keys, svc["name"] + ":program", svc["name"], "program", "remove", "programs_absent",
                   cls.program(svc, s))
        return [{"path": cls.section(svc, s), "state": "absent", "key": key}]


class Manual(object):
    """No process manager: the control script alicia-servicectl and one JSON configuration per service."""

    name = "manual"
    CONTROL_KEY = "alicia-servicectl"

    @staticmethod
    def runner(svc, s):
        return {}

    @staticmethod
    def keys(svc, s, keys):
        _key(keys, Manual.CONTROL_KEY, None, "control", "none")
        _key(keys, svc["name"], svc["name"], "service", "restart", "manual_restart", svc["name"])
        _key(keys, svc["name"] + ":unit", svc["name"], "unit", "stop", "units_absent", svc["unit"])

    @staticmethod
    def config_path(svc, s):
        return "%s/%s.json" % (s["manual_config_dir"], svc["name"])

    @classmethod
    def head(cls, s):
        """The control script and the configurations' directory, once for the batch."""
        return [
            {"path": s["manual_ctl"], "src": "alicia-servicectl", "mode": "0755", "key": cls.CONTROL_KEY},
            {"path": s["manual_config_dir"], "state": "directory", "group": s["group"], "mode": "0750",
             "key": cls.CONTROL_KEY},
        ]

    @classmethod
    def files(cls, svc, s, ctx):
        name = svc["name"]
        restart = layout.restart_settings(svc, s)
        strategy = layout.ARTIFACT_STRATEGIES[layout.artifact_type(svc)]
        health = svc.get("health")
        config = {
            "comment": "Ansible managed: alicia.platform.service runtime manual (alicia-servicectl)",
            "command": strategy.command(svc, s, (ctx["venv_of"].get(name) or {}).get("path")),
            "user": s["user"], "group": s["group"],
            "directory": strategy.directory(svc, s),
            "env_file": layout.env_file(name, s),
            "log": svc["log"]["path"],
            "pid_file": "%s/%s.pid" % (s["manual_run_dir"], name),
            "health": dict(_check(health, "http://127.0.0.1:%s%s" % (svc["port"], health.get("path", "/health"))))
            if health else None,
            "start_timeout": s["gate_timeout"],
            "stop_timeout": int(restart["stop_timeout"]), "restart_delay": int(restart["restart_delay"]),
            "max_restarts": int(restart["max_restarts"]),
            "requires": ctx["manual_requires"](svc),
        }
        return layout.release_files(svc, s, name) + [
            {"path": layout.data_dir(svc, s), "state": "directory", "owner": s["user"], "group": s["group"],
             "mode": "0750", "key": name},
            {"path": layout.env_file(name, s), "template": "service.env.j2", "group": s["group"], "mode": "0640",
             "secret": True, "key": name, "vars": {"env": ctx["env"](name, ctx["mqtt_broker"])}},
            {"path": cls.config_path(svc, s), "content": layout.nice_json(config), "group": s["group"], "mode": "0640",
             "key": name},
            _left_unit(svc, ctx["keys"]),
        ]

    @classmethod
    def leftover(cls, svc, s, keys):
        """For a service run otherwise: a configuration left by this runtime, removed (its instance then stopped)."""
        if svc["runtime"] == "manual":
            return []
        key = _key(keys, svc["name"] + ":manual", svc["name"], "manual", "remove", "manual_absent", svc["name"])
        return [{"path": cls.config_path(svc, s), "state": "absent", "key": key}]


def _check(health, url):
    """The control script's health check (its own field names)."""
    return [("url", url), ("status", health.get("status", 200)), ("json_field", health.get("json_field")),
            ("json_value", health.get("json_value")), ("timeout", health.get("timeout", 5))]


# The one strategy per runtime, keyed by the one list of runtimes.
RUNTIMES = dict((strategy.name, strategy) for strategy in (Systemd, Docker, Supervisor, Manual))
if sorted(RUNTIMES) != sorted(layout.RUNTIMES):
    raise AssertionError("one strategy per runtime of %s" % (layout.RUNTIMES,))


# ---- The plan -----------------------------------------------------------------------

def entries_of(catalogue, names, runtime=""):
    """The catalogue entries of ``names``, in that order, each run by ``runtime`` when set."""
    found = []
    for name in names:
        if name not in catalogue:
            raise ServicePlanError("service: unknown service '%s'" % name)
        entry = dict(catalogue[name])
        if runtime:
            entry["runtime"] = runtime
        if entry.get("runtime") not in RUNTIMES:
            raise ServicePlanError("service: service '%s' field 'runtime': must be one of %s, got %r"
                                   % (name, ", ".join(layout.RUNTIMES), entry.get("runtime")))
        found.append(entry)
    return found


def _by_runtime(entries, runtime):
    return [svc for svc in entries if svc["runtime"] == runtime]


def plan(catalogue, names, group_names, host, groups=None, settings=None):
    """What this run wants on ``host``: see the module's docstring and plugins/filter/service_plan.yml."""
    s = layout.settings_of(settings)
    groups = groups or {}
    entries = entries_of(catalogue, names, s["runtime"])
    systemd = _by_runtime(entries, "systemd")
    docker = _by_runtime(entries, "docker")
    supervisor = _by_runtime(entries, "supervisor")
    manual = _by_runtime(entries, "manual")
    multi = [svc for svc in systemd if layout.instances(svc)]
    slotted = [svc for svc in systemd if layout.slots(svc, s)]
    python = [svc for svc in systemd if layout.artifact_type(svc) == "python_app"]
    local_groups = set(group_names or [])

    keys = {}
    for svc in entries:
        RUNTIMES[svc["runtime"]].keys(svc, s, keys)
        gate_key(svc, keys)

    # Artifact python_app: one virtualenv per distinct requirements, its wheelhouse once.
    venv_of = dict((svc["name"], layout.venv_spec(svc, s)) for svc in python)
    venvs, wheelhouses = [], []
    for name, spec in venv_of.items():
        venv = dict((k, v) for k, v in spec.items() if k != "wheelhouse_src")
        if venv not in venvs:
            venvs.append(venv)
        if spec.get("wheelhouse"):
            key = "venv:" + spec["path"]
            if key not in keys:
                _key(keys, key, None, "wheelhouse", "rebuild")
                keys[key]["services"] = []
                wheelhouses.append({"path": spec["wheelhouse"], "src": spec["wheelhouse_src"], "key": key})
            keys[key]["services"].append(name)

    instance_units = [inst["unit"] for svc in multi for inst in layout.instances(svc)]
    if s["instance"]:
        selected = [inst["unit"] for svc in multi for inst in layout.instances(svc)
                    if layout.selected(s["instance"], inst["name"])]
        restart_units = selected
    else:
        # A blue-green service restarts in its other slot (alicia.platform.slots), never in place.
        restart_units = [svc["unit"] for svc in systemd if svc not in multi and svc not in slotted] + instance_units
    wanted = ([svc["unit"] for svc in systemd] + instance_units + ([s["docker_unit"]] if docker else [])
              + ([s["supervisor_unit"]] if supervisor else []))

    remote = []
    for svc in entries:
        for dep, spec in svc["depends_on"].items():
            entry = catalogue.get(dep)
            if (spec.get("type") == "required" and isinstance(entry, dict) and entry.get("kind") == "service"
                    and host not in (groups.get(entry.get("group")) or []) and dep not in remote):
                remote.append(dep)
    timeouts = [spec.get("timeout", 30) for svc in entries for dep, spec in svc["depends_on"].items() if dep in remote]

    runners = dict((svc["name"], RUNTIMES[svc["runtime"]].runner(svc, s)) for svc in entries)
    # Blue-green: the service is reached through the balancer (its slots are alicia.platform.slots' to watch).
    runners.update((svc["name"], {"unit": s["balancer_unit"]}) for svc in slotted)
    slot_units = [slot["unit"] for svc in slotted for slot in layout.slots(svc, s)]
    network = host_docker_network(catalogue, group_names) if docker else None
    return {
        "settings": s,
        "host": host,
        "group_names": sorted(local_groups),
        "names": [svc["name"] for svc in entries],
        "entries": entries,
        "by_runtime": dict((runtime, [svc["name"] for svc in entries if svc["runtime"] == runtime])
                           for runtime in layout.RUNTIMES),
        "keys": keys,
        # Runtime systemd (and the engines of the other runtimes, as units).
        "wanted_units": [{"name": unit, "enabled": True, "state": "started"} for unit in wanted],
        "restart_units": restart_units,
        "restart_unit_states": [{"name": unit, "enabled": True} for unit in restart_units],
        "stop_unit_states": [{"name": svc["unit"], "state": "stopped"} for svc in reversed(systemd)],
        "all_units": [svc["unit"] for svc in entries] + instance_units + slot_units,
        # Multi-instance.
        "multi": [svc["name"] for svc in multi],
        "instance_units": instance_units,
        "balancer_units": ([{"name": s["balancer_unit"], "enabled": True, "state": "started"}]
                           if multi or slotted else []),
        # Blue-green (alicia.platform.slots), behind the balancer as well.
        "slotted": [svc["name"] for svc in slotted],
        "balanced": [svc["name"] for svc in entries if svc in multi or svc in slotted],
        "slots": [slot_request(svc, s) for svc in slotted],
        # Runtime docker.
        "containers": [container(svc, s, (network or {}).get("name")) for svc in docker],
        "container_names": [Docker.container_name(svc, s) for svc in docker],
        "docker_network": network,
        # Runtime supervisor.
        "programs": [Supervisor.program(svc, s) for svc in supervisor],
        # Runtime manual.
        "manual": [svc["name"] for svc in manual],
        # Artifact python_app.
        "venv_of": dict((name, spec["path"]) for name, spec in venv_of.items()),
        "venvs": venvs,
        "wheelhouses": wheelhouses,
        "prune": [{"path": layout.home(svc, s) + "/releases", "patterns": ["*"], "directories": True,
                   "keep": max(int(s["keep_releases"]) - 1, 0)} for svc in python],
        # Health.
        "endpoints": layout.host_endpoints(entries, host, runners, s["instance"], balancer_unit=s["balancer_unit"]),
        "remote_deps": remote,
        "remote_timeout": max(timeouts) if timeouts else 30,
        "local_deps": dict((svc["name"], [catalogue[dep]["unit"] for dep in svc["depends_on"]
                                          if dep in catalogue and catalogue[dep].get("group") in local_groups])
                           for svc in entries),
        # tasks/remove.yml.
        "removed_files": removed_files(entries, s),
        "removed_logs": removed_logs(entries, s),
    }


def slot_request(svc, s):
    """One service of alicia.platform.slots' ``services``."""
    health = svc.get("health") or {}
    probe = layout.health_probe(health, "http://127.0.0.1")
    return {"service": svc["name"], "release": "releases/%s" % svc["version"], "env": layout.env_file(svc["name"], s),
            "health": {"path": health.get("path", "/health"), "expect_status": probe["expect_status"],
                       "json_field": probe["json_field"], "json_value": probe["json_value"],
                       "timeout": probe["timeout"]},
            "slots": [dict([(key, slot[key]) for key in ("unit", "link", "env", "backend", "server")],
                           name=slot["slot"], port=slot["listen_port"]) for slot in layout.slots(svc, s)],
            "canary_backend": layout.canary_backend(svc)}


def removed_files(entries, s):
    """What tasks/remove.yml deletes: units, environment and settings files, the install directory (and the data with purge)."""
    files = []
    for svc in entries:
        for slot in layout.slots(svc, s):
            files += [{"path": layout.unit_path(slot["unit"]), "state": "absent"},
                      {"path": layout.env_file(slot["name"], s), "state": "absent"},
                      {"path": slot["env"], "state": "absent"}]
        for inst in layout.instances(svc):
            files += [{"path": layout.unit_path(inst["unit"]), "state": "absent"},
                      {"path": layout.env_file(inst["name"], s), "state": "absent"},
                      {"path": "%s/%s.json" % (s["config_dir"], inst["name"]), "state": "absent"}]
        files += [{"path": layout.unit_path(svc["unit"]), "state": "absent"},
                  {"path": layout.env_file(svc["name"], s), "state": "absent"},
                  {"path": "%s/%s.json" % (s["config_dir"], svc["name"]), "state": "absent"},
                  {"path": layout.home(svc, s), "state": "absent"},
                  {"path": Supervisor.section(svc, s), "state": "absent"},
                  {"path": Manual.config_path(svc, s), "state": "absent"},
                  {"path": layout.gate_marker(svc["name"], s), "state": "absent"}]
        if layout.truthy(s["purge"]):
            files.append({"path": layout.data_dir(svc, s), "state": "absent"})
    files += _registry.removed_host_files(entries, s["data_dir"])
    return files


def removed_logs(entries, s):
    """With purge: each log of the services (and their instances) with its rotated copies."""
    if not layout.truthy(s["purge"]):
        return []
    prune = []
    for svc in entries:
        for log in [svc["log"]["path"]] + [inst["log"] for inst in layout.instances(svc)]:
            directory, base = log.rsplit("/", 1)
            prune.append({"path": directory or "/", "patterns": [base, base + ".*"]})
    return prune


# ---- The files batch ------------------------------------------------------------------

def files(the_plan, catalogue, secrets=None, mqtt_broker=None, docker_mqtt_broker=None, hostvars=None, groups=None,
          rollback=None):
    """Every file of the run on the host, in one batch, each keyed (see ``plan()["keys"]``)."""
    s = the_plan["settings"]
    entries = the_plan["entries"]
    group_names = set(the_plan["group_names"])
    keys = dict(the_plan["keys"])

    def env(name, broker_host):
        return service_env(catalogue, name, secrets=secrets, broker_host=broker_host)

    def manual_requires(svc):
        """The health checks of a manual service's required dependencies (the control
        script refuses to start it while one is unhealthy): on this host 127.0.0.1 on
        the dependency's port, else each host running it."""
        found = []
        for dep, spec in svc["depends_on"].items():
            entry = catalogue.get(dep)
            if not (spec.get("type") == "required" and isinstance(entry, dict) and entry.get("kind") == "service"
                    and entry.get("health")):
                continue
            if entry.get("group") in group_names:
                found.append(dict([("name", dep)] + _check(entry["health"], "http://127.0.0.1:%s%s" % (
                    entry["port"], entry["health"].get("path", "/health")))))
            else:
                for endpoint in health_endpoints(catalogue, hostvars=hostvars, groups=groups, services=[dep]):
                    found.append({"name": "%s@%s" % (dep, endpoint["host"]), "url": endpoint["url"],
                                  "status": endpoint["expect_status"], "json_field": endpoint["json_field"],
                                  "json_value": endpoint["json_value"], "timeout": endpoint["timeout"]})
        return found

    venv_of = dict((name, {"path": path}) for name, path in the_plan["venv_of"].items())
    ctx = {"env": env, "mqtt_broker": mqtt_broker, "docker_mqtt_broker": docker_mqtt_broker or mqtt_broker,
           "keys": keys, "local_deps": the_plan["local_deps"], "venv_of": venv_of, "manual_requires": manual_requires}
    batch = []
    for svc in _by_runtime(entries, "systemd"):
        batch += Systemd.files(svc, s, ctx)
    # Artifact python_app: each wheelhouse once, under one <install>/wheelhouse directory.
    if the_plan["wheelhouses"]:
        batch.append({"path": s["install_dir"] + "/wheelhouse", "state": "directory", "mode": "0755"})
    for wheelhouse in the_plan["wheelhouses"]:
        batch.append({"path": wheelhouse["path"], "state": "tree", "src": wheelhouse["src"], "directory_mode": "0755",
                      "mode": "0644", "key": wheelhouse["key"]})
    for svc in _by_runtime(entries, "docker"):
        batch += Docker.files(svc, s, ctx)
    for svc in entries:
        batch += Docker.leftover(svc, s, keys)
    for svc in _by_runtime(entries, "supervisor"):
        batch += Supervisor.files(svc, s, ctx)
    for svc in entries:
        batch += Supervisor.leftover(svc, s, keys)
    if the_plan["manual"]:
        batch += Manual.head(s)
    for svc in _by_runtime(entries, "manual"):
        batch += Manual.files(svc, s, ctx)
    for svc in entries:
        batch += Manual.leftover(svc, s, keys)
    # The host's registry file of each service (seed 004; no key: restarts nothing).
    batch += _registry.host_files(entries, the_plan["host"], s["data_dir"])
    batch += gate_files(entries, s)
    return keep_releases(_dedupe(batch), the_plan, list(rollback or []))


def _dedupe(batch):
    """One entry per path: a directory several services share (the wheelhouses'
    parent, say) is listed once; two different wants for one path are an error."""
    seen = {}
    result = []
    for entry in batch:
        path = entry["path"].rstrip("/") or "/"
        if path in seen:
            if seen[path] != entry:
                raise ServicePlanError("service: %s is wanted twice, differently (keys %s and %s)"
                                       % (path, seen[path].get("key"), entry.get("key")))
            continue
        seen[path] = entry
        result.append(entry)
    return result


def all_keys(the_plan):
    """The plan's keys table completed with the leftover keys (the files batch's every label)."""
    s = the_plan["settings"]
    keys = dict(the_plan["keys"])
    for svc in the_plan["entries"]:
        for strategy in (Docker, Supervisor, Manual):
            strategy.leftover(svc, s, keys)
    return keys


# ---- Follow-ups -------------------------------------------------------------------------

def _result(result, field, default):
    value = (result or {}).get(field) if isinstance(result, dict) else None
    return default if value is None else value


def followups(the_plan, files_result=None, venvs_result=None):
    """What the modules reported, turned into what to do: for each changed key
    of the files batch, its follow-up (restart this unit, remove that container,
    update those programs...), and the units of the python_apps whose
    virtualenv was (re)built. Lists in the plan's order, each item once."""
    changed = set(_result(files_result, "changed_keys", []))
    rebuilt = set(_result(venvs_result, "changed_paths", []))
    found = dict((name, []) for name in FOLLOWUPS)
    for key, info in all_keys(the_plan).items():
        if key in changed and info.get("followup") and info["target"] not in found[info["followup"]]:
            found[info["followup"]].append(info["target"])
    by_name = dict((svc["name"], svc) for svc in the_plan["entries"])
    for name, path in the_plan["venv_of"].items():
        unit = by_name[name]["unit"]
        if path in rebuilt and unit not in found["units_restart"]:
            found["units_restart"].append(unit)
    # Blue-green: a service whose slots' units (or virtualenv) changed switches slots.
    for name in the_plan.get("slotted", []):
        unit = by_name[name]["unit"]
        if unit in found["units_restart"]:
            found["units_restart"].remove(unit)
        if path_rebuilt(the_plan, name, rebuilt) and name not in found["slots_refresh"]:
            found["slots_refresh"].append(name)
    # A multi-instance service behind the balancer is never restarted whole:
    # its instances roll one at a time (alicia.platform.roll), drained first.
    for name in the_plan["multi"]:
        svc = by_name[name]
        if svc["unit"] in found["units_restart"]:
            found["units_restart"].remove(svc["unit"])
            for inst in layout.instances(svc):
                if layout.selected(the_plan["settings"]["instance"], inst["name"]):
                    found["instances_roll"].append(inst["unit"])
    return found


def path_rebuilt(the_plan, name, rebuilt):
    """Whether the virtualenv of service ``name`` is among the ``rebuilt`` paths."""
    return the_plan["venv_of"].get(name) in rebuilt


def roll(the_plan, followups_found, units_result=None, canary=False, canary_weight=None):
    """The instances alicia.platform.roll restarts one at a time: those of the
    follow-ups that were running before this run (an instance the units call
    just started has nothing to drain), each with its balancer backend and
    server and its own health endpoint. ``{canaries, rest}``: with ``canary``,
    the first of each service is its canary (rolled first, back in rotation
    at ``canary_weight``, watched before the rest) when another instance keeps
    serving the previous release beside it; every other instance is in ``rest``."""
    started = set(_result(units_result, "started", []))
    endpoints = dict((e["service"], e) for e in the_plan["endpoints"])
    found = {"canaries": [], "rest": []}
    for svc in the_plan["entries"]:
        rolled = [inst for inst in layout.instances(svc)
                  if inst["unit"] in followups_found.get("instances_roll", []) and inst["unit"] not in started]
        for index, inst in enumerate(rolled):
            item = {"service": svc["name"], "instance": inst["name"], "unit": inst["unit"],
                    "backend": svc["name"], "server": inst["name"], "endpoint": endpoints.get(inst["name"])}
            if canary and index == 0 and len(layout.instances(svc)) > 1:
                found["canaries"].append(dict(item, weight=canary_weight))
            else:
                found["rest"].append(item)
    return found


def roll_outcome(canaries=None, watches=None, rest=None):
    """What this run's roll did, for the gate and its rollback (tasks/main.yml):
    ``{touched, failure}``. ``canaries`` and ``rest``: the alicia.platform.roll
    results (skipped: nothing rolled); ``watches``: the alicia.platform.canary
    loop's ``results``. ``touched``: the instances restarted; ``failure``
    (``{service, instance, msg}``, or ``{}``): the first instance that did not
    turn healthy after its restart, or the first canary that failed its window."""
    touched = list(_result(canaries, "rolled", [])) + list(_result(rest, "rolled", []))
    failure = _result(canaries, "failed_instance", None)
    if not failure:
        for watch in watches or []:
            if not isinstance(watch, dict) or watch.get("skipped") or watch.get("passed"):
                continue
            item = watch.get(watch.get("ansible_loop_var") or "item") or {}
            failure = {"service": item.get("service"), "instance": item.get("instance"),
                       "msg": watch.get("msg") or "canary %s failed" % item.get("instance")}
            break
    if not failure:
        failure = _result(rest, "failed_instance", None)
    return {"touched": touched, "failure": dict(failure or {})}


def plan_work(the_plan, files=None, containers=None, venvs=None, supervisor=None, manual=None, slots=None):
    """The platform plan (tasks/plan.yml): the services with something to do and their phases.

    A service is in it when a file of its own changed, its unit (or an
    instance's, or the balancer's) is not enabled and running, its container
    or program or manual instance would change, its virtualenv is missing or
    stale, its wheelhouse differs, or its blue-green slots would switch or
    have a unit to fix (``slots``: the check-mode alicia.platform.slots result).
    """
    s = the_plan["settings"]
    changed = set(_result(files, "changed_keys", []))
    units = _result(files, "units", {})
    acted = set(name for name, state in units.items() if not state.get("active") or not state.get("enabled"))
    keys = all_keys(the_plan)
    work = set()
    for key in changed:
        info = keys.get(key) or {}
        if info.get("kind") in ("service", "gate_failed"):
            work.add(info["service"])
        elif info.get("kind") == "wheelhouse":
            work.update(info.get("services") or [])
    multi = set(the_plan["multi"])
    for svc in the_plan["entries"]:
        if svc["unit"] in acted:
            work.add(svc["name"])
        if svc["name"] in multi and (s["balancer_unit"] in acted
                                     or any(inst["unit"] in acted for inst in layout.instances(svc))):
            work.add(svc["name"])
    names = dict(zip(the_plan["container_names"], the_plan["by_runtime"]["docker"]))
    for name, state in _result(containers, "containers", {}).items():
        if name in names and (state or {}).get("actions"):
            work.add(names[name])
    programs = dict((Supervisor.program({"name": n}, s), n) for n in the_plan["by_runtime"]["supervisor"])
    work.update(programs[p] for p in _result(supervisor, "actions", {}) if p in programs)
    work.update(n for n in _result(manual, "actions", {}) if n in the_plan["manual"])
    work.update(r["service"] for r in _result(slots, "services", [])
                if r.get("service") in the_plan.get("slotted", []) and (r.get("action") != "keep" or r.get("fixed")))
    stale = set(_result(venvs, "changed_paths", []))
    work.update(name for name, path in the_plan["venv_of"].items() if path in stale)
    services = [svc["name"] for svc in the_plan["entries"] if svc["name"] in work]
    phases = []
    for svc in the_plan["entries"]:
        if svc["name"] in work and svc["phase"] not in phases:
            phases.append(svc["phase"])
    return {"services": services, "phases": phases}


# ---- Reports ---------------------------------------------------------------------------

def _gate_text(probe):
    state = "healthy" if probe.get("healthy") else ("not gated" if not probe else "UNHEALTHY")
    return "%s (HTTP %s in %s ms)" % (state, probe.get("status", "-"), round(probe.get("latency", 0) * 1000, 1))


def restart_report(the_plan, units=None, supervisor=None, manual=None, gate=None, slots=None):
    """tasks/restart.yml's report: per service (and instance), what was done, its new PID and what the gate
    saw; for a blue-green service (``slots``: the alicia.platform.slots result) the switch to its other slot."""
    s = the_plan["settings"]
    host = the_plan["host"]
    probes = dict((r.get("service"), r) for r in _result(gate, "results", []))
    restarted = _result(units, "units", {})
    switched = dict((r.get("service"), r) for r in _result(slots, "services", []))
    lines = []
    for svc in the_plan["entries"]:
        name = svc["name"]
        if name in the_plan.get("slotted", []):
            done = switched.get(name) or {}
            lines.append("%s on %s: %s, %s" % (name, host, done.get("msg") or "unchanged",
                                               _gate_text(probes.get(name) or {})))
            continue
        if layout.instances(svc) and svc["runtime"] == "systemd":
            for inst in layout.instances(svc):
                if not layout.selected(s["instance"], inst["name"]):
                    continue
                unit = restarted.get(inst["unit"]) or {}
                lines.append("%s/%s on %s: %s, pid %s, %s" % (
                    name, inst["name"], host, "+".join(unit.get("actions") or []) or "unchanged",
                    (unit.get("after") or {}).get("main_pid", "?"), _gate_text(probes.get(inst["name"]) or {})))
            lines.append("%s balanced port %s on %s: %s" % (name, svc["port"], host, _gate_text(probes.get(name) or {})))
            continue
        if svc["runtime"] == "supervisor":
            program = Supervisor.program(svc, s)
            actions = _result(supervisor, "actions", {}).get(program) or []
            pid = (_result(supervisor, "programs", {}).get(program) or {}).get("pid", "?")
        elif svc["runtime"] == "manual":
            actions = _result(manual, "actions", {}).get(name) or []
            pid = (_result(manual, "services", {}).get(name) or {}).get("pid", "?")
        else:
            unit = restarted.get(svc["unit"]) or {}
            actions = unit.get("actions") or []
            pid = (unit.get("after") or {}).get("main_pid", "?")
        lines.append("%s on %s: %s, pid %s, %s" % (name, host, "+".join(actions) or "unchanged", pid,
                                                   _gate_text(probes.get(name) or {})))
    return lines


def unhealthy_logs(the_plan, unhealthy=None, containers=None):
    """The logs of the services the failed gate named (every log of the run when it named none)."""
    s = the_plan["settings"]
    unhealthy = list(unhealthy or [])
    selected = [svc for svc in the_plan["entries"] if svc["name"] in unhealthy] or the_plan["entries"]
    states = _result(containers, "containers", {})
    paths = []
    for svc in selected:
        if svc["runtime"] == "docker":
            log = ((states.get(Docker.container_name(svc, s)) or {}).get("after") or {}).get("log_path")
            if log:
                paths.append(log)
        elif layout.instances(svc):
            paths.extend(inst["log"] for inst in layout.instances(svc))
        else:
            paths.append(svc["log"]["path"])
    return paths


# The failed gate's one command (gate.yml's rescue): the markers of the
# unhealthy services written (they survive a reboot), then the last lines of
# their logs. Arguments: the markers' directory, the number of lines, the
# markers, "--", the logs.
GATE_FAILED_SCRIPT = """\
dir=$1 lines=$2
shift 2
marked=yes
mkdir -p "$dir" || marked=no
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  touch "$1" || marked=no
  shift
done
[ "$#" -gt 0 ] && shift
[ "$marked" = yes ] || echo "service: could not record the failed gate under $dir: the next run may not gate these services again"
[ "$#" -eq 0 ] || tail -v -n "$lines" "$@"
"""


def gate_failed_services(the_plan, unhealthy=None):
    """The services of the run a failed gate named (an instance's or the balanced
    port's name is its service's), every service of the run when it named none."""
    unhealthy = set(unhealthy or [])
    named = [svc["name"] for svc in the_plan["entries"]
             if svc["name"] in unhealthy or any(inst["name"] in unhealthy for inst in layout.instances(svc))]
    return named or [svc["name"] for svc in the_plan["entries"]]


def gate_failed_argv(the_plan, unhealthy=None, containers=None, lines=15):
    """gate.yml's rescue, one command: mark each failed service (``gate_failed_services``) and tail its logs."""
    s = the_plan["settings"]
    names = gate_failed_services(the_plan, unhealthy)
    markers = [layout.gate_marker(name, s) for name in names]
    return (["/bin/sh", "-c", GATE_FAILED_SCRIPT, "alicia-gate-failed", s["gate_failed_dir"], str(int(lines))]
            + markers + ["--"] + unhealthy_logs(the_plan, names, containers))


def history_records(the_plan):
    """The health gate's deployment-history records: per service of the run,
    its version, its catalogue entry (no secrets: they are rendered from the
    vault) and the release directory it runs from (None without one)."""
    s = the_plan["settings"]
    records = []
    for svc in the_plan["entries"]:
        # The docker runtime builds an image instead of running a release directory.
        has_release = svc["runtime"] != "docker" and bool(layout.release_files(svc, s, svc["name"]))
        records.append({"service": svc["name"], "version": str(svc.get("version", "")), "spec": svc,
                        "release": layout.release_dir(svc, s) if has_release else None,
                        "instances": [inst["name"] for inst in layout.instances(svc)]})
    return records


def failed_services(roll_failure=None, slots_result=None, rollback=False):
    """The health gate's ``failed_services``: the service of a canary that failed
    its window or of an instance that did not turn healthy in this run's roll
    (``roll_outcome``'s ``failure``; not in a rollback's gate: the rollback is
    what it asked for) and every blue-green service whose new slot failed its
    gate (its ``msg``)."""
    found = {}
    if roll_failure and roll_failure.get("service") and not rollback:
        found[roll_failure["service"]] = roll_failure.get("msg") or "canary failed"
    for name, msg in ((slots_result or {}).get("failed_services") or {}).items():
        found[name] = msg
    return found


def gate_failure(the_plan, failed_result, logs="", rollback=True, touched=None, units=None):
    """What a failed health gate leaves for tasks/gate.yml's rescue.

    ``failed_result``: the failed health_gate result (``msg``, ``rollback``:
    service -> its last known-good release); ``logs``: the last lines of the
    unhealthy services' logs; ``rollback``: whether to roll back
    (service_rollback); ``touched``: the instances this run's roll restarted
    (alicia.platform.roll), ``units``: the units call's result (its ``started``).
    Returns ``{msg, logs, rollback, versions, pending, instances, claim}``:
    ``versions`` the versions that failed, ``pending`` the rollback to carry
    out (empty without ``rollback``), ``instances`` the instances of its
    multi-instance services it restarts: those this run restarted or started
    (a roll that stopped at its first instance, a canary: the other
    instances never left the previous release), [] for every instance;
    ``claim`` the deployment report's record of it (service, from_version,
    to_version)."""
    failed_result = failed_result or {}
    targets = dict(failed_result.get("rollback") or {})
    versions = dict((svc["name"], str(svc.get("version", ""))) for svc in the_plan["entries"])
    pending = targets if rollback else {}
    return {
        "msg": failed_result.get("msg") or "",
        "logs": logs or "",
        "rollback": targets,
        "versions": versions,
        "pending": pending,
        "instances": _rollback_instances(the_plan, pending, touched, units),
        "claim": {"service": ", ".join(pending),
                  "from_version": ", ".join(versions.get(name, "?") for name in pending),
                  "to_version": ", ".join(str((release or {}).get("version", "?")) for release in pending.values())},
    }


def _rollback_instances(the_plan, pending, touched=None, units=None):
    """The instances a rollback of ``pending`` restarts: of its multi-instance services, those
    this run restarted (``touched``) or started (the units call); [] (every instance) when one of
    them has none (nothing to tell which ran the failed release)."""
    changed = set(touched or []) | set(_result(units, "started", []))
    found = []
    for svc in the_plan["entries"]:
        if svc["name"] not in pending or not layout.instances(svc):
            continue
        mine = [inst["name"] for inst in layout.instances(svc) if inst["name"] in changed or inst["unit"] in changed]
        if not mine:
            return []
        found.extend(mine)
    return found


def gate_failure_message(failure, host, scope, rollback_to=None, rollback_msg=""):
    """The message that fails a run whose health gate failed (tasks/gate.yml).

    ``failure``: what the failed gate left (``msg``, ``logs``, ``rollback``:
    service -> known-good release, ``versions``: service -> the version that
    failed). ``rollback_to`` set: the message of a rollback whose own gate
    failed (``rollback_msg``)."""
    versions = failure.get("versions") or {}
    targets = rollback_to if rollback_to else (failure.get("rollback") or {})
    moves = ", ".join("%s %s -> %s" % (name, versions.get(name, "?"), (release or {}).get("version", "?"))
                      for name, release in sorted(targets.items()))
    logs = "Last lines of their logs:\n%s" % (failure.get("logs") or "")
    if rollback_to and not failure.get("msg"):
        # playbooks/rollback.yml: no release failed before this rollback.
        return "service: %s on %s: the rollback (%s) is not healthy: %s\n%s" % (
            scope, host, ", ".join("%s -> %s" % (n, (r or {}).get("version", "?")) for n, r in sorted(targets.items())),
            rollback_msg, logs)
    if rollback_to:
        return ("service: %s on %s is not healthy, and its rollback failed too (%s): %s\n"
                "The release that failed first: %s\n%s" % (scope, host, moves, rollback_msg, failure.get("msg"), logs))
    if targets:
        outcome = ("Rolled back to the last known-good release, healthy again (the failed release is marked bad "
                   "in the deployment history): %s." % moves)
    else:
        outcome = "No known-good release to roll back to (a first deployment, or rollback off): left in place."
    return "service: %s on %s is not healthy: %s\n%s\n%s" % (scope, host, failure.get("msg"), outcome, logs)


def rollback_catalogue(catalogue, targets=None):
    """``catalogue`` with each service of ``targets`` (the health gate's
    ``rollback``: service -> its last known-good release) back at the entry
    that release was deployed with, at the catalogue's placement (its
    ``group`` and ``phase``: a rollback never moves a service to other hosts
    or another phase)."""
    if not targets:
        return catalogue
    merged = dict(catalogue)
    for name, release in targets.items():
        if name not in catalogue:
            raise ServicePlanError("rollback: %s is not in the catalogue" % name)
        entry = dict(release["spec"])
        for key in ("group", "phase"):
            if key in catalogue[name]:
                entry[key] = catalogue[name][key]
        merged[name] = entry
    return merged


def keep_releases(batch, the_plan, names):
    """The files batch of a rollback: the release directories of ``names`` are
    kept as they are on the host (only the ``current`` link moves back), never
    copied again from a source that may hold another release by now."""
    if not names:
        return batch
    s = the_plan["settings"]
    kept = set(layout.release_dir(svc, s) for svc in the_plan["entries"] if svc["name"] in names)
    result = []
    for entry in batch:
        if entry.get("path") in kept and entry.get("state") == "tree":
            entry = {"path": entry["path"], "state": "directory", "mode": "0755", "key": entry.get("key")}
        result.append(entry)
    return result


def remote_endpoints(the_plan, catalogue, hostvars=None, groups=None):
    """The health endpoints of this run's required dependencies that run on other hosts."""
    if not the_plan["remote_deps"]:
        return []
    return health_endpoints(catalogue, hostvars=hostvars, groups=groups, services=the_plan["remote_deps"])


__all__ = ["CatalogueError", "ServicePlanError", "plan", "files", "followups", "plan_work", "restart_report",
           "unhealthy_logs", "gate_failed_services", "gate_failed_argv", "remote_endpoints", "history_records",
           "rollback_catalogue", "gate_failure_message", "roll", "roll_outcome", "keep_releases", "failed_services",
           "RUNTIMES", "FOLLOWUPS"]
