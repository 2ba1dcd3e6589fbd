# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of alicia.platform.containers: the base image archive, only when it is needed.

The module runs once with ``base_image_archive`` (a path on the controller)
taken as a promise. When an image must be built and the base image is not
on the host, the module changes nothing and answers ``base_image_missing``;
only then is the archive copied into a temporary directory on the host and
the module run again with ``base_image_load`` pointing at it. A host that
has the base image, a re-run and check mode never transfer it. The
temporary directory is removed in every case.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

MODULE = "alicia.platform.containers"


class ActionModule(ActionBase):

    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = dict()
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        args = dict(self._task.args)
        archive = args.get("base_image_archive")
        try:
            module_result = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
            if module_result.get("base_image_missing") and archive and not self._play_context.check_mode:
                local = self._local_archive(archive)
                tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
                remote = self._connection._shell.join_path(tmpdir, "base-image.tar")
                self._transfer_file(local, remote)
                self._fixup_perms2((tmpdir, remote))
                args = dict(args, base_image_load=remote)
                args.pop("base_image_archive", None)
                module_result = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
                module_result["base_image_archive_copied"] = True
            result.update(module_result)
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _local_archive(self, archive):
        """The archive's path on the controller (absolute, or found like copy's src)."""
        try:
            path = self._find_needle("files", archive)
        except AnsibleError as exc:
            raise AnsibleActionFail("containers: base_image_archive %s is not on the controller: %s"
                                    % (archive, to_text(exc)))
        if not os.path.isfile(path):
            raise AnsibleActionFail("containers: base_image_archive %s is not a file" % archive)
        return path
