#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: venvs
short_description: Ensure many Python virtualenvs on a host in one module execution
version_added: 0.1.0
description:
  - Ensures every virtualenv of O(venvs) and removes every path of O(absent), in B(one) module
    execution, so a role does not loop M(ansible.builtin.pip) over its services.
  - A venv is B(complete) when C(<path>/.alicia-venv.json) (the marker) records the sha256 of
    the requirements content, O(venvs[].python), O(venvs[].wheelhouse), O(venvs[].pip_args) and
    O(venvs[].system_site_packages) equal to the wanted one, C(<path>/bin/python) still resolves,
    and O(venvs[].python) resolves to the same interpreter as when the venv was built (a C(python3)
    link moved to another Python version makes the venv stale). A complete venv is left alone; a
    run that changes nothing only reads the markers and runs no command.
  - A missing or stale venv is built next to its path, in C(<path>.new-<random>) -
    C(python -m venv), the requirements written to C(requirements.txt) in it,
    C(pip install --no-compile -r requirements.txt), C(pip freeze --local) - while the
    previous venv at the path keeps serving. The temporary path that C(venv) and pip write into
    the venv (the shebangs of the console scripts in C(bin/), the C(activate) scripts,
    C(pyvenv.cfg)) is then rewritten to the final path, every C(.pyc) is compiled again
    recording the final path (C(compileall -f -d)), and the marker is written last.
  - The new venv is then swapped in - the old one renamed to C(<path>.old-<random>), the new one
    renamed to the path, the old one removed. Processes that run from the old venv keep their open
    files; restart them to use the new one.
  - When a step fails (C(python -m venv), pip), the temporary directory is removed - the previous
    venv, if any, was never touched and keeps its marker, the failed build leaves no marker, and
    the next run tries again. The other venvs of the call are still ensured; then the module fails
    naming each failed venv with the last lines of the failing command's output.
  - The module fails before building anything when an argument cannot work (a relative or
    duplicate path, nested venvs, pip options that would install outside the venv). A path that
    exists and is neither a virtualenv (C(pyvenv.cfg) or the marker in it) nor an empty directory
    is never replaced or removed; that venv fails.
  - Missing parent directories of a venv are created (mode C(0755)). Venvs are built with umask
    C(022), so every user (the services' users) can read them; they belong to the user the module
    runs as.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  venvs:
    description:
      - The virtualenvs to ensure, in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - Absolute path of the venv. Each path may appear once and no venv may be inside another.
        type: str
        required: true
      requirements:
        description:
          - The B(content) of the requirements file (not a path), written to
            C(<path>/requirements.txt). Use pinned versions - the venv is rebuilt only when this
            text (or another option) changes, never because a newer release appeared.
          - An empty string makes a venv without packages.
          - It shows in the task's C(invocation) (with C(-vvv)); keep index credentials in the
            host's C(pip.conf), not in this text.
        type: str
        required: true
      python:
        description:
          - Absolute path of the Python interpreter that creates the venv (C(python -m venv)). On
            Debian it needs the C(python3-venv) package.
        type: str
        default: /usr/bin/python3
      wheelhouse:
        description:
          - A directory on the host holding the wheels to install from; pip then runs with
            C(--no-index --find-links <wheelhouse>) and never contacts a package index.
          - Its path is part of the digest, its content is not - a new wheel alone does not
            rebuild a venv; change the pinned version in O(venvs[].requirements).
          - Omitted, pip uses the host's configuration (C(pip.conf), C(PIP_*) variables of the
            task's C(environment)).
        type: str
      pip_args:
        description:
          - Extra arguments for C(pip install), after the wheelhouse options and before C(-r).
          - C(--target), C(--prefix), C(--root), C(--user) and C(-r) are refused. Do not put
            credentials here (they would show in the result and the marker); use the host's
            C(pip.conf) instead.
        type: list
        elements: str
        default: []
      system_site_packages:
        description:
          - Give the venv access to the system's site-packages (C(--system-site-packages)), for
            example to use Debian's C(python3-paho-mqtt). RV(venvs[].packages) lists only what is
            installed in the venv itself (C(pip freeze --local)).
        type: bool
        default: false
  absent:
    description:
      - Absolute paths of venvs to remove (recursively), with the temporary directories of
        interrupted runs next to them. A missing path is fine. A path that is not a virtualenv
        (no C(pyvenv.cfg) or marker) and not an empty directory is never removed; the module fails.
      - A path may not be in O(venvs) as well.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only the markers are read; nothing is built or removed. A venv that would be built is
        reported with RV(venvs[].action) V(created) or V(rebuilt) and RV(venvs[].packages) V(null).
      - A venv that would be built also carries the room its build needs, RV(venvs[].estimate_bytes)
        (the venvs it replaces or resembles are measured only then; a run that changes nothing measures nothing).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - One diff per changed venv, its marker before and after (JSON). Before a first build the
        before side says the venv is absent; in check mode the after side shows C(packages) as not
        known yet. A removed venv shows as absent after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Why the temporary directory is rewritten rather than the venv built at its final path - the
    previous venv must keep serving while pip runs and must stay untouched when pip fails; a
    venv built elsewhere only records its own path in the places rewritten (checked by the unit
    tests - no file of a swapped-in venv names the temporary directory). C(python -m venv --copies)
    would not help - the scripts' shebangs still name the temporary path.
  - The swap is two renames; for the instant between them the path does not exist.
  - Do not run two instances of the module on the same venv at the same time - a build removes
    the temporary directories of earlier, interrupted runs.
  - Variables that would point python or pip elsewhere (C(PYTHONPATH), C(PYTHONHOME),
    C(VIRTUAL_ENV), C(PIP_TARGET), C(PIP_PREFIX), C(PIP_ROOT), C(PIP_USER), ...) are removed from the
    environment of the commands; C(PIP_DISABLE_PIP_VERSION_CHECK) and C(PIP_NO_INPUT) are set.
seealso:
  - module: ansible.builtin.pip
  - module: alicia.platform.files
"""

EXAMPLES = r"""
- name: Service | the venvs of this phase's Python services, one per distinct requirements
  alicia.platform.venvs:
    venvs:
      - path: /opt/alicia/venvs/3f2a9c1e
        requirements: |
          paho-mqtt==2.1.0
          fastapi==0.115.0
        wheelhouse: /opt/alicia/wheelhouse
      - path: /opt/alicia/venvs/81be07d4
        requirements: "paho-mqtt==2.1.0\n"
        system_site_packages: true
        wheelhouse: /opt/alicia/wheelhouse
    absent:
      - /opt/alicia/venvs/0c11d5aa
  register: service_venvs

- name: Service | restart the services whose venv changed, in one task
  alicia.platform.units:
    units:
      - name: alicia-stt_service.service
        state: started
      - name: alicia-tts_service.service
        state: started
    restart: "{{ ['alicia-stt_service.service', 'alicia-tts_service.service']
                 if '/opt/alicia/venvs/3f2a9c1e' in service_venvs.changed_paths else [] }}"

- name: A venv from a package index, with pip options
  alicia.platform.venvs:
    venvs:
      - path: /opt/tools/venv
        python: /usr/bin/python3.11
        requirements: "{{ lookup('ansible.builtin.file', 'tools-requirements.txt') }}"
        pip_args: ["--only-binary=:all:"]
"""

RETURN = r"""
venvs:
  description: One result per entry of O(venvs), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /opt/alicia/venvs/3f2a9c1e
      changed: true
      action: rebuilt
      reason: requirements or options changed
      digest: 5b0c3a0e1f1d0f57e9e1a3b6d1d6f2a7e3c4b5a69788796a5b4c3d2e1f0a9b8c
      packages: [fastapi==0.115.0, paho-mqtt==2.1.0, pydantic==2.9.2]
      error: null
  contains:
    path:
      description: The venv's path, normalized.
      type: str
    changed:
      description: Whether the venv was (in check mode - would be) built.
      type: bool
    action:
      description: What was (would be) done; V(failed) when the build failed or the path is not a venv.
      type: str
      choices: [created, rebuilt, unchanged, failed]
    reason:
      description: Why the venv was (would be) built - no venv, no marker, requirements or options changed,
        C(bin/python) broken, the interpreter changed; V(null) for a complete venv.
      type: str
    digest:
      description: The wanted digest (sha256 hex), as recorded in the marker.
      type: str
    packages:
      description:
        - The venv's C(pip freeze --local) lines, from the marker for a complete venv and from the
          build for a new one. V(null) when nothing was built (check mode, failure).
      type: list
      elements: str
    error:
      description: Why the venv failed (the step and the command's last lines); V(null) otherwise.
      type: str
    estimate_bytes:
      description:
        - In check mode, for a venv that would be built, the room on disk its build needs - it is built beside
          the venv it replaces, which frees nothing until the swap. The size on disk (allocated blocks) of the
          venv at the path when there is one; else of the largest venv in the same parent directory; else
          100 MB. V(null) for any other item and outside check mode.
        - The platform plan's pre-deployment checks add it to what the install directory's file system must
          have free (P(alicia.platform.service_host_check_problems#filter)).
      type: int
      sample: 104857600
    estimate_from:
      description: What RV(venvs[].estimate_bytes) measured - a venv's path, or V(default); V(null) with it.
      type: str
      sample: /opt/alicia/venvs/3f2a9c1e
absent:
  description: One result per path of O(absent) (C(path), C(changed), C(action) V(removed),
    V(unchanged) or V(failed), C(error)).
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /opt/alicia/venvs/0c11d5aa, changed: true, action: removed, error: null}
removed:
  description: The paths of O(absent) that were (would be) removed.
  returned: always
  type: list
  elements: str
  sample: [/opt/alicia/venvs/0c11d5aa]
changed_paths:
  description: The paths of the venvs built or removed (in check mode - that would be), in order.
  returned: always
  type: list
  elements: str
  sample: [/opt/alicia/venvs/3f2a9c1e]
diff:
  description: One diff per changed venv, its marker before and after.
  returned: diff mode
  type: list
  elements: dict
  sample:
    - before_header: /opt/alicia/venvs/3f2a9c1e/.alicia-venv.json
      after_header: /opt/alicia/venvs/3f2a9c1e/.alicia-venv.json
      before: "state: absent\n"
      after: "{\n  \"digest\": \"5b0c...\",\n  \"packages\": [\n    \"paho-mqtt==2.1.0\"\n  ],\n  ...\n}\n"
msg:
  description: Summary, or on failure each failed venv with its error.
  returned: always
  type: str
  sample: "1 of 3 venvs changed (rebuilt 1)"
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._venvs import (
    VenvsError,
    argument_spec,
    check_args,
    ensure_all,
    scrub_environment,
)


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    errors = check_args(params["venvs"], params["absent"])
    if errors:
        module.fail_json(msg="venvs: %s" % "; ".join(errors), changed=False)

    scrub_environment(os.environ)  # the module's own environment, inherited by every command it runs

    def run(argv, env):
        return module.run_command(argv, environ_update=env)

    try:
        result = ensure_all(params["venvs"], params["absent"], run=run, check_mode=module.check_mode,
                            want_diff=module._diff)
    except VenvsError as exc:
        result = dict(exc.result or dict(changed=False))
        result["msg"] = "venvs: %s" % exc.msg
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
