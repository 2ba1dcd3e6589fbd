#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: manual_services
short_description: Drive the manual runtime's control script for many services in one module execution
version_added: 0.1.0
description:
  - The service role's runtime C(manual) runs a service without a process manager - its control script
    C(alicia-servicectl) (installed by the role) starts it detached as the service user, writes its pid file
    and waits until C(/health) is healthy, stops it with SIGTERM then SIGKILL after the stop timeout, and
    reports its status. This module calls that script for every service of O(services), in their order
    (dependency order), in B(one) module execution.
  - For each service one C(status) call, then only what differs - V(started) starts a service that does not
    run or is unhealthy, restarts one of O(restart) (its files changed), and leaves a running, healthy,
    unchanged one alone; V(stopped) stops what runs; V(restarted) restarts every service; V(absent) stops
    them (and the services of O(absent)).
  - The start and stop logic lives only in the control script; this module decides and reports.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  services:
    description: Catalogue service names, in the order to start them.
    type: list
    elements: str
    default: []
  state:
    description: What the services should be.
    type: str
    choices: [started, stopped, restarted, absent]
    default: started
  restart:
    description: Services whose files (release, environment, configuration) changed - restarted when they run.
    type: list
    elements: str
    default: []
  absent:
    description: Services to stop whatever O(state) (for example moved to another runtime; their configuration may be gone).
    type: list
    elements: str
    default: []
  ctl:
    description: Path of the control script.
    type: path
    default: /usr/local/sbin/alicia-servicectl
  config_dir:
    description:
      - Directory of the services' configurations (C(<service>.json)), passed to every control script call
        (C(--config-dir)). The service role passes its C(service_manual_config_dir).
    type: path
    default: /etc/alicia/manual
    version_added: 0.2.0
  run_dir:
    description:
      - Directory of the services' pid files (C(<service>.pid)), passed to every control script call
        (C(--run-dir)); the script uses it when a configuration does not name its pid file or is gone (stop
        of a service that left the runtime). The service role passes its C(service_manual_run_dir).
    type: path
    default: /run/alicia
    version_added: 0.2.0
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only C(status) calls run; a service whose configuration or script is not there yet is reported as it
        would be started.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details:
      - The result's C(actions) lists what was (or would be) done per service.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Manual services running; the changed one restarted
  alicia.platform.manual_services:
    services: [metrics_collector, event_scheduler]
    restart: [event_scheduler]

- name: Manual services whose configurations and pid files live elsewhere
  alicia.platform.manual_services:
    services: [metrics_collector]
    config_dir: /opt/alicia/manual
    run_dir: /var/run/alicia-manual
"""

RETURN = r"""
actions:
  description: Per service, what was (or would be) done.
  returned: always
  type: dict
  sample: {"event_scheduler": ["restarted"]}
services:
  description: Per service, the control script's JSON answer (status, or the result of the start/stop/restart).
  returned: always
  type: dict
  sample: {"event_scheduler": {"pid": 4242, "running": true, "healthy": true, "action": "restarted"}}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._manual import (
    CONFIG_DIR, RUN_DIR, STATES, ManualError, reconcile)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=list(STATES), default="started"),
            restart=dict(type="list", elements="str", default=[]),
            absent=dict(type="list", elements="str", default=[]),
            ctl=dict(type="path", default="/usr/local/sbin/alicia-servicectl"),
            config_dir=dict(type="path", default=CONFIG_DIR),
            run_dir=dict(type="path", default=RUN_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    ctl = params["ctl"]
    if not os.access(ctl, os.X_OK):
        if module.check_mode and params["state"] in ("started", "restarted"):
            module.exit_json(changed=bool(params["services"]), services={},
                             actions=dict((name, ["started"]) for name in params["services"]))
        if params["state"] in ("stopped", "absent"):
            module.exit_json(changed=False, services={}, actions={})
        module.fail_json(msg="manual_services: control script %s not found or not executable" % ctl)

    def run(argv):
        return module.run_command(argv)

    try:
        result = reconcile(run, ctl, params["services"], state=params["state"], restart=params["restart"],
                           absent=params["absent"], check_mode=module.check_mode,
                           config_dir=params["config_dir"], run_dir=params["run_dir"])
    except ManualError as exc:
        module.fail_json(msg="manual_services: %s" % exc, **exc.result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
