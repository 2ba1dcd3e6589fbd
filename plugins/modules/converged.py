#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: converged
short_description: Read a host against the state its last full converge recorded, or record that state
version_added: 0.1.0
description:
  - With O(state=check) (the default), reads the host's converge record and, in one pass,
    what the platform left on the host, and says whether the host is unchanged since the
    record was written with the same inputs digest (RV(converged)), or RV(reasons) naming
    what differs. Reads only.
  - With O(state=record), writes that record (mode 0600), O(digest) and what is on the host
    now. C(playbooks/site.yml) does so at its end, on every host that passed every play of
    a full run (no tags), when C(alicia_converged_shortcut) is true.
  - What is read, in one pass - the signature (type, mode, owner, group, size,
    modification time, link target) of every path under C(/etc), C(/opt/alicia) and the
    package database (C(/var/lib/dpkg/status)); the state of the units C(alicia-*),
    C(mosquitto), C(haproxy), C(nftables), C(supervisor), C(docker) and C(logrotate.timer)
    (loaded, active, sub-state, enablement); the platform's containers (labelled
    C(alicia.platform.managed), their ID, state and configuration hash); supervisor's
    programs and their states; the manual runtime's pid files and whether their process
    lives; a digest of the running nftables ruleset; the kernel's values of every sysctl
    key a file of C(/etc/sysctl.d) sets; HAProxy's servers as its runtime API has them
    (state and weight).
  - O(digest) is the inputs digest of the run
    (P(alicia.platform.converge_digest#filter)), so a changed inventory, variable or
    collection never matches an older record.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  digest:
    description:
      - The inputs digest of this run (P(alicia.platform.converge_digest#filter)).
      - It covers the secrets of the inventory, so it is never logged; give the task C(no_log) too.
    type: str
    required: true
  state:
    description:
      - C(check) reads the host against its record; C(record) writes the record.
    type: str
    choices: [check, record]
    default: check
  path:
    description:
      - The record's path on the host.
    type: path
    default: /var/lib/alicia/converged.json
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - O(state=check) reads only, as always. O(state=record) reports whether it would write
        the record and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
seealso:
  - plugin: alicia.platform.converge_digest
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Converged | this host against its last full converge
  alicia.platform.converged:
    digest: "{{ hostvars | alicia.platform.converge_digest(groups) }}"
  register: converged
  no_log: true

- name: Converged | nothing to do on this host
  ansible.builtin.meta: end_host
  when: converged.converged

- name: Converged | record the state this run left
  alicia.platform.converged:
    digest: "{{ hostvars | alicia.platform.converge_digest(groups) }}"
    state: record
  no_log: true
"""

RETURN = r"""
converged:
  description: The host has a record with this O(digest) and nothing of what is read differs from it.
  returned: state is check
  type: bool
  sample: true
reasons:
  description: What differs, at most 20 lines (the first one when there is no record or the digest differs).
  returned: state is check
  type: list
  elements: str
  sample: ["path /etc/alicia/stt_service.env: f 640 0 998 201 1733590000000000000, was f 640 0 998 190 1733500000000000000"]
reasons_count:
  description: How many lines RV(reasons) would have without its limit.
  returned: state is check
  type: int
  sample: 1
paths:
  description: How many paths were read.
  returned: always
  type: int
  sample: 845
path:
  description: The record's path.
  returned: always
  type: str
  sample: /var/lib/alicia/converged.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.alicia.platform.plugins.module_utils._converged import (
    REASONS_SHOWN,
    ConvergedError,
    check,
    read_record,
    record_of,
    snapshot,
    write_record,
)
from ansible_collections.alicia.platform.plugins.module_utils._process_state import module_run


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            digest=dict(type="str", required=True, no_log=True),
            state=dict(type="str", choices=["check", "record"], default="check"),
            path=dict(type="path", default="/var/lib/alicia/converged.json"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    current = snapshot(module_run(module))
    result = {"changed": False, "path": params["path"], "paths": len(current["files"])}
    try:
        if params["state"] == "record":
            if module.check_mode:
                result["changed"] = read_record(params["path"]) != record_of(params["digest"], current)
            else:
                result["changed"] = write_record(params["path"], params["digest"], current)
            module.exit_json(**result)
        converged, reasons = check(params["digest"], current, read_record(params["path"]))
    except (ConvergedError, IOError, OSError) as exc:
        module.fail_json(msg="converged: %s" % exc, **result)
    result.update(converged=converged, reasons=reasons[:REASONS_SHOWN], reasons_count=len(reasons))
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
