# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many Python virtualenvs on a host in one module execution, as plain functions.

Used by the alicia.platform.venvs module. Standard library only; every
command goes through a ``run`` callable (``(argv, env) -> (rc, stdout,
stderr)``, ``env`` a dict of variables to set: ``module.run_command`` in the
module, a subprocess runner in tests).

A venv is *complete* when ``<path>/.alicia-venv.json`` (the marker) records
the digest of what was asked (``wanted_digest``: requirements content,
python, wheelhouse, pip_args, system_site_packages), ``<path>/bin/python``
still resolves and ``python`` resolves to the interpreter the venv was built
with. Checking that only reads (``inspect``).

A missing or stale venv is built in ``<path>.new-<random>`` next to it
(``build``): ``python -m venv``, the requirements written into it,
``pip install --no-compile -r``, ``pip freeze --local``, then ``relocate``
rewrites the temporary path into the final one (script shebangs, the
activate scripts, pyvenv.cfg), ``compileall -f -d <path>/lib`` writes every
.pyc with the final path, and the marker goes in last. ``swap`` then renames
the serving venv away, the new one in and removes the old one. A failure
before the swap removes the temporary directory: the serving venv was never
touched and has its old marker, the failed build leaves no marker, and the
next run tries again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import json
import os
import shutil
import stat

MARKER = ".alicia-venv.json"
MARKER_FORMAT = 1
REQUIREMENTS_FILE = "requirements.txt"
DEFAULT_PYTHON = "/usr/bin/python3"
NEW_INFIX = ".new-"
OLD_INFIX = ".old-"
BUILD_UMASK = 0o022
TAIL_LINES = 15
OUTPUT_LIMIT = 3000
# What check mode estimates a venv to build needs when no venv of the host tells better.
DEFAULT_ESTIMATE_MB = 100
MB = 1024 * 1024
# pip options that would install somewhere else than the venv
FOREIGN_TARGET_OPTIONS = ("--target", "-t", "--prefix", "--root", "--user")
# variables of the module's environment that would point pip or python elsewhere
SCRUBBED_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
                      "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PIP_REQUIRE_VIRTUALENV")
PIP_ENVIRONMENT = dict(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONNOUSERSITE="1")

VENV_OPTIONS = dict(
    path=dict(type="str", required=True),
    requirements=dict(type="str", required=True),
    python=dict(type="str", default=DEFAULT_PYTHON),
    wheelhouse=dict(type="str"),
    pip_args=dict(type="list", elements="str", default=[]),
    system_site_packages=dict(type="bool", default=False),
)


def argument_spec():
    """The module's argument spec."""
    return dict(
        venvs=dict(type="list", elements="dict", default=[], options=VENV_OPTIONS),
        absent=dict(type="list", elements="str", default=[]),
    )


class VenvsError(Exception):
    """Arguments that cannot work, or venvs that failed; ``result`` holds the per-venv results."""

    def __init__(self, msg, result=None):
        super(VenvsError, self).__init__(msg)
        self.msg = msg
        self.result = result


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def label(index, spec):
    """How a venv is named in messages: venvs[1] (/opt/alicia/venvs/3f2a...)."""
    path = spec.get("path") if isinstance(spec, dict) else None
    return "venvs[%d] (%s)" % (index, path) if path else "venvs[%d]" % index


def _inside(path, other):
    """Whether ``path`` is ``other`` or below it (both normalized)."""
    return path == other or path.startswith(other.rstrip("/") + "/")


def _absolute_problem(what, value):
    if not isinstance(value, str) or not value:
        return "%s is required" % what
    if not os.path.isabs(value):
        return "%s must be an absolute path, got %r" % (what, value)
    if "\x00" in value or "\n" in value:
        return "%s must not contain NUL or newlines" % what
    if os.path.normpath(value) == "/":
        return "%s must not be /" % what
    return None


def check_args(venvs, absent=None):
    """Every problem with the arguments as a list of messages (empty when fine); no file system access."""
    errors = []
    seen = []  # (normalized path, what)
    if not isinstance(venvs, list):
        return ["venvs must be a list"]
    for index, spec in enumerate(venvs):
        if not isinstance(spec, dict):
            errors.append("venvs[%d] must be a dict, got %s" % (index, type(spec).__name__))
            continue
        name = label(index, spec)
        problem = _absolute_problem("path", spec.get("path"))
        if problem:
            errors.append("%s: %s" % (name, problem))
            continue
        norm = os.path.normpath(spec["path"])
        for other, what in seen:
            if norm == other:
                errors.append("%s: duplicate path %s (already %s)" % (name, norm, what))
            elif _inside(norm, other) or _inside(other, norm):
                errors.append("%s: %s and %s (%s) are nested; a venv cannot hold another" % (name, norm, other, what))
        seen.append((norm, "venvs[%d]" % index))
        if not isinstance(spec.get("requirements"), str):
            errors.append("%s: requirements (the requirements file's content) must be a string" % name)
        for option in ("python", "wheelhouse"):
            value = spec.get(option, DEFAULT_PYTHON if option == "python" else None)
            if value is None and option == "wheelhouse":
                continue
            problem = _absolute_problem(option, value)
            if problem:
                errors.append("%s: %s" % (name, problem))
        pip_args = spec.get("pip_args") or []
        if not isinstance(pip_args, list) or not all(isinstance(arg, str) for arg in pip_args):
            errors.append("%s: pip_args must be a list of strings" % name)
        else:
            for arg in pip_args:
                option = arg.split("=", 1)[0]
                if option in FOREIGN_TARGET_OPTIONS:
                    errors.append("%s: pip_args must not contain %s (the packages go into the venv)" % (name, option))
                elif option in ("-r", "--requirement"):
                    errors.append("%s: pip_args must not contain %s (pass the content as requirements)"
                                  % (name, option))
    for index, path in enumerate(absent or []):
        name = "absent[%d] (%s)" % (index, path)
        problem = _absolute_problem("path", path)
        if problem:
            errors.append("%s: %s" % (name, problem))
            continue
        norm = os.path.normpath(path)
        for other, what in seen:
            if norm == other:
                errors.append("%s: also declared as %s" % (name, what))
            elif _inside(norm, other) or _inside(other, norm):
                errors.append("%s: nested with %s (%s)" % (name, other, what))
        seen.append((norm, "absent[%d]" % index))
    return errors


def normalize(spec):
    """A venv spec with every option set and paths normalized."""
    return dict(
        path=os.path.normpath(spec["path"]),
        requirements=spec.get("requirements") or "",
        python=spec.get("python") or DEFAULT_PYTHON,
        wheelhouse=os.path.normpath(spec["wheelhouse"]) if spec.get("wheelhouse") else None,
        pip_args=list(spec.get("pip_args") or []),
        system_site_packages=bool(spec.get("system_site_packages")),
    )


def wanted_digest(spec):
    """The sha256 of what makes a venv: requirements content, python, wheelhouse, pip_args, system_site_packages."""
    names = ("requirements", "python", "wheelhouse", "pip_args", "system_site_packages")
    data = dict((name, spec[name]) for name in names)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def scrub_environment(environ):
    """Remove from ``environ`` (in place) what would point python or pip outside the venv being built."""
    for name in SCRUBBED_VARIABLES:
        environ.pop(name, None)
    return environ


# ---------------------------------------------------------------------------
# Reading (a complete venv costs only these reads)
# ---------------------------------------------------------------------------

def _lstat(path):
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_marker(path):
    """The marker of the venv at ``path`` as a dict; None when missing or unreadable."""
    try:
        with open(os.path.join(path, MARKER), "rb") as handle:
            marker = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_venv_dir(path):
    """Whether a directory looks like a virtualenv (pyvenv.cfg or our marker in it)."""
    return os.path.exists(os.path.join(path, "pyvenv.cfg")) or os.path.exists(os.path.join(path, MARKER))


def _replaceable_problem(path, st):
    """Why an existing ``path`` must not be replaced by a venv (None when it may)."""
    if stat.S_ISLNK(st.st_mode):
        return "%s is a symbolic link; it is not replaced" % path
    if not stat.S_ISDIR(st.st_mode):
        return "%s exists and is not a directory; it is not replaced" % path
    if not is_venv_dir(path) and os.listdir(path):
        return "%s is a directory that is not a virtualenv (no pyvenv.cfg); it is not replaced" % path
    return None


def inspect(spec, digest):
    """(status, reason, marker): status complete, missing, stale or blocked (reason says why)."""
    path = spec["path"]
    st = _lstat(path)
    if st is None:
        return "missing", "no venv at %s" % path, None
    problem = _replaceable_problem(path, st)
    if problem:
        return "blocked", problem, None
    marker = read_marker(path)
    if marker is None:
        return "stale", "no marker (not built by this module, or its build did not finish)", None
    if marker.get("digest") != digest:
        return "stale", "requirements or options changed", marker
    if not os.path.exists(os.path.join(path, "bin", "python")):
        return "stale", "bin/python is missing or points at nothing", marker
    realpath = os.path.realpath(spec["python"])
    if marker.get("python_realpath") and marker["python_realpath"] != realpath:
        return "stale", "%s now resolves to %s, the venv was built with %s" % (
            spec["python"], realpath, marker["python_realpath"]), marker
    return "complete", None, marker


# ---------------------------------------------------------------------------
# Sizing (check mode: the room a build needs)
# ---------------------------------------------------------------------------

def disk_usage(path):
    """Bytes on disk of everything below ``path`` (allocated blocks; links not followed, hard links once)."""
    total = 0
    seen = set()
    for directory, dirs, names in os.walk(path):
        for name in dirs + names:
            st = _lstat(os.path.join(directory, name))
            if st is None or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    st = _lstat(path)
    return total + (st.st_blocks * 512 if st is not None else 0)


def _is_leftover(name):
    return NEW_INFIX in name or OLD_INFIX in name


def size_estimate(path, sizes=None):
    """(bytes, measured): the room building the venv at ``path`` needs, and what it was measured on.

    The new venv is built beside the one it replaces, so the old one frees
    nothing until the swap: its size when a venv is at ``path``; else the
    largest venv of its parent directory (another service's, built from
    similar requirements); else DEFAULT_ESTIMATE_MB (``measured`` ``default``).
    ``sizes`` caches disk_usage across the venvs of one call."""
    sizes = {} if sizes is None else sizes

    def measure(venv):
        if venv not in sizes:
            sizes[venv] = disk_usage(venv)
        return sizes[venv]
    st = _lstat(path)
    if st is not None and stat.S_ISDIR(st.st_mode) and is_venv_dir(path):
        return measure(path), path
    parent = os.path.dirname(path)
    try:
        names = sorted(os.listdir(parent))
    except (FileNotFoundError, NotADirectoryError):
        names = []
    best = None
    for name in names:
        sibling = os.path.join(parent, name)
        st = _lstat(sibling)
        if sibling == path or _is_leftover(name) or st is None or not stat.S_ISDIR(st.st_mode) \
                or not is_venv_dir(sibling):
            continue
        if best is None or measure(sibling) > best[0]:
            best = (measure(sibling), sibling)
    return best if best is not None else (DEFAULT_ESTIMATE_MB * MB, "default")


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------

def _tail(out, err, lines=TAIL_LINES):
    """The last lines of a command's output (stdout then stderr), for messages."""
    text = "\n".join(part.rstrip() for part in (out or "", err or "") if part and part.strip())
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    text = "\n".join(kept)
    return text if len(text) <= OUTPUT_LIMIT else "..." + text[-OUTPUT_LIMIT:]


class BuildError(Exception):
    """One venv's build failed; the message names the step and the command's last lines."""


def _random_sibling(path, infix):
    """A free name ``<path><infix><random>`` in the same directory."""
    for _attempt in range(100):
        candidate = "%s%s%s" % (path, infix, binascii.hexlify(os.urandom(4)).decode("ascii"))
        if _lstat(candidate) is None:
            return candidate
    raise BuildError("no free temporary name next to %s" % path)


def leftovers(path):
    """Temporary directories of earlier runs that stopped half-way: ``<path>.new-*`` and ``<path>.old-*``."""
    parent, base = os.path.split(path)
    try:
        names = os.listdir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in sorted(names):
        for infix in (NEW_INFIX, OLD_INFIX):
            if name.startswith(base + infix) and len(name) > len(base + infix):
                found.append(os.path.join(parent, name))
    return found


def _remove(path):
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _run_step(run, step, argv, env=None):
    rc, out, err = run(argv, dict(PIP_ENVIRONMENT, **(env or {})))
    if rc != 0:
        raise BuildError("%s failed (exit %s): %s" % (step, rc, _tail(out, err) or "no output"))
    return out


def pyvenv_version(directory):
    """The ``version`` (or ``version_info``) line of a venv's pyvenv.cfg, None when absent."""
    try:
        with open(os.path.join(directory, "pyvenv.cfg")) as handle:
            for line in handle:
                name, sep, value = line.partition("=")
                if sep and name.strip() in ("version", "version_info"):
                    return value.strip()
    except OSError:
        pass
    return None


def relocate(directory, final):
    """Rewrite the temporary path ``directory`` into ``final`` where a venv records its own path.

    ``python -m venv`` and pip write the venv's absolute path into the
    scripts of bin/ (shebangs, or the ``'''exec'`` form pip uses for long
    paths), the activate scripts and pyvenv.cfg's ``command``. Returns the
    files rewritten (relative to ``directory``). Mode and owner are kept.
    """
    old, new = directory.encode("utf-8", "surrogateescape"), final.encode("utf-8", "surrogateescape")
    candidates = [os.path.join(directory, "pyvenv.cfg")]
    bin_dir = os.path.join(directory, "bin")
    try:
        candidates += [os.path.join(bin_dir, name) for name in sorted(os.listdir(bin_dir))]
    except FileNotFoundError:
        pass
    rewritten = []
    for path in candidates:
        st = _lstat(path)
        if st is None or not stat.S_ISREG(st.st_mode):
            continue  # bin/python and friends are links to the base interpreter
        with open(path, "rb") as handle:
            data = handle.read()
        name = os.path.basename(path).lower()
        is_text = data.startswith(b"#!") or name.startswith("activate") or name == "pyvenv.cfg"
        if not is_text or old not in data:
            continue
        with open(path, "r+b") as handle:
            handle.write(data.replace(old, new))
            handle.truncate()
        rewritten.append(os.path.relpath(path, directory))
    return rewritten


def _pip_install_argv(python, spec, requirements):
    argv = [python, "-m", "pip", "install", "--no-compile", "--no-warn-script-location"]
    if spec["wheelhouse"]:
        argv += ["--no-index", "--find-links", spec["wheelhouse"]]
    return argv + list(spec["pip_args"]) + ["-r", requirements]


def build(spec, digest, run):
    """Build the venv in ``<path>.new-<random>``; returns (temporary directory, marker). Nothing at ``path`` changes.

    The caller swaps it in (``swap``); on BuildError the temporary directory is already gone.
    """
    path = spec["path"]
    if not os.access(spec["python"], os.X_OK) or os.path.isdir(spec["python"]):
        raise BuildError("python %s does not exist or is not executable" % spec["python"])
    if spec["wheelhouse"] and not os.path.isdir(spec["wheelhouse"]):
        raise BuildError("wheelhouse %s is not a directory" % spec["wheelhouse"])
    mask = os.umask(BUILD_UMASK)  # readable by the services' users whatever the caller's umask
    tmp = None
    try:
        try:
            os.makedirs(os.path.dirname(path), 0o755)
        except FileExistsError:
            pass
        for leftover in leftovers(path):
            _remove(leftover)
        tmp = _random_sibling(path, NEW_INFIX)
        os.mkdir(tmp, 0o755)
        argv = [spec["python"], "-m", "venv", "--prompt", os.path.basename(path)]  # not the temporary name
        if spec["system_site_packages"]:
            argv.append("--system-site-packages")
        _run_step(run, "python -m venv", argv + [tmp])
        python = os.path.join(tmp, "bin", "python")
        requirements = os.path.join(tmp, REQUIREMENTS_FILE)
        with open(requirements, "w") as handle:
            handle.write(spec["requirements"])
        if spec["requirements"].strip():
            _run_step(run, "pip install", _pip_install_argv(python, spec, requirements))
        freeze = _run_step(run, "pip freeze", [python, "-m", "pip", "freeze", "--local"])
        packages = [line.strip() for line in freeze.splitlines() if line.strip()]
        relocate(tmp, path)
        # Every .pyc (pip's own from ensurepip too) written again with the final path, which tracebacks
        # show. Like pip's own compile step, a file that does not compile is not an error.
        run([python, "-m", "compileall", "-q", "-f", "-d", os.path.join(path, "lib"), os.path.join(tmp, "lib")],
            dict(PIP_ENVIRONMENT))
        marker = dict(
            format=MARKER_FORMAT,
            digest=digest,
            python=spec["python"],
            python_realpath=os.path.realpath(spec["python"]),
            python_version=pyvenv_version(tmp),
            wheelhouse=spec["wheelhouse"],
            pip_args=spec["pip_args"],
            system_site_packages=spec["system_site_packages"],
            requirements_sha256=hashlib.sha256(spec["requirements"].encode("utf-8", "surrogateescape")).hexdigest(),
            packages=packages,
        )
        with open(os.path.join(tmp, MARKER), "w") as handle:
            handle.write(marker_text(marker))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o755)
        return tmp, marker
    except BaseException:
        if tmp is not None:
            _remove(tmp)
        raise
    finally:
        os.umask(mask)


def swap(tmp, path):
    """Move the built venv ``tmp`` to ``path``: the old one renamed away, the new one renamed in, the old removed.

    When the second rename fails the old venv is renamed back.
    """
    if _lstat(path) is None:
        os.rename(tmp, path)
        return
    old = _random_sibling(path, OLD_INFIX)
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except OSError:
        os.rename(old, path)
        raise
    _remove(old)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def marker_text(marker):
    """A marker as it is written and shown in diffs."""
    return json.dumps(marker, indent=2, sort_keys=True) + "\n"


def _diff(path, before, after):
    return dict(before_header=os.path.join(path, MARKER), after_header=os.path.join(path, MARKER),
                before=before, after=after)


def _planned_marker(spec, digest):
    """What check mode shows as the new marker: everything but what only pip can tell."""
    return dict(format=MARKER_FORMAT, digest=digest, python=spec["python"],
                python_realpath=os.path.realpath(spec["python"]), wheelhouse=spec["wheelhouse"],
                pip_args=spec["pip_args"], system_site_packages=spec["system_site_packages"],
                requirements_sha256=hashlib.sha256(spec["requirements"].encode("utf-8", "surrogateescape")).hexdigest(),
                packages="(known after pip install)")


def ensure_venv(spec, run, check_mode=False, sizes=None):
    """One venv: (result item, diff or None). In check mode a venv to build carries ``estimate_bytes``
    and ``estimate_from`` (``size_estimate``; ``sizes`` its cache), any other item None for both."""
    digest = wanted_digest(spec)
    path = spec["path"]
    item = dict(path=path, changed=False, action="unchanged", reason=None, digest=digest, packages=None, error=None,
                estimate_bytes=None, estimate_from=None)
    status, reason, marker = inspect(spec, digest)
    if status == "complete":
        item["packages"] = marker.get("packages")
        return item, None
    if status == "blocked":
        item.update(action="failed", reason=reason, error=reason)
        return item, None
    before = marker_text(marker) if marker else ("state: absent\n" if status == "missing" else "(no marker)\n")
    action = "created" if status == "missing" else "rebuilt"
    if check_mode:
        estimate, measured = size_estimate(path, sizes)
        item.update(changed=True, action=action, reason=reason, estimate_bytes=estimate, estimate_from=measured)
        return item, _diff(path, before, marker_text(_planned_marker(spec, digest)))
    try:
        tmp, new_marker = build(spec, digest, run)
        swap(tmp, path)
    except BuildError as exc:
        item.update(action="failed", reason=reason, error=str(exc))
        return item, None
    except OSError as exc:
        item.update(action="failed", reason=reason, error=str(exc))
        return item, None
    item.update(changed=True, action=action, reason=reason, packages=new_marker["packages"])
    return item, _diff(path, before, marker_text(new_marker))


def remove_venv(path, check_mode=False):
    """One absent path: (result item, diff or None); removes its leftovers too."""
    item = dict(path=path, changed=False, action="unchanged", error=None)
    st = _lstat(path)
    extra = leftovers(path)
    if st is not None:
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or (not is_venv_dir(path) and os.listdir(path)):
            item.update(action="failed", error="%s is not a virtualenv (no pyvenv.cfg); it is not removed" % path)
            return item, None
    if st is None and not extra:
        return item, None
    marker = read_marker(path) if st is not None else None
    before = marker_text(marker) if marker else ("state: directory\n" if st is not None else "state: absent\n")
    if not check_mode:
        try:
            for leftover in ([path] if st is not None else []) + extra:
                _remove(leftover)
        except OSError as exc:
            item.update(action="failed", error=str(exc))
            return item, None
    item.update(changed=True, action="removed")
    return item, _diff(path, before, "state: absent\n")


def ensure_all(venvs, absent=None, run=None, check_mode=False, want_diff=False):
    """Every venv of ``venvs`` ensured, every path of ``absent`` removed; the result dict.

    A venv that fails does not stop the others; VenvsError is raised at the
    end naming each failed venv, with the full result attached.
    """
    items, removed_items, diffs = [], [], []
    sizes = {}
    for raw in venvs:
        item, diff = ensure_venv(normalize(raw), run, check_mode, sizes)
        items.append(item)
        if diff is not None:
            diffs.append(diff)
    for raw in absent or []:
        item, diff = remove_venv(os.path.normpath(raw), check_mode)
        removed_items.append(item)
        if diff is not None:
            diffs.append(diff)
    changed_paths = [item["path"] for item in items + removed_items if item["changed"]]
    counts = {}
    for item in items + removed_items:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    detail = ", ".join("%s %d" % (a, counts[a]) for a in ("created", "rebuilt", "removed", "failed") if counts.get(a))
    result = dict(
        changed=bool(changed_paths),
        venvs=items,
        absent=removed_items,
        removed=[item["path"] for item in removed_items if item["action"] == "removed"],
        changed_paths=changed_paths,
        msg="%d of %d venvs changed%s" % (len(changed_paths), len(items) + len(removed_items),
                                          " (%s)" % detail if detail else ""),
    )
    if want_diff:
        result["diff"] = diffs
    failed = [item for item in items + removed_items if item["error"]]
    if failed:
        raise VenvsError("; ".join("%s: %s" % (item["path"], item["error"]) for item in failed), result=result)
    return result
