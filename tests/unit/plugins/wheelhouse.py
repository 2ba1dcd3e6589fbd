# -*- coding: utf-8 -*-
"""A local wheelhouse for the venvs tests, built without any network.

``make_wheel`` writes a tiny project (a pyproject.toml whose build backend is
a stdlib-only module inside the project, so pip needs neither setuptools nor
a package index) and builds it with ``pip wheel --no-build-isolation
--no-index``. The package ``NAME`` has a module that knows its version and
a console script printing it.
"""

import os
import subprocess
import sys
import textwrap

PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""

# An in-tree PEP 517 backend: the package's module, metadata, entry points and RECORD, zipped.
BACKEND = '''\
import base64
import hashlib
import os
import zipfile

NAME = {name!r}
VERSION = {version!r}
MODULE = NAME.replace("-", "_")
DIST_INFO = "%s-%s.dist-info" % (MODULE, VERSION)


def _files():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), MODULE + ".py"), "rb") as handle:
        source = handle.read()
    return [
        (MODULE + ".py", source),
        (DIST_INFO + "/METADATA", ("Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)).encode()),
        (DIST_INFO + "/WHEEL", b"Wheel-Version: 1.0\\nGenerator: alicia-test-backend\\nRoot-Is-Purelib: true\\n"
                               b"Tag: py3-none-any\\n"),
        (DIST_INFO + "/entry_points.txt", ("[console_scripts]\\n%s = %s:main\\n" % (NAME, MODULE)).encode()),
    ]


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = "%s-%s-py3-none-any.whl" % (MODULE, VERSION)
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in _files():
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        record.append(DIST_INFO + "/RECORD,,")
        wheel.writestr(DIST_INFO + "/RECORD", "\\n".join(record) + "\\n")
    return filename
'''

MODULE = '''\
VERSION = {version!r}


def main():
    print("{name} " + VERSION)
'''


def make_wheel(workdir, wheelhouse, name, version):
    """Build ``name==version`` into ``wheelhouse`` (both str paths); returns the wheel's path."""
    project = os.path.join(workdir, "%s-%s" % (name, version))
    os.makedirs(project)
    os.makedirs(wheelhouse, exist_ok=True)
    module = name.replace("-", "_")
    files = {
        "pyproject.toml": PYPROJECT,
        "backend.py": BACKEND.format(name=name, version=version),
        module + ".py": MODULE.format(name=name, version=version),
    }
    for filename, text in files.items():
        with open(os.path.join(project, filename), "w") as handle:
            handle.write(textwrap.dedent(text))
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PIP_FIND_LINKS", None)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps",
                           "-w", wheelhouse, project], capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("pip wheel %s failed: %s %s" % (project, proc.stdout, proc.stderr))
    wheel = os.path.join(wheelhouse, "%s-%s-py3-none-any.whl" % (module, version))
    if not os.path.exists(wheel):
        raise RuntimeError("pip wheel did not write %s: %s" % (wheel, os.listdir(wheelhouse)))
    return wheel
