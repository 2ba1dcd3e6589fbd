# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: module_count
type: aggregate
short_description: Count module executions per host, per role and per task
version_added: 0.1.0
description:
  - Counts, per host, the module executions of a playbook run, and splits
    them per role and per task. Each module execution costs a fixed time on
    a target (AnsiballZ transfer and start-up), so the count is a
    deterministic stand-in for the wall time of a run that tests can hold
    to a budget.
  - A task result that is not skipped counts 1. For a task with a loop, every
    loop item result that is not skipped counts 1 and the loop's final
    (parent) result does not count. Skipped results count 0, and so does
    fact gathering that does not happen (C(gathering = smart) with cached
    facts).
  - Failed and unreachable results count (ignored or not). Every retry of a
    task with C(until) counts 1 too (each attempt runs the action again); a
    host's C(retries) figure tells how many of its executions were retries.
    The status polls of C(async) tasks do not count.
  - Fact gathering (C(setup), C(gather_facts), the implicit C(Gathering Facts)
    task) and handlers count. Results of delegated tasks count for the
    inventory host the task ran for, not the delegate; a C(run_once) task
    counts once, for the host it ran on.
  - Actions that run on the controller only count 0 whether they are written
    short, C(ansible.builtin.*) or C(ansible.legacy.*) (the task's resolved
    action is used when known). They are listed in the module-level constant
    C(CONTROLLER_ONLY_ACTIONS) - C(add_host), C(assert), C(debug),
    C(end_host), C(end_play), C(fail), C(group_by), C(import_playbook),
    C(import_role), C(import_tasks), C(include_role), C(include_tasks),
    C(include_vars), C(meta), C(noop), C(pause), C(set_fact), C(set_stats),
    C(validate_argument_spec). Actions of other collections always count.
  - A task counts once even when its action plugin runs several modules
    (C(template) and C(copy) run C(stat) first, for instance), and a failed
    task counts even when it failed before its module ran.
  - >-
    Roles are named without their collection (C(alicia.platform.broker) is
    C(broker)); tasks outside roles are counted under the role name
    "(play)". Tasks are keyed C(<role> : <task name>), the action name
    standing in for a task without a name.
  - >-
    At the end of the run prints one line per host (executions, top roles)
    and, when O(output_file) is set, writes the counts as JSON, replacing the
    file:
    C({"hosts": {<host>: {"total": n, "retries": n, "roles": {<role>: n},
    "tasks": {"<role> : <task name>": n}}}, "ansible_version": "2.19.x"}).
    Every host of the run's stats is listed, with 0 when nothing ran on it.
    The playbooks of one C(ansible-playbook) command are counted together.
author:
  - Alicia platform engineers (@alicia-platform)
requirements:
  - enabled in C(callbacks_enabled) (ansible.cfg C([defaults]) or
    E(ANSIBLE_CALLBACKS_ENABLED)); keep the callbacks already enabled there,
    for example C(ansible.posix.profile_tasks,alicia.platform.module_count).
options:
  output_file:
    description:
      - Path of the JSON report written at the end of the run; overwritten by
        every run, parent directories are created. No file when unset.
    type: path
    env:
      - name: ALICIA_MODULE_COUNT_FILE
    ini:
      - section: callback_module_count
        key: output_file
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = ansible.posix.profile_tasks, alicia.platform.module_count
# [callback_module_count]
# output_file = .cache/module_count.json

# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,alicia.platform.module_count \
# ALICIA_MODULE_COUNT_FILE=.cache/module_count.json \
#   ansible-playbook playbooks/site.yml -i inventories/lab
"""

import json
import os
import tempfile

from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible_collections.alicia.platform.plugins.plugin_utils._results import result_host, result_task

# Actions that never execute a module on a target: they run in the
# controller's process (or only steer the play). Short names; the
# ansible.builtin. and ansible.legacy. forms are the same actions.
CONTROLLER_ONLY_ACTIONS = frozenset((
    "add_host",
    "assert",
    "debug",
    "end_host",
    "end_play",
    "fail",
    "group_by",
    "import_playbook",
    "import_role",
    "import_tasks",
    "include_role",
    "include_tasks",
    "include_vars",
    "meta",
    "noop",
    "pause",
    "set_fact",
    "set_stats",
    "validate_argument_spec",
))

PLAY_LABEL = "(play)"
TOP_ROLES = 3
_NAMESPACES = ("ansible.builtin.", "ansible.legacy.")


def short_action(action):
    """'ansible.builtin.set_fact' and 'ansible.legacy.set_fact' -> 'set_fact'; other names unchanged."""
    action = str(action or "")
    for prefix in _NAMESPACES:
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


def task_action(task):
    """The task's resolved action (FQCN) when known, else the action as written."""
    resolved = getattr(task, "resolved_action", None)
    return resolved or getattr(task, "action", None) or ""


def is_controller_only(action):
    """True for the actions of CONTROLLER_ONLY_ACTIONS, in any of their spellings."""
    return short_action(action) in CONTROLLER_ONLY_ACTIONS


def has_loop(task):
    return bool(getattr(task, "loop", None) or getattr(task, "loop_with", None))


def role_label(task):
    """The role of a task without its collection prefix, PLAY_LABEL outside roles."""
    role = getattr(task, "_role", None)
    if role is None:
        return PLAY_LABEL
    return role.get_name(include_role_fqcn=False)


def task_key(task):
    """'<role> : <task name>', the action standing in for a missing name (never its arguments)."""
    name = getattr(task, "name", None) or short_action(task_action(task)) or "(unnamed)"
    return "%s : %s" % (role_label(task), name)


class ModuleCounts(object):
    """Module executions per host, role and task."""

    def __init__(self):
        self.hosts = {}

    def host(self, name):
        return self.hosts.setdefault(name, {"total": 0, "retries": 0, "roles": {}, "tasks": {}})

    def add(self, host, role, key, retry=False):
        entry = self.host(host)
        entry["total"] += 1
        if retry:
            entry["retries"] += 1
        entry["roles"][role] = entry["roles"].get(role, 0) + 1
        entry["tasks"][key] = entry["tasks"].get(key, 0) + 1

    def add_task(self, host, task, retry=False):
        """Count one execution of ``task`` for ``host`` unless the action is controller-only."""
        self.host(host)
        if is_controller_only(task_action(task)):
            return False
        self.add(host, role_label(task), task_key(task), retry=retry)
        return True

    def report(self):
        hosts = {}
        for name in sorted(self.hosts):
            entry = self.hosts[name]
            hosts[name] = {"total": entry["total"], "retries": entry["retries"],
                           "roles": dict(sorted(entry["roles"].items())),
                           "tasks": dict(sorted(entry["tasks"].items()))}
        return {"hosts": hosts, "ansible_version": ANSIBLE_VERSION}


def top(counts, limit=TOP_ROLES):
    """The ``limit`` largest entries of {name: n}, largest first, then by name."""
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]


def table(report, limit=TOP_ROLES):
    """Lines of the summary table of a report()."""
    hosts = report["hosts"]
    width = max([len("host")] + [len(name) for name in hosts])
    lines = ["%-*s %10s  %s" % (width, "host", "executions", "top roles")]
    for name, entry in hosts.items():
        roles = ", ".join("%s %d" % pair for pair in top(entry["roles"], limit)) or "-"
        lines.append("%-*s %10d  %s" % (width, name, entry["total"], roles))
    return lines


def write_report(path, report):
    """Write the report as JSON to ``path``, replacing the file atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    handle, tmp = tempfile.mkstemp(prefix=".module_count.", dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(report, stream, indent=2)
            stream.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CallbackModule(CallbackBase):
    """Counts module executions; see DOCUMENTATION."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "alicia.platform.module_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.counts = ModuleCounts()

    # -- one result ---------------------------------------------------------

    def _count(self, result, retry=False):
        self.counts.add_task(result_host(result), result_task(result), retry=retry)

    def _count_task_result(self, result):
        """A task's own result: the parent result of a loop counts 0 (its items were counted)."""
        if has_loop(result_task(result)):
            self._seen(result)
            return
        self._count(result)

    def _seen(self, result):
        self.counts.host(result_host(result))

    def v2_runner_on_ok(self, result):
        self._count_task_result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count_task_result(result)

    def v2_runner_on_unreachable(self, result):
        self._count_task_result(result)

    def v2_runner_on_skipped(self, result):
        self._seen(result)

    def v2_runner_item_on_ok(self, result):
        self._count(result)

    def v2_runner_item_on_failed(self, result):
        self._count(result)

    def v2_runner_item_on_skipped(self, result):
        self._seen(result)

    def v2_runner_retry(self, result):
        self._count(result, retry=True)

    # -- the end ------------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        for name in getattr(stats, "processed", {}) or {}:
            self.counts.host(name)
        report = self.counts.report()
        self._display.banner("MODULE EXECUTIONS")
        for line in table(report):
            self._display.display(line)
        path = self.get_option("output_file")
        if path:
            write_report(path, report)
            self._display.display("module executions written to %s" % path)
