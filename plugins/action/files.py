# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of alicia.platform.files: render on the controller, then one module execution.

Templates are rendered like ansible.builtin.template renders them in
ansible-core 2.19 (role search path, template variables including
ansible_managed, the template source trusted, trailing newline kept), src
files are read like ansible.builtin.copy reads them (role files/, vault
decrypted); every entry's content goes to the module base64-encoded in a
single _execute_module call. Content is never displayed or logged here.
Every entry is checked here first (check_args: sources, validate, mode,
a link's target), so a bad entry fails naming it before the module runs.
A state tree entry is expanded here into plain directory and file entries
(walk_tree, tree_entries): the module never sees a tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

from jinja2.defaults import (
    BLOCK_END_STRING,
    BLOCK_START_STRING,
    COMMENT_END_STRING,
    COMMENT_START_STRING,
    VARIABLE_END_STRING,
    VARIABLE_START_STRING,
)

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase
from ansible.template import generate_ansible_template_vars

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: every template is trusted
    def trust_as_template(value):
        return value

from ansible_collections.alicia.platform.plugins.module_utils._files import (
    TreeError,
    argument_spec,
    check_args,
    expanded_duplicates,
    label,
    tree_entries,
    walk_tree,
)

MODULE = "alicia.platform.files"

# ansible.builtin.template's defaults (trim_blocks on, lstrip_blocks off, "\n").
TEMPLATE_OVERRIDES = dict(
    block_start_string=BLOCK_START_STRING,
    block_end_string=BLOCK_END_STRING,
    variable_start_string=VARIABLE_START_STRING,
    variable_end_string=VARIABLE_END_STRING,
    comment_start_string=COMMENT_START_STRING,
    comment_end_string=COMMENT_END_STRING,
    trim_blocks=True,
    lstrip_blocks=False,
    newline_sequence="\n",
)

CONTROLLER_ONLY = ("template", "src", "vars", "content", "directory_mode", "exclude")


def json_content(args):
    """Task args with non-text content (a dict or a list) as JSON text, like ansible.builtin.copy."""
    files = args.get("files")
    if not isinstance(files, list):
        return args
    converted = []
    for entry in files:
        if isinstance(entry, dict) and entry.get("content") is not None \
                and not isinstance(entry["content"], string_types):
            entry = dict(entry, content=json.dumps(entry["content"]))
        converted.append(entry)
    return dict(args, files=converted)


def without_none(entry):
    return dict((name, value) for name, value in entry.items() if value is not None)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = dict()
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        try:
            validation = ArgumentSpecValidator(argument_spec()).validate(json_content(self._task.args))
            if validation.error_messages:
                raise AnsibleActionFail("files: %s" % "; ".join(validation.error_messages))
            params = validation.validated_parameters
            errors = check_args(params["files"], params.get("prune"), params.get("defaults"))
            if errors:
                raise AnsibleActionFail("files: %s" % "; ".join(errors))

            expanded = []  # (index, task entry, module entry): trees become one entry per directory and file
            for index, entry in enumerate(params["files"]):
                if entry.get("state") == "tree":
                    sent = self._tree(index, entry, params.get("defaults"))
                else:
                    sent = [self._entry(index, entry, task_vars)]
                expanded.extend((index, entry, item) for item in sent)
            errors = expanded_duplicates(expanded)
            if errors:
                raise AnsibleActionFail("files: %s" % "; ".join(errors))

            module_args = dict(files=[item for _index, _entry, item in expanded])
            if params.get("defaults"):
                module_args["defaults"] = without_none(params["defaults"])
            if params.get("prune"):
                module_args["prune"] = [without_none(spec) for spec in params["prune"]]
            if params.get("report_units"):
                module_args["report_units"] = params["report_units"]
            if params.get("report_host") is not None:
                module_args["report_host"] = params["report_host"]

            result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _entry(self, index, entry, task_vars):
        """The module's entry: content as content_b64, controller-only options dropped."""
        name = label(index, entry)
        if entry.get("template") is not None:
            data = self._render(name, entry, task_vars)
        elif entry.get("src") is not None:
            data = self._read_src(name, entry["src"])
        elif entry.get("content") is not None:
            data = to_bytes(entry["content"], errors="surrogate_or_strict")
        else:
            data = None
        sent = without_none(dict((k, v) for k, v in entry.items() if k not in CONTROLLER_ONLY))
        if data is not None:
            sent["content_b64"] = to_text(base64.b64encode(data))
        return sent

    def _find(self, name, where, needle):
        try:
            return self._find_needle(where, needle)
        except AnsibleError as exc:
            raise AnsibleActionFail("%s: %s" % (name, to_text(exc)))

    def _read_src(self, name, src):
        """The bytes of a file from the role's files/ (or the usual copy search path), vault decrypted."""
        source = self._find(name, "files", src)
        if os.path.isdir(source):
            raise AnsibleActionFail("%s: src %s is a directory; use state: tree to copy a directory" % (name, src))
        return self._read_file(source)

    def _read_file(self, source):
        """The bytes of a controller file, vault decrypted."""
        real = self._loader.get_real_file(source, decrypt=True)
        try:
            with open(to_bytes(real, errors="surrogate_or_strict"), "rb") as handle:
                return handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)

    def _tree(self, index, entry, defaults):
        """A state tree entry as the module's entries: its directory, then each directory and file below src."""
        name = label(index, entry)
        source = self._find(name, "files", entry["src"])
        if not os.path.isdir(source):
            raise AnsibleActionFail("%s: state tree needs src to be a directory; %s is not" % (name, entry["src"]))
        try:
            items = walk_tree(source, entry.get("exclude"))
        except TreeError as exc:
            raise AnsibleActionFail("%s: src %s: %s" % (name, entry["src"], exc))
        sent = []
        for item in tree_entries(entry, items, defaults):
            path = item.pop("source", None)
            if path is not None:
                item["content_b64"] = to_text(base64.b64encode(self._read_file(path)))
            sent.append(item)
        return sent

    def _reuse_compiled_templates(self, templar, searchpath):
        """Compile each template text once per task, not once per file.

        A phase renders the same two templates for every service; Jinja's
        compile step, not the rendering, is most of the cost (about 6 ms a
        compile on the build machine). ansible-core 2.19's engine compiles in
        ``_compile_template(template, options)``; this wraps it, for this
        templar only, with a cache that lives as long as the task, keyed by
        the text, the options and the search path (which includes resolve
        against). Other versions keep their own behaviour.
        """
        engine = getattr(templar, "_engine", None)
        compile_template = getattr(engine, "_compile_template", None)
        if compile_template is None:
            return
        cache = self.__dict__.setdefault("_alicia_compiled", {})

        def cached(template, options):
            key = (str(template), repr(options), tuple(searchpath))
            if key not in cache:
                cache[key] = compile_template(template, options)
            return cache[key]
        engine._compile_template = cached

    def _render(self, name, entry, task_vars):
        """A template rendered as ansible.builtin.template renders it, as UTF-8 bytes."""
        source = self._find(name, "templates", entry["template"])
        if hasattr(self._loader, "get_text_file_contents"):  # ansible-core 2.19 and later
            text = self._loader.get_text_file_contents(source)
        else:
            real = self._loader.get_real_file(source, decrypt=True)
            try:
                with open(to_bytes(real, errors="surrogate_or_strict"), "rb") as handle:
                    text = to_text(handle.read(), errors="surrogate_or_strict")
            finally:
                self._loader.cleanup_tmp_file(real)
        template_data = trust_as_template(text)

        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader.get_basedir(), os.path.dirname(source)])
        # like template: each search path's templates/ subdirectory first
        searchpath = [p for path in searchpath for p in (os.path.join(path, "templates"), path)]

        temp_vars = task_vars.copy()
        temp_vars.update(entry.get("vars") or {})
        template_vars = generate_ansible_template_vars(path=entry["template"], fullpath=source,
                                                       dest_path=entry["path"])
        if "ansible_managed" in temp_vars:  # do not clobber ansible_managed when set by the user
            template_vars.pop("ansible_managed", None)
        temp_vars.update(template_vars)

        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=temp_vars)
        self._reuse_compiled_templates(templar, searchpath)
        try:
            resultant = templar.template(template_data, escape_backslashes=False, overrides=TEMPLATE_OVERRIDES)
        except AnsibleError as exc:
            raise AnsibleActionFail("%s: template %s: %s" % (name, entry["template"], to_text(exc)), orig_exc=exc)
        if resultant is None:
            resultant = ""
        return to_bytes(resultant, encoding="utf-8", errors="surrogate_or_strict")
