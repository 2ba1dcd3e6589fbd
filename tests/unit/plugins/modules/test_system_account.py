# -*- coding: utf-8 -*-
"""The system_account module run for real (a fresh Python per run) against fake account tools.

getent, groupadd, groupmod, useradd and usermod are small scripts first on
PATH (module.get_bin_path finds them before the real ones): they run
tests/unit/plugins/fake_accounts.py on a JSON state file and log every
call, so nothing touches the machine's accounts and the tests assert the
exact commands of one module execution.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.alicia.platform.tests.unit.plugins.fake_accounts import FakeAccounts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".collections")
MODULE = os.path.join(ROOT, "plugins", "modules", "system_account.py")
TOOLS = ("getent", "groupadd", "groupmod", "useradd", "usermod")
WRAPPER = """#!{python}
import sys
sys.path.insert(0, {collections!r})
from ansible_collections.alicia.platform.tests.unit.plugins.fake_accounts import main
sys.exit(main())
"""
ROLE_ARGS = dict(name="alicia", groups=["systemd-journal"], comment="Alicia platform services",
                 shell="/usr/sbin/nologin", home="/var/lib/alicia")


class Host(object):
    """A fake host: the tools in a bin directory, their state in a JSON file."""

    def __init__(self, directory, fake):
        self.directory = directory
        self.bin = directory / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            path = self.bin / tool
            path.write_text(WRAPPER.format(python=sys.executable, collections=COLLECTIONS))
            path.chmod(0o755)
        self.state = directory / "accounts.json"
        self.save(fake)
        self.runs = 0

    def save(self, fake):
        self.state.write_text(json.dumps(fake.to_json()))

    def load(self):
        return FakeAccounts.from_json(json.loads(self.state.read_text()))

    def run(self, args, check_mode=False, diff=False):
        """(rc, result, the calls of this run as tool names with their arguments)."""
        fake = self.load()
        fake.calls = []
        self.save(fake)
        self.runs += 1
        args_file = self.directory / ("args-%d.json" % self.runs)
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, FAKE_ACCOUNTS_STATE=str(self.state),
                   PATH="%s:%s" % (self.bin, os.environ.get("PATH", "/usr/bin:/bin")))
        proc = subprocess.run([sys.executable, MODULE, str(args_file)], capture_output=True, text=True, env=env,
                              timeout=60)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("the module printed no JSON: %s %s" % (proc.stdout, proc.stderr))
        calls = self.load().calls
        for call in calls:
            assert call[0] == str(self.bin / os.path.basename(call[0])), "a real tool ran: %s" % call[0]
        return proc.returncode, result, [[os.path.basename(call[0])] + call[1:] for call in calls]


@pytest.fixture
def fresh(tmp_path):
    return Host(tmp_path, FakeAccounts())


def test_fresh_host_one_execution_then_a_rerun_that_changes_nothing(fresh):
    rc, result, calls = fresh.run(ROLE_ARGS)
    assert rc == 0, result
    assert [call[0] for call in calls] == ["getent", "getent", "groupadd", "useradd", "getent", "getent", "getent"]
    assert calls[2] == ["groupadd", "--system", "alicia"]
    assert calls[3] == ["useradd", "--system", "--no-create-home", "--no-user-group", "-g", "alicia",
                        "-G", "systemd-journal", "-c", "Alicia platform services", "-s", "/usr/sbin/nologin",
                        "-d", "/var/lib/alicia", "-p", "!", "alicia"]
    assert result["changed"] is True
    fake = fresh.load()
    assert fake.shadow["alicia"] == "!" and fake.group("systemd-journal")["members"] == ["alicia"]
    assert result["group"] == dict(name="alicia", gid=fake.group("alicia")["gid"])
    assert result["user"] == dict(name="alicia", uid=fake.user("alicia")["uid"], gid=fake.group("alicia")["gid"],
                                  home="/var/lib/alicia", shell="/usr/sbin/nologin", groups=["systemd-journal"])

    rc, again, calls = fresh.run(ROLE_ARGS)
    assert rc == 0 and again["changed"] is False and again["changes"] == []
    assert calls == [["getent", "group"], ["getent", "passwd", "alicia"], ["getent", "shadow", "alicia"]]
    assert again["user"] == result["user"]


def test_check_mode_with_diff_runs_only_getent(fresh):
    rc, result, calls = fresh.run(ROLE_ARGS, check_mode=True, diff=True)
    assert rc == 0, result
    assert calls == [["getent", "group"], ["getent", "passwd", "alicia"]]
    assert fresh.load().user("alicia") is None and fresh.load().group("alicia") is None
    assert result["changed"] is True
    assert result["commands"][0] == ["groupadd", "--system", "alicia"]
    assert result["group"] == dict(name="alicia", gid=None)
    assert result["diff"]["before"] == "systemd-journal:x:999:\n"
    assert "alicia:x:?:?:Alicia platform services:/var/lib/alicia:/usr/sbin/nologin\n" in result["diff"]["after"]


def test_different_names_and_fixed_ids(fresh):
    args = dict(name="alicia-backup", group="alicia-data", uid=950, gid=951)
    rc, result, calls = fresh.run(args)
    assert rc == 0, result
    assert calls[2:4] == [["groupadd", "--system", "-g", "951", "alicia-data"],
                          ["useradd", "--system", "--no-create-home", "--no-user-group", "-g", "alicia-data",
                           "-u", "950", "-s", "/usr/sbin/nologin", "-p", "!", "alicia-backup"]]
    fake = fresh.load()
    assert fake.group("alicia-backup") is None
    assert result["user"] == dict(name="alicia-backup", uid=950, gid=951, home="/home/alicia-backup",
                                  shell="/usr/sbin/nologin", groups=[])
    assert fresh.run(args)[1]["changed"] is False


def test_existing_user_fixed_in_one_usermod(tmp_path):
    host = Host(tmp_path, FakeAccounts(
        groups="root:x:0:\nusers:x:100:\nsystemd-journal:x:999:\nalicia:x:998:\n",
        passwd="root:x:0:0:root:/root:/bin/bash\nalicia:x:998:998::/home/alicia:/bin/bash\n",
        shadow=dict(root="*", alicia="$6$salt$hash")))
    rc, result, calls = host.run(ROLE_ARGS, diff=True)
    assert rc == 0, result
    assert [call for call in calls if call[0] != "getent"] == [
        ["usermod", "-c", "Alicia platform services", "-s", "/usr/sbin/nologin", "-d", "/var/lib/alicia",
         "-a", "-G", "systemd-journal", "-L", "alicia"]]
    assert host.load().shadow["alicia"] == "!$6$salt$hash"
    assert "# password of alicia: not locked\n" in result["diff"]["before"]
    assert "# password of alicia: locked\n" in result["diff"]["after"]
    assert "$6$" not in json.dumps(result)


def test_gid_taken_fails_before_any_change(fresh):
    rc, result, calls = fresh.run(dict(ROLE_ARGS, gid=999))
    assert rc == 1 and result["failed"] is True
    assert result["msg"] == ("system_account: gid 999 is already used by group systemd-journal: pick another gid "
                             "or leave it to the system")
    assert result["changed"] is False
    assert {call[0] for call in calls} == {"getent"}


def test_failed_tool_reports_its_message(tmp_path):
    host = Host(tmp_path, FakeAccounts(fail={"useradd": (1, "useradd: cannot open /etc/passwd\n")}))
    rc, result, _calls = host.run(ROLE_ARGS)
    assert rc == 1
    assert "failed (rc 1): useradd: cannot open /etc/passwd; done before it: group alicia: create" in result["msg"]
    assert result["changed"] is True and result["commands"] == [["groupadd", "--system", "alicia"]]


def test_bad_arguments_fail_naming_the_field(fresh):
    rc, result, calls = fresh.run(dict(ROLE_ARGS, shell="nologin"))
    assert rc == 1 and result["msg"] == "system_account: shell 'nologin' must be an absolute path"
    assert calls == []
    rc, result, calls = fresh.run(dict(ROLE_ARGS, state="absent"))
    assert rc == 1 and "value of state must be one of: present" in result["msg"]
    assert calls == []


# ---------------------------------------------------------------------------
# The raw read (filters system_account_probe / system_account_changes): the
# module runs only when the probe's output shows something to change
# ---------------------------------------------------------------------------

from ansible_collections.alicia.platform.plugins.filter.account import FilterModule as AccountFilters  # noqa: E402

ACCOUNT_FILTERS = AccountFilters().filters()


def probe(host, name="alicia", uid=None):
    """The probe command run by sh on the fake host: (its output, the getent calls)."""
    fake = host.load()
    fake.calls = []
    host.save(fake)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, FAKE_ACCOUNTS_STATE=str(host.state),
               PATH="%s:%s" % (host.bin, os.environ.get("PATH", "/usr/bin:/bin")))
    proc = subprocess.run(["sh", "-c", ACCOUNT_FILTERS["system_account_probe"](name, uid)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, [[os.path.basename(call[0])] + call[1:] for call in host.load().calls]


def test_probe_reads_what_the_module_reads_and_no_password_hash(fresh):
    output, calls = probe(fresh, uid=990)
    assert calls == [["getent", "group"], ["getent", "passwd", "alicia", "990"], ["getent", "shadow", "alicia"]]
    changes = ACCOUNT_FILTERS["system_account_changes"](output, ROLE_ARGS)
    assert changes[0].startswith("group alicia: create") and changes[1].startswith("user alicia: create"), changes

    rc, result, _calls = fresh.run(ROLE_ARGS)
    assert rc == 0 and result["changed"] is True
    fake = fresh.load()
    fake.shadow["alicia"] = "!$6$salt$hash-that-must-not-leave"
    fresh.save(fake)
    output, _calls = probe(fresh)
    assert "hash-that-must-not-leave" not in output and "$6$" not in output
    assert "alicia:!" in output.splitlines()
    # As the module left it: nothing to change, so the role skips the module.
    assert ACCOUNT_FILTERS["system_account_changes"](output, ROLE_ARGS) == []


@pytest.mark.parametrize("change, expected", [
    (dict(shell="/bin/bash"), "user alicia: shell '/usr/sbin/nologin' -> '/bin/bash'"),
    (dict(comment="Other"), "user alicia: comment 'Alicia platform services' -> 'Other'"),
    (dict(groups=["systemd-journal", "adm"]), "user alicia: add to supplementary group adm"),
])
def test_a_difference_the_module_would_change_is_reported(fresh, change, expected):
    assert fresh.run(ROLE_ARGS)[0] == 0
    output, _calls = probe(fresh)
    changes = ACCOUNT_FILTERS["system_account_changes"](output, dict(ROLE_ARGS, **change))
    assert len(changes) == 1 and changes[0].startswith(expected), changes
    # And the module agrees, changing exactly that.
    rc, result, _calls = fresh.run(dict(ROLE_ARGS, **change))
    assert rc == 0 and result["changes"] == changes


def test_an_unlocked_password_is_a_change(fresh):
    assert fresh.run(ROLE_ARGS)[0] == 0
    fake = fresh.load()
    fake.shadow["alicia"] = "$6$salt$hash"
    fresh.save(fake)
    output, _calls = probe(fresh)
    assert ACCOUNT_FILTERS["system_account_changes"](output, ROLE_ARGS) == ["user alicia: lock the password"]


def test_what_the_module_would_refuse_makes_it_run(fresh):
    assert fresh.run(ROLE_ARGS)[0] == 0
    # A uid another account owns: a problem the module reports itself.
    output, _calls = probe(fresh, uid=0)
    problems = ACCOUNT_FILTERS["system_account_changes"](output, dict(ROLE_ARGS, uid=0))
    assert problems and "root" in problems[0], problems
    assert ACCOUNT_FILTERS["system_account_changes"](output, dict(ROLE_ARGS, name="bad:name"))
    unreadable = ACCOUNT_FILTERS["system_account_changes"]("no markers at all", ROLE_ARGS)
    assert unreadable == ["the account probe printed no group, passwd, shadow section: no markers at all"]


def test_not_root_the_probe_says_so_and_the_module_runs(tmp_path):
    host = Host(tmp_path, FakeAccounts(root=False))
    output, _calls = probe(host)
    # No user yet: shadow is not needed to plan the creation.
    assert ACCOUNT_FILTERS["system_account_changes"](output, ROLE_ARGS)
