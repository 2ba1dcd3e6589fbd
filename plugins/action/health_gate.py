# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of alicia.platform.health_gate: in the controller's process when the task runs there.

A gate delegated to the controller (connection local, no become) runs the
module's own code (module_utils/_gate_task.execute) in this process: the
same options, checks, probes, history and result, without a module start
(AnsiballZ, a new Python) that costs more than the probes themselves.
Anywhere else (a remote host, or become on the controller) the module runs
as usual, in one execution.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.alicia.platform.plugins.module_utils._gate_task import argument_spec, execute

MODULE = "alicia.platform.health_gate"


def in_process(transport, become):
    """The gate runs in the controller's process: connection local, no become."""
    return transport == "local" and not become


def run_command(argv):
    """A state read on the controller (the module's run(), without AnsibleModule)."""
    binary = shutil.which(argv[0])
    if not binary:
        return 127, "", "%s: not found" % argv[0]
    proc = subprocess.run([binary] + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, LC_ALL="C"), check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def gate_in_process(args, check_mode):
    """The task's result, ``(result, warnings)``, from the module's code run here."""
    validated = ArgumentSpecValidator(argument_spec()).validate(args)
    if validated.error_messages:
        return {"failed": True, "msg": "health_gate: %s" % "; ".join(validated.error_messages)}, []
    summary, warning = execute(validated.validated_parameters, check_mode, run_command, socket.gethostname)
    return summary, [warning] if warning else []


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not in_process(getattr(self._connection, "transport", None), self._play_context.become):
            result.update(self._execute_module(module_name=MODULE, module_args=self._task.args,
                                               task_vars=task_vars))
            return result
        summary, warnings = gate_in_process(dict(self._task.args), bool(self._task.check_mode))
        result.update(summary)
        if warnings:
            result.setdefault("warnings", []).extend(warnings)
        return result
