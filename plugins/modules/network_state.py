#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: network_state
short_description: Read sysctl keys, an nftables table and a unit's state in one module execution
version_added: 0.1.0
description:
  - Read-only probe for the C(alicia.platform.network_hardening) role - per
    sysctl key of O(sysctl), whether the kernel has it, whether this host may
    write it and whether its live value differs from the one given; whether
    the running ruleset has the nftables table O(table); whether the unit
    O(unit) is active and enabled.
  - One module execution for all of it, where separate tasks would cost one
    each.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  sysctl:
    description:
      - Sysctl keys (dotted names) and the values wanted for them.
    type: dict
    default: {}
  table:
    description:
      - Name of an C(inet) nftables table to look for in the running ruleset; omit to skip.
    type: str
  unit:
    description:
      - A systemd unit whose C(ActiveState) and C(UnitFileState) to read; omit to skip.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The probe changes nothing, so it runs in check mode too.
extends_documentation_fragment:
  - alicia.platform.attributes
"""

EXAMPLES = r"""
- name: What the firewall role needs to know, in one execution
  alicia.platform.network_state:
    sysctl:
      net.ipv4.conf.all.rp_filter: 1
      net.ipv4.tcp_syncookies: 1
    table: alicia
    unit: nftables.service
  register: network
"""

RETURN = r"""
sysctl:
  description:
    - Per key - C(status) (C(ok) writable, C(readonly) /proc/sys mounted read-only as in a
      container, C(denied) present but not writable from this namespace, C(missing) not in
      this kernel), C(live) (the value read, whitespace collapsed; null when unreadable)
      and C(drift) (a writable key whose live value differs from the one given).
  returned: always
  type: dict
  sample: {"net.ipv4.tcp_syncookies": {"status": "readonly", "live": "1", "drift": false}}
table:
  description: Whether the running ruleset has the table; null when O(table) is not given.
  returned: always
  type: bool
  sample: true
unit:
  description: C(active) and C(enabled) booleans of the unit; null when O(unit) is not given.
  returned: always
  type: dict
  sample: {"active": true, "enabled": true}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._netstate import network_state


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            sysctl=dict(type="dict", default={}),
            table=dict(type="str"),
            unit=dict(type="str"),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        binary = module.get_bin_path(argv[0])
        if binary is None:
            return 127, ""
        rc, out, dummy = module.run_command([binary] + argv[1:])
        return rc, out

    state = network_state(run, sysctl=module.params["sysctl"], table=module.params["table"],
                          unit=module.params["unit"])
    module.exit_json(changed=False, **state)


def main():
    run_module()


if __name__ == "__main__":
    main()
