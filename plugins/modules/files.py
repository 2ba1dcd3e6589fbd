#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: files
short_description: Apply many files, directories and templates on a host in one module execution
version_added: 0.1.0
description:
  - Applies every entry of O(files) in order, then removes what O(prune) finds
    and nobody declares, in B(one) module execution, so a role replaces its
    M(ansible.builtin.template), M(ansible.builtin.copy) and M(ansible.builtin.file)
    loops with one task.
  - The action plugin renders O(files[].template) entries on the controller like
    M(ansible.builtin.template) (role C(templates/) search path, C(ansible_managed)
    and the other C(template_*) variables, task variables plus O(files[].vars),
    trailing newline kept) and reads O(files[].src) entries from the role's
    C(files/) like M(ansible.builtin.copy), then sends all content base64-encoded
    to the module on the target in a single call. It never calls M(ansible.builtin.stat)
    or M(ansible.builtin.copy) per file.
  - Content changes are atomic. The new content goes to a temporary file in the
    same directory, which gets the owner, group and mode, is checked with
    O(files[].validate) when given, and is then renamed over the path. An
    existing file whose content is right but whose owner, group or mode is
    not only gets those fixed, and is not rewritten.
  - Symbolic links (O(files[].state=link)) are switched atomically too; a new
    link to O(files[].target) is made in the same directory and renamed over
    the path, so a C(current) link of a release layout always points at one
    release or the other, never at nothing. Switching back is a rollback.
  - The module fails before touching anything when O(files) has a duplicate
    path, a relative path or a bad combination of options (each problem named
    with its entry), or, outside check mode, when an owner or group does not exist.
  - When an entry fails (a failed O(files[].validate), a missing parent
    directory, a permission error) the module fails naming the path; the
    result still lists the entries applied before it, and O(prune) does not run.
  - A V(tree) entry copies a directory of the controller (O(files[].src)) to O(files[].path);
    the action plugin expands it on the controller into one V(directory) entry for the path,
    one per subdirectory and one V(file) entry per file below it (recursively, the relative
    layout kept), all with the tree's owner, group and O(files[].key). The module receives
    plain entries, so check mode, diffs, RV(changed_keys) and O(prune) work as for any
    other entry. C(__pycache__), C(*.pyc), C(*.pyo) and C(.git) are never copied.
  - Called without its action plugin (for example as C(ansible.legacy) or from
    tests) the module takes only rendered content, O(files[].content) or O(files[].content_b64),
    and no V(tree) entries.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  files:
    description:
      - The paths to manage, applied in this order, so an earlier entry can
        create the directory or install the validator a later entry needs.
      - Each path may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path on the target.
        type: str
        required: true
      state:
        description:
          - V(file) makes the path a regular file with the given content; an
            existing symbolic link at the path is replaced, not followed. The
            parent directory must exist (in check mode a missing one makes the
            entry reported as created).
          - V(directory) creates the directory and missing parents (each parent
            created gets the same owner, group and mode) and fixes owner, group and mode.
          - V(touch) creates an empty file when missing and fixes owner, group and
            mode; the content and timestamps of an existing file are never changed.
          - V(absent) removes a file or symbolic link, a directory recursively. A symbolic
            link is removed itself; what it points at is never touched.
          - V(link) makes the path a symbolic link to O(files[].target). A link pointing
            elsewhere is replaced atomically (a new link in the same directory renamed over
            the path, never removed first). An existing directory is never replaced and an
            existing regular file only with O(files[].force=true); either makes the module
            fail naming the path. The parent directory must exist (in check mode a missing
            one makes the entry reported as created).
          - V(tree) copies the directory O(files[].src) of the controller to the path (the
            content of O(files[].src), with or without a trailing slash, goes into the path).
            Expanded by the action plugin, in place, into a V(directory) entry for the path
            (parents created like a V(directory) entry's), then one V(directory) entry per
            subdirectory and one V(file) entry per file below O(files[].src), depth first in name
            order (a directory before its content). Every entry gets the tree's O(files[].owner),
            O(files[].group), O(files[].key) and O(files[].secret).
          - The modes of a tree - files get O(files[].mode) when given, executable or not; without
            it, O(defaults.mode) (else V('0644')) for files whose source is not executable by its
            owner, and that mode with search (x) added wherever read is allowed for those that
            are (V('0644') gives V('0755'), V('0640') gives V('0750')). Directories get
            O(files[].directory_mode), else O(defaults.directory_mode), else the files' mode
            with search added.
          - In a tree a symbolic link to a file is copied as that file's content (like
            M(ansible.builtin.copy) with C(local_follow)); a link to a directory, a dangling
            link or a special file makes the task fail before the module runs. Names matching
            C(__pycache__), C(*.pyc), C(*.pyo), C(.git) or O(files[].exclude) are skipped with all
            below them.
          - A tree only adds and updates; a file removed from O(files[].src) stays on the host.
            Deploy each version to its own directory (C(releases/<version>)) and remove old ones
            with O(prune[].directories) and O(prune[].keep), or prune the tree's directories.
          - A tree path another entry also declares makes the task fail naming both entries.
        type: str
        choices: [file, directory, absent, touch, link, tree]
        default: file
      template:
        description:
          - A Jinja2 template rendered on the controller, found like
            M(ansible.builtin.template) finds O(ansible.builtin.template#module:src)
            (the role's C(templates/) directory first).
          - Only one of O(files[].template), O(files[].content), O(files[].content_b64)
            and O(files[].src); a V(file) entry needs one of them, other states take none.
          - Handled by the action plugin; the module alone does not accept it.
        type: str
      vars:
        description:
          - Variables for this entry's O(files[].template) only, on top of the task's variables.
        type: dict
      content:
        description:
          - The content as text (UTF-8).
          - Never returned in C(invocation); shown in diffs unless O(files[].secret=true).
        type: str
      content_b64:
        description:
          - The content base64-encoded, bytes as they are. The action plugin sends
            every entry's content this way.
          - Never returned in C(invocation).
        type: str
      src:
        description:
          - A file copied as is (bytes), found like M(ansible.builtin.copy) finds
            O(ansible.builtin.copy#module:src) (the role's C(files/) directory
            first, or an absolute path); Ansible Vault encrypted files are decrypted.
          - With O(files[].state=tree), a directory found the same way, whose files are
            copied like that; required for V(tree). A directory with another state fails.
          - Handled by the action plugin; the module alone does not accept it.
        type: str
      directory_mode:
        description:
          - For O(files[].state=tree), the mode of the tree's directories (the path itself and
            every subdirectory). See O(files[].state) for what applies without it.
          - Only accepted with O(files[].state=tree).
        type: raw
      exclude:
        description:
          - For O(files[].state=tree), more shell patterns (fnmatch, case-sensitive) of base
            names not to copy, files or directories (with everything below them), on top of
            C(__pycache__), C(*.pyc), C(*.pyo) and C(.git).
          - Only accepted with O(files[].state=tree).
        type: list
        elements: str
      target:
        description:
          - What a V(link) entry points at, stored exactly as given, relative (to the
            link's directory, for example V(releases/1.0.0)) or absolute; it is not
            resolved and need not exist.
          - The link is unchanged when its current target (C(readlink)) is this text
            and its owner and group match.
          - Required for O(files[].state=link), not accepted with other states.
        type: str
      force:
        description:
          - For O(files[].state=link), replace an existing regular file at the path
            with the link (atomically). Without it such a file makes the module fail.
          - A directory is never replaced, with or without O(files[].force).
          - Only accepted with O(files[].state=link).
        type: bool
        default: false
      owner:
        description:
          - User name or numeric id owning the path. Omitted, O(defaults.owner)
            applies; without either an existing path keeps its owner.
          - For a V(link) entry, the owner of the link itself (C(lchown)), never of its target.
          - In check mode an owner that does not exist yet reports the entry as changed
            instead of failing.
        type: str
      group:
        description:
          - Group name or numeric id of the path, like O(files[].owner).
        type: str
      mode:
        description:
          - Octal permissions as a string (V('0644'), V('644')) or an integer (taken as is,
            so YAML V(0644) works and V(644) does not mean V('0644')). Symbolic modes are not supported.
          - Omitted, O(defaults.mode) applies (for a directory O(defaults.directory_mode));
            without either an existing path keeps its mode and a new one gets the umask default.
          - Not accepted with O(files[].state=link) (Linux ignores the mode of a symbolic
            link); O(defaults.mode) does not apply to links.
        type: raw
      validate:
        description:
          - Command that checks the new content before it replaces the path; C(%s) is the
            temporary file in the same directory. Run only when the content changes, never in check mode.
          - On failure the temporary file is removed, the path is left as it was and the
            module fails with the command's output.
        type: str
      secret:
        description:
          - The content is never shown; diffs show a placeholder and the content is
            masked in any output of the module.
        type: bool
        default: false
      key:
        description:
          - Free-form label; the labels of changed entries are returned in RV(changed_keys),
            for example to notify only the handlers that matter.
        type: str
  defaults:
    description:
      - Owner, group and mode for the entries of O(files) that omit them.
    type: dict
    suboptions:
      owner:
        description: Owner of entries without O(files[].owner).
        type: str
      group:
        description: Group of entries without O(files[].group).
        type: str
      mode:
        description:
          - Mode of V(file) and V(touch) entries without O(files[].mode); V(link) entries take no mode.
          - For V(directory) entries without O(files[].mode) and when
            O(defaults.directory_mode) is not set, this mode with search
            permission added wherever read is allowed (V('0644') gives V('0755'),
            V('0640') gives V('0750')).
        type: raw
      directory_mode:
        description: Mode of V(directory) entries without O(files[].mode).
        type: raw
  prune:
    description:
      - Directories to clean after all O(files) are applied. Regular files and symbolic
        links directly in O(prune[].path) whose base name matches one of
        O(prune[].patterns) and whose path is not in O(files) are removed (a link
        itself, never what it points at). Subdirectories are removed only with
        O(prune[].directories=true).
      - Never removed - a path declared in O(files), the path a declared V(link) entry points
        at (so a rollback link keeps its release) and, with O(prune[].directories), a
        directory holding either of those.
      - A missing O(prune[].path) is skipped.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the directory.
        type: str
        required: true
      patterns:
        description: Shell patterns (fnmatch, case-sensitive) matched against base names.
        type: list
        elements: str
        required: true
      key:
        description: Label added to RV(changed_keys) when something here is removed.
        type: str
      directories:
        description:
          - Remove matching subdirectories too, recursively. A symbolic link to a directory
            is removed as a link, its target untouched.
        type: bool
        default: false
      keep:
        description:
          - Of the entries that would be removed (matching, not declared, not protected), keep
            the O(prune[].keep) newest by modification time (C(lstat) mtime; ties by name) and
            remove the rest. Declared and protected paths do not count - with the current
            release declared, O(prune[].keep=2) leaves it and the two newest others.
          - Omitted or V(0), every entry that matches is removed.
          - A directory's mtime changes when an entry directly in it is added, removed or
            renamed (a file written by this module is renamed into place).
        type: int
  report_units:
    description:
      - systemd units whose state the result reports in RV(units), read with one
        C(systemctl show) after the files are applied (also in check mode, where
        nothing is applied). Nothing is started, enabled or reloaded - that is
        M(alicia.platform.units)' job.
      - For a role that configures a unit with these files and must then make sure it is
        enabled and running, the state read here saves a module execution on a re-run -
        it calls M(alicia.platform.units) only when the unit is not enabled, not running,
        or a file it reads changed.
      - A unit that does not exist is reported with RV(units.load_state=not-found).
    type: list
    elements: str
    default: []
  report_host:
    description:
      - Read the host's readiness for a deployment in the same execution (also in check mode), before the
        files are applied, and return it in RV(host); nothing is changed. The platform plan uses it for its
        pre-deployment checks at no extra module execution.
      - Reads C(/proc) and needs root to see every process's sockets.
      - With the same execution's result of the files, RV(host.paths) also says what the entries that change
        (in check mode - would change) write below each path - the release about to be deployed.
    type: dict
    suboptions:
      ports:
        description:
          - TCP ports whose listeners RV(host.listeners) reports (C(/proc/net/tcp) and C(tcp6) sockets in state
            LISTEN, mapped to processes through C(/proc/<pid>/fd)).
        type: list
        elements: int
        default: []
      paths:
        description: Paths whose file system's free space RV(host.paths) reports (the nearest existing parent of a path not there yet).
        type: list
        elements: path
        default: []
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  bypass_host_loop:
    description:
      - Forces a 'global' task that does not execute per host, this bypasses per host templating and serial,
        throttle and other loop considerations.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Nothing is written, no link is switched and no O(files[].validate) runs. An owner or group that
        does not exist yet, or a parent directory that does not exist yet, makes the
        entry reported as changed instead of failing, since earlier tasks that create
        them did nothing in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - One diff per changed path. Text content up to 256 KiB is shown; binary or larger
        content and O(files[].secret) entries show a placeholder. State changes show as
        C(state) lines, owner, group and mode changes as C(owner), C(group) and C(mode) lines.
      - A link shows as C(symlink -> <target>), so a release switch shows
        C(-symlink -> releases/0.9.0) and C(+symlink -> releases/1.0.0); before a new link the
        diff shows the path absent.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
  safe_file_operations:
    description: Uses Ansible's strict file operation functions to ensure proper permissions and avoid data corruption.
    support: partial
    details:
      - Content is written atomically with the module's own temporary file in the same directory,
        fsync and rename, with owner, group and mode set before the rename. SELinux contexts,
        ACLs and extended attributes of a replaced file are not carried over.
      - Symbolic links are replaced by renaming a new link made in the same directory over the path.
  vault:
    description: Can automatically decrypt Ansible vaulted files.
    support: full
    details:
      - O(files[].template) and O(files[].src) files encrypted with Ansible Vault are decrypted on the controller.
notes:
  - A tree's content travels to the host base64-encoded in the one module call, like any content;
    for trees of many megabytes ship an archive instead.
  - Paths are not followed through symbolic links by V(file), V(link) and V(absent) entries;
    V(directory) and V(touch) entries follow them.
  - O(prune) never removes a path declared in O(files), a V(link) entry's path included.
  - Hard links of a file whose content changes are broken, as with M(ansible.builtin.copy).
  - Content (O(files[].content), O(files[].content_b64)) is never returned in C(invocation);
    use O(files[].secret=true) for content that must not show in diffs either.
  - Secret content is masked like any C(no_log) value, by replacing every occurrence of it
    in the module's output with C(********); a very short secret therefore masks
    unrelated text too.
  - Validate commands run without a shell, like the O(ansible.builtin.copy#module:validate)
    option of M(ansible.builtin.copy); the temporary file is named
    C(.alicia-files-<random>-<base name>) so validators that look at the extension still see it.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Log rotation | policies, drop-ins and the report script in one task
  alicia.platform.files:
    defaults: {owner: root, group: root, mode: "0644"}
    files:
      - path: /etc/systemd/system/logrotate.timer.d
        state: directory
      - path: /etc/systemd/system/logrotate.timer.d/alicia.conf
        template: logrotate.timer.conf.j2
        key: timer
      - path: /usr/local/bin/alicia-log-report
        src: alicia_log_report.py
        mode: "0755"
      - path: /etc/logrotate.d/alicia-tts
        template: policy.j2
        vars:
          policy: "{{ tts_policy }}"
        validate: logrotate -d %s
      - path: /var/log/alicia/tts.log
        state: touch
        owner: alicia
        mode: "0640"
    prune:
      - path: /etc/logrotate.d
        patterns: ["alicia-*"]
  register: log_rotation_files

- name: Log rotation | reload systemd only when the timer drop-in changed
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'timer' in log_rotation_files.changed_keys"

- name: STT service | release 1.0.0 and the current link switched to it, in one task
  alicia.platform.files:
    defaults: {owner: root, group: root}
    files:
      - path: /opt/alicia/stt_service/releases/1.0.0
        state: directory
        mode: "0755"
      - path: /opt/alicia/stt_service/releases/1.0.0/service.env
        template: service.env.j2
        mode: "0644"
      - path: /opt/alicia/stt_service/current
        state: link
        target: releases/1.0.0
        key: stt_service
  register: stt_release

- name: STT service | restart only when the release switched
  ansible.builtin.systemd_service:
    name: alicia-stt.service
    state: restarted
  when: "'stt_service' in stt_release.changed_keys"

- name: Python app | release 1.4.0 from the role's files/app directory, current switched, three old releases kept
  alicia.platform.files:
    defaults: {owner: root, group: root, mode: "0644"}
    files:
      - path: /opt/alicia/voice_router/releases/1.4.0
        state: tree
        src: app/                # roles/<role>/files/app, or an absolute path on the controller
        directory_mode: "0755"   # files: 0644, 0755 where the source is executable
        exclude: ["tests", "*.md"]
        key: voice_router
      - path: /opt/alicia/voice_router/current
        state: link
        target: releases/1.4.0
        key: voice_router
    prune:
      - path: /opt/alicia/voice_router/releases
        patterns: ["*"]
        directories: true
        keep: 3
  register: voice_router_release

- name: STT service | rollback, the link flipped back atomically
  alicia.platform.files:
    files:
      - path: /opt/alicia/stt_service/current
        state: link
        target: releases/0.9.0
        owner: root
        group: root

- name: Replace a regular file left at the link's path (a directory never is)
  alicia.platform.files:
    files:
      - path: /opt/alicia/stt_service/current
        state: link
        target: /opt/alicia/stt_service/releases/1.0.0
        force: true

- name: A secret, never shown in diffs or results
  alicia.platform.files:
    files:
      - path: /etc/alicia/mqtt.env
        content: "MQTT_PASSWORD={{ mqtt_password }}\n"
        owner: root
        group: alicia
        mode: "0640"
        secret: true
  no_log: true
"""

RETURN = r"""
files:
  description: One result per path, the entries of O(files) in order, then what O(prune) removed.
  returned: always
  type: dict
  sample:
    /etc/logrotate.d/alicia-tts: {changed: true, state: file, action: updated}
    /etc/logrotate.d/alicia-old: {changed: true, state: absent, action: removed, pruned: true}
    /opt/alicia/stt_service/current: {changed: true, state: link, action: updated}
    /opt/alicia/stt_service/releases/0.7.0: {changed: true, state: absent, action: removed, pruned: true}
  contains:
    changed:
      description: Whether the path was (or in check mode would be) changed.
      type: bool
    state:
      description:
        - The entry's O(files[].state); V(absent) for paths removed by O(prune). A V(tree)
          shows as its V(directory) and V(file) entries, one per path.
      type: str
    action:
      description:
        - What was done. V(attributes) means only owner, group or mode were fixed (for a
          link its owner or group); V(updated) for a link means it was switched to another
          target (or replaced a regular file with O(files[].force)).
      type: str
      choices: [created, updated, attributes, removed, unchanged]
    pruned:
      description: Present and true for paths removed by O(prune).
      type: bool
changed_paths:
  description: The changed paths, in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/logrotate.d/alicia-tts]
changed_keys:
  description: The O(files[].key) and O(prune[].key) labels of changed paths, each once, in order.
  returned: always
  type: list
  elements: str
  sample: [journald]
removed:
  description: Paths removed by O(files[].state=absent) entries or by O(prune), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/logrotate.d/alicia-old]
failed_path:
  description: The path of the entry that failed.
  returned: failure while applying an entry
  type: str
  sample: /etc/logrotate.d/alicia-tts
diff:
  description: One diff per changed path (C(before_header), C(after_header), C(before), C(after)).
  returned: diff mode
  type: list
  elements: dict
  sample:
    - before_header: /etc/logrotate.d/alicia-tts (mode 0640)
      after_header: /etc/logrotate.d/alicia-tts (mode 0644)
      before: "/var/log/alicia/tts.log {\n  daily\n}\n"
      after: "/var/log/alicia/tts.log {\n  weekly\n}\n"
units:
  description:
    - The state of each O(report_units) unit after the files were applied, by unit name.
  returned: always
  type: dict
  sample:
    logrotate.timer:
      load_state: loaded
      active_state: active
      sub_state: waiting
      unit_file_state: enabled
      main_pid: 0
      active: true
      enabled: true
  contains:
    load_state:
      description: C(LoadState) (V(not-found) for a unit that does not exist).
      type: str
    active_state:
      description: C(ActiveState).
      type: str
    sub_state:
      description: C(SubState).
      type: str
    unit_file_state:
      description: C(UnitFileState).
      type: str
    main_pid:
      description: C(MainPID), V(0) when none.
      type: int
    active:
      description: Whether C(ActiveState) is V(active), V(activating) or V(reloading).
      type: bool
    enabled:
      description: Whether C(UnitFileState) is V(enabled) or V(enabled-runtime).
      type: bool
host:
  description:
    - What O(report_host) read, before the files were applied.
  returned: when O(report_host) is given
  type: dict
  sample:
    listeners:
      "8080":
        - {port: 8080, address: 0.0.0.0, pid: 4242, command: python3 -m http.server 8080, name: python3,
           unit: session-3.scope, env: {}, uid: 0, user: root}
    paths:
      /opt/alicia: {checked: /opt/alicia, free_mb: 78623, device: 2049, needed_bytes: 1052672,
                    needed_by_key: {stt_service: 1048576, "": 4096}}
    mem_available_mb: 22984
  contains:
    listeners:
      description:
        - By port (as a string), every process listening on it (V([]) when free) - C(pid) (V(null) when the
          socket's process was not found), C(command) (its command line, shortened), C(name) (the command's
          base name), C(unit) (its systemd unit from C(/proc/<pid>/cgroup)), C(address), C(port), C(uid) and
          C(user) (the socket's owner) and C(env), only the C(SERVICE_NAME) and C(SUPERVISOR_PROCESS_NAME) of its
          environment.
      type: dict
    paths:
      description:
        - By path of O(report_host.paths), C(checked) (the path or its nearest existing parent), C(free_mb) (free for
          unprivileged users, read before the files are applied) and C(device) (the C(st_dev) of C(checked), the same
          for paths on one file system).
        - C(needed_bytes) and C(needed_by_key) - what the entries of O(files) that change (in check mode - would
          change) write below the path, in total and by O(files[].key) (V("") for entries without one). A file
          created or updated counts its content's length (a O(files[].src) copy or a tree's file its source's size),
          a directory created one block (4096 bytes); links, touched files, removals and entries unchanged or whose
          owner, group or mode only change count 0. An entry below none of the paths is not counted; below two,
          the deepest path counts it.
      type: dict
    mem_available_mb:
      description: C(MemAvailable) of C(/proc/meminfo) in MB.
      type: int
msg:
  description: Summary of what changed.
  returned: always
  type: str
  sample: "2 of 20 paths changed (updated 1, removed 1)"
"""

import copy

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._files import (
    RENDERED_SOURCES,
    FilesError,
    apply_all,
    argument_spec,
    check_args,
    content_bytes,
    prepare,
    resolve_ids,
)
from ansible_collections.alicia.platform.plugins.module_utils._hostcheck import report as host_report
from ansible_collections.alicia.platform.plugins.module_utils._hostcheck import with_needed_space
from ansible_collections.alicia.platform.plugins.module_utils._units import Systemctl, UnitsError

HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def sanitized_params(params):
    """The params for C(invocation), every content replaced by the no_log placeholder."""
    shown = copy.deepcopy(params)
    for entry in shown.get("files") or []:
        for name in RENDERED_SOURCES:
            if entry.get(name) is not None:
                entry[name] = HIDDEN
    return shown


def masked_values(files):
    """(plain, secret): content strings of normal entries and of secret entries.

    Content options are no_log, so AnsibleModule would mask every occurrence of
    them in the result, diffs and messages included. Only secret content stays
    masked (also decoded, as it may show in a validator's output); the
    invocation hides all content through sanitized_params.
    """
    plain, secret = set(), set()
    for raw in files or []:
        values = [raw.get(name) for name in RENDERED_SOURCES]
        if raw.get("secret"):
            try:
                data = content_bytes(raw)
                text = data.decode("utf-8") if data else None
            except (TypeError, ValueError):
                text = None
            values += [text, text.strip() if text else None]
        for value in values:
            if value and value.strip():
                (secret if raw.get("secret") else plain).add(value)
    return plain, secret


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    invocation = dict(module_args=sanitized_params(params))
    plain, secret = masked_values(params["files"])
    module.no_log_values.difference_update(plain - secret)
    module.no_log_values.update(secret)

    errors = check_args(params["files"], params["prune"], params["defaults"], sources=RENDERED_SOURCES)
    if errors:
        module.fail_json(msg="files: %s" % "; ".join(errors), invocation=invocation)
    entries, prunes = prepare(params["files"], params["defaults"], params["prune"])

    problems = resolve_ids(entries)
    if problems and not module.check_mode:
        module.fail_json(msg="files: %s" % "; ".join(problems), invocation=invocation)

    # Read before anything is applied: the host as the run found it.
    host = None
    if params["report_host"] is not None:
        host = host_report(params["report_host"]["ports"], params["report_host"]["paths"])

    try:
        result = apply_all(entries, prunes, check_mode=module.check_mode, want_diff=module._diff,
                           run=module.run_command)
    except FilesError as exc:
        result = dict(exc.result or {})
        result.update(msg="files: %s" % exc.msg, failed_path=exc.path, invocation=invocation)
        module.fail_json(**result)
    result["units"] = {}
    if params["report_units"]:
        try:
            result["units"] = report_units(params["report_units"], module.get_bin_path("systemctl", required=True),
                                           module.run_command)
        except UnitsError as exc:
            result.update(msg="files: applied, but the state of %s could not be read: %s"
                          % (", ".join(params["report_units"]), exc.msg), invocation=invocation)
            module.fail_json(**result)
    if host is not None:
        # What the entries that change need on each path's file system (check mode: would need).
        result["host"] = with_needed_space(host, entries, result["files"])
    result["invocation"] = invocation
    module.exit_json(**result)


def report_units(names, systemctl, run):
    """name -> unit state of every unit in ``names`` (each once), in ONE ``systemctl show``."""
    unique = []
    for name in names:
        if name not in unique:
            unique.append(name)
    return Systemctl(systemctl, lambda argv: run(argv, environ_update=dict(SYSTEMD_PAGER="", SYSTEMD_COLORS="0"))
                     ).show(unique)


def main():
    run_module()


if __name__ == "__main__":
    main()
