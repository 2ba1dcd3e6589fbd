#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: haproxy_server
short_description: Set the state and weight of HAProxy servers through the runtime API, in one module execution
version_added: 0.1.0
description:
  - Drains, disables, enables and re-weights servers of a running HAProxy through its
    runtime API (the C(stats socket) at C(level admin)), without a reload, so no
    connection is dropped - the operations of draining, blue/green switches and canary weights.
  - Reads every server with B(one) C(show servers state), checks every request (the
    backend and the server exist, nothing is named twice) before anything changes, then
    sends only the commands whose value differs - C(set server <backend>/<server> state
    ready|drain|maint) and C(set weight <backend>/<server> <weight>) - and reads the
    servers again to report what they became. A server coming back (V(ready)) gets its
    weight before its state; a server leaving gets its state first.
  - The module fails when HAProxy refuses a command (naming it and the commands sent
    before it) or when a server does not end up as requested.
  - Runtime changes survive a graceful reload only when HAProxy saves and reloads its
    server state (C(server-state-file) with C(load-server-state-from-file)), as the
    C(alicia.platform.balancer) role configures it; see that role's README.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  socket:
    description:
      - Path of HAProxy's runtime API socket (C(stats socket ... level admin)).
    type: path
    default: /run/haproxy/admin.sock
  servers:
    description:
      - The servers to set, each named once.
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description:
          - The backend of the server (the balancer role names a service's backend after the service).
        type: str
        required: true
        aliases: [backend]
      server:
        description:
          - The server's name in the backend.
        type: str
        required: true
      state:
        description:
          - V(ready) - in rotation (clears a forced maintenance or drain).
          - V(drain) - gets no new requests; requests in flight and persistent connections finish.
          - V(maint) - out of rotation, health checks stopped; connections already
            established are not cut.
          - Omitted, the state is left as it is. A server whose weight is 0 gets no new
            requests even when V(ready).
        type: str
        choices: [ready, drain, maint]
      weight:
        description:
          - The server's weight, 0-256 (relative to the other servers of its backend).
          - Omitted, the weight is left as it is.
        type: int
  timeout:
    description:
      - Seconds to wait for HAProxy's answer to each command.
    type: float
    default: 5.0
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only C(show servers state) is sent; the result tells which commands would be sent.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - "One C(<backend>/<server>: state=<state> weight=<weight>) line per server changed, before and after."
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - Requires HAProxy 1.8 or later (C(show servers state) version 1) and permission to
    connect to the socket (root, or the socket's owner).
  - A server with the C(disabled) keyword in the configuration is in V(maint) until set V(ready).
seealso:
  - name: HAProxy management guide, runtime API
    description: The C(set server), C(set weight) and C(show servers state) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3
"""

EXAMPLES = r"""
- name: Drain the blue instance before its upgrade
  alicia.platform.haproxy_server:
    servers:
      - service: tts_service
        server: tts_service-1
        state: drain

- name: Canary - a tenth of the requests to the new instance
  alicia.platform.haproxy_server:
    socket: /run/haproxy/admin.sock
    servers:
      - {service: tts_service, server: tts_service-1, state: ready, weight: 90}
      - {service: tts_service, server: tts_service-2, state: ready, weight: 10}
  register: canary
"""

RETURN = r"""
changed:
  description: Whether a command was (or in check mode would be) sent.
  returned: always
  type: bool
  sample: true
servers:
  description: One result per requested server, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - service: tts_service
      server: tts_service-1
      changed: true
      commands: [set server tts_service/tts_service-1 state drain]
      before: {state: ready, weight: 100, initial_weight: 100, effective: ready, operational: up,
               admin_state: 0, address: 127.0.0.1, port: 8031}
      after: {state: drain, weight: 100, initial_weight: 100, effective: drain, operational: up,
              admin_state: 8, address: 127.0.0.1, port: 8031}
  contains:
    service:
      description: The backend.
      type: str
    server:
      description: The server.
      type: str
    changed:
      description: Whether this server was (or would be) changed.
      type: bool
    commands:
      description: The runtime API commands this server needed, in the order sent.
      type: list
      elements: str
    before:
      description:
        - The server as read first - C(state) (V(ready), V(drain), V(maint) - the forced
          state), C(weight) (the current weight), C(initial_weight) (the configuration's),
          C(effective) (what traffic sees, inherited states and weight 0 included),
          C(operational) (C(up), C(down), C(starting), C(stopping) - the health checks'
          verdict), C(admin_state) (HAProxy's flags), C(address) and C(port).
      type: dict
    after:
      description:
        - The same keys after the commands - read again when a command was sent,
          otherwise (and in check mode) predicted.
      type: dict
commands:
  description: The commands sent, in order (none in check mode).
  returned: always
  type: list
  elements: str
  sample: [set server tts_service/tts_service-1 state drain]
diff:
  description: Before and after lines of the servers changed.
  returned: diff mode
  type: dict
  sample:
    before: "tts_service/tts_service-1: state=ready weight=100\n"
    after: "tts_service/tts_service-1: state=drain weight=100\n"
msg:
  description: Summary naming each server changed.
  returned: always
  type: str
  sample: "1 of 2 servers changed: tts_service/tts_service-1: state=ready weight=100 -> state=drain weight=100"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import (
    HAProxyError,
    RuntimeAPI,
    argument_spec,
    reconcile,
)


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    api = RuntimeAPI(module.params["socket"], timeout=module.params["timeout"])
    try:
        result = reconcile(module.params, api, check_mode=module.check_mode, want_diff=module._diff)
    except HAProxyError as exc:
        result = dict(exc.result or {})
        result["msg"] = "haproxy_server: %s" % exc.msg
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
