# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils._account and the filters over it (plugins/filter/account.py): the raw probe's
output parsed, what differs from the wanted account (then ansible.builtin.group and
ansible.builtin.user run), and the conflicts that stop the role first.

The probe command itself runs for real in /bin/sh against this machine's getent (the unit
tests run as root, as the raw read does on a host), on a throwaway user made with useradd
and removed afterwards: the hash never shows, and a lock made by usermod reads as locked.
"""

import subprocess
import uuid

import pytest

from ansible_collections.alicia.platform.plugins.filter.account import FilterModule
from ansible_collections.alicia.platform.plugins.module_utils import _account as a

COMMENT = "Alicia platform services"
NOLOGIN = "/usr/sbin/nologin"
HOME = "/var/lib/alicia"
BASE_GROUPS = ["root:x:0:", "daemon:x:1:", "systemd-journal:x:999:", "nogroup:x:65534:"]
BASE_PASSWD = ["root:x:0:0:root:/root:/bin/bash", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin"]
# alicia as the role leaves it: system group and user, in systemd-journal, locked.
PRESENT_GROUPS = ["root:x:0:", "daemon:x:1:", "systemd-journal:x:999:alicia", "nogroup:x:65534:", "alicia:x:998:"]
PRESENT_USER = "alicia:x:997:998:%s:%s:%s" % (COMMENT, HOME, NOLOGIN)


def report(groups=None, passwd=(), shadow=(), rc=None):
    """What the probe prints (the shadow lines already cut to name:flag on the host)."""
    rc = dict(dict(group=0, passwd=0 if passwd else 2, shadow=0 if shadow else 2), **(rc or {}))
    out = []
    for database, lines in (("group", BASE_GROUPS if groups is None else groups), ("passwd", passwd),
                            ("shadow", shadow)):
        out.append("%s %s %d" % (a.REPORT_MARK, database, rc[database]))
        out.extend(lines)
    return "\n".join(out) + "\n"


def present(user=PRESENT_USER, flag="!", groups=PRESENT_GROUPS, extra_passwd=()):
    return report(groups=groups, passwd=[user] + list(extra_passwd), shadow=["alicia:%s" % flag])


def params(**overrides):
    """The role's arguments (alicia, primary group alicia, systemd-journal) with overrides."""
    base = dict(name="alicia", group="alicia", uid=None, gid=None, groups=["systemd-journal"], comment=COMMENT,
                shell=NOLOGIN, home=HOME)
    base.update(overrides)
    return base


def changes(text, **overrides):
    return a.pending_changes(params(**overrides), text)


def problems(text, **overrides):
    return a.pending_problems(params(**overrides), text)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def test_parse_group_and_passwd_lines():
    assert a.parse_group_line("systemd-journal:x:999:alicia,root") == dict(
        name="systemd-journal", gid=999, members=["alicia", "root"])
    assert a.parse_group_line("alicia:x:998:")["members"] == []
    assert a.parse_passwd_line(PRESENT_USER) == dict(name="alicia", uid=997, gid=998, comment=COMMENT, home=HOME,
                                                     shell=NOLOGIN)


@pytest.mark.parametrize("line", ["alicia:x:998", "alicia:x:nine:", "a:x:1:2:3:4:5:6"])
def test_malformed_group_lines_are_errors(line):
    with pytest.raises(a.AccountError, match="group entry"):
        a.parse_group_line(line)


def test_malformed_passwd_line_is_an_error():
    with pytest.raises(a.AccountError, match="passwd entry"):
        a.parse_passwd_line("alicia:x:997:998:only five")


def test_read_report_state():
    state = a.read_report(present(extra_passwd=["root:x:0:0:root:/root:/bin/bash"]), "alicia", uid=0)
    assert state["user"]["uid"] == 997 and state["uid_owner"] == "root" and state["locked"] is True
    assert [g["name"] for g in state["groups"]][-2:] == ["nogroup", "alicia"]
    # The first entry of a name wins, like getgrnam(3).
    state = a.read_report(report(groups=BASE_GROUPS + ["root:x:4242:"]), "alicia")
    assert [g["gid"] for g in state["groups"] if g["name"] == "root"] == [0]
    assert state["user"] is None and state["locked"] is None


@pytest.mark.parametrize("text, message", [
    ("nothing from the host", "printed no group, passwd, shadow section"),
    (report().replace("group 0", "group zero"), "malformed section line"),
    (report(rc=dict(group=2)), r"getent group failed on the host \(rc 2\)"),
    (report(rc=dict(passwd=3)), r"getent passwd failed on the host \(rc 3\)"),
    (report(passwd=[PRESENT_USER]), "no shadow entry the probe could read: it must run as root"),
])
def test_unreadable_reports_are_errors(text, message):
    with pytest.raises(a.AccountError, match=message):
        a.read_report(text, "alicia")


def test_an_unreadable_report_is_a_change_not_a_problem():
    # The builtins then run and read the host themselves.
    assert changes("sh: getent: not found") == ["the account probe printed no group, passwd, shadow section: "
                                                "sh: getent: not found"]
    assert problems("sh: getent: not found") == []


# ---------------------------------------------------------------------------
# What differs (then the builtins run)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, overrides, expected", [
    # Fresh host: both made.
    (report(), {}, ["group alicia: create (system group)",
                    "user alicia: create (system user, group alicia, shell /usr/sbin/nologin, password locked)"]),
    # As the role leaves it: nothing runs.
    (present(), {}, []),
    # Locked by usermod -L ("!" in front of a hash) stays locked.
    (present(flag="!"), {"uid": 997, "gid": 998}, []),
    (present(flag="*"), {}, ["user alicia: lock the password"]),
    (present(user=PRESENT_USER.replace(NOLOGIN, "/bin/bash")), {},
     ["user alicia: shell '/bin/bash' -> '/usr/sbin/nologin'"]),
    (present(), {"comment": "Other", "home": "/srv/alicia"},
     ["user alicia: comment %r -> 'Other'" % COMMENT, "user alicia: home %r -> '/srv/alicia'" % HOME]),
    # Omitted comment and home are left as they are; the shell defaults to nologin.
    (present(), {"comment": None, "home": None, "shell": None}, []),
    (present(groups=BASE_GROUPS + ["alicia:x:998:"]), {},
     ["user alicia: add to supplementary groups systemd-journal"]),
    # Supplementary groups are added, never removed.
    (present(), {"groups": []}, []),
    # The primary group may be asked for as a supplementary group too.
    (present(), {"groups": ["alicia"]}, ["user alicia: add to supplementary groups alicia"]),
    (present(groups=PRESENT_GROUPS[:-1] + ["alicia:x:998:alicia"]), {"groups": ["alicia", "alicia"]}, []),
    (present(), {"gid": 990}, ["group alicia: gid 998 -> 990"]),
    (present(), {"uid": 990}, ["user alicia: uid 997 -> 990"]),
    (present(user=PRESENT_USER.replace(":998:", ":999:")), {}, ["user alicia: primary group -> alicia"]),
    # User and group with different names: no private group of the user's name is wanted.
    (report(groups=BASE_GROUPS + ["alicia-data:x:998:"]), {"group": "alicia-data"},
     ["user alicia: create (system user, group alicia-data, shell /usr/sbin/nologin, password locked)"]),
    # The user exists, the group does not.
    (present(groups=BASE_GROUPS[:2] + ["systemd-journal:x:999:alicia"]), {},
     ["group alicia: create (system group)", "user alicia: primary group -> alicia"]),
])
def test_changes(text, overrides, expected):
    assert changes(text, **overrides) == expected


def test_ids_and_groups_as_the_role_templates_them():
    # A null id may come through a template as None or as an empty string; ids as strings.
    for value in (None, "", "None"):
        assert changes(present(), uid=value, gid=value) == []
    assert changes(present(), uid="997", gid="998") == []
    assert changes(present(), groups=["systemd-journal", "systemd-journal"]) == []
    assert a.desired(dict(name="svc")) == dict(name="svc", group="svc", uid=None, gid=None, groups=[], comment=None,
                                              shell=NOLOGIN, home=None)


# ---------------------------------------------------------------------------
# Conflicts (the role stops before anything changes)
# ---------------------------------------------------------------------------

def test_no_problem_on_a_fresh_host_or_as_the_role_leaves_it():
    assert problems(report()) == [] and problems(present()) == []
    assert problems(present(), uid=997, gid=998) == []


def test_gid_used_by_another_group_names_it():
    assert problems(present(), gid=999) == [
        "gid 999 is already used by group systemd-journal: pick another gid or leave it to the system"]


def test_uid_used_by_another_user_names_it():
    text = present(extra_passwd=["root:x:0:0:root:/root:/bin/bash"])
    assert problems(text, uid=0) == ["uid 0 is already used by user root: pick another uid or leave it to the system"]


def test_missing_supplementary_groups_named():
    assert problems(report(), groups=["systemd-journal", "nope", "alicia"]) == [
        "supplementary group nope does not exist: create it first (only the primary group alicia is created)"]
    assert problems(report(), groups=["nope", "gone"]) == [
        "supplementary groups nope, gone do not exist: create them first (only the primary group alicia is created)"]


# ---------------------------------------------------------------------------
# The filters, and the probe run for real
# ---------------------------------------------------------------------------

def test_filters_wrap_the_functions():
    filters = FilterModule().filters()
    assert sorted(filters) == ["system_account_changes", "system_account_probe", "system_account_problems"]
    assert filters["system_account_probe"]("alicia", "990") == a.probe_command("alicia", 990)
    assert filters["system_account_probe"]("alicia", None) == a.probe_command("alicia")
    assert filters["system_account_changes"](present(), params()) == []
    assert filters["system_account_problems"](present(), params(gid=999))[0].startswith("gid 999")


@pytest.fixture
def probe_user():
    """A throwaway user with a password set (as a plain useradd leaves one), removed afterwards."""
    name = "alicia-probe-%s" % uuid.uuid4().hex[:6]
    subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "-s", "/bin/bash", "-p",
                    "probe-not-a-hash", name], check=True, capture_output=True)
    yield name
    subprocess.run(["userdel", "--force", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


def probe(name, uid=None):
    proc = subprocess.run(["/bin/sh", "-c", a.probe_command(name, uid)], capture_output=True, text=True, check=True)
    return proc.stdout


def test_the_probe_reads_this_machine_without_the_hash(probe_user):
    text = probe(probe_user, uid=0)
    assert "probe-not-a-hash" not in text and "%s:*" % probe_user in text.splitlines()
    state = a.read_report(text, probe_user, uid=0)
    assert state["user"]["shell"] == "/bin/bash" and state["locked"] is False and state["uid_owner"] == "root"
    want = dict(name=probe_user, group=probe_user, groups=[], shell=NOLOGIN)
    assert a.pending_changes(want, text) == ["user %s: shell '/bin/bash' -> '/usr/sbin/nologin'" % probe_user,
                                             "user %s: lock the password" % probe_user]
    subprocess.run(["usermod", "-L", "-s", NOLOGIN, probe_user], check=True)
    text = probe(probe_user)
    assert "%s:!" % probe_user in text.splitlines() and "probe-not-a-hash" not in text
    assert a.pending_changes(want, text) == []
    # Quoting: a name with a quote is one argument to getent (nothing found, nothing run).
    assert a.read_report(probe("it's; touch /tmp/x"), "it's; touch /tmp/x")["user"] is None
