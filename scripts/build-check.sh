#!/usr/bin/env bash
# Build the collection tarball, install it into a fresh collections path and
# prove it works from there: the installed plugins are listed by ansible-doc
# and a playbook resolves alicia.platform from the tarball, not the checkout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/.venv/bin"
work=$(mktemp -d /tmp/alicia-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

cd "$ROOT"
"$BIN/ansible-galaxy" collection build --force --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/alicia-platform-*.tar.gz)
echo "[build] built $(basename "$tarball")"

# Nothing from tests, Molecule, CI or the lab may ship.
if tar -tzf "$tarball" | grep -E '^(molecule|tests|inventories/lab|\.ci|\.collections|\.config|\.lab|\.cache|scripts|benchmarks)/|\.venv/|/vault\.yml$|plugin-cache'; then
  echo "[build] the tarball ships files that build_ignore should keep out" >&2
  exit 1
fi
listing=$(tar -tzf "$tarball")
# ... and everything a user needs: the example inventories, the changelog,
# the licence, the docs, the EE definition.
for wanted in inventories/prod/hosts.yml inventories/staging/hosts.yml \
  inventories/prod/group_vars/all/vault.yml.example CHANGELOG.md changelogs/changelog.yaml LICENSE \
  README.md docs/catalogue.md meta/runtime.yml meta/execution-environment.yml playbooks/site.yml; do
  grep -qx -- "$wanted" <<<"$listing" || { echo "[build] the tarball lacks $wanted" >&2; exit 1; }
done

# From outside the checkout, with no ansible.cfg, so that only the installed
# copy can be found. Dependencies come from the ansible package, never Galaxy.
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
printf "[defaults]\n" > "$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg"
cd "$work"
"$BIN/ansible-galaxy" collection install --no-deps --force -p "$work/collections" "$tarball" >/dev/null
installed="$work/collections/ansible_collections/alicia/platform"
test -f "$installed/MANIFEST.json"
echo "[build] installed into $work/collections"
listed=$("$BIN/ansible-doc" -l alicia.platform 2>/dev/null | awk '{print $1}')
echo "$listed" | sed 's/^/[build] ansible-doc lists /'
for plugin in alicia.platform.health_gate alicia.platform.mqtt_check; do
  echo "$listed" | grep -qx "$plugin" || { echo "[build] $plugin is not listed" >&2; exit 1; }
done
filters=$("$BIN/ansible-doc" -t filter -l alicia.platform 2>/dev/null | awk '{print $1}')
echo "$filters" | grep -qx alicia.platform.catalogue_resolve || { echo "[build] filters not listed" >&2; exit 1; }

cat > "$work/probe.yml" <<'YAML'
- name: Probe the installed collection
  hosts: localhost
  gather_facts: false
  roles:
    - role: alicia.platform.catalogue
  tasks:
    - name: The catalogue resolves from the installed collection
      ansible.builtin.assert:
        that:
          - catalogue_resolved | length == 23
          - (catalogue_resolved | alicia.platform.catalogue_order | first) == 'mqtt_broker'
YAML
"$BIN/ansible-playbook" -i localhost, -c local "$work/probe.yml" >/dev/null
echo "[build] a playbook using the installed collection passed"

# The playbooks by their FQCN names, against the example inventory that ships.
"$BIN/ansible-playbook" alicia.platform.site -i "$installed/inventories/prod" --syntax-check >/dev/null
hosts=$("$BIN/ansible-playbook" alicia.platform.site -i "$installed/inventories/prod" --list-hosts)
grep -q 'core1.prod.example.com' <<<"$hosts" || { echo "[build] alicia.platform.site lists no prod host" >&2; exit 1; }
echo "[build] alicia.platform.site parses and targets the shipped prod inventory's hosts"

# Execution environment: the installed collection's meta/execution-environment.yml
# is what ansible-builder reads for its dependencies, and the example EE
# definition (docs/execution-environment) produces a build context. Building
# the image itself needs a container registry for the base image: not here.
deps=$("$BIN/ansible-builder" introspect "$work/collections")
for dep in 'paho-mqtt' 'openssh-client '; do
  grep -q -- "$dep" <<<"$deps" || { echo "[build] ansible-builder introspect does not see $dep" >&2; echo "$deps" >&2; exit 1; }
done
cp -r "$ROOT/docs/execution-environment" "$work/ee"
cp "$tarball" "$work/ee/alicia-platform.tar.gz"
(cd "$work/ee" && "$BIN/ansible-builder" create -f execution-environment.yml -c context >/dev/null)
grep -q 'ansible-galaxy collection install' "$work/ee/context/Dockerfile" \
  && test -f "$work/ee/context/_build/collections/alicia-platform.tar.gz" \
  || { echo "[build] ansible-builder create made no usable build context" >&2; exit 1; }
echo "[build] the execution environment definition validates (ansible-builder create)"
