# -*- coding: utf-8 -*-
"""module_utils._account: parsing getent, the commands planned for each case, and ensure() over a fake host.

The fake host (tests/unit/plugins/fake_accounts.py) answers getent and runs
groupadd/groupmod/useradd/usermod on in-memory entries the way Debian 12's
tools do, and logs every call, so each test asserts the exact commands.
"""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _account as a
from ansible_collections.alicia.platform.tests.unit.plugins.fake_accounts import (
    BASE_GROUPS,
    BASE_PASSWD,
    FakeAccounts,
)

COMMENT = "Alicia platform services"
NOLOGIN = "/usr/sbin/nologin"
HOME = "/var/lib/alicia"
# alicia as the role leaves it: system group and user, in systemd-journal, locked.
PRESENT_GROUPS = BASE_GROUPS.replace("systemd-journal:x:999:", "systemd-journal:x:999:alicia") + "alicia:x:998:\n"
PRESENT_PASSWD = BASE_PASSWD + "alicia:x:998:998:%s:%s:%s\n" % (COMMENT, HOME, NOLOGIN)
USERADD = ["useradd", "--system", "--no-create-home", "--no-user-group", "-g", "alicia", "-G", "systemd-journal",
           "-c", COMMENT, "-s", NOLOGIN, "-d", HOME, "-p", "!", "alicia"]


def params(**overrides):
    """The role's arguments (alicia, primary group alicia, systemd-journal) with overrides."""
    base = dict(name="alicia", group=None, uid=None, gid=None, groups=["systemd-journal"], comment=COMMENT,
                shell=NOLOGIN, home=HOME, state="present")
    base.update(overrides)
    return base


def present(shadow="!", groups=PRESENT_GROUPS, passwd=PRESENT_PASSWD, **kwargs):
    return FakeAccounts(groups=groups, passwd=passwd, shadow=dict(root="*", daemon="*", nobody="*", alicia=shadow),
                        **kwargs)


def planned(fake, **overrides):
    want = a.desired(params(**overrides))
    return a.plan(want, a.read_state(fake.run, fake.which, want["name"], want["uid"]))


def ensure(fake, check_mode=False, want_diff=False, **overrides):
    fake.calls = []
    return a.ensure(params(**overrides), fake.run, fake.which, check_mode=check_mode, want_diff=want_diff)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def test_parse_group_and_passwd_lines():
    assert a.parse_group_line("systemd-journal:x:999:alicia,root") == dict(
        name="systemd-journal", passwd="x", gid=999, members=["alicia", "root"])
    assert a.parse_group_line("alicia:x:998:")["members"] == []
    assert a.parse_passwd_line("alicia:x:997:998:%s:%s:%s" % (COMMENT, HOME, NOLOGIN)) == dict(
        name="alicia", passwd="x", uid=997, gid=998, comment=COMMENT, home=HOME, shell=NOLOGIN)


@pytest.mark.parametrize("line", ["alicia:x:998", "alicia:x:nine:", "a:x:1:2:3:4:5:6"])
def test_malformed_group_lines_are_errors(line):
    with pytest.raises(a.AccountError, match="group entry"):
        a.parse_group_line(line)


def test_malformed_passwd_line_is_an_error():
    with pytest.raises(a.AccountError, match="passwd entry"):
        a.parse_passwd_line("alicia:x:997:998:only five")


@pytest.mark.parametrize("field, locked", [("!", True), ("!$6$salt$hash", True), ("!*", True), ("*", False),
                                           ("$6$salt$hash", False), ("", False)])
def test_shadow_locked_reads_only_the_lock(field, locked):
    assert a.shadow_locked("alicia:%s:20000:0:99999:7:::" % field, "alicia") is locked


def test_shadow_entry_of_another_user_is_an_error():
    with pytest.raises(a.AccountError, match="not alicia's"):
        a.shadow_locked("root:*:20000::::::", "alicia")


def test_read_state_keeps_no_password_hash():
    fake = present(shadow="$6$secretsalt$secrethash")
    state = a.read_state(fake.run, fake.which, "alicia")
    assert state["locked"] is False
    assert "secret" not in repr(state)


def test_read_state_asks_getent_for_the_name_and_the_uid():
    fake = present()
    state = a.read_state(fake.run, fake.which, "alicia", uid=0)
    assert fake.calls == [["/usr/bin/getent", "group"], ["/usr/bin/getent", "passwd", "alicia", "0"],
                          ["/usr/bin/getent", "shadow", "alicia"]]
    assert state["user"]["uid"] == 998 and state["uid_owner"] == "root" and state["locked"] is True
    assert [g["name"] for g in state["groups"]][-2:] == ["nogroup", "alicia"]


def test_read_state_without_the_user_skips_shadow():
    fake = FakeAccounts()
    state = a.read_state(fake.run, fake.which, "alicia", uid=990)
    assert fake.tools() == ["getent", "getent"]
    assert state["user"] is None and state["uid_owner"] is None and state["locked"] is None


def test_read_state_not_root_fails_clearly():
    fake = present(root=False)
    with pytest.raises(a.AccountError, match="no shadow entry.*must run as root"):
        a.read_state(fake.run, fake.which, "alicia")


def test_read_state_getent_failure_is_an_error():
    fake = present(fail={"getent": (3, "Enumeration not supported on group\n")})
    with pytest.raises(a.AccountError, match=r"getent group failed \(rc 3\): Enumeration not supported"):
        a.read_state(fake.run, fake.which, "alicia")


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def test_check_args_accepts_the_roles_arguments():
    assert a.check_args(params()) == []
    assert a.check_args(params(group="alicia-data", uid=990, gid=0, comment="", home=None)) == []


@pytest.mark.parametrize("overrides, message", [
    (dict(name="ali cia"), "user name 'ali cia' must not contain white space"),
    (dict(name="alicia:x"), "user name 'alicia:x' must not contain :"),
    (dict(group="-alicia"), "group name '-alicia' must not start with -"),
    (dict(group="1234"), "group name '1234' must not be a number"),
    (dict(name=""), "user name: a name is required"),
    (dict(name="a" * 33), "is longer than 32 characters"),
    (dict(groups=["systemd-journal", "a,b"]), "groups[1]: group name 'a,b' must not contain ,"),
    (dict(uid=-1), "uid -1 is out of range"),
    (dict(gid=4294967295), "gid 4294967295 is out of range"),
    (dict(comment="a:b"), "comment 'a:b' must not contain ':'"),
    (dict(shell="nologin"), "shell 'nologin' must be an absolute path"),
    (dict(home="/var/lib/a\nb"), "must not contain ':' or a line break"),
    (dict(state="absent"), "state must be present (the module does not remove accounts)"),
])
def test_check_args_names_the_bad_field(overrides, message):
    problems = a.check_args(params(**overrides))
    assert len(problems) == 1 and message in problems[0], problems


def test_bad_arguments_stop_before_any_command():
    fake = FakeAccounts()
    with pytest.raises(a.AccountError, match="user name 'ali cia'") as caught:
        ensure(fake, name="ali cia")
    assert fake.calls == []
    assert caught.value.result == dict(changed=False, changes=[], commands=[])


def test_desired_defaults_the_group_to_the_user_and_dedupes_groups():
    want = a.desired(params(groups=["adm", "systemd-journal", "adm"]))
    assert want["group"] == "alicia" and want["groups"] == ["adm", "systemd-journal"]


# ---------------------------------------------------------------------------
# Planned commands, case by case
# ---------------------------------------------------------------------------

def test_fresh_host_groupadd_then_useradd_with_a_locked_password():
    result = planned(FakeAccounts())
    assert result["problems"] == []
    assert result["commands"] == [["groupadd", "--system", "alicia"], USERADD]
    assert result["changes"] == [
        "group alicia: create (system group, gid picked by groupadd)",
        "user alicia: create (system user, uid picked by useradd, group alicia, groups systemd-journal, "
        "shell /usr/sbin/nologin, home /var/lib/alicia not created, password locked)"]


def test_fresh_host_with_fixed_ids():
    result = planned(FakeAccounts(), uid=950, gid=951)
    assert result["commands"] == [["groupadd", "--system", "-g", "951", "alicia"],
                                  USERADD[:6] + ["-u", "950"] + USERADD[6:]]


def test_all_present_plans_nothing():
    result = planned(present())
    assert result == dict(steps=[], commands=[], changes=[], problems=[], after=result["after"])
    assert planned(present(), uid=998, gid=998)["commands"] == []


def test_wrong_shell_one_usermod():
    fake = present(passwd=PRESENT_PASSWD.replace(NOLOGIN + "\n", "/bin/bash\n"))
    result = planned(fake)
    assert result["commands"] == [["usermod", "-s", NOLOGIN, "alicia"]]
    assert result["changes"] == ["user alicia: shell '/bin/bash' -> '/usr/sbin/nologin'"]


def test_comment_and_home_differ_home_not_moved():
    fake = present(passwd=PRESENT_PASSWD.replace(COMMENT + ":" + HOME, "old:/home/alicia"))
    result = planned(fake)
    assert result["commands"] == [["usermod", "-c", COMMENT, "-d", HOME, "alicia"]]
    assert "user alicia: home '/home/alicia' -> '/var/lib/alicia' (not moved, not created)" in result["changes"]


def test_omitted_comment_and_home_are_left_alone():
    fake = present(passwd=PRESENT_PASSWD.replace(COMMENT + ":" + HOME, "old:/home/alicia"))
    assert planned(fake, comment=None, home=None)["commands"] == []


def test_not_in_an_extra_group_appended_never_removed():
    groups = PRESENT_GROUPS.replace("adm:x:4:", "adm:x:4:alicia").replace("users:x:100:", "users:x:100:")
    fake = present(groups=groups)
    result = planned(fake, groups=["systemd-journal", "users"])
    # -a: appended; adm (not asked for) is kept.
    assert result["commands"] == [["usermod", "-a", "-G", "users", "alicia"]]
    assert result["changes"] == ["user alicia: add to supplementary group users"]


def test_extra_group_that_does_not_exist_fails_before_anything():
    fake = present()
    with pytest.raises(a.AccountError, match="supplementary groups docker, video do not exist: create them first"):
        ensure(fake, groups=["systemd-journal", "docker", "video"])
    assert fake.changing_calls() == []
    with pytest.raises(a.AccountError, match="supplementary group docker does not exist: create it first"):
        ensure(FakeAccounts(), groups=["docker"])


def test_the_primary_group_may_be_a_supplementary_group_too():
    # It does not exist yet, is created first, and the user becomes its member as well.
    result = planned(FakeAccounts(), groups=["alicia"])
    assert result["problems"] == []
    assert result["commands"][1][6:8] == ["-G", "alicia"]


def test_password_not_locked_usermod_lock():
    result = planned(present(shadow="$6$salt$hash"))
    assert result["commands"] == [["usermod", "-L", "alicia"]]
    assert result["changes"] == ["user alicia: lock the password"]
    # "*" (no password possible) is not "!": usermod -L makes it "!*", as the builtin user module does.
    assert planned(present(shadow="*"))["commands"] == [["usermod", "-L", "alicia"]]


def test_locked_password_stays_unchanged():
    for field in ("!", "!$6$salt$hash", "!*"):
        assert planned(present(shadow=field))["commands"] == []


def test_gid_differs_groupmod_moves_the_user_too():
    result = planned(present(), gid=950)
    # groupmod moves the users of the group, so no usermod -g.
    assert result["commands"] == [["groupmod", "-g", "950", "alicia"]]
    assert result["changes"] == ["group alicia: gid 998 -> 950 (files owned by gid 998 keep it)"]
    assert result["after"]["user"]["gid"] == 950


def test_gid_used_by_another_group_fails_naming_it():
    fake = present()
    with pytest.raises(a.AccountError, match="gid 999 is already used by group systemd-journal"):
        ensure(fake, gid=999)
    assert fake.changing_calls() == []


def test_uid_differs_usermod_u():
    result = planned(present(), uid=950)
    assert result["commands"] == [["usermod", "-u", "950", "alicia"]]
    assert result["changes"] == ["user alicia: uid 998 -> 950 (files outside the home keep uid 998)"]


def test_uid_used_by_another_user_fails_naming_it():
    fake = present()
    with pytest.raises(a.AccountError, match="uid 65534 is already used by user nobody"):
        ensure(fake, uid=65534)
    assert fake.changing_calls() == []
    with pytest.raises(a.AccountError, match="uid 1 is already used by user daemon"):
        ensure(FakeAccounts(), uid=1)


def test_several_differences_one_usermod():
    fake = present(shadow="x", passwd=PRESENT_PASSWD.replace(NOLOGIN, "/bin/sh"),
                   groups=PRESENT_GROUPS.replace("systemd-journal:x:999:alicia", "systemd-journal:x:999:"))
    result = planned(fake, uid=990)
    assert result["commands"] == [["usermod", "-u", "990", "-s", NOLOGIN, "-a", "-G", "systemd-journal", "-L",
                                   "alicia"]]
    assert len(result["changes"]) == 4


def test_different_names_group_then_user_without_a_private_group():
    fake = FakeAccounts()
    result = ensure(fake, name="alicia-backup", group="alicia-data", groups=[])
    assert fake.changing_calls() == [
        ["groupadd", "--system", "alicia-data"],
        ["useradd", "--system", "--no-create-home", "--no-user-group", "-g", "alicia-data", "-c", COMMENT,
         "-s", NOLOGIN, "-d", HOME, "-p", "!", "alicia-backup"]]
    assert fake.group("alicia-backup") is None
    assert fake.user("alicia-backup")["gid"] == fake.group("alicia-data")["gid"]
    assert result["group"] == dict(name="alicia-data", gid=fake.group("alicia-data")["gid"])
    assert result["user"]["gid"] == result["group"]["gid"]


def test_user_with_another_primary_group_gets_usermod_g():
    # alicia was created by a plain useradd earlier: primary group "users".
    fake = present(passwd=PRESENT_PASSWD.replace(":998:998:", ":998:100:"))
    result = planned(fake)
    assert result["commands"] == [["usermod", "-g", "alicia", "alicia"]]
    assert result["changes"] == ["user alicia: primary group users -> alicia"]


def test_user_exists_group_does_not():
    fake = present(groups=PRESENT_GROUPS.replace("alicia:x:998:\n", ""), passwd=PRESENT_PASSWD.replace(
        ":998:998:", ":998:100:"))
    result = ensure(fake)
    assert fake.changing_calls() == [["groupadd", "--system", "alicia"], ["usermod", "-g", "alicia", "alicia"]]
    assert result["user"]["gid"] == fake.group("alicia")["gid"]


# ---------------------------------------------------------------------------
# ensure(): runs, re-reads, check mode, diff, failures
# ---------------------------------------------------------------------------

def test_fresh_host_then_rerun_changes_nothing():
    fake = FakeAccounts()
    first = ensure(fake)
    assert first["changed"] is True
    assert fake.changing_calls() == [["groupadd", "--system", "alicia"], USERADD]
    assert fake.shadow["alicia"] == "!" and fake.created_homes == []
    gid = fake.group("alicia")["gid"]
    assert first["group"] == dict(name="alicia", gid=gid)
    assert first["user"] == dict(name="alicia", uid=fake.user("alicia")["uid"], gid=gid, home=HOME, shell=NOLOGIN,
                                 groups=["systemd-journal"])
    second = ensure(fake)
    assert fake.tools() == ["getent", "getent", "getent"]
    assert second["changed"] is False and second["changes"] == [] and second["commands"] == []
    assert second["user"] == first["user"] and second["group"] == first["group"]
    assert second["msg"] == "group alicia and user alicia are as wanted"


def test_check_mode_runs_nothing_but_getent():
    for fake in (FakeAccounts(), present(shadow="$6$x$y", passwd=PRESENT_PASSWD.replace(NOLOGIN, "/bin/bash"))):
        before = fake.to_json()
        result = ensure(fake, check_mode=True)
        assert set(fake.tools()) == {"getent"}
        assert result["changed"] is True and result["msg"].startswith("would change: ")
        after = fake.to_json()
        assert dict(after, calls=None) == dict(before, calls=None)


def test_check_mode_predicts_what_a_run_does():
    fake = present(shadow="$6$x$y", passwd=PRESENT_PASSWD.replace(NOLOGIN, "/bin/bash"))
    predicted = ensure(fake, check_mode=True, uid=990, groups=["systemd-journal", "adm"])
    done = ensure(fake, uid=990, groups=["systemd-journal", "adm"])
    for key in ("changed", "changes", "commands", "group", "user"):
        assert predicted[key] == done[key], key


def test_check_mode_on_a_fresh_host_leaves_unknown_ids_null():
    result = ensure(FakeAccounts(), check_mode=True)
    assert result["group"] == dict(name="alicia", gid=None)
    assert result["user"] == dict(name="alicia", uid=None, gid=None, home=HOME, shell=NOLOGIN,
                                  groups=["systemd-journal"])
    fixed = ensure(FakeAccounts(), check_mode=True, uid=950, gid=951)
    assert fixed["group"]["gid"] == 951 and (fixed["user"]["uid"], fixed["user"]["gid"]) == (950, 951)


def test_diff_shows_entries_and_the_lock_never_the_hash():
    fake = present(shadow="$6$secretsalt$secrethash", passwd=PRESENT_PASSWD.replace(NOLOGIN, "/bin/bash"),
                   groups=PRESENT_GROUPS.replace("systemd-journal:x:999:alicia", "systemd-journal:x:999:"))
    result = ensure(fake, want_diff=True)
    assert result["diff"]["before"] == (
        "alicia:x:998:\nsystemd-journal:x:999:\n"
        "alicia:x:998:998:Alicia platform services:/var/lib/alicia:/bin/bash\n"
        "# password of alicia: not locked\n")
    assert result["diff"]["after"] == (
        "alicia:x:998:\nsystemd-journal:x:999:alicia\n"
        "alicia:x:998:998:Alicia platform services:/var/lib/alicia:/usr/sbin/nologin\n"
        "# password of alicia: locked\n")
    assert "secret" not in repr(result)


def test_diff_in_check_mode_on_a_fresh_host():
    result = ensure(FakeAccounts(), check_mode=True, want_diff=True)
    assert result["diff"]["before"] == "systemd-journal:x:999:\n"
    assert result["diff"]["after"] == (
        "alicia:x:?:\nsystemd-journal:x:999:alicia\n"
        "alicia:x:?:?:Alicia platform services:/var/lib/alicia:/usr/sbin/nologin\n"
        "# password of alicia: locked\n")


def test_no_diff_unless_asked():
    assert "diff" not in ensure(FakeAccounts())


def test_gid_change_for_real_moves_the_user():
    fake = present()
    result = ensure(fake, gid=950)
    assert fake.changing_calls() == [["groupmod", "-g", "950", "alicia"]]
    assert result["group"]["gid"] == 950 and result["user"]["gid"] == 950
    assert ensure(fake, gid=950)["changed"] is False


def test_failed_command_names_it_and_what_ran_before():
    fake = FakeAccounts(fail={"useradd": (4, "useradd: UID 990 is not unique\n")})
    with pytest.raises(a.AccountError) as caught:
        ensure(fake)
    assert caught.value.msg == ("useradd --system --no-create-home --no-user-group -g alicia -G systemd-journal "
                                "-c Alicia platform services -s /usr/sbin/nologin -d /var/lib/alicia -p ! alicia "
                                "failed (rc 4): useradd: UID 990 is not unique; done before it: group alicia: "
                                "create (system group, gid picked by groupadd)")
    assert caught.value.result == dict(changed=True, changes=["group alicia: create (system group, gid picked by "
                                                              "groupadd)"],
                                       commands=[["groupadd", "--system", "alicia"]])


def test_first_command_failing_reports_nothing_done():
    fake = FakeAccounts(fail={"groupadd": (10, "groupadd: cannot lock /etc/group; try again later.\n")})
    with pytest.raises(a.AccountError, match=r"groupadd --system alicia failed \(rc 10\): groupadd: cannot lock") \
            as caught:
        ensure(fake)
    assert caught.value.result == dict(changed=False, changes=[], commands=[])


def test_entries_read_back_still_different_is_an_error():
    # A usermod that exits 0 and changes nothing: the read-back catches it.
    fake = present(shadow="$6$x$y", inert={"usermod"})
    with pytest.raises(a.AccountError, match="the commands ran but the entries still differ: user alicia: lock "
                                             "the password") as caught:
        ensure(fake)
    assert caught.value.result["changed"] is True
