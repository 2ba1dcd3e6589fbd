# -*- coding: utf-8 -*-
"""The phases as data: site.yml runs the phase play (playbooks/phase.yml)
once per entry of catalogue_phases, in its order, with the phase's tags;
each play targets the group module_utils says (phase_group); a phase that
failed on one host stops the run before the next phase on every host,
unless alicia_partial_rollout.

The stop is run by ansible-playbook against hosts that point at 127.0.0.1
port 9 over SSH, where nothing listens: the phase play's own tasks
(set_fact, fail, the skipped include) run on the controller only, so a
task that touched a host would come back UNREACHABLE.
"""

import glob
import os
import re

import pytest
import yaml

from ansible_collections.alicia.platform.plugins.module_utils import _catalogue_hosts as hosts


def load(root, *path):
    with open(os.path.join(root, *path)) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def phases(root):
    return load(root, "roles", "catalogue", "defaults", "main.yml")["catalogue_phases"]


def phase_tags(phases):
    return [[name, "phase%d" % number] for number, name in enumerate(phases, 1)]


def test_site_imports_the_phase_play_once_per_phase_in_catalogue_order(root, phases):
    site = load(root, "playbooks", "site.yml")
    imports = [entry for entry in site if entry.get("ansible.builtin.import_playbook") == "phase.yml"]
    assert [(e["name"], e["vars"], e["tags"]) for e in imports] == [
        ("Phase %d | %s" % (number, name), {"alicia_phase": name, "alicia_phase_number": number}, tags)
        for (number, name), tags in zip(enumerate(phases, 1), phase_tags(phases))]
    # The phases are the last steps but the converge shortcut's record, and the plan runs under any phase's tag.
    assert site[-len(phases) - 1:-1] == imports
    assert site[-1] == {"name": "Converged record", "ansible.builtin.import_playbook": "converged_record.yml",
                        "tags": ["always"]}
    [plan] = [entry for entry in site if entry.get("ansible.builtin.import_playbook") == "plan.yml"]
    assert plan["tags"] == [tag for tags in phase_tags(phases) for tag in tags]


def test_each_phase_has_a_one_import_entry_and_no_copy(root, phases):
    entries = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "playbooks", "phase_*.yml")))
    assert entries == sorted("phase_%s.yml" % name for name in phases)
    for number, name in enumerate(phases, 1):
        assert load(root, "playbooks", "phase_%s.yml" % name) == [{
            "name": "Phase %d | %s" % (number, name), "ansible.builtin.import_playbook": "phase.yml",
            "vars": {"alicia_phase": name, "alicia_phase_number": number}}]
    assert not glob.glob(os.path.join(root, "roles", "phase_*"))


def test_each_phase_play_targets_the_phase_group_and_tags_select_one_phase(root, phases, run_playbook):
    """--list-hosts and --list-tasks of site.yml on the prod inventory, through ansible-playbook."""
    proc = run_playbook(["playbooks/site.yml", "-i", "inventories/prod", "--list-hosts"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plays = re.findall(r"play #\d+ \(([^)]*)\): Phase (\d+) \| (\S+)", proc.stdout)
    assert plays == [(hosts.phase_group(name), str(number), name) for number, name in enumerate(phases, 1)]
    inventory = load(root, "inventories", "prod", "hosts.yml")
    services = inventory["all"]["children"]["alicia"]["children"]["alicia_services"]["children"]
    assert sorted(services) == sorted(hosts.phase_group(name) for name in phases)

    proc = run_playbook(["playbooks/site.yml", "-i", "inventories/prod", "--list-tasks", "--tags", "core"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    blocks = re.split(r"\n\s*play #\d+ ", proc.stdout)
    with_tasks = [b.split(":", 1)[1].split("\t")[0].strip() for b in blocks[1:] if re.search(r"tasks:\n\s+\S", b)]
    # The converge shortcut's two plays run under any tags, and do nothing but under none (converged.yml).
    assert with_tasks == ["Preflight | validate the catalogue, the inventory and the role inputs on the controller",
                          "Converged | each host against the state its last full converge recorded",
                          "Plan | what each phase would change on each host", "Phase 1 | core",
                          "Converged | record the state this full run left on each host"]


INVENTORY = {
    "all": {
        "vars": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
                 "ansible_user": "nobody", "ansible_ssh_common_args": "-o ConnectTimeout=2",
                 # The platform plan's verdict: nothing to deploy (the service role is not run)...
                 "service_plan": {"phases": [], "services": []}},
        "children": {
            # ...but on app1 a plan the phase's include cannot read: the include task fails there.
            "alicia_core": {"hosts": {"app1": {"service_plan": "broken"}, "app2": None}},
            "alicia_voice": {"hosts": {"app3": None}},
        },
    },
}

PLAYBOOK = """
- name: Phase 1 | core
  ansible.builtin.import_playbook: {root}/playbooks/phase.yml
  vars: {{alicia_phase: core, alicia_phase_number: 1}}

- name: Phase 3 | voice
  ansible.builtin.import_playbook: {root}/playbooks/phase.yml
  vars: {{alicia_phase: voice, alicia_phase_number: 3}}

- name: After the phases
  hosts: all
  gather_facts: false
  tasks:
    - name: After the phases | reached
      ansible.builtin.debug:
        msg: "reached on {{{{ inventory_hostname }}}}"
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, root, start_playbook):
    directory = tmp_path_factory.mktemp("phases")
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    playbook = directory / "phases.yml"
    playbook.write_text(PLAYBOOK.format(root=root))
    args = ["-i", str(inventory), str(playbook)]
    started = {"stop": start_playbook(args, ANSIBLE_CALLBACK_RESULT_FORMAT="json"),
               "partial": start_playbook(args + ["-e", "alicia_partial_rollout=true"],
                                         ANSIBLE_CALLBACK_RESULT_FORMAT="json")}
    return dict((name, proc.wait_result()) for name, proc in started.items())


def recap(text):
    return dict((host, dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line)))
                for host, line in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", text, re.M))


def test_a_phase_failed_on_one_host_stops_the_run_before_the_next_phase_on_every_host(runs):
    proc = runs["stop"]
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    # app1 failed core, its failure recorded and named; app2 passed core.
    assert "phase core failed on app1: " in text
    stop = text[text.index("TASK [Phase 3 | voice | stop here when an earlier phase failed on any host]"):]
    assert "fatal: [app3]" in stop and "Stopping before phase voice on every host: phase core failed on app1: " in stop
    assert "Set alicia_partial_rollout=true" in stop
    assert "phase core failed on app2" not in text
    # Nothing of the voice phase ran on app3, nothing after it anywhere.
    assert "TASK [Phase 3 | voice | this host enters the phase]" not in text
    assert "After the phases | reached" not in text
    counts = recap(text)
    assert counts["app1"]["failed"] == 1 and counts["app1"]["rescued"] == 1
    assert counts["app2"]["failed"] == 0 and counts["app3"]["failed"] == 1
    assert all(c["unreachable"] == 0 for c in counts.values()), counts


def test_with_a_partial_rollout_the_hosts_that_did_not_fail_go_on(runs):
    proc = runs["partial"]
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text  # app1 still failed
    assert "phase core failed on app1: " in text and "Stopping before phase" not in text
    assert "TASK [Phase 3 | voice | this host passed the phase]" in text
    reached = re.findall(r"reached on (\w+)", text)
    assert sorted(set(reached)) == ["app2", "app3"], reached
    counts = recap(text)
    assert counts["app1"]["failed"] == 1
    assert counts["app2"]["failed"] == counts["app3"]["failed"] == 0
    assert all(c["unreachable"] == 0 for c in counts.values()), counts
