#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: registry
short_description: List the service registry's retained MQTT entries, and clear the stale ones
version_added: 0.1.0
description:
  - Reads the retained registry entries under O(root) (C(alicia/registry/<service>/<instance>), which every running
    instance of the reference service publishes on connect and with each heartbeat, and clears on a clean stop) for a
    bounded time, and returns one row per instance with the age of its last heartbeat.
  - With O(cleanup=true), clears every entry whose heartbeat is older than O(stale_after) seconds (or that has no
    timestamp) by publishing an empty retained message on its topic (seed 004's stale service cleanup). The account
    needs write access to those topics (the broker's administrator); reading needs C(read alicia/registry/#) (the
    monitoring account and C(broker_registry_readers)).
  - Works with paho-mqtt 1.6 (Debian 12 C(python3-paho-mqtt)) and paho-mqtt 2.x.
author:
  - Alicia platform engineers (@alicia-platform)
requirements:
  - paho-mqtt >= 1.6 (Debian package C(python3-paho-mqtt))
options:
  root:
    description:
      - Topic under which the entries live (C(<root>/<service>/<instance>)).
    type: str
    default: alicia/registry
  services:
    description:
      - Only these services' entries (all when empty). Cleanup touches only them too.
    type: list
    elements: str
    default: []
  stale_after:
    description:
      - Seconds without a heartbeat after which an entry is stale (seed 004 - five minutes).
    type: float
    default: 300
  cleanup:
    description:
      - Clear the stale entries (an empty retained message on each topic).
    type: bool
    default: false
  wait:
    description:
      - At most this many seconds reading the retained entries (the reading stops earlier once none came for O(settle)
        seconds after the subscription was granted).
    type: float
    default: 3
  settle:
    description:
      - Seconds without a new entry after which all retained entries are taken as read.
    type: float
    default: 0.5
  timeout:
    description:
      - Seconds the connection, and the acknowledgement of the clearing, may take.
    type: float
    default: 10
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads as usual; with O(cleanup=true) it reports the entries it would clear (C(changed)) and clears none.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The registered topics before and after the cleanup.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
extends_documentation_fragment:
  - alicia.platform.mqtt_connection
"""

EXAMPLES = r"""
- name: What runs where, with the age of each heartbeat
  alicia.platform.registry:
    username: alicia_monitor
    password: "{{ broker_monitor_password }}"
  register: registry
  no_log: true

- name: Remove the entries silent for ten minutes
  alicia.platform.registry:
    username: alicia_admin
    password: "{{ broker_admin_password }}"
    stale_after: 600
    cleanup: true
  no_log: true
"""

RETURN = r"""
entries:
  description: One row per registered instance, sorted by service, instance and host.
  returned: success
  type: list
  elements: dict
  sample:
    - service: tts_service
      instance: tts-primary
      host: voice1
      port: 9000
      version: 1.0.0
      health_url: http://127.0.0.1:9000/health
      state: running
      heartbeat_age: 4.2
      stale: false
      topic: alicia/registry/tts_service/tts-primary
stale:
  description: Topics of the stale entries (cleared when O(cleanup=true) and not in check mode).
  returned: success
  type: list
  elements: str
  sample: [alicia/registry/stt_service/stt_service]
removed:
  description: Topics cleared by this run (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [alicia/registry/stt_service/stt_service]
table:
  description: The rows as aligned text lines, a header first and a total last.
  returned: success
  type: list
  elements: str
failure:
  description: Kind of failure (as M(alicia.platform.mqtt_check)'s), null on success.
  returned: always
  type: str
msg:
  description: What happened.
  returned: always
  type: str
  sample: "23 registered, 1 stale"
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.alicia.platform.plugins.module_utils import _mqtt_connection as connection
from ansible_collections.alicia.platform.plugins.module_utils import _registry as registry
from ansible_collections.alicia.platform.plugins.module_utils import mqtt as mqtt_utils


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            connection.argument_spec(),
            root=dict(type="str", default=registry.ROOT),
            services=dict(type="list", elements="str", default=[]),
            stale_after=dict(type="float", default=registry.DEFAULT_STALE_AFTER),
            cleanup=dict(type="bool", default=False),
            wait=dict(type="float", default=3),
            settle=dict(type="float", default=0.5),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not mqtt_utils.HAS_PAHO:
        module.fail_json(msg=missing_required_lib("paho-mqtt (Debian: python3-paho-mqtt)"),
                         exception=mqtt_utils.PAHO_IMPORT_ERROR, failure="missing_library")
    for name in ("stale_after", "wait", "timeout"):
        if p[name] <= 0:
            module.fail_json(msg="registry: %s must be a number of seconds > 0, got %s" % (name, p[name]),
                             failure="protocol")
    services = p["services"] or None
    found = {}

    def to_clear(messages):
        found["rows"] = registry.rows(messages, time.time(), p["stale_after"], services, p["root"])
        return registry.stale(found["rows"])

    clearing = p["cleanup"] and not module.check_mode
    try:
        result = registry.collect(p["host"], p["port"], p["username"], p["password"], root=p["root"], wait=p["wait"],
                                  settle=p["settle"], timeout=p["timeout"], tls=p["tls"], ca_cert=p["ca_cert"],
                                  tls_insecure=p["tls_insecure"], clear_topics=to_clear if clearing else None)
    except registry.RegistryError as exc:
        module.fail_json(msg="registry: %s" % exc, failure=exc.kind)
    if not clearing:
        to_clear(result)
    rows = found["rows"]
    stale = registry.stale(rows)
    removed = stale if p["cleanup"] else []
    response = dict(changed=bool(removed), failure=None, entries=rows, stale=stale, removed=removed,
                    table=registry.table(rows, p["stale_after"]),
                    msg="%d registered, %d stale%s" % (len(rows), len(stale),
                                                       (", %d %s" % (len(removed), "would be cleared" if module.check_mode
                                                                     else "cleared")) if removed else ""))
    if module._diff:  # pylint: disable=protected-access
        before = sorted(row["topic"] for row in rows)
        response["diff"] = {"before": "\n".join(before) + "\n",
                            "after": "\n".join(t for t in before if t not in removed) + "\n"}
    module.exit_json(**response)


def main():
    run_module()


if __name__ == "__main__":
    main()
