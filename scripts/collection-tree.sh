#!/usr/bin/env bash
# Build a temporary collection tree <parent>/ansible_collections/alicia/platform
# from the checkout (which is not laid out that way) and print its path.
# Tools that need that layout use it: ansible-test sanity (scripts/sanity.sh)
# and antsibull-docs (scripts/docs-lint.sh).
# Always copied: galaxy.yml, meta/, plugins/, README.md, LICENSE and
# tests/sanity/ (when present); extra top-level paths (roles, docs, ...) on
# request. Caches (__pycache__, *.pyc, .pytest_cache) are left out.
#   scripts/collection-tree.sh <parent> [path ...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
parent="${1:?usage: collection-tree.sh <parent> [path ...]}"
shift
dest="$parent/ansible_collections/alicia/platform"
mkdir -p "$dest"
cp -a "$ROOT/galaxy.yml" "$ROOT/meta" "$ROOT/plugins" "$dest/"
for file in README.md LICENSE; do
  [ -f "$ROOT/$file" ] && cp -a "$ROOT/$file" "$dest/"
done
if [ -d "$ROOT/tests/sanity" ]; then
  mkdir -p "$dest/tests" && cp -a "$ROOT/tests/sanity" "$dest/tests/"
fi
for extra in "$@"; do
  cp -a "$ROOT/$extra" "$dest/"
done
find "$dest" \( -name __pycache__ -o -name '*.pyc' -o -name .pytest_cache \) -prune -exec rm -rf {} +
printf '%s\n' "$dest"
