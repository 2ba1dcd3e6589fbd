#!/usr/bin/env bash
# pytest for the plugins, the modules and the preflight playbook
# (tests/unit), importing ansible_collections.alicia.platform from the
# checkout through .collections. The tests start real servers on 127.0.0.1
# (HTTP, Mosquitto) and need Debian's mosquitto, mosquitto-clients and
# python3-paho-mqtt (paho 1.6, as on lab targets): scripts/host-tools.sh
# installs whatever is missing.
# Runs as root, as the code under test does on hosts: the alicia-servicectl
# and account-probe tests make throwaway system users (useradd, removed at
# the end) and switch to them with the real setpriv; as another user they fail.
# Fails when a test fails and when no test ran (pytest exit 5).
#   scripts/unit.sh                 every unit test
#   scripts/unit.sh -k mqtt -x      extra arguments go to pytest
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ROOT}/.venv/bin/python"
[ -x "$PY" ] || { echo "[unit] no virtualenv: run 'make venv' first" >&2; exit 1; }

if ! [ -x /usr/sbin/mosquitto ] || ! command -v mosquitto_passwd >/dev/null 2>&1 \
   || ! /usr/bin/python3 -c 'import paho.mqtt' >/dev/null 2>&1; then
  bash "$ROOT/scripts/host-tools.sh"
fi

cd "$ROOT"
export PYTHONPATH="${ROOT}/.collections${PYTHONPATH:+:${PYTHONPATH}}"
export ANSIBLE_CONFIG="${ROOT}/ansible.cfg"
mkdir -p "${ROOT}/.cache"
set +e
"$PY" -m pytest -p no:cacheprovider -o "pythonpath=${ROOT}/.collections" --rootdir "$ROOT" \
  --durations=5 tests/unit "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "[unit] no test ran: that is a failure" >&2
  exit 1
fi
exit "$rc"
