# -*- coding: utf-8 -*-
"""The alicia.platform.module_count callback: real ansible-playbook runs on
local hosts, counts read back from its JSON report. Counts only, no timing."""

import json
import sys
import textwrap

import pytest

from ansible.release import __version__ as ANSIBLE_VERSION
from ansible_collections.alicia.platform.plugins.callback import module_count

# Only this callback: the unit tests also run on ansible-core without the
# `ansible` package's collections (scripts/compat.sh), so no profile_tasks.
CALLBACKS = "alicia.platform.module_count"

ROLE_TASKS = """
- name: Stat the root
  ansible.builtin.stat:
    path: /
"""

# Per host: facts 1, probe role 1, command 1, loop 2 of 3 items, handler 1;
# plus the run_once task on the first host. 0 for set_fact, assert, the
# skipped task and debug.
PLAYBOOK = """
- name: Count module executions
  hosts: all
  gather_facts: true
  roles:
    - probe
  tasks:
    - name: Set a fact
      ansible.builtin.set_fact:
        counted: true
    - name: Assert it
      ansible.builtin.assert:
        that: counted
    - name: Run true
      ansible.builtin.command: "true"
      changed_when: true
      notify: Handle it
    - name: Echo items
      ansible.builtin.command: "echo {{ item }}"
      loop: [one, two, three]
      when: item != 'two'
      changed_when: false
    - name: Never runs
      ansible.builtin.command: "false"
      when: false
    - name: Say something
      ansible.builtin.debug:
        msg: hello
    - name: Once for all hosts
      ansible.builtin.command: "true"
      run_once: true
      changed_when: false
  handlers:
    - name: Handle it
      ansible.builtin.command: "true"
      changed_when: false
"""

INCLUDED = """
- name: Included command
  ansible.builtin.command: "true"
  changed_when: false
"""

# The rules beyond the basic playbook, facts off. h3 is unreachable (SSH to a
# closed port): its delegated task still runs (on the controller) and counts
# for h3; the next task fails unreachable and counts, then h3 is out.
RULES_PLAYBOOK = """
- name: Counting rules
  hosts: all
  gather_facts: false
  tasks:
    - name: Delegated to the controller
      ansible.builtin.command: "true"
      delegate_to: localhost
      changed_when: false
    - name: Fails, ignored
      ansible.builtin.command: "false"
      ignore_errors: true
    - name: Three attempts
      ansible.builtin.command: "true"
      register: attempt
      until: attempt.attempts >= 3
      retries: 3
      delay: 0
      changed_when: false
    - name: Include tasks
      ansible.builtin.include_tasks: included.yml
    - name: Include a role
      ansible.builtin.include_role:
        name: probe
    - name: Facts in a loop
      ansible.builtin.set_fact:
        "fact_{{ item }}": 1
      loop: [a, b]
    - name: Empty loop
      ansible.builtin.command: "true"
      loop: []
    - name: Loop with a failing item
      ansible.builtin.command: "{{ item }}"
      loop: ["true", "false"]
      ignore_errors: true
      changed_when: false
    - name: Short action name
      command: "true"
      changed_when: false
    - name: Legacy debug
      ansible.legacy.debug:
        msg: hello
    - name: Short fail, skipped
      fail:
        msg: never
      when: false
    - name: Meta
      ansible.builtin.meta: noop
    - ansible.builtin.command: "true"
      changed_when: false
"""


@pytest.fixture
def project(tmp_path):
    """A temporary role path with role `probe`, and the playbooks."""
    tasks = tmp_path / "roles" / "probe" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(ROLE_TASKS)
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "rules.yml").write_text(RULES_PLAYBOOK)
    (tmp_path / "included.yml").write_text(INCLUDED)
    return tmp_path


@pytest.fixture
def count_run(project, run_playbook):
    """count_run(playbook, inventory, local=True, report=True, rc=0, **env) -> (proc, report or None)."""

    def _run(playbook, inventory, local=True, report=True, rc=0, **env):
        out = project / "reports" / "count.json"
        settings = {
            "ANSIBLE_ROLES_PATH": str(project / "roles"),
            "ANSIBLE_CALLBACKS_ENABLED": CALLBACKS,
            # Facts from no cache: gathering (smart in ansible.cfg) always runs.
            "ANSIBLE_GATHERING": "implicit",
            "ANSIBLE_CACHE_PLUGIN": "memory",
        }
        if report:
            settings["ALICIA_MODULE_COUNT_FILE"] = str(out)
        settings.update(env)
        args = ["-i", inventory, str(project / playbook)] + (["-c", "local"] if local else [])
        proc = run_playbook(args, python=sys.executable, **settings)
        assert proc.returncode == rc, proc.stdout + proc.stderr
        data = json.loads(out.read_text()) if report else None
        return proc, data
    return _run


def test_counts_per_host_per_role_and_task(count_run):
    proc, report = count_run("site.yml", "h1,h2,")
    assert report["ansible_version"] == ANSIBLE_VERSION
    assert sorted(report["hosts"]) == ["h1", "h2"]
    h1, h2 = report["hosts"]["h1"], report["hosts"]["h2"]
    assert h1["total"] == 7
    assert h2["total"] == 6
    assert h1["roles"] == {"(play)": 6, "probe": 1}
    assert h2["roles"] == {"(play)": 5, "probe": 1}
    assert h1["tasks"] == {
        "(play) : Gathering Facts": 1,
        "probe : Stat the root": 1,
        "(play) : Run true": 1,
        "(play) : Echo items": 2,
        "(play) : Once for all hosts": 1,
        "(play) : Handle it": 1,
    }
    assert h2["tasks"] == dict((key, n) for key, n in h1["tasks"].items() if key != "(play) : Once for all hosts")
    assert h1["retries"] == h2["retries"] == 0
    # the summary table
    lines = proc.stdout[proc.stdout.index("MODULE EXECUTIONS"):].splitlines()
    assert lines[1].split() == ["host", "executions", "top", "roles"]
    assert lines[2].split() == ["h1", "7", "(play)", "6,", "probe", "1"]
    assert lines[3].split() == ["h2", "6", "(play)", "5,", "probe", "1"]


def test_counting_rules(count_run, project, refused_port):
    inventory = project / "hosts.ini"
    inventory.write_text(textwrap.dedent("""\
        h1 ansible_connection=local
        h2 ansible_connection=local
        h3 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_ssh_common_args='-o ConnectTimeout=5'
        """ % refused_port))
    proc, report = count_run("rules.yml", str(inventory), local=False, rc=4)  # 4: a host was unreachable
    assert "unreachable=1" in proc.stdout
    hosts = report["hosts"]
    # the delegate (localhost) is no host of the report
    assert sorted(hosts) == ["h1", "h2", "h3"]
    expected = {
        "(play) : Delegated to the controller": 1,
        "(play) : Fails, ignored": 1,
        "(play) : Three attempts": 3,  # two retries and the last attempt
        "(play) : Included command": 1,
        "probe : Stat the root": 1,
        "(play) : Loop with a failing item": 2,
        "(play) : Short action name": 1,
        "(play) : command": 1,  # a task without a name: its action
    }
    for name in ("h1", "h2"):
        assert hosts[name]["tasks"] == expected
        assert hosts[name]["total"] == 11
        assert hosts[name]["retries"] == 2
        assert hosts[name]["roles"] == {"(play)": 10, "probe": 1}
    assert hosts["h3"] == {"total": 2, "retries": 0, "roles": {"(play)": 2},
                           "tasks": {"(play) : Delegated to the controller": 1, "(play) : Fails, ignored": 1}}


def test_report_is_replaced_and_ini_option(count_run, project, root):
    """The file named in an ansible.cfg [callback_module_count] section is replaced, not merged."""
    out = project / "reports" / "count.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"hosts": {"stale": {"total": 99}}, "ansible_version": "0"}))
    config = project / "ansible.cfg"
    config.write_text(textwrap.dedent("""\
        [defaults]
        collections_path = %s/.collections
        [callback_module_count]
        output_file = %s
        """ % (root, out)))
    proc, _report = count_run("site.yml", "h9,", report=False, ANSIBLE_CONFIG=str(config))
    report = json.loads(out.read_text())
    assert sorted(report["hosts"]) == ["h9"]
    assert report["hosts"]["h9"]["total"] == 7
    assert report["ansible_version"] == ANSIBLE_VERSION
    assert "module executions written to %s" % out in proc.stdout


def test_no_file_without_the_option(count_run, project):
    proc, _report = count_run("site.yml", "h1,", report=False)
    assert not (project / "reports").exists()
    table = proc.stdout[proc.stdout.index("MODULE EXECUTIONS"):].splitlines()
    assert table[2].split() == ["h1", "7", "(play)", "6,", "probe", "1"]


# ---------------------------------------------------------------------------
# the plain functions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact",
                                    "ansible.builtin.include_role", "debug", "ansible.builtin.meta",
                                    "ansible.builtin.validate_argument_spec", "ansible.builtin.pause"])
def test_controller_only_actions(action):
    assert module_count.is_controller_only(action)


@pytest.mark.parametrize("action", ["ansible.builtin.command", "command", "ansible.legacy.setup",
                                    "ansible.builtin.gather_facts", "alicia.platform.health_gate",
                                    "community.general.debug", "ansible.builtin.stat", ""])
def test_module_actions(action):
    assert not module_count.is_controller_only(action)


def test_the_constant_holds_the_documented_actions():
    for name in ("set_fact", "assert", "debug", "fail", "meta", "include_tasks", "import_tasks", "include_role",
                 "import_role", "include_vars", "add_host", "group_by", "set_stats", "validate_argument_spec",
                 "pause", "end_play", "end_host", "noop"):
        assert name in module_count.CONTROLLER_ONLY_ACTIONS
        assert "C(%s)" % name in module_count.DOCUMENTATION


def test_counts_and_table():
    counts = module_count.ModuleCounts()
    for _ in range(3):
        counts.add("web", "broker", "broker : Install")
    counts.add("web", "(play)", "(play) : Gathering Facts")
    counts.add("web", "baseline", "baseline : Users", retry=True)
    counts.add("web", "zeta", "zeta : Last")
    counts.host("idle")
    report = counts.report()
    assert report["hosts"]["web"]["total"] == 6 and report["hosts"]["web"]["retries"] == 1
    assert report["hosts"]["idle"] == {"total": 0, "retries": 0, "roles": {}, "tasks": {}}
    assert module_count.top(report["hosts"]["web"]["roles"]) == [("broker", 3), ("(play)", 1), ("baseline", 1)]
    assert module_count.table(report) == [
        "host executions  top roles",
        "idle          0  -",
        "web           6  broker 3, (play) 1, baseline 1",
    ]
