#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: roll
short_description: Restart instances behind HAProxy one at a time without dropping a request, in one module execution
version_added: 0.2.0
description:
  - Rolls the instances of multi-instance services that sit behind HAProxy, one at a time and in the order
    given, in B(one) module execution whatever their number. For each instance - drained at the balancer
    through the runtime API (no new request; requests in flight finish, the unit's graceful stop waits for
    them), restarted (C(systemctl restart)), gated on its own port (O(healthy_reads) healthy answers in a row;
    a crash loop of its unit fails at once), then back in rotation (C(state ready)), at its C(weight) when it
    names one (a canary's small weight).
  - An instance that does not turn healthy stays drained and ends the roll; the instances after it are not
    touched, the other instances of its service keep serving. The module itself succeeds and returns the
    failure in RV(failed_instance); the service role's health gate fails the service and rolls back exactly the
    instances in RV(rolled).
  - Fails when HAProxy refuses a command or does not know a server, with what was done before.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  instances:
    description:
      - The instances to roll, in order (the service role builds them with P(alicia.platform.service_roll#filter)).
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description: The instance's service.
        type: str
        required: true
      instance:
        description: The instance's name.
        type: str
        required: true
      unit:
        description: The instance's systemd unit.
        type: str
        required: true
      backend:
        description: The HAProxy backend that holds it.
        type: str
        required: true
      server:
        description: Its server in the backend.
        type: str
        required: true
      endpoint:
        description:
          - Its health endpoint on its own port, as M(alicia.platform.health_gate) takes one. Naming its C(unit),
            a crash loop fails the gate at once.
        type: dict
        required: true
      weight:
        description: Its weight when it comes back in rotation (omitted - the weight it had).
        type: int
  socket:
    description: Path of HAProxy's runtime API socket (C(stats socket ... level admin)).
    type: path
    default: /run/haproxy/admin.sock
  timeout:
    description: Seconds an instance has to turn healthy after its restart.
    type: float
    default: 90
  interval:
    description: Seconds between two reads of an unhealthy instance.
    type: float
    default: 0.5
  healthy_reads:
    description: Healthy answers in a row before an instance counts as healthy.
    type: int
    default: 3
  healthy_interval:
    description: Seconds between two healthy reads.
    type: float
    default: 0.25
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Touches nothing; reports the instances it would roll.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - Requires systemd, HAProxy 1.8 or later with the instances' backends in its configuration (the
    C(alicia.platform.balancer) role), and root.
seealso:
  - module: alicia.platform.haproxy_server
  - module: alicia.platform.health_gate
  - module: alicia.platform.canary
"""

EXAMPLES = r"""
- name: The two instances of tts_service rolled one at a time
  alicia.platform.roll:
    instances:
      - service: tts_service
        instance: tts-primary
        unit: alicia-tts-primary.service
        backend: tts_service
        server: tts-primary
        endpoint: {service: tts-primary, url: "http://127.0.0.1:18003/health", unit: alicia-tts-primary.service}
      - service: tts_service
        instance: tts-secondary
        unit: alicia-tts-secondary.service
        backend: tts_service
        server: tts-secondary
        endpoint: {service: tts-secondary, url: "http://127.0.0.1:18004/health", unit: alicia-tts-secondary.service}
  register: rolled

- name: An instance that did not turn healthy fails the run (the others kept serving)
  ansible.builtin.fail:
    msg: "{{ rolled.failed_instance.msg }}"
  when: rolled.failed_instance is not none
"""

RETURN = r"""
rolled:
  description: The instances restarted, in order (the last one is the failed one when the roll failed).
  returned: always
  type: list
  elements: str
  sample: [tts-primary, tts-secondary]
failed_instance:
  description: The instance that did not turn healthy (C(service), C(instance), C(msg)), or null.
  returned: always
  type: dict
  sample: {service: tts_service, instance: tts-primary, msg: "tts-primary: not healthy after its restart, ..."}
instances:
  description: Per instance, C(instance), C(service), C(rolled), C(healthy), C(gate_seconds) and C(seconds).
  returned: always
  type: list
  elements: dict
actions:
  description: What was done to each unit, as the deployment report reads it.
  returned: always
  type: dict
  sample: {alicia-tts-primary.service: [restarted]}
msg:
  description: One line.
  returned: always
  type: str
  sample: "rolled tts-primary (2.1 s), tts-secondary (2.0 s)"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import RuntimeAPI
from ansible_collections.alicia.platform.plugins.module_utils._roll import RollError, roll


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type="list", elements="dict", required=True, options=dict(
                service=dict(type="str", required=True),
                instance=dict(type="str", required=True),
                unit=dict(type="str", required=True),
                backend=dict(type="str", required=True),
                server=dict(type="str", required=True),
                endpoint=dict(type="dict", required=True),
                weight=dict(type="int"),
            )),
            socket=dict(type="path", default="/run/haproxy/admin.sock"),
            timeout=dict(type="float", default=90),
            interval=dict(type="float", default=0.5),
            healthy_reads=dict(type="int", default=3),
            healthy_interval=dict(type="float", default=0.25),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv)

    try:
        result = roll(module.params, RuntimeAPI(module.params["socket"]), run, check_mode=module.check_mode)
    except RollError as exc:
        done = exc.result or {}
        module.fail_json(msg="roll: %s" % exc, rolled=done.get("rolled", []), actions=done.get("actions", {}))
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
