#!/usr/bin/env bash
# The collection's documentation, as users and the Ansible docsite read it,
# from a temporary collection tree (scripts/collection-tree.sh, with roles/):
#  1. antsibull-docs lint-collection-docs --plugin-docs: every plugin's and
#     role's docs against the docsite schema, markup and references
#     (M(), R(), O(), P(): each must point at something that exists);
#  2. ansible-doc renders every module, filter, callback and role of the
#     collection (one call per type) with no warning or error.
# Run by `make lint`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# antsibull-docs runs ansible-galaxy and ansible-doc: the project's ones.
export PATH="${ROOT}/.venv/bin:${PATH}"
export ANSIBLE_CONFIG="${ROOT}/ansible.cfg"

log() { printf '[docs-lint] %s\n' "$*"; }

tmp="$(mktemp -d /tmp/alicia-docs-lint.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
dest="$(bash "$ROOT/scripts/collection-tree.sh" "$tmp" roles)"
export ANSIBLE_COLLECTIONS_PATH="$tmp"

log "antsibull-docs lint-collection-docs --plugin-docs"
(cd "$dest" && antsibull-docs lint-collection-docs --plugin-docs .)

failed=0
for type in module filter callback role; do
  names="$(ansible-doc -t "$type" -l alicia.platform --json 2>/dev/null \
    | python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin))))')"
  if [ -z "$names" ]; then
    log "ansible-doc lists no $type of alicia.platform"; failed=1; continue
  fi
  # shellcheck disable=SC2086 # one argument per plugin name
  if ! out="$(ansible-doc -t "$type" $names 2>&1 >/dev/null)"; then
    log "ansible-doc -t $type failed:"; printf '%s\n' "$out"; failed=1; continue
  fi
  problems="$(grep -E '\[(WARNING|ERROR)\]|ERROR!' <<<"$out" || true)"
  if [ -n "$problems" ]; then
    log "ansible-doc -t $type:"; printf '%s\n' "$problems"; failed=1; continue
  fi
  log "ansible-doc renders $(wc -w <<<"$names") ${type}s"
done
exit "$failed"
