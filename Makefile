# alicia.platform: everyday commands. `make deploy` and `make test` do all
# the set-up on a fresh Debian machine (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PY ?= python3
LAB_HOSTS ?= 1
SCENARIO ?= default
MOLECULE_JOBS ?= 2
INVENTORY ?= inventories/lab
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help setup venv engine image deploy lab-up lab-down test lint yamllint ansible-lint content-check docs-lint changelog-lint playbook-check sanity unit unit-then-compat checks-then-unit molecule molecule-all lab-secrets build graph graph-check bench bench-quick bench-rerun compat clean role-readme-check docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## the controller virtualenv in .venv

engine: ## make sure a Docker engine runs (installs docker.io, starts dockerd)
	bash scripts/engine.sh

image: engine ## build the lab/test image when missing (REBUILD=1 to force)
	bash scripts/lab-image.sh

setup: venv image ## virtualenv, engine and image; nothing deployed
	bash scripts/host-tools.sh

lab-up: setup ## start the lab hosts (LAB_HOSTS=1 or 3)
	LAB_HOSTS=$(LAB_HOSTS) bash scripts/lab.sh up

lab-down: ## remove the lab hosts and their network
	bash scripts/lab.sh down

deploy: lab-up ## deploy the platform on the lab hosts
	ansible-playbook playbooks/site.yml -i $(INVENTORY)

test: setup ## everything CI runs
	@# The static checks, the unit tests, then compat (pytest on two other
	@# ansible-core versions, CPU), beside the Molecule scenarios (mostly
	@# waiting on containers), which are the longest lane. Any failure fails
	@# the target (make finishes the other lane first).
	$(MAKE) --no-print-directory -j2 checks-then-unit molecule-all

checks-then-unit: venv
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory playbook-check
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory unit-then-compat

unit-then-compat: venv
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory compat
	@# A smoke pass of the benchmarks (printed, never asserted: issue 17).
	$(MAKE) --no-print-directory bench-quick

lint: yamllint ansible-lint graph-check content-check docs-lint changelog-lint role-readme-check ## yamllint, ansible-lint (production profile), graph freshness, README's content table, docs lint, changelog fragments

# README.md's "Included content" table lists every module, filter, callback,
# role and playbook: fails naming what is missing or extra.
content-check: venv
	$(BIN)/python scripts/content-check.py

# antsibull-docs lint-collection-docs on a temporary collection tree, and
# ansible-doc renders every module, filter, callback and role.
docs-lint: venv
	bash scripts/docs-lint.sh

# Every role's README.md mentions every option of its meta/argument_specs.yml
# (a generated variables table: scripts/role-readme-check.py --write) and no
# undeclared <role>_ variable: fails naming the role and the variable.
role-readme-check: venv
	$(BIN)/python scripts/role-readme-check.py

# antsibull-changelog: changelogs/config.yaml, changelog.yaml and every
# fragment in changelogs/fragments (one per change) are well-formed.
changelog-lint: venv
	$(BIN)/antsibull-changelog lint

yamllint: venv
	yamllint --strict .

ansible-lint: venv
	ansible-lint --offline

playbook-check: venv ## site.yml parses and targets the right hosts in every inventory
	for inv in prod staging; do \
	  ansible-playbook playbooks/site.yml -i inventories/$$inv --syntax-check >/dev/null; \
	  ansible-playbook playbooks/site.yml -i inventories/$$inv --list-hosts >/dev/null; \
	done; echo "site.yml: syntax and host lists OK for prod and staging"

sanity: venv ## ansible-test sanity on the plugins, from a temporary collection tree
	bash scripts/sanity.sh

unit: venv ## pytest unit tests of the plugins
	bash scripts/unit.sh

compat: venv ## unit tests and sanity on ansible-core 2.17 and 2.18 (venvs in .cache/compat)
	bash scripts/compat.sh

molecule: setup lab-secrets ## one scenario: make molecule SCENARIO=broker
	molecule test -s $(SCENARIO)

# Scenarios run MOLECULE_JOBS at a time, each its own `molecule test` (their
# containers and networks are named after the scenario); secrets are
# generated once, before any of them.
molecule-all: setup lab-secrets ## every scenario (logs in .cache/molecule/)
	MOLECULE_JOBS=$(MOLECULE_JOBS) bash scripts/molecule-all.sh

lab-secrets: venv
	$(BIN)/python scripts/lab-secrets.py .lab/secrets.yml

build: venv ## build the collection tarball and prove it installs and works
	bash scripts/build-check.sh

docs: venv ## HTML docs site in .cache/docs-site/ (antsibull-docs + Sphinx; installs the theme into .venv on first use)
	bash scripts/docs-site.sh

graph-check: venv
	bash scripts/graph.sh --check

graph: venv ## docs/architecture.svg from the live catalogue (Debian's graphviz)
	bash scripts/graph.sh

.PHONY: topology
topology: venv ## docs/topology-{prod,staging}.svg from the inventories (.cache/topology-lab.svg with lab hosts)
	bash scripts/graph.sh --topology

# benchmarks/run.py makes and removes its own lab hosts (scripts/lab.sh);
# timings are printed against their targets, never asserted.
BENCH_RUNS ?= 3
BENCH_PARTS ?=
bench: setup ## every benchmark part, median of BENCH_RUNS (3): table, benchmarks/results/<date>-<host>.json and .png (BENCH_PARTS=a,b)
	$(BIN)/python benchmarks/run.py --runs $(BENCH_RUNS) $(if $(BENCH_PARTS),--parts $(BENCH_PARTS))

bench-quick: setup ## one repetition of the benchmark parts that need no lab host, printed only (about a minute)
	$(BIN)/python benchmarks/run.py --quick

bench-rerun: setup ## site.yml re-run on a new one-host lab: wall time, module executions, changed (run.py --parts rerun)
	$(BIN)/python benchmarks/run.py --runs $(BENCH_RUNS) --parts rerun

clean: lab-down ## remove build outputs and caches (keeps .venv and the image)
	rm -rf .cache .pytest_cache build alicia-platform-*.tar.gz
