#!/usr/bin/env bash
# `make docs`: the collection's documentation site (HTML) in .cache/docs-site/
# (not committed; open .cache/docs-site/index.html).
#  1. a temporary collection tree (scripts/collection-tree.sh, with roles/);
#  2. antsibull-docs sphinx-init + antsibull-docs collection: one page per
#     module, filter, callback and role entry point, and the indexes;
#  3. a generated "Playbooks" page: every playbooks/*.yml with its header
#     comment (playbooks are not plugins: antsibull-docs does not see them);
#  4. sphinx-build to HTML; a warning fails the build, except links into
#     ansible-core's docs (no intersphinx offline).
# The Sphinx theme is installed on demand into .venv, pinned below (Sphinx
# itself comes with antsibull-docs from requirements.txt), so `make test`
# does not install it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="${ROOT}/.venv/bin:${PATH}"
export ANSIBLE_CONFIG="${ROOT}/ansible.cfg"
OUT="${ROOT}/.cache/docs-site"
# The versions sphinx-init's requirements.txt asks for (antsibull-docs 2.28).
THEME_PACKAGES=(sphinx-ansible-theme==0.10.4 ansible-pygments==0.1.2)

log() { printf '[docs-site] %s\n' "$*"; }

if ! python -c 'import sphinx_ansible_theme, ansible_pygments' 2>/dev/null; then
  log "installing ${THEME_PACKAGES[*]} into .venv"
  pip install --quiet "${THEME_PACKAGES[@]}"
fi

tmp="$(mktemp -d /tmp/alicia-docs-site.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
bash "$ROOT/scripts/collection-tree.sh" "$tmp/collections" roles >/dev/null
export ANSIBLE_COLLECTIONS_PATH="$tmp/collections"

site="$tmp/site"
mkdir -m 700 "$site"  # antsibull-docs wants it writable by its owner only
log "antsibull-docs sphinx-init"
antsibull-docs sphinx-init --use-current --fail-on-error --no-add-antsibull-docs-version \
  --project alicia.platform --title "alicia.platform" --copyright "Alicia platform engineers" \
  --dest-dir "$site" alicia.platform >/dev/null
# No intersphinx: the build runs offline.
printf '\nintersphinx_mapping = {}\n' >>"$site/conf.py"
mkdir -m 700 -p "$site/rst"
log "antsibull-docs collection"
antsibull-docs --config-file "$site/antsibull-docs.cfg" collection --fail-on-error --use-current \
  --no-add-antsibull-docs-version --dest-dir "$site/rst" alicia.platform >/dev/null

log "playbooks page"
python - "$ROOT/playbooks" "$site/rst/playbooks.rst" <<'PY'
import sys
from pathlib import Path

source, target = Path(sys.argv[1]), Path(sys.argv[2])
lines = [".. _alicia_platform_playbooks:", "", "Playbooks", "=========", "",
         "The playbooks of ``playbooks/`` (run from a checkout:"
         " ``ansible-playbook playbooks/<name>.yml -i inventories/<env>``),"
         " each with its header comment.", ""]
for path in sorted(source.glob("*.yml")):
    header = []
    for line in path.read_text().splitlines():
        if line.strip() == "---" and not header:
            continue
        if not line.startswith("#"):
            break
        header.append(line[1:][1:] if line.startswith("# ") else line[1:])
    title = f"playbooks/{path.name}"
    lines += [f".. _alicia_platform_playbook_{path.stem}:", "", title, "-" * len(title), ""]
    if any(h.strip() for h in header):
        lines += [".. code-block:: text", ""] + [f"  {h}".rstrip() for h in header] + [""]
    else:
        lines += ["(no header comment)", ""]
target.write_text("\n".join(lines) + "\n")
PY
printf '\n.. toctree::\n   :maxdepth: 1\n   :caption: Playbooks:\n\n   playbooks\n' >>"$site/rst/index.rst"

log "sphinx-build"
rm -rf "$OUT"
# Links into ansible-core's own docs (ansible.builtin modules, the docsite's
# reference pages) and other collections' (community.docker) have no target offline (no intersphinx): tolerated and
# counted. Any other warning fails the build; a failed syntax highlight of an
# example is printed (the example still shows, unhighlighted).
sphinx-build -q -b html --keep-going -w "$tmp/warnings.log" -c "$site" "$site/rst" "$OUT" 2>/dev/null
external="undefined label: '(ansible_collections\.(ansible|community)\.|[a-z_]+_(plugins|return_values|settings)')|reference target not found: ANSIBLE_"
highlight="misc\.highlighting_failure"
grep -E "$highlight" "$tmp/warnings.log" | sed "s|$site/rst/||; s/^/[docs-site] highlight: /" || true
if other="$(grep -E 'WARNING|ERROR' "$tmp/warnings.log" | grep -Ev "$external|$highlight")"; then
  log "sphinx-build warnings:"; sed "s|$site/rst/||" <<<"$other"; exit 1
fi
log "$(grep -cE "$external" "$tmp/warnings.log" || true) links into ansible-core's and other collections' docs left unresolved (offline)"
for page in collections/alicia/platform/health_gate_module.html \
            collections/alicia/platform/catalogue_resolve_filter.html \
            collections/alicia/platform/deploy_report_callback.html \
            collections/alicia/platform/module_count_callback.html \
            collections/alicia/platform/service_role.html playbooks.html; do
  [ -f "$OUT/$page" ] || { log "missing page $page"; exit 1; }
done
log "HTML in ${OUT#"$ROOT"/}/index.html ($(find "$OUT" -name '*.html' | wc -l) pages)"
