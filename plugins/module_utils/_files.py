# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many files on a host in one module execution, as plain functions.

Used by the alicia.platform.files module (on the target) and its action
plugin (on the controller, for the argument spec and the checks that need
no file system). Standard library only.

Flow: ``check_args`` (structure, duplicates, relative paths; collects every
problem), ``prepare`` (defaults, modes, content bytes), ``resolve_ids``
(owners and groups), then ``apply_all`` (entries in order, then prune).
Content and symbolic links are replaced atomically: a temporary file or
link in the same directory, renamed over the path.
Nothing here prints or exits; errors are ``FilesError`` with the partial
result attached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import fnmatch
import grp
import hashlib
import os
import pwd
import shutil
import stat
import tempfile

STATES = ("file", "directory", "absent", "touch", "link", "tree")
SOURCES = ("template", "content", "content_b64", "src")
RENDERED_SOURCES = ("content", "content_b64")
DIFF_LIMIT = 256 * 1024
TEMP_PREFIX = ".alicia-files-"
OUTPUT_LIMIT = 2000
# never copied from a tree source (base names, fnmatch)
TREE_SKIPPED = ("__pycache__", "*.pyc", "*.pyo", ".git")
TREE_FILE_MODE = 0o644

ENTRY_OPTIONS = dict(
    path=dict(type="str", required=True),
    state=dict(type="str", default="file", choices=list(STATES)),
    template=dict(type="str"),
    content=dict(type="str", no_log=True),
    content_b64=dict(type="str", no_log=True),
    src=dict(type="str"),
    vars=dict(type="dict"),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    validate=dict(type="str"),
    target=dict(type="str"),
    force=dict(type="bool", default=False),
    secret=dict(type="bool", default=False, no_log=False),
    key=dict(type="str", no_log=False),
    directory_mode=dict(type="raw"),
    exclude=dict(type="list", elements="str"),
)

DEFAULTS_OPTIONS = dict(
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    directory_mode=dict(type="raw"),
)

PRUNE_OPTIONS = dict(
    path=dict(type="str", required=True),
    patterns=dict(type="list", elements="str", required=True),
    key=dict(type="str", no_log=False),
    directories=dict(type="bool", default=False),
    keep=dict(type="int", no_log=False),
)


def argument_spec():
    """The module's argument spec (the action plugin validates task args with it too)."""
    return dict(
        files=dict(type="list", elements="dict", required=True, options=ENTRY_OPTIONS),
        defaults=dict(type="dict", options=DEFAULTS_OPTIONS),
        prune=dict(type="list", elements="dict", options=PRUNE_OPTIONS),
        report_units=dict(type="list", elements="str", default=[]),
        report_host=dict(type="dict", options=dict(
            ports=dict(type="list", elements="int", default=[]),
            paths=dict(type="list", elements="path", default=[]),
        )),
    )


class FilesError(Exception):
    """A problem with the arguments or while applying; ``result`` holds what was done before it."""

    def __init__(self, msg, result=None, path=None):
        super(FilesError, self).__init__(msg)
        self.msg = msg
        self.result = result
        self.path = path


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def label(index, entry):
    """How an entry is named in messages: files[3] (/etc/x)."""
    path = entry.get("path") if isinstance(entry, dict) else None
    return "files[%d] (%s)" % (index, path) if path else "files[%d]" % index


def _given(entry, name):
    return entry.get(name) is not None


def parse_mode(value, what="mode"):
    """An octal mode from a string ('0644', '644', '0o644') or an int (taken as is); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("%s must be an octal string such as '0644' or an int, not %r" % (what, value))
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if text.lower().startswith("0o"):
            text = text[2:]
        if not text or len(text) > 5 or any(c not in "01234567" for c in text):
            raise ValueError("%s must be octal digits such as '0644', got %r" % (what, value))
        mode = int(text, 8)
    if mode < 0 or mode > 0o7777:
        raise ValueError("%s %r is out of range (0 to 07777)" % (what, value))
    return mode


def directory_mode_from(mode):
    """A directory mode for a file mode: search (x) wherever read (r) is allowed, 0644 -> 0755."""
    if mode is None:
        return None
    for read, search in ((0o400, 0o100), (0o040, 0o010), (0o004, 0o001)):
        if mode & read:
            mode |= search
    return mode


def check_args(files, prune=None, defaults=None, sources=SOURCES):
    """Every problem with the arguments as a list of messages (empty when fine); no file system access.

    ``sources`` are the content options accepted: the module itself takes
    only rendered content (content, content_b64); template and src are the
    action plugin's.
    """
    errors = []
    seen = {}
    if not isinstance(files, list):
        return ["files must be a list of entries"]
    for index, entry in enumerate(files):
        if not isinstance(entry, dict):
            errors.append("files[%d] must be a dict, got %s" % (index, type(entry).__name__))
            continue
        name = label(index, entry)
        path = entry.get("path")
        if not path or not isinstance(path, str):
            errors.append("%s: path is required" % name)
            continue
        if not os.path.isabs(path):
            errors.append("%s: path must be absolute" % name)
            continue
        norm = os.path.normpath(path)
        if norm in seen:
            errors.append("%s: duplicate path %s (already files[%d])" % (name, norm, seen[norm]))
        else:
            seen[norm] = index
        state = entry.get("state") or "file"
        if state not in STATES:
            errors.append("%s: state must be one of %s, got %r" % (name, ", ".join(STATES), state))
            continue
        given = [s for s in SOURCES if _given(entry, s)]
        unsupported = [s for s in given if s not in sources]
        if state == "tree":
            errors.extend(_tree_problems(name, entry, given, sources))
        elif unsupported:
            errors.append("%s: %s is rendered by the alicia.platform.files action plugin; without it pass content "
                          "or content_b64" % (name, "/".join(unsupported)))
        if len(given) > 1:
            errors.append("%s: at most one of %s, got %s" % (name, "/".join(SOURCES), ", ".join(given)))
        if state == "file" and not given:
            errors.append("%s: state file needs one of %s" % (name, "/".join(sources)))
        if state not in ("file", "tree") and given:
            errors.append("%s: state %s takes no %s" % (name, state, "/".join(given)))
        if state != "tree":
            for option in ("directory_mode", "exclude"):
                if _given(entry, option):
                    errors.append("%s: %s only applies to state tree" % (name, option))
        if _given(entry, "vars") and not _given(entry, "template"):
            errors.append("%s: vars only applies to a template" % name)
        if _given(entry, "validate"):
            if state != "file":
                errors.append("%s: validate only applies to state file" % name)
            elif "%s" not in entry["validate"]:
                errors.append("%s: validate must contain %%s (the file to check): %r" % (name, entry["validate"]))
        if state == "absent" and norm == "/":
            errors.append("%s: refusing to remove /" % name)
        if state == "link":
            errors.extend(_link_problems(name, entry, norm))
        else:
            if _given(entry, "target"):
                errors.append("%s: target only applies to state link" % name)
            if entry.get("force"):
                errors.append("%s: force only applies to state link" % name)
        try:
            parse_mode(entry.get("mode"))
        except ValueError as exc:
            errors.append("%s: %s" % (name, exc))
        if _given(entry, "content_b64") and "content_b64" in sources:
            try:
                base64.b64decode(entry["content_b64"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                errors.append("%s: content_b64 is not valid base64" % name)
    for name in ("mode", "directory_mode"):
        try:
            parse_mode((defaults or {}).get(name), "defaults.%s" % name)
        except ValueError as exc:
            errors.append(str(exc))
    for index, spec in enumerate(prune or []):
        path = spec.get("path") if isinstance(spec, dict) else None
        if not path or not isinstance(path, str) or not os.path.isabs(path):
            errors.append("prune[%d] (%s): path must be absolute" % (index, path))
        elif os.path.normpath(path) == "/":
            errors.append("prune[%d]: refusing to prune /" % index)
        if not isinstance(spec, dict) or not spec.get("patterns"):
            errors.append("prune[%d] (%s): patterns must be a non-empty list" % (index, path))
            continue
        keep = spec.get("keep")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            errors.append("prune[%d] (%s): keep must be a whole number, 0 or more, got %r" % (index, path, keep))
    return errors


def _tree_problems(name, entry, given, sources):
    """What is wrong with a state tree entry (its source and options); validate, target and force by check_args."""
    problems = []
    if "src" not in sources:
        problems.append("%s: state tree is expanded by the alicia.platform.files action plugin; without it pass "
                        "one entry per file and directory" % name)
        return problems
    if "src" not in given:
        problems.append("%s: state tree needs src (a directory on the controller)" % name)
    others = [s for s in given if s != "src"]
    if others and "src" not in given:
        problems.append("%s: state tree takes its content from src only, not %s" % (name, "/".join(others)))
    try:
        parse_mode(entry.get("directory_mode"), "directory_mode")
    except ValueError as exc:
        problems.append("%s: %s" % (name, exc))
    exclude = entry.get("exclude")
    if exclude is not None and (not isinstance(exclude, list) or not all(isinstance(p, str) and p for p in exclude)):
        problems.append("%s: exclude must be a list of non-empty patterns" % name)
    return problems


def _link_problems(name, entry, norm):
    """What is wrong with a state link entry (target, mode); the sources and validate are checked by check_args."""
    problems = []
    target = entry.get("target")
    if target is None or (isinstance(target, str) and not target):
        problems.append("%s: state link needs target (the text the link points at)" % name)
    elif not isinstance(target, str):
        problems.append("%s: target must be a string, got %s" % (name, type(target).__name__))
    elif "\x00" in target:
        problems.append("%s: target must not contain NUL" % name)
    if _given(entry, "mode"):
        problems.append("%s: mode does not apply to state link (Linux ignores the mode of a symbolic link)" % name)
    if norm == "/":
        problems.append("%s: refusing to replace /" % name)
    return problems


def content_bytes(entry):
    """The bytes an entry wants in its file (None for states that take none)."""
    if _given(entry, "content_b64"):
        return base64.b64decode(entry["content_b64"], validate=True)
    if _given(entry, "content"):
        return entry["content"].encode("utf-8", "surrogateescape")
    return None


def prepare(files, defaults=None, prune=None):
    """Normalized entries and prune specs from checked module params.

    Entries omitting owner/group/mode take them from ``defaults``; a
    directory omitting mode takes ``defaults.directory_mode`` or else
    ``defaults.mode`` with search (x) added wherever read is allowed; a link
    takes no mode.
    """
    defaults = defaults or {}
    entries = []
    for index, entry in enumerate(files):
        state = entry.get("state") or "file"
        mode = parse_mode(entry.get("mode"))
        if state == "link":
            mode = None
        elif mode is None and state == "directory":
            mode = parse_mode(defaults.get("directory_mode"))
            if mode is None:
                mode = directory_mode_from(parse_mode(defaults.get("mode")))
        elif mode is None:
            mode = parse_mode(defaults.get("mode"))
        entries.append(dict(
            index=index,
            path=os.path.normpath(entry["path"]),
            state=state,
            data=content_bytes(entry),
            owner=entry.get("owner") if _given(entry, "owner") else defaults.get("owner"),
            group=entry.get("group") if _given(entry, "group") else defaults.get("group"),
            mode=mode,
            validate=entry.get("validate"),
            target=entry.get("target"),
            force=bool(entry.get("force")),
            secret=bool(entry.get("secret")),
            key=entry.get("key"),
        ))
    prunes = [dict(path=os.path.normpath(spec["path"]), patterns=list(spec["patterns"]), key=spec.get("key"),
                   directories=bool(spec.get("directories")), keep=spec.get("keep"))
              for spec in (prune or [])]
    return entries, prunes


# ---------------------------------------------------------------------------
# Trees (state tree, expanded on the controller by the action plugin)
# ---------------------------------------------------------------------------

class TreeError(Exception):
    """A tree source that cannot be copied (a link to a directory, a special file, ...)."""


def _skipped(name, exclude):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TREE_SKIPPED + tuple(exclude or ()))


def walk_tree(root, exclude=None):
    """[(relative path, kind, source path, executable)] below ``root``, parents before their content, sorted.

    ``kind`` is directory or file. Names matching TREE_SKIPPED or
    ``exclude`` (base names, fnmatch) are left out with everything below
    them. A symbolic link to a file counts as that file (its content is
    copied); a link to a directory, a dangling link or a special file raises
    TreeError.
    """
    found = []

    def walk(directory, relative):
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise TreeError("cannot list %s: %s" % (directory, exc.strerror or exc))
        for name in names:
            if _skipped(name, exclude):
                continue
            source = os.path.join(directory, name)
            rel = os.path.join(relative, name) if relative else name
            st = os.lstat(source)
            if stat.S_ISLNK(st.st_mode):
                try:
                    st = os.stat(source)
                except OSError:
                    raise TreeError("%s is a dangling symbolic link" % source)
                if not stat.S_ISREG(st.st_mode):
                    raise TreeError("%s is a symbolic link to a directory or special file; only links to files "
                                    "are followed" % source)
            if stat.S_ISDIR(st.st_mode):
                found.append((rel, "directory", source, False))
                walk(source, rel)
            elif stat.S_ISREG(st.st_mode):
                found.append((rel, "file", source, bool(st.st_mode & stat.S_IXUSR)))
            else:
                raise TreeError("%s is not a regular file or directory" % source)

    walk(root, "")
    return found


def tree_modes(entry, defaults=None):
    """(file mode, executable file mode, directory mode) of a tree entry.

    Files: the entry's mode when given (executable or not); otherwise
    defaults.mode (else 0644) for files whose source is not executable by
    its owner and that mode with search (x) added wherever read is allowed
    for those that are (0644 gives 0755). Directories: the entry's
    directory_mode, else defaults.directory_mode, else the file mode with
    search added (0644 gives 0755, 0640 gives 0750).
    """
    defaults = defaults or {}
    given = parse_mode(entry.get("mode"))
    base = given if given is not None else parse_mode(defaults.get("mode"))
    if base is None:
        base = TREE_FILE_MODE
    executable = given if given is not None else directory_mode_from(base)
    directory = parse_mode(entry.get("directory_mode"), "directory_mode")
    if directory is None:
        directory = parse_mode(defaults.get("directory_mode"), "defaults.directory_mode")
    if directory is None:
        directory = directory_mode_from(base)
    return base, executable, directory


def tree_entries(entry, items, defaults=None):
    """The plain entries a tree entry stands for: its directory, then one entry per item of walk_tree.

    File entries carry ``source`` (the controller path to read) instead of
    content; every entry carries the tree's owner, group, key and secret.
    """
    file_mode, executable_mode, directory_mode = tree_modes(entry, defaults)
    root = os.path.normpath(entry["path"])
    common = dict((name, entry[name]) for name in ("owner", "group", "key") if _given(entry, name))
    if entry.get("secret"):
        common["secret"] = True
    expanded = [dict(common, path=root, state="directory", mode="%04o" % directory_mode)]
    for relative, kind, source, executable in items:
        path = os.path.join(root, relative)
        if kind == "directory":
            expanded.append(dict(common, path=path, state="directory", mode="%04o" % directory_mode))
        else:
            mode = executable_mode if executable else file_mode
            expanded.append(dict(common, path=path, state="file", mode="%04o" % mode, source=source))
    return expanded


def expanded_duplicates(expanded):
    """Problems with paths declared twice once trees are expanded.

    ``expanded`` is [(index, entry, module entry)]: the task's entry each
    module entry comes from. check_args already names duplicates among the
    task's entries; this names a tree's path that another entry declares.
    """
    problems = []
    seen = {}
    for index, entry, module_entry in expanded:
        path = os.path.normpath(module_entry["path"])
        if path not in seen:
            seen[path] = (index, entry)
            continue
        first_index, first = seen[path]
        if first_index == index:
            continue
        problems.append("%s: %s is also declared by %s" % (label(index, entry), path, label(first_index, first)))
    return problems


MISSING = object()  # an owner or group that does not exist (yet)


def _lookup(name, by_name):
    if name is None:
        return None
    name = str(name)
    try:
        return by_name(name)
    except KeyError:
        pass
    if name.isdigit():
        return int(name)
    return MISSING


def uid_of(name):
    """The uid for a user name or numeric id; None for None; MISSING when unknown."""
    return _lookup(name, lambda n: pwd.getpwnam(n).pw_uid)


def gid_of(name):
    """The gid for a group name or numeric id; None for None; MISSING when unknown."""
    return _lookup(name, lambda n: grp.getgrnam(n).gr_gid)


def resolve_ids(entries):
    """Set uid/gid on each entry; the list of 'files[i] (path): owner x does not exist' problems."""
    problems = []
    for entry in entries:
        if entry["state"] == "absent":
            entry["uid"] = entry["gid"] = None
            continue
        entry["uid"] = uid_of(entry["owner"])
        entry["gid"] = gid_of(entry["group"])
        for what, value in (("owner", entry["uid"]), ("group", entry["gid"])):
            if value is MISSING:
                problems.append("%s: %s %s does not exist" % (label(entry["index"], entry), what, entry[what]))
    return problems


# ---------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------

def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def show_mode(mode):
    return "%04o" % mode


def kind_of(st):
    """file, directory, link or other for an lstat result."""
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "other"


def diff_text(data, secret=False, side="after"):
    """The text shown in a diff for content: placeholders for secrets, binary and large content."""
    if data is None:
        return ""
    if secret:
        return "(secret content not shown)\n" if side == "before" else "(secret content not shown, changed)\n"
    digest = hashlib.sha1(data).hexdigest()
    if len(data) > DIFF_LIMIT:
        return "(content not shown: %d bytes, over %d KiB, sha1 %s)\n" % (len(data), DIFF_LIMIT // 1024, digest)
    if b"\x00" in data:
        return "(binary content not shown: %d bytes, sha1 %s)\n" % (len(data), digest)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary content not shown: %d bytes, sha1 %s)\n" % (len(data), digest)


def attribute_changes(st, entry):
    """[(name, before, after)] for owner/group/mode that differ from an existing path's stat."""
    changes = []
    uid, gid, mode = entry.get("uid"), entry.get("gid"), entry.get("mode")
    if uid is not None and (uid is MISSING or uid != st.st_uid):
        changes.append(("owner", user_name(st.st_uid), str(entry["owner"])))
    if gid is not None and (gid is MISSING or gid != st.st_gid):
        changes.append(("group", group_name(st.st_gid), str(entry["group"])))
    if mode is not None and mode != stat.S_IMODE(st.st_mode):
        changes.append(("mode", show_mode(stat.S_IMODE(st.st_mode)), show_mode(mode)))
    return changes


def wanted_attributes(entry):
    """[(name, value)] of the attributes an entry sets, for the diff of something new."""
    wanted = []
    for name in ("owner", "group"):
        if entry.get(name) is not None:
            wanted.append((name, str(entry[name])))
    if entry.get("mode") is not None:
        wanted.append(("mode", show_mode(entry["mode"])))
    return wanted


def _lines(pairs):
    return "".join("%s: %s\n" % pair for pair in pairs)


def _header(path, pairs):
    return "%s (%s)" % (path, ", ".join("%s %s" % pair for pair in pairs)) if pairs else path


# ---------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------

def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def _stat(path):
    """stat following links; None when missing; FilesError for a dangling link."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if _lstat(path) is not None:
            raise FilesError("%s is a dangling symbolic link" % path, path=path)
        return None


def _chown_chmod(path, uid, gid, mode):
    """Owner first (chown clears setuid bits), then mode; None leaves a value as is."""
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    if mode is not None:
        os.chmod(path, mode)


def _no_parent(entry, parent):
    return FilesError("%s: parent directory %s does not exist (declare it earlier with state: directory)"
                      % (label(entry["index"], entry), parent), path=entry["path"])


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _run_validate(entry, tmp, run):
    command = entry["validate"] % tmp
    rc, out, err = run(command)
    if rc != 0:
        output = "\n".join(part.strip() for part in (err or "", out or "") if part and part.strip())
        if len(output) > OUTPUT_LIMIT:
            output = "..." + output[-OUTPUT_LIMIT:]
        raise FilesError("%s: validate failed for %s (%r exited %d): %s"
                         % (label(entry["index"], entry), entry["path"], entry["validate"], rc, output or "no output"),
                         path=entry["path"])


def write_atomic(entry, st, umask, run=None):
    """Content into a temp file in the same directory, owner/group/mode on it, validate, rename over the path.

    Without an owner/group/mode in the entry an existing regular file's are
    kept; a new file gets the process owner and 0666 minus the umask.
    """
    path = entry["path"]
    parent = os.path.dirname(path)
    keep = st if st is not None and stat.S_ISREG(st.st_mode) else None
    uid = entry["uid"] if entry["uid"] is not None else (keep.st_uid if keep else None)
    gid = entry["gid"] if entry["gid"] is not None else (keep.st_gid if keep else None)
    mode = entry["mode"]
    if mode is None:
        mode = stat.S_IMODE(keep.st_mode) if keep else 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix="-" + os.path.basename(path), dir=parent)
    except FileNotFoundError:
        raise _no_parent(entry, parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(entry["data"])
            handle.flush()
            os.fsync(handle.fileno())
        made = os.stat(tmp)  # chown only what differs: a non-root run may keep its own files
        _chown_chmod(tmp, None if uid == made.st_uid else uid, None if gid == made.st_gid else gid, mode)
        if entry.get("validate"):
            _run_validate(entry, tmp, run)
        os.rename(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def apply_file(entry, check_mode, umask, run):
    path = entry["path"]
    st = _lstat(path)
    before = None
    if st is None:
        action = "created"
        before_attrs, after_attrs = [], wanted_attributes(entry)
    elif stat.S_ISDIR(st.st_mode):
        raise FilesError("%s: %s is a directory" % (label(entry["index"], entry), path), path=path)
    elif not stat.S_ISREG(st.st_mode):
        action = "updated"  # a link or special file is replaced by a regular file, never followed
        before_attrs, after_attrs = [("type", kind_of(st))], [("type", "file")] + wanted_attributes(entry)
    else:
        before = _read(path)
        changes = attribute_changes(st, entry)
        before_attrs, after_attrs = [(n, b) for n, b, _a in changes], [(n, a) for n, _b, a in changes]
        action = "updated" if before != entry["data"] else ("attributes" if changes else "unchanged")
    if action == "unchanged":
        diff = None
    elif action == "attributes":
        diff = dict(before_header=path, after_header=path, before=_lines(before_attrs), after=_lines(after_attrs))
    else:
        diff = dict(before_header=_header(path, before_attrs), after_header=_header(path, after_attrs),
                    before=diff_text(before, entry["secret"], "before"),
                    after=diff_text(entry["data"], entry["secret"], "after"))
    if not check_mode:
        if action in ("created", "updated"):
            write_atomic(entry, st, umask, run)
        elif action == "attributes":
            _chown_chmod(path, entry["uid"], entry["gid"], entry["mode"])
    return action, diff


def missing_dirs(path):
    """The path and its parents that do not exist, top-most first."""
    missing = []
    current = path
    while _lstat(current) is None:
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return list(reversed(missing))


def _make_dirs(entry, missing, umask):
    """Create the missing directories, each with the entry's owner/group/mode."""
    mode = entry["mode"] if entry["mode"] is not None else 0o777 & ~umask
    for directory in missing:
        os.mkdir(directory, 0o700)
        _chown_chmod(directory, entry["uid"], entry["gid"], mode)


def apply_directory(entry, check_mode, umask, run=None):
    path = entry["path"]
    st = _stat(path)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise FilesError("%s: %s exists and is not a directory" % (label(entry["index"], entry), path), path=path)
    if st is None:
        missing = missing_dirs(path)
        parents = [("parents created", " ".join(missing[:-1]))] if len(missing) > 1 else []
        diff = dict(before_header=path, after_header=path, before="state: absent\n",
                    after=_lines([("state", "directory")] + wanted_attributes(entry) + parents))
        if not check_mode:
            _make_dirs(entry, missing, umask)
        return "created", diff
    return _attributes_only(entry, st, check_mode)


def _attributes_only(entry, st, check_mode):
    path = entry["path"]
    changes = attribute_changes(st, entry)
    if not changes:
        return "unchanged", None
    if not check_mode:
        _chown_chmod(path, entry["uid"], entry["gid"], entry["mode"])
    return "attributes", dict(before_header=path, after_header=path,
                              before=_lines((n, b) for n, b, _a in changes),
                              after=_lines((n, a) for n, _b, a in changes))


def apply_touch(entry, check_mode, umask, run=None):
    path = entry["path"]
    st = _stat(path)
    if st is not None:
        return _attributes_only(entry, st, check_mode)
    diff = dict(before_header=path, after_header=path, before="state: absent\n",
                after=_lines([("state", "file")] + wanted_attributes(entry)))
    if not check_mode:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            raise _no_parent(entry, os.path.dirname(path))
        os.close(fd)
        mode = entry["mode"] if entry["mode"] is not None else 0o666 & ~umask
        _chown_chmod(path, entry["uid"], entry["gid"], mode)
    return "created", diff


def link_text(target):
    """How a symbolic link shows in a diff: symlink -> releases/1.0.0."""
    return "symlink -> %s\n" % target


def _lchown(path, uid, gid):
    """Owner and group of the link itself (never its target); None leaves a value as is."""
    if uid is not None or gid is not None:
        os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)


def _temp_link(entry):
    """A new symbolic link to the entry's target under a free temporary name in the path's directory."""
    parent, base = os.path.split(entry["path"])
    for _attempt in range(100):
        tmp = os.path.join(parent, "%s%s-%s" % (TEMP_PREFIX, binascii.hexlify(os.urandom(6)).decode("ascii"), base))
        try:
            os.symlink(entry["target"], tmp)
            return tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise _no_parent(entry, parent)
    raise FilesError("%s: no free temporary name in %s" % (label(entry["index"], entry), parent), path=entry["path"])


def link_atomic(entry, st):
    """A temporary link in the same directory, owner/group on it, renamed over the path (never unlink + create).

    Without an owner/group in the entry those of what the link replaces are
    kept; a new link gets the process owner.
    """
    uid = entry["uid"] if entry["uid"] is not None else (st.st_uid if st is not None else None)
    gid = entry["gid"] if entry["gid"] is not None else (st.st_gid if st is not None else None)
    tmp = _temp_link(entry)
    try:
        made = os.lstat(tmp)  # lchown only what differs: a non-root run may keep its own links
        _lchown(tmp, None if uid == made.st_uid else uid, None if gid == made.st_gid else gid)
        os.rename(tmp, entry["path"])
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def apply_link(entry, check_mode, umask=None, run=None):
    """A symbolic link to exactly entry['target'] (compared as text, never resolved).

    A link to something else is switched atomically; a directory is never
    replaced, a regular file only with force; owner and group are those of
    the link itself (lstat, lchown).
    """
    path, target = entry["path"], entry["target"]
    name = label(entry["index"], entry)
    st = _lstat(path)
    if st is None:
        action = "created"
        before, after = "state: absent\n", link_text(target) + _lines(wanted_attributes(entry))
    elif stat.S_ISLNK(st.st_mode):
        current = os.readlink(path)
        changes = attribute_changes(st, entry)
        before, after = _lines((n, b) for n, b, _a in changes), _lines((n, a) for n, _b, a in changes)
        if current != target:
            action = "updated"
            before, after = link_text(current) + before, link_text(target) + after
        elif changes:
            action = "attributes"
        else:
            return "unchanged", None
    elif stat.S_ISDIR(st.st_mode):
        raise FilesError("%s: %s is a directory, not a symbolic link; a directory is never replaced by a link"
                         % (name, path), path=path)
    elif not stat.S_ISREG(st.st_mode):
        raise FilesError("%s: %s exists and is not a symbolic link or a regular file; it is not replaced"
                         % (name, path), path=path)
    elif not entry.get("force"):
        raise FilesError("%s: %s is a regular file, not a symbolic link; set force: true to replace it"
                         % (name, path), path=path)
    else:
        action = "updated"
        before, after = "state: file\n", link_text(target) + _lines(wanted_attributes(entry))
    diff = dict(before_header=path, after_header=path, before=before, after=after)
    if not check_mode:
        if action == "attributes":
            _lchown(path, entry["uid"], entry["gid"])
        else:
            link_atomic(entry, st)
    return action, diff


def remove_path(path, st, check_mode):
    """Remove a file/link (a real directory recursively); the diff of it."""
    diff = dict(before_header=path, after_header=path, before="state: %s\n" % kind_of(st), after="state: absent\n")
    if not check_mode:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return diff


def apply_absent(entry, check_mode, umask=None, run=None):
    st = _lstat(entry["path"])
    if st is None:
        return "unchanged", None
    return "removed", remove_path(entry["path"], st, check_mode)


APPLY = dict(file=apply_file, directory=apply_directory, touch=apply_touch, absent=apply_absent, link=apply_link)


def protected_paths(entries):
    """Paths prune never removes: every declared path and what a declared link points at."""
    protected = set()
    for entry in entries:
        protected.add(entry["path"])
        if entry["state"] == "link" and entry.get("target"):
            protected.add(os.path.normpath(os.path.join(os.path.dirname(entry["path"]), entry["target"])))
    return protected


def _holds(directory, protected):
    prefix = directory.rstrip("/") + "/"
    return any(path.startswith(prefix) for path in protected)


def prune_candidates(spec, declared, protected=None):
    """What a prune spec removes: [(path, lstat)] directly in spec['path'], sorted by name.

    Matching regular files and symbolic links (never followed), and with
    ``directories`` real directories too (removed recursively), that are not
    declared, not the target of a declared link and, for a directory, hold
    none of those. With ``keep`` N the N newest of them (by mtime, then
    name) stay.
    """
    protected = set(declared) | set(protected or ())
    directory = spec["path"]
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        path = os.path.join(directory, name)
        if path in protected or not any(fnmatch.fnmatchcase(name, pattern) for pattern in spec["patterns"]):
            continue
        st = _lstat(path)
        if st is None:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            found.append((path, st))
        elif stat.S_ISDIR(st.st_mode) and spec.get("directories") and not _holds(path, protected):
            found.append((path, st))
    keep = spec.get("keep")
    if keep:
        newest_first = sorted(found, key=lambda item: (item[1].st_mtime_ns, item[0]), reverse=True)
        kept = set(path for path, _st in newest_first[:keep])
        found = [item for item in found if item[0] not in kept]
    return found


class Outcome(object):
    """The result being built: files, changed_paths, changed_keys, removed, diff."""

    def __init__(self, want_diff):
        self.want_diff = want_diff
        self.files = {}
        self.changed_paths = []
        self.changed_keys = []
        self.removed = []
        self.diff = []

    def record(self, path, state, action, key=None, diff=None, pruned=False):
        changed = action != "unchanged"
        item = dict(changed=changed, state=state, action=action)
        if pruned:
            item["pruned"] = True
        self.files[path] = item
        if changed:
            self.changed_paths.append(path)
            if key is not None and key not in self.changed_keys:
                self.changed_keys.append(key)
            if diff is not None and self.want_diff:
                self.diff.append(diff)
        if action == "removed":
            self.removed.append(path)

    def result(self):
        counts = {}
        for item in self.files.values():
            counts[item["action"]] = counts.get(item["action"], 0) + 1
        detail = ", ".join("%s %d" % (a, counts[a]) for a in ("created", "updated", "attributes", "removed")
                           if counts.get(a))
        result = dict(
            changed=bool(self.changed_paths),
            files=self.files,
            changed_paths=self.changed_paths,
            changed_keys=self.changed_keys,
            removed=self.removed,
            msg="%d of %d paths changed%s" % (len(self.changed_paths), len(self.files),
                                              " (%s)" % detail if detail else ""),
        )
        if self.want_diff:
            result["diff"] = self.diff
        return result


def apply_all(entries, prunes, check_mode=False, want_diff=False, run=None, umask=None):
    """Apply entries in order, then prune; the result dict.

    Raises FilesError with ``result`` set to what was applied before the
    failing entry (an earlier entry may install the validator of a later one).
    """
    umask = current_umask() if umask is None else umask
    outcome = Outcome(want_diff)
    for entry in entries:
        try:
            action, diff = APPLY[entry["state"]](entry, check_mode, umask, run)
        except FilesError as exc:
            exc.result = outcome.result()
            exc.path = entry["path"]
            raise
        except OSError as exc:
            raise FilesError("%s: %s" % (label(entry["index"], entry), exc), result=outcome.result(),
                             path=entry["path"])
        outcome.record(entry["path"], entry["state"], action, entry["key"], diff)
    declared = set(entry["path"] for entry in entries)
    protected = protected_paths(entries)
    for spec in prunes:
        for path, st in prune_candidates(spec, declared, protected):
            if path in outcome.files:
                continue
            try:
                diff = remove_path(path, st, check_mode)
            except OSError as exc:
                raise FilesError("prune %s: %s" % (spec["path"], exc), result=outcome.result(), path=path)
            outcome.record(path, "absent", "removed", spec.get("key"), diff, pruned=True)
    return outcome.result()
