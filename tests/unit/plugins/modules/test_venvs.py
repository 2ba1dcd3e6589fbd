# -*- coding: utf-8 -*-
"""The venvs module run for real: real virtualenvs in temporary directories, packages from a
local wheelhouse built here (no network), the module run by a fresh Python or by ansible-playbook."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.alicia.platform.plugins.module_utils import _venvs
from ansible_collections.alicia.platform.tests.unit.plugins.wheelhouse import make_wheel

PYTHON = sys.executable
PROBE = "alicia-venvs-probe"
EXTRA = "alicia-venvs-extra"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheels")
    house = str(root / "wheelhouse")
    for name, version in ((PROBE, "1.0"), (PROBE, "2.0"), (EXTRA, "1.0")):
        make_wheel(str(root / "projects"), house, name, version)
    return house


@pytest.fixture
def venvs(run_module_file):
    """venvs(entries, check=False, diff=False, **args) -> (rc, result)."""
    def _run(entries, check=False, diff=False, **args):
        return run_module_file("venvs", dict(args, venvs=entries, _ansible_check_mode=check, _ansible_diff=diff))
    return _run


def clean_env():
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
    return proc.stdout.strip()


def imported_version(path, module="alicia_venvs_probe"):
    """What the venv's own python imports (python -c 'import ...'), run as a service would run it."""
    return run([os.path.join(path, "bin", "python"), "-c", "import %s; print(%s.VERSION)" % (module, module)])


def console_script(path, name=PROBE):
    """The console script pip installed, run by its shebang."""
    return run([os.path.join(path, "bin", name)])


def mentions(path, needle):
    """Files below ``path`` (links not followed) whose bytes contain ``needle``."""
    found = []
    for directory, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            if os.path.islink(full):
                continue
            with open(full, "rb") as handle:
                if needle.encode() in handle.read():
                    found.append(os.path.relpath(full, path))
    return found


def snapshot(path):
    st = os.stat(path)
    marker = os.stat(os.path.join(path, _venvs.MARKER))
    return st.st_ino, marker.st_ino, marker.st_mtime_ns


def entry(path, wheelhouse, requirements, **options):
    return dict(dict(path=str(path), requirements=requirements, python=PYTHON, wheelhouse=wheelhouse), **options)


def test_one_venv_from_check_to_build_rebuild_and_a_failed_rebuild(venvs, wheelhouse, tmp_path):
    path = str(tmp_path / "venvs" / "probe")
    one = entry(path, wheelhouse, PROBE + "==1.0\n")

    # check mode on a fresh host: reported, nothing built (not even the parent directory)
    rc, result = venvs([one], check=True, diff=True)
    assert rc == 0, result
    item = result["venvs"][0]
    assert (result["changed"], item["changed"], item["action"], item["packages"]) == (True, True, "created", None)
    assert item["reason"] == "no venv at %s" % path
    # the room its build needs: no venv on this host to go by, the default
    assert (item["estimate_bytes"], item["estimate_from"]) == (_venvs.DEFAULT_ESTIMATE_MB * 1024 * 1024, "default")
    assert result["diff"][0]["before"] == "state: absent\n"
    assert json.loads(result["diff"][0]["after"])["packages"] == "(known after pip install)"
    assert not os.path.exists(str(tmp_path / "venvs"))

    # the build (under a tight umask, as a hardened host may have): the venv works at its final path,
    # by its python and by its console script, and every user can read it
    mask = os.umask(0o077)
    try:
        rc, result = venvs([one], diff=True)
    finally:
        os.umask(mask)
    assert rc == 0, result
    item = result["venvs"][0]
    assert (result["changed"], item["action"], item["packages"], item["error"], item["estimate_bytes"]) == (
        True, "created", [PROBE + "==1.0"], None, None)
    assert result["changed_paths"] == [path]
    assert imported_version(path) == "1.0"
    assert console_script(path) == PROBE + " 1.0"
    assert mentions(path, ".new-") == [], "nothing in the venv names the temporary directory"
    assert os.listdir(str(tmp_path / "venvs")) == ["probe"], "no temporary directory left"
    with open(os.path.join(path, "requirements.txt")) as handle:
        assert handle.read() == PROBE + "==1.0\n"
    with open(os.path.join(path, _venvs.MARKER)) as handle:
        marker = json.load(handle)
    assert marker["digest"] == item["digest"] and marker["packages"] == [PROBE + "==1.0"]
    assert json.loads(result["diff"][0]["after"]) == marker
    assert os.stat(path).st_mode & 0o777 == 0o755
    module_file = run([os.path.join(path, "bin", "python"), "-c", "import alicia_venvs_probe; "
                       "print(alicia_venvs_probe.__file__)"])
    assert module_file.startswith(path + "/lib/") and os.stat(module_file).st_mode & 0o004, "readable by others"
    assert os.stat(os.path.dirname(module_file)).st_mode & 0o005 == 0o005
    before = snapshot(path)

    # the same again: unchanged, the venv and its marker untouched
    rc, result = venvs([one], diff=True)
    assert (rc, result["changed"], result["changed_paths"], result["diff"]) == (0, False, [], [])
    assert result["venvs"][0]["action"] == "unchanged" and result["venvs"][0]["packages"] == [PROBE + "==1.0"]
    assert snapshot(path) == before

    # requirements changed, check mode: reported as a rebuild, nothing touched
    two = entry(path, wheelhouse, PROBE + "==2.0\n")
    rc, result = venvs([two], check=True)
    assert (rc, result["changed"], result["venvs"][0]["action"]) == (0, True, "rebuilt")
    assert result["venvs"][0]["reason"] == "requirements or options changed"
    # built beside the venv it replaces: that venv's size on disk
    assert result["venvs"][0]["estimate_from"] == path
    assert result["venvs"][0]["estimate_bytes"] == _venvs.disk_usage(path) > 1024 * 1024
    assert snapshot(path) == before and imported_version(path) == "1.0"

    # requirements changed: rebuilt and swapped in, the diff shows both markers
    rc, result = venvs([two], diff=True)
    assert rc == 0, result
    assert (result["changed"], result["venvs"][0]["action"]) == (True, "rebuilt")
    assert result["venvs"][0]["packages"] == [PROBE + "==2.0"]
    assert json.loads(result["diff"][0]["before"])["packages"] == [PROBE + "==1.0"]
    assert json.loads(result["diff"][0]["after"])["packages"] == [PROBE + "==2.0"]
    assert (imported_version(path), console_script(path)) == ("2.0", PROBE + " 2.0")
    assert mentions(path, ".new-") == [] and os.listdir(str(tmp_path / "venvs")) == ["probe"]
    serving = snapshot(path)

    # a requirement pip cannot satisfy: the module fails naming the venv and pip's last lines;
    # the serving venv is untouched and works, another venv of the same call is still built
    other = str(tmp_path / "venvs" / "other")
    bad = entry(path, wheelhouse, PROBE + "==9.9\n")
    rc, result = venvs([bad, entry(other, wheelhouse, "", system_site_packages=True)])
    assert rc == 1 and result["failed"] is True
    assert result["msg"].startswith("venvs: %s: pip install failed (exit 1): " % path)
    assert "No matching distribution found for %s==9.9" % PROBE in result["msg"]
    failed, built = result["venvs"]
    assert (failed["changed"], failed["action"], failed["packages"]) == (False, "failed", None)
    assert failed["error"] in result["msg"]
    assert (built["changed"], built["action"], built["error"], built["packages"]) == (True, "created", None, [])
    assert snapshot(path) == serving
    assert (imported_version(path), console_script(path)) == ("2.0", PROBE + " 2.0")
    assert sorted(os.listdir(str(tmp_path / "venvs"))) == ["other", "probe"], "no temporary directory left"
    with open(os.path.join(other, "pyvenv.cfg")) as handle:
        assert "include-system-site-packages = true" in handle.read()

    # no marker records the failed build: the next run tries again
    rc, result = venvs([bad], check=True)
    assert (rc, result["venvs"][0]["action"], result["venvs"][0]["reason"]) == (
        0, "rebuilt", "requirements or options changed")


def test_absent_removes_venvs_and_refuses_anything_else(venvs, tmp_path):
    old = tmp_path / "old"
    (old / "bin").mkdir(parents=True)
    (old / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "old.new-5eed").mkdir()  # left by an interrupted run
    rc, result = venvs([], absent=[str(old)], check=True, diff=True)
    assert (rc, result["changed"], result["removed"]) == (0, True, [str(old)]) and old.exists()
    assert result["diff"][0]["after"] == "state: absent\n"
    rc, result = venvs([], absent=[str(old)])
    assert (rc, result["changed"], result["changed_paths"]) == (0, True, [str(old)])
    assert os.listdir(str(tmp_path)) == []
    rc, result = venvs([], absent=[str(old)])
    assert (rc, result["changed"], result["absent"][0]["action"]) == (0, False, "unchanged")

    data = tmp_path / "data"
    data.mkdir()
    (data / "keep").write_text("x")
    rc, result = venvs([], absent=[str(data)])
    assert rc == 1 and result["msg"] == "venvs: %s: %s is not a virtualenv (no pyvenv.cfg); it is not removed" % (
        data, data)
    assert (data / "keep").read_text() == "x"


def test_bad_arguments_fail_before_anything(venvs, tmp_path):
    rc, result = venvs([dict(path=str(tmp_path / "a"), requirements=""),
                        dict(path=str(tmp_path / "a" / "b"), requirements="", pip_args=["--prefix=/usr"])],
                       absent=["relative"])
    assert rc == 1
    assert "venvs[1] (%s/a/b): %s/a/b and %s/a (venvs[0]) are nested" % ((tmp_path,) * 3) in result["msg"]
    assert "pip_args must not contain --prefix" in result["msg"]
    assert "absent[0] (relative): path must be an absolute path" in result["msg"]
    assert os.listdir(str(tmp_path)) == []


def test_two_venvs_in_one_task_of_a_playbook(run_playbook, wheelhouse, tmp_path):
    first, second = str(tmp_path / "venvs" / "first"), str(tmp_path / "venvs" / "second")
    playbook = tmp_path / "site.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Venvs", "hosts": "localhost", "gather_facts": False,
        "tasks": [{
            "name": "Venvs | two venvs in one module execution",
            "alicia.platform.venvs": {"venvs": [entry(first, wheelhouse, PROBE + "==1.0\n"),
                                                entry(second, wheelhouse, "%s==2.0\n%s==1.0\n" % (PROBE, EXTRA))]},
        }],
    }], sort_keys=False))

    def play(*args):
        proc = run_playbook(["-i", "localhost,", "-c", "local", str(playbook)] + list(args), timeout=300,
                            python=PYTHON, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]

    result = play()
    assert (result["changed"], result["changed_paths"]) == (True, [first, second])
    assert [item["packages"] for item in result["venvs"]] == [[PROBE + "==1.0"], [EXTRA + "==1.0", PROBE + "==2.0"]]
    assert (imported_version(first), imported_version(second)) == ("1.0", "2.0")
    assert imported_version(second, "alicia_venvs_extra") == "1.0"
    assert console_script(second, EXTRA) == EXTRA + " 1.0"

    result = play("--diff")
    assert (result["changed"], result["changed_paths"]) == (False, [])
    assert [item["action"] for item in result["venvs"]] == ["unchanged", "unchanged"]
