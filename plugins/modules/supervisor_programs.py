#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: supervisor_programs
short_description: Reconcile many supervisord programs in one module execution
version_added: 0.1.0
description:
  - Brings the supervisord programs of O(programs) to O(state) with as few C(supervisorctl)
    calls as possible, in B(one) module execution (the service role's runtime C(supervisor)).
  - Reads every program's state with one C(supervisorctl status), then, in this order - one
    C(supervisorctl update) when O(updated) is not empty (it rereads the configuration, adds new
    programs, removes programs whose section went and restarts the programs whose section
    changed); C(stop) and C(remove) of the programs of O(absent) that are still known; one
    C(restart) of the programs of O(restart) that the update did not just restart; one
    C(start) of the programs that do not run (C(STOPPED), C(EXITED), C(FATAL)).
  - Reports every program's state after the calls (from C(supervisorctl status)).
author:
  - Alicia platform engineers (@alicia-platform)
options:
  programs:
    description:
      - The program names (the C([program:NAME]) sections), each once.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(started) starts the programs that do not run; V(stopped) stops those that run;
        V(restarted) restarts every program; V(absent) stops and removes them from supervisord
        (their sections must be gone or going, else the next C(update) adds them again).
    type: str
    choices: [started, stopped, restarted, absent]
    default: started
  updated:
    description:
      - Programs whose section file changed, appeared or went in this run. Not empty - one
        C(supervisorctl update); empty - none (a re-run that changed nothing never rereads).
    type: list
    elements: str
    default: []
  restart:
    description:
      - Programs to restart even when they run, because their own files (environment, release)
        changed. Those in O(updated) are not restarted again.
    type: list
    elements: str
    default: []
  absent:
    description:
      - Programs to stop and remove (for example a service moved to another runtime).
    type: list
    elements: str
    default: []
  supervisorctl:
    description:
      - Path of supervisorctl; found on the C(PATH) when omitted.
    type: path
  config:
    description:
      - supervisord's configuration file (C(supervisorctl -c)); the default one when omitted.
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only C(supervisorctl status) runs. Without supervisorctl (the package not installed yet)
        every program is reported as it would be added and started.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details:
      - The result's C(actions) lists what was (or would be) done per program.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Programs running; exactly the ones whose files changed restarted
  alicia.platform.supervisor_programs:
    programs: [alicia-stt_service, alicia-tts_service]
    updated: [alicia-tts_service]
    restart: [alicia-stt_service]

- name: Stop them
  alicia.platform.supervisor_programs:
    programs: [alicia-stt_service, alicia-tts_service]
    state: stopped
"""

RETURN = r"""
actions:
  description: Per program, what was (or in check mode would be) done.
  returned: always
  type: dict
  sample: {"alicia-tts_service": ["updated"], "alicia-stt_service": ["restarted"]}
commands:
  description: The supervisorctl sub-commands run, in order.
  returned: always
  type: list
  elements: str
  sample: ["status", "update", "status", "restart alicia-stt_service", "status"]
programs:
  description: Per program, its state after the calls (C(ABSENT) when supervisord does not know it).
  returned: always
  type: dict
  sample: {"alicia-stt_service": {"state": "RUNNING", "pid": 4242, "description": "pid 4242, uptime 0:00:03"}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._supervisor import (
    STATES,
    SupervisorError,
    Supervisorctl,
    reconcile,
)


class _Missing(object):
    """supervisorctl is not installed (check mode on a fresh host): nothing known."""

    commands = []

    @staticmethod
    def status():
        return {}

    @staticmethod
    def call(*args, **kwargs):
        raise SupervisorError("supervisorctl is not installed")


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            programs=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=list(STATES), default="started"),
            updated=dict(type="list", elements="str", default=[]),
            restart=dict(type="list", elements="str", default=[]),
            absent=dict(type="list", elements="str", default=[]),
            supervisorctl=dict(type="path"),
            config=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    binary = params["supervisorctl"] or module.get_bin_path("supervisorctl")
    if binary:
        ctl = Supervisorctl(module.run_command, binary, params["config"])
    elif module.check_mode or params["state"] == "absent":
        ctl = _Missing()
    else:
        module.fail_json(msg="supervisor_programs: supervisorctl not found: install the supervisor package")
    try:
        result = reconcile(ctl, params["programs"], state=params["state"], updated=params["updated"],
                           restart=params["restart"], absent=params["absent"], check_mode=module.check_mode)
    except SupervisorError as exc:
        module.fail_json(msg="supervisor_programs: %s" % exc, commands=list(ctl.commands))
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
