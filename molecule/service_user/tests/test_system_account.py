"""alicia.platform.system_account on a real Debian host: the cases the role's converge does not reach.

The role converges the default layout (user and group both named alicia).
These tests run the module ad hoc (testinfra's host.ansible, check mode off)
on the scenario's throwaway container with probe accounts of their own,
removed afterwards, against Debian's real getent and shadow tools: a user
and a group with different names, an existing unlocked user with a login
shell, gid and uid changes, and the conflicts that stop the module before it
changes anything.
"""

import json
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

MODULE = "alicia.platform.system_account"


def account(host, check=False, **args):
    """The module's result, as the ad hoc run's tree output holds it."""
    return host.ansible(MODULE, json.dumps(args), check=check)


def failure(host, **args):
    """The result of a run expected to fail.

    ansible-core 2.19's tree output (what host.ansible reads) drops the
    "failed" key, so host.ansible does not raise; a failed run of the
    module is told by its message and by the group/user keys it returns
    only on success.
    """
    try:
        result = account(host, **args)
    except host.ansible.AnsibleException as exc:
        result = exc.result
    assert "group" not in result and "user" not in result, result
    assert result["msg"].startswith("system_account: "), result
    return result


def shadow_field(host, user):
    """The shadow password field, only ever compared in the tests (these probe users have throwaway values)."""
    return host.check_output("getent shadow %s", user).split(":")[1]


@pytest.fixture
def cleanup(host):
    """Names of probe users and groups to remove after the test (users first)."""
    users, groups = [], []
    yield users, groups
    for user in users:
        host.run("userdel %s", user)
    for group in groups:
        host.run("groupdel %s", group)


def test_different_names_check_mode_then_no_private_group_and_no_home(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe")
    groups += ["alicia-probe-data", "alicia-probe"]
    args = dict(name="alicia-probe", group="alicia-probe-data", groups=["systemd-journal"],
                comment="Probe", home="/var/lib/alicia-probe")

    predicted = account(host, check=True, **args)
    assert predicted["changed"] is True
    assert [command[0] for command in predicted["commands"]] == ["groupadd", "useradd"]
    assert not host.user("alicia-probe").exists and not host.group("alicia-probe-data").exists

    done = account(host, **args)
    assert done["changed"] is True and done["commands"] == predicted["commands"]
    user, group = host.user("alicia-probe"), host.group("alicia-probe-data")
    assert group.exists and group.gid < 1000
    assert user.uid < 1000 and user.gid == group.gid
    assert user.group == "alicia-probe-data" and "systemd-journal" in user.groups
    assert (user.shell, user.home, user.gecos) == ("/usr/sbin/nologin", "/var/lib/alicia-probe", "Probe")
    # useradd made no user-private group and no home directory.
    assert not host.group("alicia-probe").exists
    assert not host.file("/var/lib/alicia-probe").exists
    assert shadow_field(host, "alicia-probe") == "!"
    assert host.check_output("passwd -S %s", "alicia-probe").split()[1] == "L"
    assert done["group"] == {"name": "alicia-probe-data", "gid": group.gid}
    assert done["user"]["uid"] == user.uid and done["user"]["groups"] == ["systemd-journal"]

    again = account(host, **args)
    assert again["changed"] is False and again["commands"] == []


def test_existing_unlocked_login_user_fixed_in_one_usermod(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe2")
    groups.append("alicia-probe2")
    # As a plain useradd leaves it: user-private group, login shell, a password set.
    host.check_output("useradd -s /bin/bash -p probe-not-a-hash alicia-probe2")
    assert host.check_output("passwd -S %s", "alicia-probe2").split()[1] == "P"

    args = dict(name="alicia-probe2", groups=["systemd-journal"], comment="Probe 2", home="/var/lib/alicia-probe2")
    result = account(host, **args)
    assert result["changed"] is True
    assert result["commands"] == [["usermod", "-c", "Probe 2", "-s", "/usr/sbin/nologin",
                                   "-d", "/var/lib/alicia-probe2", "-a", "-G", "systemd-journal", "-L",
                                   "alicia-probe2"]]
    # Locked the way usermod -L locks: "!" in front, the rest kept.
    assert shadow_field(host, "alicia-probe2") == "!probe-not-a-hash"
    assert host.check_output("passwd -S %s", "alicia-probe2").split()[1] == "L"
    assert host.user("alicia-probe2").shell == "/usr/sbin/nologin"
    assert "probe-not-a-hash" not in json.dumps(result)

    assert account(host, **args)["changed"] is False


def test_gid_and_uid_changes_and_a_taken_gid_changes_nothing(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe3")
    groups.append("alicia-probe3")
    free = [i for i in range(850, 900)
            if host.run("getent group %s", str(i)).rc == 2 and host.run("getent passwd %s", str(i)).rc == 2][:2]
    assert len(free) == 2, "no two free ids between 850 and 899 on the test host"
    first, second = free

    created = account(host, name="alicia-probe3", gid=first)
    assert created["group"]["gid"] == first and created["user"]["gid"] == first

    moved = account(host, name="alicia-probe3", gid=second)
    assert moved["commands"] == [["groupmod", "-g", str(second), "alicia-probe3"]]
    assert host.group("alicia-probe3").gid == second
    assert host.user("alicia-probe3").gid == second
    assert account(host, name="alicia-probe3", gid=second)["changed"] is False

    renumbered = account(host, name="alicia-probe3", uid=first, gid=second)
    assert renumbered["commands"] == [["usermod", "-u", str(first), "alicia-probe3"]]
    assert host.user("alicia-probe3").uid == first

    journal = host.group("systemd-journal").gid
    result = failure(host, name="alicia-probe3", gid=journal)
    assert "gid %d is already used by group systemd-journal" % journal in result["msg"]
    assert result["changed"] is False
    assert host.group("alicia-probe3").gid == second


def test_taken_uid_and_missing_group_stop_before_any_change(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe4")
    groups.append("alicia-probe4")
    result = failure(host, name="alicia-probe4", uid=0)
    assert "uid 0 is already used by user root" in result["msg"]
    result = failure(host, name="alicia-probe4", groups=["alicia-no-such-group"])
    assert "supplementary group alicia-no-such-group does not exist" in result["msg"]
    # Neither run created the group before failing.
    assert not host.group("alicia-probe4").exists and not host.user("alicia-probe4").exists


def test_the_raw_probe_sees_what_the_module_changes_on_debian(host, cleanup):
    """The role's read (filters system_account_probe and system_account_changes) against
    Debian's real getent: what it reports is what the module then changes, and a user the
    module left as wanted reads as nothing to change, without its hash leaving the host."""
    import sys
    sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".collections"))
    from ansible_collections.alicia.platform.plugins.filter.account import FilterModule
    filters = FilterModule().filters()
    users, groups = cleanup
    users.append("alicia-probe4")
    groups.append("alicia-probe4")
    host.check_output("useradd -s /bin/bash -p probe4-not-a-hash alicia-probe4")
    args = dict(name="alicia-probe4", comment="Probe 4", home="/var/lib/alicia-probe4")

    report = host.check_output(filters["system_account_probe"]("alicia-probe4"))
    assert "probe4-not-a-hash" not in report and "alicia-probe4:*" in report.splitlines()
    changes = filters["system_account_changes"](report, args)
    result = account(host, **args)
    assert result["changed"] is True and result["changes"] == changes, (changes, result["changes"])

    report = host.check_output(filters["system_account_probe"]("alicia-probe4"))
    assert "alicia-probe4:!" in report.splitlines() and "probe4-not-a-hash" not in report
    assert filters["system_account_changes"](report, args) == []
