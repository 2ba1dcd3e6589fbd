#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: system_account
short_description: A system group and a system user with a locked password, in one module execution
version_added: 0.1.0
description:
  - Ensures a system group and a system user whose primary group it is, in B(one) module
    execution, so a role replaces its M(ansible.builtin.group) and M(ansible.builtin.user)
    pair with one task.
  - Reads the host's entries with C(getent group), C(getent passwd NAME [UID]) and, when the
    user exists, C(getent shadow NAME), then runs C(groupadd), C(groupmod), C(useradd) and
    C(usermod) only for what differs, at most one call of each - the group first, then the user.
    A re-run that changes nothing runs only the C(getent) calls.
  - A missing group is created with C(groupadd --system [-g GID]). A missing user is created
    with C(useradd --system --no-create-home --no-user-group -g GROUP [-u UID] [-G GROUPS]
    [-c COMMENT] -s SHELL [-d HOME] -p ! NAME) - never with a user-private group, never with
    a home directory, and with a locked password (C(!)).
  - An existing user gets one C(usermod) call with every option that differs -
    C(-u) (O(uid)), C(-g) (primary group), C(-c), C(-s), C(-d) (the home is neither moved nor
    created), C(-a -G) (only the supplementary groups it is not in yet; none is ever removed)
    and C(-L) when its password is not locked. A password that is locked (the shadow field
    starts with C(!), as C(usermod -L) and C(passwd -l) leave it) is left as it is; the
    password hash is never changed, returned or shown.
  - B(A gid or uid that differs is changed), like M(ansible.builtin.group) and
    M(ansible.builtin.user) do - C(groupmod -g) (which also moves the users whose primary group
    it is) and C(usermod -u) (which fails while a process of the user runs). Files owned by the
    old id outside the user's home keep the old number; a role that manages its directories by
    owner name fixes its own. An id used by another group or user is not taken - the module
    fails before running anything, naming that account.
  - The module also fails before running anything when a supplementary group in O(groups) does not
    exist (it creates only the primary group) or when an argument cannot go into C(/etc/passwd) or
    C(/etc/group) (a name with C(:), C(,), C(/) or white space, a comment with C(:), a relative shell
    or home).
  - After running the commands the module reads the entries again and fails when they still
    differ from what was asked.
  - Only O(state=present) exists - the module never removes a user or a group. An existing group
    or user that is not a system account (an id above the system range) is not converted.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  name:
    description:
      - Name of the system user.
    type: str
    required: true
  group:
    description:
      - Name of the system group, the user's primary group. It may be the same as O(name) (the usual
        user-private layout, created explicitly rather than by C(useradd)) or another name.
      - Defaults to O(name).
    type: str
  gid:
    description:
      - Fixed gid of the group. An existing group with another gid gets this one (C(groupmod -g)).
      - Omitted, C(groupadd --system) picks a free system gid and an existing group keeps its gid.
    type: int
  uid:
    description:
      - Fixed uid of the user. An existing user with another uid gets this one (C(usermod -u)).
      - Omitted, C(useradd --system) picks a free system uid and an existing user keeps its uid.
    type: int
  groups:
    description:
      - Supplementary groups of the user. They must exist. The user is added to those it is not in
        yet; it is never removed from any group.
    type: list
    elements: str
    default: []
  comment:
    description:
      - GECOS comment of the user. Omitted, an existing user's comment is left as it is.
    type: str
  shell:
    description:
      - Login shell of the user, an absolute path.
    type: str
    default: /usr/sbin/nologin
  home:
    description:
      - Home directory of the user, an absolute path. It is neither created nor moved; manage the
        directory elsewhere.
      - Omitted, C(useradd) picks its default for a new user and an existing user keeps its home.
    type: path
  state:
    description:
      - V(present) is the only state; the module does not remove accounts.
    type: str
    choices: [present]
    default: present
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only the C(getent) calls run. The result tells what would change; an id the system would
        pick is V(null) in RV(group) and RV(user) (and C(?) in the diff).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The group entries (the primary group, then the supplementary groups of O(groups)) and the passwd
        entry as C(/etc/group) and C(/etc/passwd) lines, before and after, and one line telling whether
        the password is locked (never the hash).
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - Linux with the shadow tools (C(groupadd), C(groupmod), C(useradd), C(usermod)) and glibc's
        C(getent). Reading the shadow entry needs root.
notes:
  - The module runs the shadow tools, which write the local C(/etc/group), C(/etc/passwd) and
    C(/etc/shadow) files; the current state is read through C(getent), so entries from other
    name services count as existing.
seealso:
  - module: ansible.builtin.group
  - module: ansible.builtin.user
"""

EXAMPLES = r"""
- name: Service user | system group and user, no login, locked password
  alicia.platform.system_account:
    name: alicia
    groups: [systemd-journal]
    comment: Alicia platform services
    home: /var/lib/alicia
  register: service_account

- name: A user whose primary group has another name, with fixed ids
  alicia.platform.system_account:
    name: alicia-backup
    group: alicia-data
    uid: 950
    gid: 950
    shell: /usr/sbin/nologin
    home: /var/backups/alicia
"""

RETURN = r"""
changed:
  description: Whether a command ran (in check mode - would run).
  returned: always
  type: bool
  sample: true
changes:
  description: What changed (in check mode - would change), one sentence per change, in the order of the commands.
  returned: always
  type: list
  elements: str
  sample:
    - "group alicia: create (system group, gid picked by groupadd)"
    - "user alicia: create (system user, uid picked by useradd, group alicia, groups systemd-journal,
      shell /usr/sbin/nologin, home /var/lib/alicia not created, password locked)"
commands:
  description: The commands run (in check mode - that would run), tool names without their paths.
  returned: always
  type: list
  elements: list
  sample:
    - [usermod, -s, /usr/sbin/nologin, -L, alicia]
group:
  description: The group after the run (in check mode - as predicted).
  returned: success
  type: dict
  sample: {name: alicia, gid: 998}
  contains:
    name:
      description: Group name.
      type: str
    gid:
      description: Its gid; V(null) in check mode when C(groupadd) would pick it.
      type: int
user:
  description: The user after the run (in check mode - as predicted).
  returned: success
  type: dict
  sample: {name: alicia, uid: 998, gid: 998, home: /var/lib/alicia, shell: /usr/sbin/nologin,
           groups: [systemd-journal]}
  contains:
    name:
      description: User name.
      type: str
    uid:
      description: Its uid; V(null) in check mode when C(useradd) would pick it.
      type: int
    gid:
      description: Its primary gid; V(null) in check mode when C(groupadd) would pick it.
      type: int
    home:
      description: Its home directory; V(null) in check mode when C(useradd) would pick it.
      type: str
    shell:
      description: Its shell.
      type: str
    groups:
      description: Every group that lists the user as a member (its supplementary groups), in C(/etc/group) order.
      type: list
      elements: str
diff:
  description: Before and after entries.
  returned: diff mode
  type: dict
  sample:
    before_header: group and passwd entries of alicia
    after_header: group and passwd entries of alicia
    before: "alicia:x:998:\nsystemd-journal:x:999:\nalicia:x:998:998:Alicia platform services:/var/lib/alicia:/bin/bash\n\
      # password of alicia: not locked\n"
    after: "alicia:x:998:\nsystemd-journal:x:999:alicia\nalicia:x:998:998:Alicia platform services:/var/lib/alicia:\
      /usr/sbin/nologin\n# password of alicia: locked\n"
msg:
  description: The changes in one line, or that the group and the user are as wanted.
  returned: always
  type: str
  sample: "changed: user alicia: shell '/bin/bash' -> '/usr/sbin/nologin'"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._account import (
    AccountError,
    argument_spec,
    ensure,
)


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)

    def run(argv):
        # English messages from the tools, whatever the target's locale.
        return module.run_command(argv, environ_update=dict(LC_ALL="C", LANG="C"))

    def which(tool):
        return module.get_bin_path(tool, required=True)

    try:
        result = ensure(module.params, run, which, check_mode=module.check_mode, want_diff=module._diff)
    except AccountError as exc:
        result = dict(exc.result or dict(changed=False))
        result["msg"] = "system_account: %s" % exc.msg
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
