#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: units
short_description: Reconcile many systemd units in one module execution
version_added: 0.1.0
description:
  - Brings every unit of O(units) to its desired O(units[].enabled) and
    O(units[].state), restarts the units of O(restart), and stops and disables
    the units of O(absent), in B(one) module execution, so a role replaces its
    M(ansible.builtin.systemd_service) loop with one task.
  - Reads the state of every unit named with B(one)
    C(systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID)
    call, then makes at most one systemctl call per verb, each with every unit
    it applies to, in this order - C(daemon-reload) (when O(daemon_reload=true)),
    C(stop), C(disable), C(enable), C(start), C(restart), C(reload). systemd
    starts the units of the one C(start) call in parallel, ordered by their
    own C(After=) and C(Wants=). C(--now) is never used.
  - No unit changes when a unit to enable, start, restart or reload is not
    loaded (no unit file, C(LoadState) C(not-found), or any C(LoadState)
    other than C(loaded)) or is masked; the module fails naming every such unit
    (a missing unit is fine in check mode, see the C(check_mode) attribute).
  - After the calls the units started, restarted or reloaded are read again
    (one C(systemctl show)); a unit that is C(failed) makes the module fail,
    naming it, with the last lines of its C(systemctl status --no-pager -n 20)
    (or, when that prints nothing, C(journalctl -u <unit> -n 20 --no-pager)).
    With O(wait) the units are polled until none is activating, deactivating
    or reloading (a service is then C(active) with C(SubState) C(running) or
    C(exited), or C(failed)).
  - A systemctl call that fails stops the run; the module fails naming the
    units of that call (for C(start) and C(restart) only those that do not run
    afterwards) with systemctl's message and their status lines. The result
    lists what was done before.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  units:
    description:
      - The units to reconcile, each named once.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The unit name, with its suffix (V(alicia-stt_service.service), V(alicia-report.timer)).
            Patterns are not accepted.
        type: str
        required: true
      enabled:
        description:
          - V(true) runs C(systemctl enable) when the unit's C(UnitFileState) is C(disabled),
            C(linked) or C(linked-runtime); C(enabled), C(enabled-runtime), C(static),
            C(indirect), C(generated), C(transient) and C(alias) units are left as they are.
          - V(false) runs C(systemctl disable) when the unit's C(UnitFileState) is C(enabled);
            runtime enablement (C(enabled-runtime)) is left alone.
          - Omitted, the unit's enablement is left as it is.
        type: bool
      state:
        description:
          - V(started) starts the unit unless it runs (C(ActiveState) C(active), C(activating)
            or C(reloading)).
          - V(stopped) stops the unit when it runs.
          - V(restarted) restarts the unit when it runs and starts it when it does not, every run.
          - V(reloaded) reloads the unit when it runs and starts it when it does not, every run.
          - Omitted, the unit is left running or stopped as it is.
        type: str
        choices: [started, stopped, restarted, reloaded]
  restart:
    description:
      - Units to restart even when they run, for example because their configuration
        changed. They are restarted in this order with one C(systemctl restart) call,
        after the start call; a unit that does not run is started instead (and not
        restarted as well).
      - A unit here may be in O(units) (its O(units[].state) then acts as V(restarted),
        so it must not be V(stopped)) or not (only restarted or started).
    type: list
    elements: str
    default: []
  absent:
    description:
      - Units removed from the host - each is stopped when it runs and disabled when
        its C(UnitFileState) is C(enabled). A unit that does not exist (C(LoadState)
        C(not-found)) is fine; one still running after its unit file was removed is stopped.
      - A unit here must not be in O(units) or O(restart).
    type: list
    elements: str
    default: []
  daemon_reload:
    description:
      - Run C(systemctl daemon-reload) once, before anything else.
      - A daemon reload alone does not make the result C(changed), as it changes no unit's
        state; RV(daemon_reloaded) tells whether it ran.
    type: bool
    default: false
  wait:
    description:
      - Seconds to poll, after the calls, until every unit started, restarted or reloaded
        is no longer activating, deactivating or reloading (for example a service in
        C(auto-restart)). A unit still in such a state then makes the module fail.
      - V(0) reads the units once, without waiting; only C(failed) units make the module fail.
    type: float
    default: 0
  systemctl:
    description:
      - Path of the systemctl binary; found on the C(PATH) when omitted.
      - A C(journalctl) in the same directory is preferred for the status fallback.
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only C(systemctl show) runs; C(daemon-reload) does not. The result tells what
        would be done.
      - A unit that does not exist yet (C(LoadState) C(not-found)) does not make the
        module fail in check mode - its unit file would be written by an earlier task
        that did nothing in check mode - and is reported as it would be enabled and started.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - "One diff listing each unit acted on as C(<unit>: <ActiveState>/<UnitFileState>) before
        and after, for example C(alicia-x.service: inactive/disabled) becoming
        C(alicia-x.service: active/enabled); restarts and reloads are marked on the after line."
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - Units are read and acted on in the order given; systemd may still run the jobs of one
    call in parallel.
  - The module does not unmask, mask or reset failed units.
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Voice | units of the phase, in one task
  alicia.platform.units:
    daemon_reload: "{{ voice_files is changed }}"
    units:
      - name: alicia-stt_service.service
        enabled: true
        state: started
      - name: alicia-tts_service.service
        enabled: true
        state: started
    restart: "{{ ['alicia-stt_service.service'] if 'stt_service' in voice_files.changed_keys else [] }}"
    absent:
      - alicia-old.service
    wait: 10
  register: voice_units

- name: Stop and disable a timer
  alicia.platform.units:
    units:
      - name: alicia-report.timer
        enabled: false
        state: stopped
"""

RETURN = r"""
changed:
  description: Whether any unit was (or in check mode would be) stopped, disabled, enabled, started, restarted or reloaded.
  returned: always
  type: bool
  sample: true
units:
  description: One result per unit named in O(units), O(restart) and O(absent).
  returned: always
  type: dict
  sample:
    alicia-stt_service.service:
      actions: [enabled, started]
      before: {load_state: loaded, active_state: inactive, sub_state: dead, unit_file_state: disabled,
               main_pid: 0, active: false, enabled: false}
      after: {load_state: loaded, active_state: active, sub_state: running, unit_file_state: enabled,
              main_pid: 4242, active: true, enabled: true}
  contains:
    actions:
      description: What was (or in check mode would be) done, in the order of the calls.
      type: list
      elements: str
      choices: [stopped, disabled, enabled, started, restarted, reloaded]
    before:
      description:
        - The unit's state as read at the start - C(load_state), C(active_state), C(sub_state),
          C(unit_file_state) (the systemd properties), C(main_pid), and the booleans C(active)
          (C(active_state) is C(active), C(activating) or C(reloading)) and C(enabled)
          (C(unit_file_state) is C(enabled) or C(enabled-runtime)).
      type: dict
    after:
      description:
        - The same keys after the calls - read again for units started, restarted or reloaded,
          otherwise predicted from the actions (always predicted in check mode).
      type: dict
started:
  description: Units started, in order.
  returned: always
  type: list
  elements: str
  sample: [alicia-stt_service.service]
restarted:
  description: Units restarted, in order.
  returned: always
  type: list
  elements: str
  sample: []
reloaded:
  description: Units reloaded, in order.
  returned: always
  type: list
  elements: str
  sample: []
stopped:
  description: Units stopped, in order.
  returned: always
  type: list
  elements: str
  sample: [alicia-old.service]
enabled:
  description: Units enabled, in order.
  returned: always
  type: list
  elements: str
  sample: [alicia-stt_service.service]
disabled:
  description: Units disabled, in order.
  returned: always
  type: list
  elements: str
  sample: [alicia-old.service]
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran (in check mode - would run).
  returned: always
  type: bool
  sample: true
failed_units:
  description: The units the failure is about.
  returned: failure
  type: list
  elements: str
  sample: [alicia-stt_service.service]
diff:
  description: Before and after lines of the units acted on.
  returned: diff mode
  type: dict
  sample:
    before_header: systemd units
    after_header: systemd units
    before: "alicia-stt_service.service: inactive/disabled\n"
    after: "alicia-stt_service.service: active/enabled\n"
msg:
  description: Summary, one C(<unit> <before> -> <after> (<actions>)) part per unit acted on.
  returned: always
  type: str
  sample: "1 of 3 units changed: alicia-stt_service.service inactive/disabled -> active/enabled (enabled, started)"
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._units import (
    Systemctl,
    UnitsError,
    argument_spec,
    reconcile,
)


def journalctl_next_to(module, systemctl):
    candidate = os.path.join(os.path.dirname(systemctl), "journalctl")
    if os.access(candidate, os.X_OK):
        return candidate
    return module.get_bin_path("journalctl")


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    binary = params["systemctl"] or module.get_bin_path("systemctl", required=True)

    def run(argv):
        return module.run_command(argv, environ_update=dict(SYSTEMD_PAGER="", SYSTEMD_COLORS="0"))

    systemctl = Systemctl(binary, run, journalctl=journalctl_next_to(module, binary))
    try:
        result = reconcile(params, systemctl, check_mode=module.check_mode, want_diff=module._diff)
    except UnitsError as exc:
        result = dict(exc.result or {})
        result.update(msg="units: %s" % exc.msg, failed_units=exc.failed_units)
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
