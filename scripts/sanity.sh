#!/usr/bin/env bash
# ansible-test sanity for alicia.platform, from a temporary collection tree
# <tmp>/ansible_collections/alicia/platform (ansible-test needs that layout;
# the checkout itself is not one; scripts/collection-tree.sh builds it). Only
# what the collection ships and the sanity tests read is copied: galaxy.yml,
# meta/, plugins/ (and README.md, LICENSE, tests/sanity/ when present).
# roles/ and playbooks/ are linted by ansible-lint and yamllint instead.
# Each test runs in its own virtualenv that ansible-test builds from PyPI
# (--venv --requirements), cached under ~/.ansible/test/venv between runs;
# no container registry is used.
#   scripts/sanity.sh                 every sanity test
#   scripts/sanity.sh --test pylint   extra arguments go to ansible-test
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${ROOT}/.venv/bin"
ANSIBLE_TEST="${ANSIBLE_TEST:-${VENV_BIN}/ansible-test}"
[ -x "$ANSIBLE_TEST" ] || ANSIBLE_TEST="$(command -v ansible-test)"
PYTHON_VERSION="${SANITY_PYTHON:-3.11}"

log() { printf '[sanity] %s\n' "$*"; }

tmp="$(mktemp -d /tmp/alicia-sanity.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
dest="$(bash "$ROOT/scripts/collection-tree.sh" "$tmp")"

# ansible-test finds python3.X on PATH; the project's virtualenv has it.
export PATH="${VENV_BIN}:${PATH}"

# ansible-test bootstraps pip in each virtualenv it creates with get-pip.py,
# downloaded from a host this build cannot reach; it reads the script from
# ~/.ansible/test/cache when present. When missing, put a stand-in there
# that does the same from PyPI: ensurepip's bundled pip, then `pip install`
# of the pinned pip version ansible-test asks for. The version is read from
# the ansible-test that runs (ANSIBLE_TEST: each ansible-core pins its own).
pip_version="$("$(dirname "$ANSIBLE_TEST")/python" - <<'PY'
import re, ansible_test, os
path = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
print(re.search(r"pip='([0-9.]+)'", open(path).read()).group(1))
PY
)"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -s "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat >"$get_pip" <<'PY'
"""Stand-in for get-pip.py written by alicia.platform scripts/sanity.sh:
installs pip from PyPI with ensurepip's bundled pip (same arguments)."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
PY
  log "pip ${pip_version} bootstrap stand-in written to $get_pip"
fi
log "ansible-test sanity --python ${PYTHON_VERSION} in ${dest}"
cd "$dest"
"$ANSIBLE_TEST" sanity --python "$PYTHON_VERSION" --venv --requirements --color no "$@"
log "clean"
