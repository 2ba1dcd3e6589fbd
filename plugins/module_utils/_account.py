# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A system group and a system user ensured in one module execution, as plain functions.

Used by the alicia.platform.system_account module. Standard library only;
every command goes through a ``run`` callable (argv -> ``(rc, stdout,
stderr)``: ``module.run_command`` in the module, a fake in tests) and a
``which`` callable (tool name -> path of the binary).

Flow: ``check_args`` (every problem with the arguments), ``read_state``
(``getent group``, ``getent passwd NAME [UID]`` and, when the user exists,
``getent shadow NAME``), ``plan`` (the groupadd/groupmod and
useradd/usermod calls for what differs, the changes in words, and the
problems that stop the run before anything changes), then ``ensure`` runs
the calls (none in check mode) and reads the state again for the result.

The password hash read from the shadow entry is never kept: only whether
the password is locked (the field starts with ``!``, as ``usermod -L``
leaves it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The highest id useradd/groupadd accept: (uid_t) -1 is reserved.
ID_MAX = 4294967294
# getent: 0 every key found, 2 some key not found (fine: we look up what may not exist).
GETENT_OK = (0, 2)
NAME_MAX = 32
FORBIDDEN_IN_NAMES = ":,/\\"
OUTPUT_LIMIT = 2000
UNKNOWN_ID = "?"
STATES = ("present",)


def argument_spec():
    """The module's argument spec."""
    return dict(
        name=dict(type="str", required=True),
        group=dict(type="str"),
        uid=dict(type="int"),
        gid=dict(type="int"),
        groups=dict(type="list", elements="str", default=[]),
        comment=dict(type="str"),
        shell=dict(type="str", default="/usr/sbin/nologin"),
        home=dict(type="path"),
        state=dict(type="str", default="present", choices=list(STATES)),
    )


class AccountError(Exception):
    """A problem with the arguments, the host's entries or a command; ``result`` holds what was done before it."""

    def __init__(self, msg, result=None):
        super(AccountError, self).__init__(msg)
        self.msg = msg
        self.result = result


def _trim(text, limit=OUTPUT_LIMIT):
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def name_problem(what, name):
    """Why ``name`` cannot be a user or group name in /etc/passwd or /etc/group (None when it can)."""
    if not isinstance(name, str) or not name:
        return "%s: a name is required" % what
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in name):
        return "%s %r must not contain white space or control characters" % (what, name)
    bad = sorted(set(c for c in name if c in FORBIDDEN_IN_NAMES))
    if bad:
        return "%s %r must not contain %s" % (what, name, " ".join(bad))
    if name.startswith("-"):
        return "%s %r must not start with -" % (what, name)
    if name.isdigit():
        return "%s %r must not be a number (useradd and groupadd read numbers as ids)" % (what, name)
    if name in (".", ".."):
        return "%s %r is not a valid name" % (what, name)
    if len(name) > NAME_MAX:
        return "%s %r is longer than %d characters" % (what, name, NAME_MAX)
    return None


def _field_problem(what, value, path=False):
    if value is None:
        return None
    if ":" in value or any(c in value for c in "\n\r\0"):
        return "%s %r must not contain ':' or a line break" % (what, value)
    if path and not value.startswith("/"):
        return "%s %r must be an absolute path" % (what, value)
    return None


def _id_problem(what, value):
    if value is None:
        return None
    if value < 0 or value > ID_MAX:
        return "%s %d is out of range (0 to %d)" % (what, value, ID_MAX)
    return None


def check_args(params):
    """Every problem with the arguments as a list of messages (empty when fine); runs nothing."""
    group = params.get("group")
    problems = [name_problem("user name", params.get("name")),
                name_problem("group name", group) if group is not None else None,
                _id_problem("uid", params.get("uid")), _id_problem("gid", params.get("gid")),
                _field_problem("comment", params.get("comment")),
                _field_problem("shell", params.get("shell"), path=True),
                _field_problem("home", params.get("home"), path=True)]
    for index, extra in enumerate(params.get("groups") or []):
        problems.append(name_problem("groups[%d]: group name" % index, extra))
    if params.get("shell") is None:
        problems.append("shell: a shell is required (the default is /usr/sbin/nologin)")
    state = params.get("state") or "present"
    if state not in STATES:
        problems.append("state must be present (the module does not remove accounts), got %r" % state)
    return [problem for problem in problems if problem]


def desired(params):
    """The arguments normalised: group defaults to the user name, supplementary groups once each, in order."""
    name, group = params["name"], params.get("group")
    extra = []
    for other in params.get("groups") or []:
        if other not in extra:
            extra.append(other)
    return dict(name=name, group=name if group is None else group, uid=params.get("uid"), gid=params.get("gid"),
                groups=extra, comment=params.get("comment"), shell=params.get("shell"), home=params.get("home"))


# ---------------------------------------------------------------------------
# Reading the host's entries
# ---------------------------------------------------------------------------

def _int(text, what, line):
    try:
        value = int(text)
    except ValueError:
        raise AccountError("getent printed a %s entry with a non-numeric id: %r" % (what, line))
    return value


def parse_group_line(line):
    """``name:passwd:gid:member,member`` -> dict(name, passwd, gid, members)."""
    fields = line.split(":")
    if len(fields) != 4:
        raise AccountError("getent printed a group entry that is not name:password:gid:members: %r" % line)
    members = [member for member in fields[3].split(",") if member]
    return dict(name=fields[0], passwd=fields[1], gid=_int(fields[2], "group", line), members=members)


def parse_passwd_line(line):
    """``name:passwd:uid:gid:comment:home:shell`` -> dict(name, passwd, uid, gid, comment, home, shell)."""
    fields = line.split(":")
    if len(fields) != 7:
        raise AccountError("getent printed a passwd entry that is not name:password:uid:gid:gecos:home:shell: %r"
                           % line)
    return dict(name=fields[0], passwd=fields[1], uid=_int(fields[2], "passwd", line),
                gid=_int(fields[3], "passwd", line), comment=fields[4], home=fields[5], shell=fields[6])


def shadow_locked(line, name):
    """Whether the shadow entry of ``name`` has a locked password (``!`` first); the hash is not kept."""
    fields = line.split(":")
    if len(fields) < 2 or fields[0] != name:
        raise AccountError("getent shadow %s printed an entry that is not %s's" % (name, name))
    return fields[1].startswith("!")


def _lines(text):
    return [line for line in (text or "").splitlines() if line.strip()]


def _getent(run, which, database, keys=()):
    argv = [which("getent"), database] + list(keys)
    rc, out, err = run(argv)
    if rc not in GETENT_OK or (rc == 2 and not keys):
        raise AccountError("getent %s failed (rc %d): %s" % (" ".join([database] + list(keys)), rc,
                                                             _trim(err) or "no message"))
    return _lines(out)


def read_state(run, which, name, uid=None):
    """The host's entries the module decides on.

    ``groups``: every group (``getent group``), in the order printed, the
    first entry of a name winning like getgrnam(3); ``user``: the passwd
    entry of ``name`` or None; ``uid_owner``: the name of another user that
    has ``uid`` (None when free or not asked); ``locked``: whether the
    user's password is locked (None when the user does not exist).
    """
    groups, seen = [], set()
    for line in _getent(run, which, "group"):
        entry = parse_group_line(line)
        if entry["name"] not in seen:
            seen.add(entry["name"])
            groups.append(entry)
    keys = [name] + ([str(uid)] if uid is not None else [])
    user, uid_owner = None, None
    for line in _getent(run, which, "passwd", keys):
        entry = parse_passwd_line(line)
        if entry["name"] == name:
            user = user or entry
        elif uid is not None and entry["uid"] == uid and uid_owner is None:
            uid_owner = entry["name"]
    locked = None
    if user is not None:
        shadow = _getent(run, which, "shadow", [name])
        if not shadow:
            raise AccountError("user %s has no shadow entry (getent shadow %s found nothing): the module must "
                               "run as root to read and lock the password" % (name, name))
        locked = shadow_locked(shadow[0], name)
    return dict(groups=groups, user=user, uid_owner=uid_owner, locked=locked)


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------

def _find(groups, name):
    for entry in groups:
        if entry["name"] == name:
            return entry
    return None


def _group_name_of(groups, gid):
    for entry in groups:
        if entry["gid"] == gid:
            return entry["name"]
    return "gid %d" % gid


def _copy_state(state):
    return dict(groups=[dict(entry, members=list(entry["members"])) for entry in state["groups"]],
                user=dict(state["user"]) if state["user"] is not None else None,
                uid_owner=state.get("uid_owner"), locked=state["locked"])


def _show_id(value):
    return UNKNOWN_ID if value is None else str(value)


def plan(want, state):
    """What to run for ``want`` (from ``desired``) on a host in ``state`` (from ``read_state``).

    Returns dict(steps, commands, changes, problems, after): ``steps`` one
    dict(argv, changes) per command, in order (argv with tool names, not
    paths; changes one sentence per change the command makes),
    ``commands`` and ``changes`` the same flattened, ``problems`` what stops
    the run before anything runs (no steps then), ``after`` the state
    predicted after the commands (an id the system would pick is None).
    """
    name, group = want["name"], want["group"]
    groups = state["groups"]
    existing_group = _find(groups, group)
    user = state["user"]
    problems = []
    if want["gid"] is not None:
        holder = next((e["name"] for e in groups if e["gid"] == want["gid"] and e["name"] != group), None)
        if holder is not None:
            problems.append("gid %d is already used by group %s: pick another gid or leave it to the system"
                            % (want["gid"], holder))
    if want["uid"] is not None and state.get("uid_owner"):
        problems.append("uid %d is already used by user %s: pick another uid or leave it to the system"
                        % (want["uid"], state["uid_owner"]))
    missing = [extra for extra in want["groups"] if extra != group and _find(groups, extra) is None]
    if missing:
        problems.append("supplementary group%s %s do%s not exist: create %s first (the module only creates "
                        "the primary group %s)" % ("s" if len(missing) > 1 else "", ", ".join(missing),
                                                   "" if len(missing) > 1 else "es",
                                                   "them" if len(missing) > 1 else "it", group))
    if problems:
        return dict(steps=[], commands=[], changes=[], problems=problems, after=_copy_state(state))

    after = _copy_state(state)
    steps = []

    # The group first: useradd and usermod -g need it.
    if existing_group is None:
        argv = ["groupadd", "--system"]
        if want["gid"] is not None:
            argv += ["-g", str(want["gid"])]
        steps.append(dict(argv=argv + [group], changes=[
            "group %s: create (system group, gid %s)"
            % (group, want["gid"] if want["gid"] is not None else "picked by groupadd")]))
        after["groups"].append(dict(name=group, passwd="x", gid=want["gid"], members=[]))
    elif want["gid"] is not None and existing_group["gid"] != want["gid"]:
        steps.append(dict(argv=["groupmod", "-g", str(want["gid"]), group], changes=[
            "group %s: gid %d -> %d (files owned by gid %d keep it)"
            % (group, existing_group["gid"], want["gid"], existing_group["gid"])]))
        _find(after["groups"], group)["gid"] = want["gid"]
        if user is not None and user["gid"] == existing_group["gid"]:
            # groupmod moves the users whose primary group it is.
            after["user"]["gid"] = want["gid"]
    new_group = _find(after["groups"], group)

    add_to = [extra for extra in want["groups"] if name not in _find(after["groups"], extra)["members"]]
    if user is None:
        argv = ["useradd", "--system", "--no-create-home", "--no-user-group", "-g", group]
        if want["uid"] is not None:
            argv += ["-u", str(want["uid"])]
        if add_to:
            argv += ["-G", ",".join(add_to)]
        if want["comment"] is not None:
            argv += ["-c", want["comment"]]
        argv += ["-s", want["shell"]]
        if want["home"] is not None:
            argv += ["-d", want["home"]]
        # "!": a locked password, said explicitly rather than left to useradd's default.
        argv += ["-p", "!", name]
        details = ["system user", "uid %s" % (want["uid"] if want["uid"] is not None else "picked by useradd"),
                   "group %s" % group]
        if add_to:
            details.append("groups %s" % ",".join(add_to))
        details.append("shell %s" % want["shell"])
        details.append("home %s not created" % (want["home"] or "(useradd's default)"))
        details.append("password locked")
        steps.append(dict(argv=argv, changes=["user %s: create (%s)" % (name, ", ".join(details))]))
        after["user"] = dict(name=name, passwd="x", uid=want["uid"], gid=new_group["gid"],
                             comment=want["comment"] if want["comment"] is not None else "",
                             home=want["home"], shell=want["shell"])
        after["locked"] = True
    else:
        options, changes, predicted = [], [], after["user"]
        if want["uid"] is not None and user["uid"] != want["uid"]:
            options += ["-u", str(want["uid"])]
            changes.append("user %s: uid %d -> %d (files outside the home keep uid %d)"
                           % (name, user["uid"], want["uid"], user["uid"]))
            predicted["uid"] = want["uid"]
        if existing_group is None or user["gid"] != existing_group["gid"]:
            options += ["-g", group]
            changes.append("user %s: primary group %s -> %s" % (name, _group_name_of(groups, user["gid"]), group))
            predicted["gid"] = new_group["gid"]
        for option, key in (("-c", "comment"), ("-s", "shell"), ("-d", "home")):
            if want[key] is not None and user[key] != want[key]:
                options += [option, want[key]]
                note = " (not moved, not created)" if key == "home" else ""
                changes.append("user %s: %s %r -> %r%s" % (name, key, user[key], want[key], note))
                predicted[key] = want[key]
        if add_to:
            options += ["-a", "-G", ",".join(add_to)]
            plural = "s" if len(add_to) > 1 else ""
            changes.append("user %s: add to supplementary group%s %s" % (name, plural, ", ".join(add_to)))
        if not state["locked"]:
            options.append("-L")
            changes.append("user %s: lock the password" % name)
            after["locked"] = True
        if options:
            steps.append(dict(argv=["usermod"] + options + [name], changes=changes))
    for extra in add_to:
        _find(after["groups"], extra)["members"].append(name)
    return dict(steps=steps, commands=[step["argv"] for step in steps],
                changes=[change for step in steps for change in step["changes"]], problems=[], after=after)


# ---------------------------------------------------------------------------
# Result and diff
# ---------------------------------------------------------------------------

def group_line(entry):
    return "%s:%s:%s:%s" % (entry["name"], entry.get("passwd") or "x", _show_id(entry["gid"]),
                            ",".join(entry["members"]))


def passwd_line(entry):
    return "%s:%s:%s:%s:%s:%s:%s" % (entry["name"], entry.get("passwd") or "x", _show_id(entry["uid"]),
                                     _show_id(entry["gid"]), entry["comment"] or "",
                                     entry["home"] if entry["home"] is not None else UNKNOWN_ID, entry["shell"])


def entry_lines(want, state):
    """The group entries (primary group, then the supplementary groups asked for), the passwd entry
    and the password's lock state (never the hash), as text lines; entries that do not exist are left out."""
    lines = []
    for name in [want["group"]] + [extra for extra in want["groups"] if extra != want["group"]]:
        entry = _find(state["groups"], name)
        if entry is not None:
            lines.append(group_line(entry))
    if state["user"] is not None:
        lines.append(passwd_line(state["user"]))
        lines.append("# password of %s: %s" % (want["name"], "locked" if state["locked"] else "not locked"))
    return "".join(line + "\n" for line in lines)


def summary(want, state):
    """The ``group`` and ``user`` return values from a state (ids None when not known yet)."""
    entry = _find(state["groups"], want["group"])
    group = dict(name=want["group"], gid=entry["gid"] if entry is not None else None)
    user = state["user"]
    if user is None:
        return group, dict(name=want["name"], uid=None, gid=None, home=None, shell=None, groups=[])
    member_of = [e["name"] for e in state["groups"] if want["name"] in e["members"]]
    return group, dict(name=user["name"], uid=user["uid"], gid=user["gid"], home=user["home"],
                       shell=user["shell"], groups=member_of)


def result_of(want, steps, state):
    """The module result for the ``steps`` run (or that would run) and the ``state`` after them."""
    group, user = summary(want, state)
    return dict(changed=bool(steps), changes=[change for step in steps for change in step["changes"]],
                commands=[list(step["argv"]) for step in steps], group=group, user=user)


# ---------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------

def ensure(params, run, which, check_mode=False, want_diff=False):
    """Read, plan, run (nothing in check mode) and read again; returns the module result.

    Raises AccountError for bad arguments, a conflict found before anything
    ran (an id used by another account, a missing supplementary group) or a
    failed command; its ``result`` then holds ``changed``, ``changes`` and
    ``commands`` of what ran before the failure.
    """
    problems = check_args(params)
    if problems:
        raise AccountError("; ".join(problems), result=dict(changed=False, changes=[], commands=[]))
    want = desired(params)
    before = read_state(run, which, want["name"], want["uid"])
    planned = plan(want, before)
    if planned["problems"]:
        raise AccountError("; ".join(planned["problems"]), result=dict(changed=False, changes=[], commands=[]))
    steps = planned["steps"]
    if steps and not check_mode:
        done = []
        for step in steps:
            argv = step["argv"]
            rc, out, err = run([which(argv[0])] + argv[1:])
            if rc != 0:
                partial = result_of(want, done, before)
                raise AccountError("%s failed (rc %d): %s%s" % (
                    " ".join(argv), rc, _trim(err) or _trim(out) or "no message",
                    "; done before it: %s" % "; ".join(partial["changes"]) if done else ""),
                    result=dict(changed=partial["changed"], changes=partial["changes"],
                                commands=partial["commands"]))
            done.append(step)
        after = read_state(run, which, want["name"], want["uid"])
        # What the tools did is read back, not assumed: anything still different is an error.
        left = plan(want, after)
        if left["problems"] or left["steps"]:
            raise AccountError("the commands ran but the entries still differ: %s"
                               % "; ".join(left["problems"] + left["changes"]),
                               result=dict(changed=True, changes=planned["changes"], commands=planned["commands"]))
    else:
        after = planned["after"]
    result = result_of(want, steps, after)
    if want_diff:
        header = "group and passwd entries of %s" % want["name"]
        result["diff"] = dict(before_header=header, after_header=header,
                              before=entry_lines(want, before), after=entry_lines(want, after))
    if steps:
        result["msg"] = "%s: %s" % ("would change" if check_mode else "changed", "; ".join(result["changes"]))
    else:
        result["msg"] = "group %s and user %s are as wanted" % (want["group"], want["name"])
    return result


# ---------------------------------------------------------------------------
# The same decision from a shell read (raw): no module on a host that is as wanted
# ---------------------------------------------------------------------------

REPORT_MARK = "@@alicia-account@@"


def _quote(text):
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


def probe_command(name, uid=None):
    """A POSIX shell command that prints what ``read_state`` reads, for ``ansible.builtin.raw``.

    Each ``getent`` call's output follows a ``<REPORT_MARK> <database> <rc>``
    line. The shadow entry is cut to the user name and a lock flag (``!`` or
    ``*``): the hash never leaves the host.
    """
    keys = _quote(name) + (" " + _quote(int(uid)) if uid is not None else "")
    section = "printf '%%s %s %%s\\n%%s\\n' " + _quote(REPORT_MARK) + ' "$r" "$o"'
    return "; ".join([
        "o=$(getent group); r=$?",
        section % "group",
        "o=$(getent passwd %s); r=$?" % keys,
        section % "passwd",
        "o=$(getent shadow %s); r=$?" % _quote(name),
        "o=$(printf '%s\\n' \"$o\" | awk -F: 'NF > 1 { print $1 \":\" (substr($2, 1, 1) == \"!\" ? \"!\" : \"*\") }')",
        section % "shadow",
    ])


def parse_report(text):
    """database -> (rc, stdout) from the output of ``probe_command``."""
    sections, current = {}, None
    for line in (text or "").splitlines():
        if line.startswith(REPORT_MARK + " "):
            fields = line.split()
            if len(fields) != 3:
                raise AccountError("the account probe printed a malformed section line: %r" % line)
            try:
                current = [int(fields[2]), []]
            except ValueError:
                raise AccountError("the account probe printed a malformed section line: %r" % line)
            sections[fields[1]] = current
        elif current is not None:
            current[1].append(line)
    missing = [database for database in ("group", "passwd", "shadow") if database not in sections]
    if missing:
        raise AccountError("the account probe printed no %s section: %s" % (", ".join(missing), _trim(text, 500)))
    return dict((database, (rc, "\n".join(lines))) for database, (rc, lines) in sections.items())


def pending_changes(params, report):
    """What the module would change for ``params`` on the host the probe ``report`` describes.

    Empty when the group and the user are as wanted: the module need not run.
    Anything the module would refuse (bad arguments, a conflict) comes back
    as a change too, so that the module runs and fails with its own message.
    """
    spec = argument_spec()
    params = dict((key, params.get(key, option.get("default"))) for key, option in spec.items())
    problems = check_args(params)
    if problems:
        return problems
    want = desired(params)
    try:
        sections = parse_report(report)

        def run(argv):
            rc, out = sections[argv[1]]
            return rc, out, ""
        state = read_state(run, lambda tool: tool, want["name"], want["uid"])
    except AccountError as exc:
        return [exc.msg]
    planned = plan(want, state)
    return planned["problems"] + planned["changes"]
