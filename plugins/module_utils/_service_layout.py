# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service role's layout on a host, in one place each: the role's
settings, the release layout (``<install>/<service>/releases/<version>``
behind the ``current`` link), one strategy per artifact (reference,
command, python_app, container: its release files, what runs it, its
virtualenv) and the health endpoints of a host's services.

Private: the role reaches it through plugins/filter/service_plan.py, by way
of module_utils/_service_plan.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.alicia.platform.plugins.module_utils._balancer import canary_backend as _canary_backend
from ansible_collections.alicia.platform.plugins.module_utils._balancer import slot_backend
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import DEFAULT_RUNTIMES
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import HOST_RUNTIMES as _HOST_RUNTIMES
from ansible_collections.alicia.platform.plugins.module_utils._sweep_report import BALANCED, service_instances

# The one list of runtimes a service runs under (the catalogue's
# DEFAULT_RUNTIMES, which validation checks entries against);
# _service_plan.RUNTIMES holds one strategy per name.
RUNTIMES = DEFAULT_RUNTIMES
# The runtimes a host can force on every one of its services (service_runtime).
HOST_RUNTIMES = _HOST_RUNTIMES
ARTIFACTS = ("reference", "command", "python_app", "container")

REFERENCE_SCRIPT = "alicia_reference_service.py"

# The role's settings (its public variables, passed by vars/main.yml as
# ``_service_settings``): the defaults mirror roles/service/defaults/main.yml.
DEFAULT_SETTINGS = {
    "install_dir": "/opt/alicia",
    "config_dir": "/etc/alicia",
    "data_dir": "/var/lib/alicia",
    "user": "alicia",
    "group": "alicia",
    "python": "/usr/bin/python3",
    "restart_sec": 5,
    "timeout_stop_sec": 15,
    "systemd_hardening": {},
    "instance": "",
    "instance_pid_dir": "/run/alicia",
    "runtime": "",
    "docker_container_prefix": "alicia_",
    "docker_restart_policy": "unless-stopped",
    "docker_log_max_size": "50M",
    "docker_log_max_file": 5,
    "docker_health_interval": "10s",
    "docker_health_start_period": "10s",
    "docker_health_retries": 3,
    "docker_unit": "docker.service",
    "supervisor_prefix": "alicia-",
    "supervisor_conf_dir": "/etc/supervisor/conf.d",
    "supervisor_unit": "supervisor.service",
    "balancer_unit": "haproxy.service",
    "manual_ctl": "/usr/local/sbin/alicia-servicectl",
    "manual_config_dir": "/etc/alicia/manual",
    "manual_run_dir": "/run/alicia",
    "gate_timeout": 90,
    "gate_failed_dir": "/var/lib/alicia/gate-failed",
    "keep_releases": 3,
    "purge": False,
}

# The containers' health check (and the image's HEALTHCHECK): GET
# http://127.0.0.1:$SERVICE_PORT<path> inside the container; healthy when the
# status matches and the JSON field (dotted path; none: any) has the value
# (none: any). Arguments: path, status, field, value, timeout in seconds.
# (The script runs in the container, not in Ansible: the name of urllib's
# opener is joined so that the sanity test that asks modules for open_url
# does not take it for a call made here.)
DOCKER_HEALTH_SCRIPT = """\
import json, os, sys, urllib.error, urllib.request
path, status, field, value, timeout = sys.argv[1:6]
try:
    reply = urllib.request.url""" + """open("http://127.0.0.1:%s%s" % (os.environ["SERVICE_PORT"], path), timeout=float(timeout))
    code, body = reply.status, reply.read()
except urllib.error.HTTPError as error:
    code, body = error.code, error.read()
if code != int(status):
    sys.exit("HTTP %s" % code)
if field:
    document = json.loads(body.decode("utf-8"))
    for part in field.split("."):
        document = document[int(part)] if isinstance(document, list) else document[part]
    text = document if isinstance(document, str) else json.dumps(document)
    if value and text != value:
        sys.exit("%s is %s" % (field, text))"""


# Settings that are numbers (ansible-core before 2.19 may hand them over as text).
INT_SETTINGS = ("restart_sec", "timeout_stop_sec", "docker_health_retries", "gate_timeout", "keep_releases")


def settings_of(raw):
    """The role's settings: DEFAULT_SETTINGS with ``raw`` over them."""
    merged = dict(DEFAULT_SETTINGS)
    merged.update(dict((key, value) for key, value in (raw or {}).items() if value is not None))
    for key in INT_SETTINGS:
        merged[key] = int(merged[key])
    merged["purge"] = truthy(merged["purge"])
    return merged


def truthy(value):
    """Jinja's ``| bool`` of a setting."""
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "true", "1")
    return bool(value)


def nice_json(value):
    """``to_nice_json(indent=2)`` plus a newline: a file's content."""
    return json.dumps(value, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


# ---- Paths --------------------------------------------------------------------

def home(svc, s):
    return "%s/%s" % (s["install_dir"], svc["name"])


def data_dir(svc, s):
    return "%s/%s" % (s["data_dir"], svc["name"])


def gate_marker(name, s):
    """The marker a failed health gate leaves for service ``name`` (the next run restarts and gates it again)."""
    return "%s/%s" % (s["gate_failed_dir"], name)


def env_file(name, s):
    return "%s/%s.env" % (s["config_dir"], name)


def unit_path(unit):
    return "/etc/systemd/system/" + unit


def selected(selection, name):
    """Whether the instance ``name`` is in the role's ``instance`` setting: "" (every
    instance), one instance's name, or a list of names (a rollback's: the instances
    this run restarted)."""
    if not selection:
        return True
    if isinstance(selection, (list, tuple)):
        return name in selection
    return name == selection


def instances(svc):
    """A multi-instance service's instances ([] for one)."""
    found = svc.get("instance_list")
    return list(found) if isinstance(found, list) else []


def slots(svc, s):
    """A blue-green service's two slots ([] for any other), each as the unit
    template and alicia.platform.slots read it: ``name`` (``<service>-<slot>``,
    its environment file's name), ``slot``, ``index``, ``listen_port``,
    ``unit``, ``log`` (the service's: one slot runs at a time), ``link`` (its
    release link under the service's home), ``env`` (its frozen copy of the
    service's environment, written by the switch), ``backend`` and ``server``
    (HAProxy's, as the balancer role names them)."""
    found = svc.get("slot_list")
    if not isinstance(found, list):
        return []
    return [{"name": slot["instance"], "slot": slot["name"], "index": index, "listen_port": slot["listen_port"],
             "unit": slot["unit"], "log": svc["log"]["path"], "link": "%s/%s" % (home(svc, s), slot["name"]),
             "env": "%s/%s.release.env" % (s["config_dir"], slot["instance"]),
             "backend": slot_backend(svc["name"], slot["name"]), "server": slot["name"]}
            for index, slot in enumerate(found, 1)]


def canary_backend(svc):
    """A blue-green service's HAProxy backend holding both slots (the balancer role's name for it)."""
    return _canary_backend(svc["name"])


def restart_settings(svc, s):
    """The catalogue's restart settings, the role's systemd values where the entry has none."""
    merged = {"max_restarts": 0, "restart_delay": s["restart_sec"], "stop_timeout": s["timeout_stop_sec"]}
    merged.update(svc.get("restart") or {})
    return merged


# ---- The release layout (one definition) ----------------------------------------

def release_files(svc, s, key):
    """The files of a release under ``<install>/<service>``: the artifact in
    ``releases/<version>`` and the ``current`` link to it (switched atomically;
    a rollback is a link flip). [] for an artifact without a release."""
    found = ARTIFACT_STRATEGIES[artifact_type(svc)].release(svc, s, key)
    if svc.get("slot_list"):
        # Blue-green: each slot has its own link (alicia.platform.slots), no current link.
        found = [entry for entry in found if entry.get("state") != "link"]
    return found


def _link(svc, s, key):
    return {"path": home(svc, s) + "/current", "state": "link", "target": "releases/%s" % svc["version"], "key": key}


def release_dir(svc, s):
    return "%s/releases/%s" % (home(svc, s), svc["version"])


# ---- One strategy per artifact ---------------------------------------------------

def artifact_type(svc):
    return (svc.get("artifact") or {}).get("type", "reference")


class Reference(object):
    """The collection's reference service, copied into each release."""

    name = "reference"

    @staticmethod
    def release(svc, s, key):
        release = release_dir(svc, s)
        return [
            {"path": home(svc, s), "state": "directory", "mode": "0755", "key": key},
            {"path": release, "state": "directory", "mode": "0755", "key": key},
            {"path": release + "/" + REFERENCE_SCRIPT, "src": REFERENCE_SCRIPT, "mode": "0755", "key": key},
            _link(svc, s, key),
        ]

    @staticmethod
    def command(svc, s, venv=None):
        return [s["python"], home(svc, s) + "/current/" + REFERENCE_SCRIPT]

    @staticmethod
    def directory(svc, s):
        return home(svc, s) + "/current"


class Command(object):
    """A command already on the host: no release, run in the data directory."""

    name = "command"

    @staticmethod
    def release(svc, s, key):
        return []

    @staticmethod
    def command(svc, s, venv=None):
        return svc["artifact"]["command"].split()

    @staticmethod
    def directory(svc, s):
        return data_dir(svc, s)


class PythonApp(object):
    """A Python application: its directory copied into the release, run by the
    virtualenv of its requirements."""

    name = "python_app"

    @staticmethod
    def release(svc, s, key):
        return [
            {"path": home(svc, s), "state": "directory", "mode": "0755", "key": key},
            {"path": home(svc, s) + "/releases", "state": "directory", "mode": "0755", "key": key},
            {"path": release_dir(svc, s), "state": "tree", "src": svc["artifact"]["src"], "directory_mode": "0755",
             "key": key},
            _link(svc, s, key),
        ]

    @staticmethod
    def command(svc, s, venv=None):
        artifact = svc["artifact"]
        if artifact.get("entry") is not None:
            return ["%s/bin/python" % venv, home(svc, s) + "/current/" + artifact["entry"]]
        return ["%s/bin/python" % venv, "-m", artifact["module"]]

    @staticmethod
    def directory(svc, s):
        return home(svc, s) + "/current"


class Container(object):
    """A container: a build context from the controller, or an image on the host (docker runtime only)."""

    name = "container"

    @staticmethod
    def release(svc, s, key):
        return []

    command = None
    directory = None


ARTIFACT_STRATEGIES = dict((strategy.name, strategy) for strategy in (Reference, Command, PythonApp, Container))


def _read_requirements(path):
    """The requirements file's text as ansible.builtin.file reads it (trailing whitespace stripped), '' when absent."""
    if not os.path.isfile(path):
        return ""
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8").rstrip()


def venv_spec(svc, s):
    """A python_app's virtualenv: under ``<install>/venvs``, named by the hash of
    its requirements, the interpreter, the wheelhouse and the system site
    packages (services with the same share one), with the host directory of
    its wheelhouse when the artifact names one (``wheelhouse_src``)."""
    artifact = svc["artifact"]
    requirements = _read_requirements("%s/%s" % (artifact["src"], artifact.get("requirements") or "requirements.txt"))
    wheelhouse = artifact.get("wheelhouse") or ""
    system = truthy(artifact.get("system_site_packages", False))
    digest = hashlib.sha256(("%s\n%s\n%s\n%s" % (requirements, s["python"], wheelhouse, system)).encode("utf-8"))
    short = digest.hexdigest()[:16]
    spec = {"path": "%s/venvs/%s" % (s["install_dir"], short), "requirements": requirements, "python": s["python"],
            "system_site_packages": system}
    if wheelhouse:
        spec["wheelhouse"] = "%s/wheelhouse/%s" % (s["install_dir"], short)
        spec["wheelhouse_src"] = wheelhouse
    return spec


# ---- Health endpoints (one definition) ----------------------------------------------

def health_probe(health, url):
    """The health_gate endpoint fields of one catalogue ``health`` at ``url``."""
    status = health.get("status", 200)
    return {"url": url, "expect_status": status if isinstance(status, list) else [status],
            "json_field": health.get("json_field"), "json_value": health.get("json_value"),
            "timeout": health.get("timeout", 5)}


def host_endpoints(entries, host, runners=None, instance="", address="127.0.0.1", balancer_unit="haproxy.service"):
    """The health endpoints of a host's services, probed from the host itself.

    A service on its ``port``, where it is reached (docker publishes it; a
    host-network runtime binds it); a multi-instance systemd service on each
    instance's port (only ``instance``'s when set) and on its published port
    (the balancer). ``runners`` maps a service to what runs it
    (``{"unit": ...}``, ``{"container": ...}`` or ``{"program": ...}``), added
    to its endpoint so the gate can read its state; an instance's endpoint
    names the instance's unit, the balanced port the balancer's unit.
    """
    runners = runners or {}
    found = []
    for svc in entries:
        health = svc.get("health")
        if not health:
            continue
        path = health.get("path", "/health")
        units = dict((inst["name"], inst["unit"]) for inst in instances(svc))
        probes = []
        # Which instances a service runs and where each is reached: the sweep's one definition.
        for probe in service_instances(svc):
            if probe["instance"] == BALANCED:
                probes.append((svc["name"], probe["port"], {"unit": balancer_unit}))
            elif probe["instance"] in units:
                if selected(instance, probe["instance"]):
                    probes.append((probe["instance"], probe["port"], {"unit": units[probe["instance"]]}))
            else:
                probes.append((svc["name"], probe["port"], runners.get(svc["name"], {})))
        for name, port, runner in probes:
            endpoint = {"service": name, "host": host}
            endpoint.update(health_probe(health, "http://%s:%s%s" % (address, port, path)))
            endpoint.update(runner)
            found.append(endpoint)
    return found
