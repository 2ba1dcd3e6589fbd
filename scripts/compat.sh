#!/usr/bin/env bash
# The plugins against older ansible-core: for each version (2.17 and 2.18 by
# default), a small virtualenv in .cache/compat/<version> with the newest
# ansible-core 2.X patch from PyPI plus what tests/unit imports (pytest and
# paho-mqtt at the pins of requirements.txt; PyYAML, Jinja2 and cryptography
# come with ansible-core) and the collections of galaxy.yml's dependencies
# (the playbook tests load roles that name them; ansible.cfg enables
# ansible.posix.profile_tasks), taken from the `ansible` wheel that goes with
# that ansible-core (2.17: ansible 10.x, 2.18: 11.x) without installing its
# other 100-odd collections. Then, with that venv:
#   - tests/unit (plugins, playbooks run by that ansible-playbook, roles),
#     but not tests/unit/benchmarks: the benchmark harness (matplotlib) runs
#     on the controller virtualenv only, it is not collection content;
#   - ansible-test sanity, through scripts/sanity.sh (ANSIBLE_TEST).
# Prints a table: version, unit result, sanity result, time. Logs in
# .cache/compat/<version>/{install,unit,sanity}.log. `make test` runs it.
#
# What differs from a 2.19 run, and why (test-side only; the plugins run as is):
#   - ansible.module_utils.testing.patch_module_args is new in 2.19: a pytest
#     plugin (written below) provides it when missing, setting module args
#     the way older ansible-core's own tests do (basic._ANSIBLE_ARGS).
#   - DESELECT: tests that call 2.19-only API themselves, in the scripts they
#     run (trust_as_template, VaultSecretsContext): "through_ansible_templar".
#   - ANSIBLE_CALLBACK_RESULT_FORMAT=json for the ansible-playbook runs: 2.19
#     prints a failed task's message on one "[ERROR]: Task failed: ..." line,
#     2.17/2.18 only in the YAML result, which wraps long messages; JSON keeps
#     them on one line, so the same assertions hold.
#
#   scripts/compat.sh                 2.17 and 2.18
#   scripts/compat.sh 2.18            one version
#   COMPAT_SANITY=0 scripts/compat.sh unit tests only
#   scripts/compat.sh 2.17 -- -k mqtt extra arguments after -- go to pytest (after tests/unit)
#   COMPAT_DESELECT= scripts/compat.sh run the deselected tests too
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-python3}"
CACHE="${ROOT}/.cache/compat"
SANITY="${COMPAT_SANITY:-1}"

versions=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    *) versions+=("$1"); shift ;;
  esac
done
[ "${#versions[@]}" -gt 0 ] || versions=(2.17 2.18)
pytest_args=("$@")

# Tests left out (comma-separated parts of test ids; the shim deselects them):
# those whose own scripts drive ansible.template with 2.19-only API
# (trust_as_template and data tagging, VaultSecretsContext). Templating the
# catalogue through 2.17/2.18's Templar works: the playbook tests exercise it
# through real ansible-playbook runs.
DESELECT="${COMPAT_DESELECT-through_ansible_templar}"

log() { printf '[compat] %s\n' "$*"; }

# Same host tools as scripts/unit.sh (real Mosquitto, Debian's paho 1.6).
if ! [ -x /usr/sbin/mosquitto ] || ! command -v mosquitto_passwd >/dev/null 2>&1 \
   || ! /usr/bin/python3 -c 'import paho.mqtt' >/dev/null 2>&1; then
  bash "$ROOT/scripts/host-tools.sh"
fi
[ -x "$ROOT/.venv/bin/python" ] || { echo "[compat] no .venv (scripts/sanity.sh needs it): run 'make venv' first" >&2; exit 1; }

pin() {  # the line of requirements.txt for package $1 (e.g. pytest==9.2.0)
  grep -iE "^$1==" "$ROOT/requirements.txt" | head -n1
}
requirements=("$(pin pytest)" "$(pin paho-mqtt)")

mkdir -p "$CACHE/shim"
cat >"$CACHE/shim/alicia_compat_shim.py" <<'PY'
"""pytest plugin written by scripts/compat.sh: provides
ansible.module_utils.testing.patch_module_args (new in ansible-core 2.19) on
older ansible-core, setting module args as their own unit tests did."""
import contextlib
import json
import os
import sys
import types

try:
    import ansible.module_utils.testing  # noqa: F401  (2.19 and later)
except ImportError:
    import ansible.module_utils
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

    testing = types.ModuleType("ansible.module_utils.testing")
    testing.patch_module_args = patch_module_args
    sys.modules["ansible.module_utils.testing"] = testing
    ansible.module_utils.testing = testing


def pytest_collection_modifyitems(config, items):
    """Deselect the tests whose id contains a part of ALICIA_COMPAT_DESELECT."""
    parts = [p.strip() for p in os.environ.get("ALICIA_COMPAT_DESELECT", "").split(",") if p.strip()]
    if not parts:
        return
    keep, drop = [], []
    for item in items:
        (drop if any(p in item.nodeid for p in parts) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
PY

# The collections galaxy.yml depends on (ansible.posix, community.*: the
# roles, handlers and ansible.cfg name them), extracted into venv $1's
# site-packages from the newest `ansible` wheel for ansible-core $2 (2.X goes
# with ansible X-7): the versions a user of that ansible-core has, without the
# package's other collections. Redone when galaxy.yml's list changes. Prints
# "name version" per collection, with a note when galaxy.yml's range excludes it.
collections_from_ansible() {
  local venv="$1" core="$2" site wheels major stamp wanted
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  stamp="$site/ansible_collections/.alicia-compat"
  wanted="$("$venv/bin/python" - "$ROOT/galaxy.yml" <<'PY'
import sys, yaml
with open(sys.argv[1]) as handle:
    print(" ".join(sorted((yaml.safe_load(handle) or {}).get("dependencies") or {})))
PY
)"
  if [ "$(sed -n 2p "$stamp" 2>/dev/null)" != "$wanted" ]; then
    major=$(( ${core#*.} - 7 ))
    wheels="$CACHE/wheels/ansible-${major}"
    rm -rf "$wheels" && mkdir -p "$wheels"
    "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
      -d "$wheels" "ansible==${major}.*" >>"$venv/install.log" 2>&1 || return 1
    "$venv/bin/python" - "$wheels"/ansible-*.whl "$site" "$stamp" $wanted <<'PY' >>"$venv/install.log" 2>&1 || return 1
import os, shutil, sys, zipfile
wheel, site, stamp, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with zipfile.ZipFile(wheel) as archive:
    listing = archive.namelist()
    for name in names:
        prefix = "ansible_collections/%s/" % name.replace(".", "/")
        members = [m for m in listing if m.startswith(prefix)]
        if not members:
            sys.exit("no %s in %s" % (name, os.path.basename(wheel)))
        shutil.rmtree(os.path.join(site, prefix), ignore_errors=True)
        archive.extractall(site, members)
with open(stamp, "w") as handle:
    handle.write("%s\n%s\n" % (os.path.basename(wheel), " ".join(names)))
PY
    rm -rf "$wheels"
  fi
  "$venv/bin/python" - "$site" "$ROOT/galaxy.yml" "$stamp" <<'PY'
import json, os, sys, yaml
from ansible.utils.version import SemanticVersion
site, galaxy, stamp = sys.argv[1:]
with open(galaxy) as handle:
    deps = (yaml.safe_load(handle) or {}).get("dependencies") or {}
ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
       "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
with open(stamp) as handle:
    print("from %s:" % handle.readline().strip())
for name, spec in sorted(deps.items()):
    with open(os.path.join(site, "ansible_collections", *name.split("."), "MANIFEST.json")) as handle:
        version = json.load(handle)["collection_info"]["version"]
    bad = []
    for part in str(spec).split(","):
        part = part.strip()
        if part in ("", "*"):
            continue
        op = next(o for o in (">=", "<=", "!=", "==", ">", "<", "") if part.startswith(o))
        if op and not ops[op](SemanticVersion(version), SemanticVersion(part[len(op):].strip())):
            bad.append(part)
    print("  %s %s%s" % (name, version, " (outside galaxy.yml's %s)" % spec if bad else ""))
PY
}

rows=()
failed=0
for v in "${versions[@]}"; do
  venv="$CACHE/$v"
  started=$SECONDS
  mkdir -p "$venv"
  log "ansible-core ${v}: virtualenv ${venv#"$ROOT"/}"
  # --upgrade: a new 2.X patch on PyPI is picked up by the next run.
  if ! { { [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"; } \
         && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade \
              "ansible-core==${v}.*" "${requirements[@]}"; } >"$venv/install.log" 2>&1; then
    tail -n 20 "$venv/install.log" >&2
    rows+=("$v|install failed|-|$((SECONDS - started)) s")
    failed=1
    continue
  fi
  core="$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')"
  if ! collections="$(collections_from_ansible "$venv" "$v")"; then
    tail -n 20 "$venv/install.log" >&2
    rows+=("$core|collections install failed|-|$((SECONDS - started)) s")
    failed=1
    continue
  fi
  log "ansible-core ${core}; collections ${collections}"
  t_setup=$((SECONDS - started))

  # Unit tests, as scripts/unit.sh runs them, with this venv's python.
  t0=$SECONDS
  log "ansible-core ${core}: unit tests (log: ${venv#"$ROOT"/}/unit.log)"
  set +e
  (
    cd "$ROOT"
    export PYTHONPATH="${ROOT}/.collections:${CACHE}/shim${PYTHONPATH:+:${PYTHONPATH}}"
    export ANSIBLE_CONFIG="${ROOT}/ansible.cfg"
    minor="${core#2.}"
    if [ "${minor%%.*}" -lt 19 ]; then  # 2.19 and later: run as scripts/unit.sh does
      export ANSIBLE_CALLBACK_RESULT_FORMAT=json
      export ALICIA_COMPAT_DESELECT="$DESELECT"
    fi
    "$venv/bin/python" -m pytest -p alicia_compat_shim -p no:cacheprovider -o "pythonpath=${ROOT}/.collections" \
      --rootdir "$ROOT" -q -rfE tests/unit --ignore=tests/unit/benchmarks ${pytest_args[@]+"${pytest_args[@]}"}
  ) >"$venv/unit.log" 2>&1
  rc=$?
  set -e
  unit="$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)|^(=+ )?no tests ran' "$venv/unit.log" | tail -n1 \
          | sed -E 's/^=+ //; s/ in [0-9.]+s.*$//')"
  [ -n "$unit" ] || unit="pytest exit ${rc}"
  if [ "$rc" -ne 0 ]; then
    failed=1
    unit="FAIL: ${unit}"
    grep -E '^(FAILED|ERROR) ' "$venv/unit.log" | sed 's/^/  /' >&2 || tail -n 30 "$venv/unit.log" >&2
  fi
  t_unit=$((SECONDS - t0))

  # ansible-test sanity with this venv's ansible-test.
  sanity="skipped"
  t0=$SECONDS
  if [ "$SANITY" != 0 ]; then
    log "ansible-core ${core}: ansible-test sanity (log: ${venv#"$ROOT"/}/sanity.log)"
    set +e
    ANSIBLE_TEST="$venv/bin/ansible-test" bash "$ROOT/scripts/sanity.sh" >"$venv/sanity.log" 2>&1
    rc=$?
    set -e
    ran="$(grep -c '^Running sanity test "' "$venv/sanity.log" || true)"
    if [ "$rc" -eq 0 ]; then
      sanity="ok (${ran} tests)"
    else
      failed=1
      bad="$(sed -nE 's/^ERROR: Found [0-9]+ ([^ ]+) issue.*/\1/p' "$venv/sanity.log" | sort -u | tr '\n' ' ')"
      sanity="FAIL (${ran} run) ${bad}"
      grep -E '^ERROR' "$venv/sanity.log" | head -n 30 | sed 's/^/  /' >&2 || tail -n 15 "$venv/sanity.log" >&2
    fi
  fi
  t_sanity=$((SECONDS - t0))
  rows+=("$core|$unit|$sanity|$((SECONDS - started)) s ($t_setup+$t_unit+$t_sanity)")
done

echo
printf '%-14s | %-40s | %-28s | %s\n' "ansible-core" "unit (tests/unit)" "sanity" "time (venv+unit+sanity)"
printf '%-14s-+-%-40s-+-%-28s-+-%s\n' "--------------" "----------------------------------------" \
  "----------------------------" "-----------------------"
for row in "${rows[@]}"; do
  IFS='|' read -r c u s t <<<"$row"
  printf '%-14s | %-40s | %-28s | %s\n' "$c" "$u" "$s" "$t"
done
exit "$failed"
