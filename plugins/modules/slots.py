#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: slots
short_description: Blue-green services at their wanted release, switched at the balancer in one atomic step
version_added: 0.3.0
description:
  - Each service of O(services) runs in one of two slots (blue and green), each a systemd unit on its own
    loopback port running its own release (a link to C(releases/<version>)) with its own copy of the
    service's environment file. HAProxy publishes the service's port and sends every request to the backend
    of the live slot, which the slots map O(map) names.
  - In one module execution, for every service, whatever their number. A service whose live slot already
    runs the wanted release (same link target, same environment, not in O(refresh)) is kept; its units are
    fixed when needed (the live slot running and enabled, the idle one stopped and disabled).
  - Otherwise the idle slot gets the release and a copy of the environment, is (re)started and gated on its
    own port (O(healthy_reads) healthy answers in a row; a crash loop of its unit fails at once); HAProxy's
    checks must see it up; then one runtime API command (C(set map)) switches the frontend to it and the map
    file is rewritten atomically (a reload or restart reads it). The old slot finishes the requests it was
    answering (its backend's sessions reach 0, at most O(drain_timeout) seconds) and is stopped and
    disabled, but stays installed, so a switch back (a rollback) is the same step.
  - A service with no live slot yet gets its first slot (blue).
  - With O(canary), a switch to a new release goes through a canary first. The gated new slot gets
    O(canary.weight) in the service's canary backend (both slot servers, C(canary_backend)), the live map
    entry names that backend, and the new slot is watched beside the live one for O(canary.window)
    seconds, as M(alicia.platform.canary) does (its health read every O(canary.interval) seconds; fewer
    than O(canary.min_requests) requests, a failed health read or an error rate above the live slot's by
    more than O(canary.max_error_rate) fail it). A good canary is switched in as above. A bad one is taken
    out (the map names the live slot again, the canary backend drains, the new slot stops) and its
    service is in RV(failed_services). The map file names the live slot throughout the window, so a
    reload or a restart of HAProxy then sends everything to it. A restart (O(restart)) and a first slot
    never go through a canary.
  - A slot that fails its gate is stopped again; the live slot served throughout. The module itself
    succeeds and returns the failure in RV(failed_services); the service role fails its health gate for
    those services (which records the failed release and rolls the service's files back).
author:
  - Alicia platform engineers (@alicia-platform)
options:
  services:
    description:
      - The blue-green services (the service role's plan builds them from the catalogue's C(slot_ports)).
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description: The service's name (the key of its line in the map).
        type: str
        required: true
      release:
        description: The wanted release, as the slot's link target (C(releases/<version>)).
        type: str
        required: true
      env:
        description: The service's environment file, copied to the slot that switches in.
        type: path
        required: true
      health:
        description:
          - The health check of a slot on its own port, C({path, expect_status, json_field, json_value, timeout}).
        type: dict
        required: true
      slots:
        description:
          - The two slots, each C({name, unit, port, link, env, backend, server}) - its name, its systemd
            unit, its loopback port, its release link, its copy of the environment, its HAProxy backend and
            server.
        type: list
        elements: dict
        required: true
      canary_backend:
        description:
          - The HAProxy backend holding both slot servers (the balancer role names it C(<service>_canary)).
          - Required with O(canary).
        type: str
  refresh:
    description:
      - Services to switch even when the live slot runs the wanted release (their unit files changed).
    type: list
    elements: str
    default: []
  restart:
    description:
      - Services restarted without an outage (C(playbooks/restart.yml)). The idle slot gets the live slot's own
        release (whatever the wanted one) and the service's current environment, and is switched in as above.
        A service with no live slot gets its first slot, as without this option.
    type: list
    elements: str
    default: []
  map:
    description: The slots map HAProxy's configuration reads.
    type: path
    default: /etc/haproxy/alicia-slots.map
  socket:
    description: Path of HAProxy's runtime API socket (C(stats socket ... level admin)).
    type: path
    default: /run/haproxy/admin.sock
  timeout:
    description: Seconds a slot has to turn healthy.
    type: float
    default: 90
  interval:
    description: Seconds between two reads of an unhealthy slot.
    type: float
    default: 0.5
  healthy_reads:
    description: Healthy answers in a row before a slot counts as healthy.
    type: int
    default: 3
  healthy_interval:
    description: Seconds between two healthy reads.
    type: float
    default: 0.25
  up_timeout:
    description: Seconds HAProxy's checks have to see a healthy slot up before the switch.
    type: float
    default: 10
  drain_timeout:
    description: Seconds the old slot has to finish the requests it was answering before it is stopped.
    type: float
    default: 10
  canary:
    description:
      - Switches to a new release through a canary (strategy canary). Omitted, a switch is direct.
    type: dict
    suboptions:
      weight:
        description: The new slot's weight in the canary backend during the window (the live slot keeps its own).
        type: int
        required: true
      window:
        description: Seconds the canary is watched.
        type: float
        required: true
      interval:
        description: Seconds between two reads of its health and of HAProxy's counters.
        type: float
        required: true
      min_requests:
        description: The fewest requests it must answer in the window to be judged at all.
        type: int
        required: true
      max_error_rate:
        description: How much higher than the live slot's its error rate may be (a fraction).
        type: float
        required: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the map, the links, the environment copies and the units; reports the switches and unit fixes
        it would make.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - Requires systemd, HAProxy 1.8 or later with the slots map in its configuration (the balancer role writes
    it for services with C(slots)), and root.
seealso:
  - module: alicia.platform.haproxy_server
  - module: alicia.platform.health_gate
  - name: HAProxy management guide, set map
    description: The runtime API command of the switch.
    link: https://docs.haproxy.org/2.6/management.html#9.3-set%20map
"""

EXAMPLES = r"""
- name: Blue-green services at their release (the service role builds the request)
  alicia.platform.slots:
    services:
      - service: tts_service
        release: releases/1.4.0
        env: /etc/alicia/tts_service.env
        health: {path: /health, json_field: status, json_value: healthy}
        slots:
          - {name: blue, unit: alicia-tts_service-blue.service, port: 18101, link: /opt/alicia/tts_service/blue,
             env: /etc/alicia/tts_service-blue.release.env, backend: tts_service_blue, server: blue}
          - {name: green, unit: alicia-tts_service-green.service, port: 18102, link: /opt/alicia/tts_service/green,
             env: /etc/alicia/tts_service-green.release.env, backend: tts_service_green, server: green}
  register: slots

- name: A slot that failed its gate fails the run (the old slot kept serving)
  ansible.builtin.fail:
    msg: "{{ slots.failed_services.values() | join('; ') }}"
  when: slots.failed_services | length > 0
"""

RETURN = r"""
services:
  description:
    - Per service, C(action) (C(keep), C(switch), C(install)), C(from_slot), C(to_slot), C(from_release),
      C(to_release), C(switched), C(failed), C(restart) (a switch asked by O(restart)), C(msg); for a switch
      its C(gate), C(switch_seconds) and C(drained); after a canary its C(canary) (C(passed), C(reason),
      C(seconds), C(canary_counts), C(baseline_counts)); for a kept service the unit verbs it took (C(fixed)).
  returned: always
  type: list
  elements: dict
  sample:
    - {service: tts_service, action: switch, from_slot: blue, to_slot: green, from_release: releases/1.3.0,
       to_release: releases/1.4.0, switched: true, failed: false, switch_seconds: 2.41, drained: true,
       msg: "tts_service: slot green now serves releases/1.4.0 (slot blue, releases/1.3.0, stopped, installed)"}
failed_services:
  description: The services whose new slot failed its gate or its canary window, each with the reason.
  returned: always
  type: dict
  sample: {tts_service: "tts_service: slot green (releases/1.4.0) failed its gate, stopped again; ..."}
actions:
  description: What was done to each service, as the deployment report reads it (C(updated) a switch,
    C(restarted) a switch asked by O(restart), C(started) a first slot, C(started)/C(stopped)/C(enabled)/C(disabled)
    a unit fixed).
  returned: always
  type: dict
  sample: {tts_service: [updated]}
msg:
  description: One line per service.
  returned: always
  type: str
  sample: "tts_service: slot green now serves releases/1.4.0 (slot blue, releases/1.3.0, stopped, installed)"
live:
  description: The live slot of each service after the run.
  returned: always
  type: dict
  sample: {tts_service: green}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import HAProxyError, RuntimeAPI
from ansible_collections.alicia.platform.plugins.module_utils._slots import SlotsError, reconcile


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="dict", required=True, options=dict(
                service=dict(type="str", required=True),
                release=dict(type="str", required=True),
                env=dict(type="path", required=True),
                health=dict(type="dict", required=True),
                slots=dict(type="list", elements="dict", required=True),
                canary_backend=dict(type="str"),
            )),
            refresh=dict(type="list", elements="str", default=[]),
            restart=dict(type="list", elements="str", default=[]),
            map=dict(type="path", default="/etc/haproxy/alicia-slots.map"),
            socket=dict(type="path", default="/run/haproxy/admin.sock"),
            timeout=dict(type="float", default=90),
            interval=dict(type="float", default=0.5),
            healthy_reads=dict(type="int", default=3),
            healthy_interval=dict(type="float", default=0.25),
            up_timeout=dict(type="float", default=10),
            drain_timeout=dict(type="float", default=10),
            canary=dict(type="dict", options=dict(
                weight=dict(type="int", required=True),
                window=dict(type="float", required=True),
                interval=dict(type="float", required=True),
                min_requests=dict(type="int", required=True),
                max_error_rate=dict(type="float", required=True),
            )),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv)

    api = RuntimeAPI(module.params["socket"])
    try:
        result = reconcile(module.params, run, api, check_mode=module.check_mode)
    except (SlotsError, HAProxyError, OSError) as exc:
        module.fail_json(msg="slots: %s" % exc)
    result["msg"] = "; ".join(r["msg"] for r in result["services"])
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
