#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: canary
short_description: Watch a canary instance at the balancer for a window and judge it against the previous release
version_added: 0.3.0
description:
  - Judges one server of a HAProxy backend - the canary, an instance already on the new
    release, healthy and in rotation at a small weight - against the other servers of the
    same backend (the baseline, still on the previous release) over the same window, in one
    module execution.
  - Reads the canary's health endpoint every O(interval) seconds (an answer that is not
    healthy ends the window at once) and HAProxy's counters (C(show stat)) of every server at
    the start and at the end of the window.
  - The canary fails when it answered fewer than O(min_requests) requests (too little traffic
    to judge is a failure, never a pass), when a health read failed or HAProxy's checks saw it
    down, or when its error rate (C(hrsp_5xx), C(eresp), C(econ) over the requests) exceeds the
    baseline's by more than O(max_error_rate).
  - A canary that passed gets its configured weight back; one that failed is drained (no new
    request) for the rollback, its configured weight restored for when the rollback puts it
    back. The module itself succeeds either way and returns the verdict in
    RV(passed); the caller decides (the service role fails its gate, which rolls the canary back).
author:
  - Alicia platform engineers (@alicia-platform)
options:
  socket:
    description:
      - Path of HAProxy's runtime API socket (C(stats socket ... level admin)).
    type: path
    default: /run/haproxy/admin.sock
  service:
    description:
      - The backend (the balancer role names a service's backend after the service).
    type: str
    required: true
    aliases: [backend]
  canary:
    description:
      - The canary's server name in the backend.
    type: str
    required: true
  baseline:
    description:
      - The servers it is compared with; by default every other server of the backend.
    type: list
    elements: str
    default: []
  window:
    description:
      - Seconds the canary is watched.
    type: float
    default: 30
  interval:
    description:
      - Seconds between two reads of its health and of the counters.
    type: float
    default: 1
  min_requests:
    description:
      - The fewest requests the canary must answer in the window to be judged at all.
    type: int
    default: 20
  max_error_rate:
    description:
      - How much higher than the baseline's its error rate may be (a fraction, 0.01 is one point).
    type: float
    default: 0.01
  health:
    description:
      - The canary's own health endpoint (on its instance port), read every O(interval).
      - Omitted, only HAProxy's checks and counters judge it.
    type: dict
    suboptions:
      url:
        description: The URL.
        type: str
        required: true
      expect_status:
        description: The HTTP statuses that count as an answer.
        type: list
        elements: int
        default: [200]
      json_field:
        description: The JSON member of the body to compare (dotted path).
        type: str
        default: status
      json_value:
        description: The value it must have.
        type: raw
        default: healthy
      timeout:
        description: Seconds for one read.
        type: float
        default: 5
  timeout:
    description:
      - Seconds to wait for HAProxy's answer to each runtime API command.
    type: float
    default: 5.0
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details:
      - Only C(show servers state) is read (the backend and the servers exist); nothing is watched or changed.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - Requires HAProxy 1.8 or later and permission to connect to the socket.
  - Put the canary in rotation at its small weight first (M(alicia.platform.haproxy_server)).
seealso:
  - module: alicia.platform.haproxy_server
  - name: HAProxy management guide, show stat
    description: The counters the verdict reads.
    link: https://docs.haproxy.org/2.6/management.html#9.3
"""

EXAMPLES = r"""
- name: Watch tts_service-1 on the new release for 30 seconds at a tenth of the traffic
  alicia.platform.canary:
    service: tts_service
    canary: tts_service-1
    window: 30
    min_requests: 20
    health:
      url: http://127.0.0.1:8031/health
  register: canary

- name: A bad canary stops the rollout
  ansible.builtin.fail:
    msg: "{{ canary.msg }}"
  when: not canary.passed
"""

RETURN = r"""
passed:
  description: The verdict (none in check mode).
  returned: always
  type: bool
  sample: false
reason:
  description: Why it passed or failed.
  returned: when watched
  type: str
  sample: "it answered 3 request(s) in the window, fewer than min_requests 20: too little traffic to judge is not a pass"
canary_counts:
  description: The canary's C(requests), C(errors) and C(error_rate) over the window.
  returned: when watched
  type: dict
  sample: {requests: 42, errors: 0, error_rate: 0.0}
baseline_counts:
  description: The same for the baseline servers together.
  returned: when watched
  type: dict
  sample: {requests: 381, errors: 0, error_rate: 0.0}
baseline:
  description: The servers the canary was compared with.
  returned: always
  type: list
  elements: str
  sample: [tts_service-2]
samples:
  description: How many times its health and the counters were read.
  returned: always
  type: int
  sample: 30
seconds:
  description: How long it was watched (a bad health read ends the window early).
  returned: when watched
  type: float
  sample: 30.02
health_failures:
  description: Its failed health reads.
  returned: always
  type: list
  elements: str
  sample: []
down:
  description: The statuses HAProxy reported for it that are not serving.
  returned: always
  type: list
  elements: str
  sample: []
commands:
  description: The runtime API commands sent (its drain when it failed, its weight back).
  returned: always
  type: list
  elements: str
  sample: [set weight tts_service/tts_service-1 100]
msg:
  description: The verdict in one line.
  returned: always
  type: str
  sample: "canary tts_service/tts_service-1 passed after 30.0s: 42 request(s), error rate 0.00% (previous release 0.00% over 381)"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._canary import watch
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import HAProxyError, RuntimeAPI
from ansible_collections.alicia.platform.plugins.module_utils.health import normalize, probe

HEALTH_OPTIONS = dict(
    url=dict(type="str", required=True),
    expect_status=dict(type="list", elements="int", default=[200]),
    json_field=dict(type="str", default="status"),
    json_value=dict(type="raw", default="healthy"),
    timeout=dict(type="float", default=5),
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", default="/run/haproxy/admin.sock"),
            service=dict(type="str", required=True, aliases=["backend"]),
            canary=dict(type="str", required=True),
            baseline=dict(type="list", elements="str", default=[]),
            window=dict(type="float", default=30),
            interval=dict(type="float", default=1),
            min_requests=dict(type="int", default=20),
            max_error_rate=dict(type="float", default=0.01),
            health=dict(type="dict", options=HEALTH_OPTIONS),
            timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    read = None
    if params["health"]:
        endpoint = normalize(dict(params["health"], service=params["canary"]))

        def read():
            return probe(endpoint)

    api = RuntimeAPI(params["socket"], timeout=params["timeout"])
    try:
        result = watch(params, api, probe=read, check_mode=module.check_mode)
    except HAProxyError as exc:
        result = dict(exc.result or {})
        result["msg"] = "canary: %s" % exc.msg
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
