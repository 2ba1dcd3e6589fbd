# -*- coding: utf-8 -*-
"""The catalogue's python_app artifact: preflight checks the fields naming the
service and the field, and a host running one gets Debian's venv module."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import catalogue as cat
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_hosts import host_packages


def errors_of(catalogue, service):
    return [m for m in cat.errors(catalogue) if "service '%s'" % service in m]


@pytest.fixture
def app(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('hi')\n")
    (tmp_path / "app" / "req").mkdir()
    (tmp_path / "app" / "req" / "prod.txt").write_text("fastapi\n")
    (tmp_path / "wheels").mkdir()
    return str(tmp_path / "app")


def test_a_python_app_with_an_entry_script_or_a_module_passes(resolve, app):
    # A module may come from the requirements (uvicorn): it is not looked for in src.
    for artifact in ({"type": "python_app", "src": app, "entry": "main.py"},
                     {"type": "python_app", "src": app, "module": "pkg.server", "requirements": "req/prod.txt",
                      "wheelhouse": app + "/../wheels", "system_site_packages": True}):
        assert errors_of(resolve({"stt_service": {"artifact": artifact}}), "stt_service") == []


APP = "<the application directory>"


@pytest.mark.parametrize("artifact, field, text", [
    ({"entry": "main.py"}, "artifact.src", "absolute path of the application's directory"),
    ({"src": "relative/app", "entry": "main.py"}, "artifact.src", "absolute path"),
    ({"src": "/nonexistent/alicia-app", "entry": "main.py"}, "artifact.src", "is not a directory on the controller"),
    ({"src": APP}, "artifact", "exactly one of entry"),
    ({"src": APP, "entry": "main.py", "module": "app"}, "artifact", "exactly one of entry"),
    ({"src": APP, "entry": "../main.py"}, "artifact.entry", "stay inside the application directory"),
    ({"src": APP, "entry": "/usr/bin/app"}, "artifact.entry", "stay inside the application directory"),
    ({"src": APP, "module": "app-server"}, "artifact.module", "dotted Python module name"),
    ({"src": APP, "entry": "main.py", "requirements": "a\nb"}, "artifact.requirements", "relative path"),
    ({"src": APP, "entry": "main.py", "wheelhouse": "wheels"}, "artifact.wheelhouse", "absolute path of a directory"),
    ({"src": APP, "entry": "main.py", "system_site_packages": "yes"}, "artifact.system_site_packages",
     "true or false"),
    ({"src": APP, "entry": "main.py", "command": "/bin/true"}, "artifact", "unknown key(s) for a python_app: command"),
    # The artifact is there on the controller: its entry script, named requirements and wheelhouse.
    ({"src": APP, "entry": "server.py"}, "artifact.entry", "has no server.py on the controller"),
    ({"src": APP, "entry": "main.py", "requirements": "req/dev.txt"}, "artifact.requirements",
     "has no req/dev.txt on the controller"),
    ({"src": APP, "entry": "main.py", "wheelhouse": "/nonexistent/wheels"}, "artifact.wheelhouse",
     "/nonexistent/wheels is not a directory on the controller"),
])
def test_bad_python_app_fields_fail_naming_the_service_and_field(resolve, app, artifact, field, text):
    artifact = dict(artifact, type="python_app")
    if artifact.get("src") == APP:
        artifact["src"] = app
    errors = errors_of(resolve({"stt_service": {"artifact": artifact}}), "stt_service")
    assert any(field in e and text in e for e in errors), errors


def test_a_python_app_needs_the_systemd_runtime(resolve, app):
    errors = errors_of(resolve({"stt_service": {"runtime": "docker",
                                                "artifact": {"type": "python_app", "src": app, "entry": "main.py"}}}),
                       "stt_service")
    assert any("artifact.type" in e and "runtime systemd only" in e for e in errors), errors


def test_a_host_running_a_python_app_gets_the_venv_module(resolve, app):
    catalogue = resolve({"stt_service": {"artifact": {"type": "python_app", "src": app, "entry": "main.py"}}})
    assert "python3-venv" in host_packages(catalogue, ["alicia_voice"])
    assert "python3-venv" not in host_packages(catalogue, ["alicia_core"])
