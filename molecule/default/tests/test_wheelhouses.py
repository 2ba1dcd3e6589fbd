"""Several python_app services with wheelhouses on one host (issue 15: two
wheelhouses used to crash the plan with a duplicate path): molecule.yml runs
personality_system and advanced_voice from one application and one
wheelhouse (alicia-demo-dep 1.0), multi_language from another application
with other requirements and its own wheelhouse (alicia-demo-dep 2.0,
converge.yml). Each gets the virtualenv of its requirements, from its own
wheelhouse, and answers healthy."""
import json
import os
import re
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, resolved_catalogue  # noqa: E402

CATALOGUE = resolved_catalogue()
# service -> the alicia-demo-dep version its requirements pin.
APPS = {"personality_system": "1.0", "advanced_voice": "1.0", "multi_language": "2.0"}


def venv_of(host, name):
    props = host.service("alicia-%s" % name).systemd_properties
    match = re.search(r"path=(/opt/alicia/venvs/[0-9a-f]{16})/bin/python ", props["ExecStart"])
    assert match and "/opt/alicia/%s/current/main.py" % name in props["ExecStart"], props["ExecStart"]
    return match.group(1)


def test_three_python_apps_with_two_wheelhouses_run_in_the_virtualenvs_of_their_requirements(host):
    venvs = dict((name, venv_of(host, name)) for name in APPS)
    # The two with the same requirements share one virtualenv; the third has its own.
    assert venvs["personality_system"] == venvs["advanced_voice"] != venvs["multi_language"], venvs
    assert sorted(host.check_output("ls /opt/alicia/venvs").split()) == sorted(
        set(v.rsplit("/", 1)[1] for v in venvs.values()))
    for name, version in APPS.items():
        venv = venvs[name]
        got = host.run("%s/bin/python -c 'import alicia_demo_dep; print(alicia_demo_dep.VERSION)'", venv)
        assert got.stdout.strip() == version, (name, got.stdout, got.stderr)
        marker = json.loads(host.file(venv + "/.alicia-venv.json").content_string)
        assert marker["packages"] == ["alicia-demo-dep==%s" % version], (name, marker)
        assert "%s: python_app release" % name in host.file("/var/log/alicia/%s.log" % name).content_string
        body = health_of(host, CATALOGUE[name]["listen_port"])
        assert body and body["status"] == "healthy", (name, body)


def test_each_wheelhouse_is_shipped_once_under_the_one_wheelhouse_directory(host):
    venvs = set(venv_of(host, name).rsplit("/", 1)[1] for name in APPS)
    assert sorted(host.check_output("ls /opt/alicia/wheelhouse").split()) == sorted(venvs)
    for name, version in APPS.items():
        digest = venv_of(host, name).rsplit("/", 1)[1]
        wheels = host.check_output("ls /opt/alicia/wheelhouse/%s", digest).split()
        assert wheels == ["alicia_demo_dep-%s-py3-none-any.whl" % version], (name, wheels)
