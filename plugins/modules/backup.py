#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backup
short_description: Back up, list and restore services' configuration and data in one module execution
version_added: 0.1.0
description:
  - O(action=create) backs up every service of O(services) in B(one) module execution - per service one
    timestamped archive C(<dir>/<service>/<id>.tar.gz) holding its environment file
    C(<config_dir>/<service>.env), its settings file C(<config_dir>/<service>.json), those of its
    O(instances) (C(<instance>.env), C(<instance>.json)), whichever exist, and its data directory
    C(<data_dir>/<service>) with everything below it (symbolic links kept as links, not followed;
    sockets, fifos and devices skipped and listed). Owners, groups, modes and modification times are kept.
  - Each archive is written to a temporary file in the service's backup directory, then renamed to its
    name - a reader never sees half an archive. Archives are mode C(0600) and the backup directories
    C(0700), since the environment files hold secrets.
  - Ids are UTC timestamps (C(20261207T004735Z); C(-2) and on for a second backup in the same second),
    or O(id) for every service of the call (one id across hosts, for example the deployment's). After
    writing, the oldest backups of each service beyond O(keep) are removed.
  - Before writing anything the module estimates each archive's size (the uncompressed content) and fails
    naming the service and the bytes needed against the bytes free in O(dir) when they would not fit.
  - A service with no config file and no data directory is skipped (nothing to back up).
  - O(action=list) lists each service's backups, newest first; it changes nothing.
  - O(action=restore) puts one backup of the one service of O(services) back - O(backup), or the newest.
    The whole archive is checked first; it is refused, naming the members, when one is absolute or
    leaves the archive with C(..), is not a config file of the service nor in the data directory, lies
    below a symbolic link, is a symbolic link that is absolute or points outside the data directory,
    a hard link to anything but an earlier data file, or a device or fifo.
  - The data is extracted into a temporary sibling of the data directory (same file system), the config
    files into temporary files beside theirs, with the archived owners, groups and modes. Only then are
    they swapped in - the old data directory renamed aside, the restored one renamed to its path, the old
    one removed, each config file renamed over its path, and the service's config files the backup does
    not hold removed. A failure before the swap leaves the old data and files untouched. The module also
    fails, before extracting, when the data would not fit on the data directory's file system.
  - A data directory absent from the backup is left as it is.
  - Stop the service before a restore and start it after (C(playbooks/restore.yml) does).
  - File contents never appear in the result or a message.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  action:
    description:
      - V(create) backs up O(services), V(list) lists their backups, V(restore) puts one back.
    type: str
    choices: [create, list, restore]
    default: create
  services:
    description:
      - The service names. Exactly one for V(restore).
    type: list
    elements: str
    required: true
  instances:
    description:
      - For multi-instance services, their instances' names by service; each instance's C(.env) and
        C(.json) in O(config_dir) belong to the service's backup.
    type: dict
    default: {}
  backup:
    description:
      - With V(restore), the id of the backup to restore; the newest when not given.
      - An id the service has no backup of fails the module, naming it and listing the service's ids.
    type: str
  id:
    description:
      - With V(create), the id of every archive of this call instead of the current UTC time; in the same
        C(YYYYMMDDTHHMMSSZ) format so that ids sort in time order. A service that already has a backup
        with that id gets the next free C(-2), C(-3)...
    type: str
  dir:
    description:
      - The backup directory; each service's archives are in C(<dir>/<service>/).
    type: path
    default: /var/backups/alicia
  keep:
    description:
      - With V(create), the backups kept per service (the one just made included); older ones are removed.
    type: int
    default: 5
  config_dir:
    description:
      - Where the services' environment and settings files are (the service role's C(service_config_dir)).
    type: path
    default: /etc/alicia
  data_dir:
    description:
      - Where the services' data directories are (the service role's C(service_data_dir)).
    type: path
    default: /var/lib/alicia
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - V(create) reports the ids it would make, the estimated sizes and the backups it would remove;
        V(restore) checks the archive and reports what it would put back. Nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details:
      - The files hold secrets; the result lists paths, never contents.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - name: playbooks/backup.yml and playbooks/restore.yml
    description: The playbooks around this module (docs/operations.md, "Backups and restore").
    link: https://github.com/alicia-platform/alicia.platform/blob/main/docs/operations.md
"""

EXAMPLES = r"""
- name: Back up two services, keep their last five backups
  alicia.platform.backup:
    services: [tts_service, stt_service]
    instances:
      stt_service: [stt_service-1, stt_service-2]
    keep: 5

- name: The backups of a service, newest first
  alicia.platform.backup:
    action: list
    services: [tts_service]
  register: tts_backups

- name: Put a backup back (the service stopped)
  alicia.platform.backup:
    action: restore
    services: [tts_service]
    backup: 20261207T004735Z
"""

RETURN = r"""
backups:
  description:
    - With V(create), one result per service, in order.
    - With V(list), the backups of each service, newest first (C(id), C(path), C(size)), by service.
  returned: always
  type: raw
  sample:
    - service: tts_service
      id: 20261207T004735Z
      path: /var/backups/alicia/tts_service/20261207T004735Z.tar.gz
      size: 20480
      files: [/etc/alicia/tts_service.env, /etc/alicia/tts_service.json]
      data_dir: /var/lib/alicia/tts_service
      entries: 12
      skipped: []
      pruned: [20261201T101500Z]
      changed: true
      reason: null
ids:
  description: The ids by service - made (V(create)), all newest first (V(list)), restored (V(restore)).
  returned: always
  type: dict
  sample: {tts_service: [20261207T004735Z]}
restored:
  description: With V(restore), what was (in check mode - would be) put back.
  returned: when O(action=restore)
  type: dict
  sample:
    service: tts_service
    id: 20261207T004735Z
    path: /var/backups/alicia/tts_service/20261207T004735Z.tar.gz
    files: [/etc/alicia/tts_service.env]
    removed: [/etc/alicia/tts_service.json]
    data_dir: /var/lib/alicia/tts_service
    entries: 12
    changed: true
msg:
  description: A summary, or why the module failed.
  returned: always
  type: str
  sample: "2 backups made (tts_service 20261207T004735Z, stt_service 20261207T004735Z)"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._backup import (
    BackupError,
    argument_spec,
    check_args,
    create,
    list_backups,
    restore,
)


def run(params, check_mode):
    """The module's result for ``params`` (raises BackupError)."""
    action = params["action"]
    names = params["services"]
    instances = params["instances"] or {}
    if action == "list":
        found = list_backups(names, params["dir"])
        ids = dict((name, [b["id"] for b in found[name]]) for name in names)
        return dict(changed=False, backups=found, ids=ids,
                    msg="; ".join("%s: %d backups" % (name, len(ids[name])) for name in names))
    if action == "restore":
        name = names[0]
        done = restore(name, instances.get(name) or [], params["dir"], params["config_dir"], params["data_dir"],
                       backup_id=params["backup"] or None, check_mode=check_mode)
        return dict(changed=True, restored=done, backups=[], ids={name: [done["id"]]},
                    msg="%s: backup %s %s" % (name, done["id"], "would be restored" if check_mode else "restored"))
    made = create(names, instances, params["dir"], params["keep"], params["config_dir"], params["data_dir"],
                  check_mode=check_mode, backup_id=params["id"] or None)
    done = [b for b in made if b["changed"]]
    return dict(changed=bool(done), backups=made, ids=dict((b["service"], [b["id"]]) for b in done),
                msg="%d backups %s (%s)" % (len(done), "would be made" if check_mode else "made",
                                            ", ".join("%s %s" % (b["service"], b["id"]) for b in done) or "nothing to back up"))


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = check_args(module.params)
    if errors:
        module.fail_json(msg="backup: %s" % "; ".join(errors), changed=False)
    try:
        result = run(module.params, module.check_mode)
    except BackupError as exc:
        failed = dict(exc.result or {})
        failed.pop("changed", None)
        module.fail_json(msg="backup: %s" % exc.msg, changed=bool(failed), **failed)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
