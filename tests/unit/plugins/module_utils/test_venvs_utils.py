# -*- coding: utf-8 -*-
"""module_utils._venvs: argument checks, digests, the marker check, relocation, the swap, removal.

The plain functions run against directories made here; ``ensure_all`` also
builds a real venv (from a local wheelhouse, no network) through a runner
that records every command, to show what a run that changes nothing costs.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _venvs as v
from ansible_collections.alicia.platform.tests.unit.plugins.wheelhouse import make_wheel

PYTHON = sys.executable


def spec(path, requirements="alicia-venvs-probe==1.0\n", **options):
    raw = dict(path=str(path), requirements=requirements, python=PYTHON)
    raw.update(options)
    return v.normalize(raw)


def fake_venv(path, marker=None, python_link=PYTHON):
    """A directory that looks like a venv: pyvenv.cfg, bin/python, and a marker when given."""
    os.makedirs(os.path.join(str(path), "bin"))
    with open(os.path.join(str(path), "pyvenv.cfg"), "w") as handle:
        handle.write("home = /usr/bin\nversion = 3.11.2\n")
    os.symlink(python_link, os.path.join(str(path), "bin", "python"))
    if marker is not None:
        with open(os.path.join(str(path), v.MARKER), "w") as handle:
            handle.write(v.marker_text(marker))
    return str(path)


def complete_marker(wanted):
    return dict(format=1, digest=v.wanted_digest(wanted), python=wanted["python"],
                python_realpath=os.path.realpath(wanted["python"]), packages=["alicia-venvs-probe==1.0"])


class Recorder(object):
    """A runner (argv, env) -> (rc, out, err) that runs commands for real and records them."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, env):
        self.calls.append(list(argv))
        environ = v.scrub_environment(dict(os.environ, PIP_CONFIG_FILE=os.devnull))
        environ.pop("PIP_FIND_LINKS", None)
        environ.update(env or {})
        proc = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheels")
    house = str(root / "wheelhouse")
    for version in ("1.0", "2.0"):
        make_wheel(str(root / "projects"), house, "alicia-venvs-probe", version)
    return house


# ---------------------------------------------------------------------------
# Arguments and digests
# ---------------------------------------------------------------------------

def test_check_args_accepts_good_venvs():
    venvs = [dict(path="/opt/alicia/venvs/a", requirements="x==1\n", python="/usr/bin/python3",
                  wheelhouse="/opt/alicia/wheelhouse", pip_args=["--only-binary=:all:"]),
             dict(path="/opt/alicia/venvs/b", requirements="")]
    assert v.check_args(venvs, absent=["/opt/alicia/venvs/c"]) == []


def test_check_args_names_every_problem():
    venvs = [
        dict(path="/opt/v/a", requirements="x\n"),
        dict(path="relative", requirements="x\n"),
        dict(path="/opt/v/a/", requirements="y\n"),
        dict(path="/opt/v/a/inner", requirements="y\n"),
        dict(path="/", requirements="y\n"),
        dict(path="/opt/v/b", requirements=None),
        dict(path="/opt/v/c", requirements="", python="python3", wheelhouse="wheels"),
        dict(path="/opt/v/d", requirements="", pip_args=["--target=/tmp/x", "--user", "-r", "other.txt"]),
    ]
    text = "\n".join(v.check_args(venvs, absent=["/opt/v/b", "/opt/v/a/old", "tmp"]))
    assert "venvs[1] (relative): path must be an absolute path" in text
    assert "venvs[2] (/opt/v/a/): duplicate path /opt/v/a (already venvs[0])" in text
    assert "venvs[3] (/opt/v/a/inner): /opt/v/a/inner and /opt/v/a (venvs[0]) are nested" in text
    assert "venvs[4] (/): path must not be /" in text
    assert "venvs[5] (/opt/v/b): requirements (the requirements file's content) must be a string" in text
    assert "venvs[6] (/opt/v/c): python must be an absolute path, got 'python3'" in text
    assert "venvs[6] (/opt/v/c): wheelhouse must be an absolute path, got 'wheels'" in text
    assert "venvs[7] (/opt/v/d): pip_args must not contain --target" in text
    assert "venvs[7] (/opt/v/d): pip_args must not contain --user" in text
    assert "venvs[7] (/opt/v/d): pip_args must not contain -r (pass the content as requirements)" in text
    assert "absent[0] (/opt/v/b): also declared as venvs[5]" in text
    assert "absent[1] (/opt/v/a/old): nested with /opt/v/a (venvs[0])" in text
    assert "absent[2] (tmp): path must be an absolute path" in text


def test_digest_covers_every_input_and_nothing_else():
    base = spec("/opt/v/a", wheelhouse="/opt/wh")
    digest = v.wanted_digest(base)
    assert digest == v.wanted_digest(spec("/opt/v/elsewhere", wheelhouse="/opt/wh")), "the path is not in it"
    assert digest == v.wanted_digest(spec("/opt/v/a", wheelhouse="/opt/wh/")), "paths are normalized"
    others = [spec("/opt/v/a", requirements="alicia-venvs-probe==2.0\n", wheelhouse="/opt/wh"),
              spec("/opt/v/a", python="/usr/bin/python3.12", wheelhouse="/opt/wh"),
              spec("/opt/v/a"),
              spec("/opt/v/a", wheelhouse="/opt/wh", pip_args=["--only-binary=:all:"]),
              spec("/opt/v/a", wheelhouse="/opt/wh", system_site_packages=True)]
    digests = [v.wanted_digest(other) for other in others]
    assert digest not in digests and len(set(digests)) == len(digests)
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_scrub_environment_removes_what_points_elsewhere():
    env = dict(PATH="/usr/bin", PYTHONPATH="/x", PYTHONHOME="/y", VIRTUAL_ENV="/z", PIP_TARGET="/t", PIP_USER="1",
               PIP_INDEX_URL="https://mirror.example/simple")
    assert v.scrub_environment(env) == dict(PATH="/usr/bin", PIP_INDEX_URL="https://mirror.example/simple")


# ---------------------------------------------------------------------------
# The marker check (only reads)
# ---------------------------------------------------------------------------

def test_inspect_tells_complete_from_missing_stale_and_blocked(tmp_path):
    wanted = spec(tmp_path / "venv")
    digest = v.wanted_digest(wanted)
    assert v.inspect(wanted, digest)[:2] == ("missing", "no venv at %s" % wanted["path"])

    fake_venv(tmp_path / "venv")
    assert v.inspect(wanted, digest)[0:2] == (
        "stale", "no marker (not built by this module, or its build did not finish)")

    with open(str(tmp_path / "venv" / v.MARKER), "w") as handle:
        handle.write(v.marker_text(complete_marker(wanted)))
    status, reason, marker = v.inspect(wanted, digest)
    assert (status, reason, marker["packages"]) == ("complete", None, ["alicia-venvs-probe==1.0"])

    changed = spec(tmp_path / "venv", requirements="alicia-venvs-probe==2.0\n")
    assert v.inspect(changed, v.wanted_digest(changed))[:2] == ("stale", "requirements or options changed")

    other = dict(complete_marker(wanted), python_realpath="/usr/bin/python3.9")
    with open(str(tmp_path / "venv" / v.MARKER), "w") as handle:
        handle.write(v.marker_text(other))
    status, reason, _marker = v.inspect(wanted, digest)
    assert status == "stale" and reason.endswith("the venv was built with /usr/bin/python3.9")

    os.unlink(str(tmp_path / "venv" / "bin" / "python"))
    os.symlink(str(tmp_path / "gone"), str(tmp_path / "venv" / "bin" / "python"))
    assert v.inspect(wanted, digest)[:2] == ("stale", "bin/python is missing or points at nothing")


@pytest.mark.parametrize("make, message", [
    (lambda p: open(p, "w").close(), "exists and is not a directory"),
    (lambda p: os.symlink("/opt", p), "is a symbolic link"),
    (lambda p: (os.mkdir(p), open(os.path.join(p, "data.db"), "w").close()), "is a directory that is not a virtualenv"),
])
def test_inspect_never_takes_over_what_is_not_a_venv(tmp_path, make, message):
    path = str(tmp_path / "venv")
    make(path)
    wanted = spec(path)
    status, reason, _marker = v.inspect(wanted, v.wanted_digest(wanted))
    assert status == "blocked" and message in reason
    item, diff = v.ensure_venv(wanted, run=None)
    assert (item["action"], item["changed"], diff) == ("failed", False, None) and message in item["error"]


def test_an_empty_directory_may_become_a_venv(tmp_path):
    (tmp_path / "venv").mkdir()
    wanted = spec(tmp_path / "venv")
    assert v.inspect(wanted, v.wanted_digest(wanted))[0] == "stale"


# ---------------------------------------------------------------------------
# Relocation and the swap
# ---------------------------------------------------------------------------

def test_relocate_rewrites_the_temporary_path_where_a_venv_records_it(tmp_path):
    tmp = str(tmp_path / "venv.new-0a1b2c3d")
    final = str(tmp_path / "venv")
    os.makedirs(tmp + "/bin")
    texts = {
        "bin/tool": "#!%s/bin/python\nimport sys\n" % tmp,
        "bin/long-tool": "#!/bin/sh\n'''exec' \"%s/bin/python\" \"$0\" \"$@\"\n' '''\nimport sys\n" % tmp,
        "bin/activate": "VIRTUAL_ENV=\"%s\"\nexport VIRTUAL_ENV\n" % tmp,
        "bin/activate.fish": "set -gx VIRTUAL_ENV \"%s\"\n" % tmp,
        "pyvenv.cfg": "home = /usr/bin\ncommand = /usr/bin/python3 -m venv %s\n" % tmp,
        "bin/data.txt": "mentions %s but is no script\n" % tmp,
    }
    for name, text in texts.items():
        with open(os.path.join(tmp, name), "w") as handle:
            handle.write(text)
    os.chmod(os.path.join(tmp, "bin/tool"), 0o755)
    os.symlink("/usr/bin/python3", os.path.join(tmp, "bin/python"))

    rewritten = v.relocate(tmp, final)

    assert sorted(rewritten) == ["bin/activate", "bin/activate.fish", "bin/long-tool", "bin/tool", "pyvenv.cfg"]
    for name in rewritten:
        with open(os.path.join(tmp, name)) as handle:
            assert handle.read() == texts[name].replace(tmp, final), name
    with open(os.path.join(tmp, "bin/data.txt")) as handle:
        assert handle.read() == texts["bin/data.txt"], "only scripts, activate files and pyvenv.cfg"
    assert os.readlink(os.path.join(tmp, "bin/python")) == "/usr/bin/python3"
    assert os.stat(os.path.join(tmp, "bin/tool")).st_mode & 0o777 == 0o755


def test_swap_replaces_and_removes_the_old_venv(tmp_path):
    old = fake_venv(tmp_path / "venv")
    new = fake_venv(tmp_path / "venv.new-1")
    open(os.path.join(new, "new"), "w").close()
    v.swap(new, old)
    assert sorted(os.listdir(str(tmp_path))) == ["venv"]
    assert os.path.exists(os.path.join(old, "new"))


def test_swap_puts_the_old_venv_back_when_the_new_one_cannot_move_in(tmp_path, monkeypatch):
    old = fake_venv(tmp_path / "venv")
    open(os.path.join(old, "old"), "w").close()
    new = fake_venv(tmp_path / "venv.new-1")
    real_rename = os.rename

    def rename(src, dst):
        if src == new:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)
    monkeypatch.setattr(v.os, "rename", rename)
    with pytest.raises(OSError):
        v.swap(new, old)
    assert os.path.exists(os.path.join(old, "old")), "the old venv is back at its path"
    assert sorted(os.listdir(str(tmp_path))) == ["venv", "venv.new-1"]


def test_leftovers_are_only_the_temporary_siblings(tmp_path):
    for name in ("venv", "venv.new-0a1b", "venv.old-9f8e", "venv.new-", "venv-other", "venv2.new-11"):
        (tmp_path / name).mkdir()
    assert v.leftovers(str(tmp_path / "venv")) == [str(tmp_path / "venv.new-0a1b"), str(tmp_path / "venv.old-9f8e")]


# ---------------------------------------------------------------------------
# Removal
# ---------------------------------------------------------------------------

def test_remove_venv_removes_a_venv_and_its_leftovers(tmp_path):
    path = fake_venv(tmp_path / "venv")
    (tmp_path / "venv.old-12ab").mkdir()
    item, diff = v.remove_venv(path, check_mode=True)
    assert (item["changed"], item["action"]) == (True, "removed") and os.path.exists(path)
    item, diff = v.remove_venv(path)
    assert (item["changed"], item["action"], item["error"]) == (True, "removed", None)
    assert os.listdir(str(tmp_path)) == []
    assert diff["after"] == "state: absent\n"
    item, diff = v.remove_venv(path)
    assert (item["changed"], item["action"], diff) == (False, "unchanged", None)


def test_remove_venv_refuses_what_is_not_a_venv(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "important").write_text("keep me")
    item, _diff = v.remove_venv(str(tmp_path / "data"))
    assert item["action"] == "failed" and "is not a virtualenv" in item["error"]
    assert (tmp_path / "data" / "important").read_text() == "keep me"


# ---------------------------------------------------------------------------
# A real build through ensure_all
# ---------------------------------------------------------------------------

def test_a_run_that_changes_nothing_runs_no_command(tmp_path, wheelhouse):
    path = str(tmp_path / "venvs" / "probe")
    venvs = [dict(path=path, requirements="alicia-venvs-probe==1.0\n", python=PYTHON, wheelhouse=wheelhouse)]
    recorder = Recorder()
    result = v.ensure_all(venvs, run=recorder, want_diff=True)
    assert result["changed"] is True and result["changed_paths"] == [path]
    assert result["venvs"][0]["packages"] == ["alicia-venvs-probe==1.0"]
    steps = [call[1:4] for call in recorder.calls]
    assert steps == [["-m", "venv", "--prompt"], ["-m", "pip", "install"], ["-m", "pip", "freeze"],
                     ["-m", "compileall", "-q"]]
    install = recorder.calls[1]
    assert install[install.index("--find-links") + 1] == wheelhouse and "--no-index" in install
    assert install[-2] == "-r" and install[-1].startswith(path + ".new-"), "installed into the temporary venv"
    assert install[-1].endswith("/" + v.REQUIREMENTS_FILE)
    with open(os.path.join(path, v.MARKER)) as handle:
        marker = json.load(handle)
    assert marker["digest"] == result["venvs"][0]["digest"] == v.wanted_digest(v.normalize(venvs[0]))
    assert json.loads(result["diff"][0]["after"]) == marker

    again = Recorder()
    result = v.ensure_all(venvs, run=again, want_diff=True)
    assert (result["changed"], result["diff"], again.calls) == (False, [], []), "only the marker was read"
    assert result["venvs"][0]["packages"] == ["alicia-venvs-probe==1.0"]


class FakeVenvTools(object):
    """A runner standing in for python -m venv and pip: makes a venv skeleton, fails where told."""

    def __init__(self, fail_at=None):
        self.fail_at = fail_at
        self.calls = []

    def __call__(self, argv, env):
        step = argv[2] if argv[1] == "-m" else argv[1]
        step = "pip " + argv[3] if step == "pip" else step
        self.calls.append(step)
        if step == "venv":
            fake_venv(argv[-1])
        if step == self.fail_at:
            return 1, "Looking in links: /wheelhouse\n", "ERROR: No matching distribution found for probe==7.7\n"
        return 0, "probe==1.0\n" if step == "pip freeze" else "", ""


@pytest.mark.parametrize("fail_at", ["venv", "pip install", "pip freeze"])
def test_a_failed_build_leaves_the_old_venv_no_temporary_directory_and_no_marker(tmp_path, fail_at):
    wanted = spec(tmp_path / "probe", wheelhouse=str(tmp_path))
    old_marker = dict(complete_marker(spec(tmp_path / "probe", requirements="probe==0.9\n")), packages=["probe==0.9"])
    fake_venv(tmp_path / "probe", marker=old_marker)
    tools = FakeVenvTools(fail_at=fail_at)
    with pytest.raises(v.VenvsError) as failure:
        v.ensure_all([wanted], run=tools)
    step = "python -m venv" if fail_at == "venv" else fail_at
    assert failure.value.msg == ("%s/probe: %s failed (exit 1): Looking in links: /wheelhouse\n"
                                 "ERROR: No matching distribution found for probe==7.7" % (tmp_path, step))
    item = failure.value.result["venvs"][0]
    assert (item["changed"], item["action"], item["packages"]) == (False, "failed", None)
    assert os.listdir(str(tmp_path)) == ["probe"], "no temporary directory left"
    assert v.read_marker(str(tmp_path / "probe")) == old_marker, "the serving venv keeps its marker"
    assert v.inspect(wanted, v.wanted_digest(wanted))[0] == "stale", "so the next run tries again"


def test_a_missing_python_or_wheelhouse_fails_that_venv_only(tmp_path):
    venvs = [dict(path=str(tmp_path / "a"), requirements="", python=str(tmp_path / "python9")),
             dict(path=str(tmp_path / "b"), requirements="x\n", python=PYTHON, wheelhouse=str(tmp_path / "none")),
             dict(path=str(tmp_path / "c"), requirements="probe==1.0\n", python=PYTHON)]
    tools = FakeVenvTools()
    with pytest.raises(v.VenvsError) as failure:
        v.ensure_all(venvs, run=tools)
    assert failure.value.msg == ("%s/a: python %s/python9 does not exist or is not executable; "
                                 "%s/b: wheelhouse %s/none is not a directory" % ((tmp_path,) * 4))
    assert [item["action"] for item in failure.value.result["venvs"]] == ["failed", "failed", "created"]
    assert tools.calls == ["venv", "pip install", "pip freeze", "compileall"]
    assert failure.value.result["venvs"][2]["packages"] == ["probe==1.0"]


# ---------------------------------------------------------------------------
# Sizing (check mode)
# ---------------------------------------------------------------------------

def sized_venv(path, size, marker=None):
    """A fake venv holding a ``size``-byte file (written, so its blocks are allocated)."""
    fake_venv(path, marker)
    with open(os.path.join(str(path), "lib.bin"), "wb") as handle:
        handle.write(b"\x01" * size)
    return str(path)


def test_disk_usage_counts_allocated_blocks_once_and_follows_no_link(tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "big").write_bytes(b"x" * 200000)
    os.link(str(root / "sub" / "big"), str(root / "hard"))    # the same blocks: counted once
    os.symlink("/usr", str(root / "usr"))                      # a link to a directory: not followed
    found = v.disk_usage(str(root))
    assert 200000 <= found < 200000 + 64 * 1024, found
    assert v.disk_usage(str(tmp_path / "missing")) == 0


def test_size_estimate_replaced_venv_else_largest_sibling_else_default(tmp_path):
    parent = tmp_path / "venvs"
    parent.mkdir()
    path = str(parent / "new")
    # Nothing to go by: the default.
    assert v.size_estimate(path) == (v.DEFAULT_ESTIMATE_MB * v.MB, "default")
    # Other venvs of the parent (not leftovers, not what is not a venv): the largest.
    small = sized_venv(parent / "small", 100000)
    large = sized_venv(parent / "large", 900000)
    sized_venv(parent / ("huge" + v.NEW_INFIX + "1a2b"), 5000000)   # an interrupted build
    os.makedirs(str(parent / "data"))
    (parent / "data" / "blob").write_bytes(b"x" * 5000000)           # not a venv
    estimate, measured = v.size_estimate(path)
    assert measured == large and estimate == v.disk_usage(large) and estimate > v.disk_usage(small)
    # An empty directory at the path (may become a venv) says nothing: still the largest sibling.
    os.mkdir(path)
    assert v.size_estimate(path)[1] == large
    os.rmdir(path)
    # The venv it replaces, however small: the new one is built beside it.
    sized_venv(path, 1000)
    assert v.size_estimate(path) == (v.disk_usage(path), path)


def test_check_mode_carries_the_estimate_of_each_venv_to_build_only(tmp_path):
    parent = tmp_path / "venvs"
    parent.mkdir()
    old = spec(parent / "old")                                    # stale (no marker): rebuilt
    sized_venv(old["path"], 300000)
    done = spec(parent / "done")                                  # complete: nothing to build
    sized_venv(done["path"], 2000000, marker=complete_marker(done))
    new = spec(parent / "new")                                    # missing: the largest venv of the parent
    result = v.ensure_all([old, done, new], run=None, check_mode=True)
    by_path = dict((item["path"], item) for item in result["venvs"])
    assert (by_path[old["path"]]["action"], by_path[old["path"]]["estimate_from"]) == ("rebuilt", old["path"])
    assert by_path[old["path"]]["estimate_bytes"] == v.disk_usage(old["path"])
    assert (by_path[done["path"]]["estimate_bytes"], by_path[done["path"]]["estimate_from"]) == (None, None)
    assert by_path[new["path"]]["action"] == "created"
    assert (by_path[new["path"]]["estimate_bytes"], by_path[new["path"]]["estimate_from"]) == (
        v.disk_usage(done["path"]), done["path"])
    alone = spec(tmp_path / "elsewhere" / "venv")
    item = v.ensure_all([alone], run=None, check_mode=True)["venvs"][0]
    assert (item["estimate_bytes"], item["estimate_from"]) == (100 * 1024 * 1024, "default")
