"""The role's account tasks on a real Debian host: the cases the converge does not reach.

The converge makes the default account (user and group both named alicia).
These tests run the role again (ansible-playbook, the scenario's inventory)
with probe accounts of their own and the layout in a scratch directory,
removed afterwards, against Debian's real getent, shadow tools and
ansible.builtin.group/user: a user and a group with different names (check
mode first), an existing unlocked user with a login shell, gid and uid
changes, and the conflicts that stop the role before it changes anything.
After every run that converges, a re-run runs the raw read and no account
module: what the read reports is what the builtins change.
"""

import json
import os
import sys
import tempfile

import pytest
import testinfra.utils.ansible_runner

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import recap, run_playbook  # noqa: E402

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

SCRATCH = "/srv/alicia-probe-layout"
READ = "service_user : Service user | the group and the user as they are"
GROUP = "service_user : Service user | system group"
USER = "service_user : Service user | system user, no login, locked password"
PLAYBOOK = """---
- name: Probe account
  hosts: all
  gather_facts: false
  roles:
    - role: alicia.platform.service_user
"""


def converge(check=False, **role_vars):
    """The role with ``role_vars`` (and the layout under SCRATCH): (rc, output, module executions per task)."""
    layout = dict(service_user_install_dir=SCRATCH + "/opt", service_user_config_dir=SCRATCH + "/etc",
                  service_user_data_dir=SCRATCH + "/data", service_user_log_dir=SCRATCH + "/log",
                  service_user_runtime_dir=SCRATCH + "/run", service_user_tmpfiles_conf=SCRATCH + "/tmpfiles.conf")
    with tempfile.TemporaryDirectory() as tmp:
        playbook = os.path.join(tmp, "probe.yml")
        counts = os.path.join(tmp, "counts.json")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK)
        rc, out = run_playbook(playbook, extra_vars=dict(layout, **role_vars), check=check, count_file=counts,
                               timeout=300)
        tasks = {}
        if os.path.exists(counts):
            with open(counts) as handle:
                tasks = next(iter(json.load(handle)["hosts"].values()), {}).get("tasks", {})
    return rc, out, tasks


def assert_rerun_reads_only(**role_vars):
    """A second run changes nothing and runs the raw read, not the group or user module."""
    rc, out, tasks = converge(**role_vars)
    assert rc == 0 and recap(out)["changed"] == 0, out[-3000:]
    assert tasks.get(READ) == 1 and GROUP not in tasks and USER not in tasks, tasks


def shadow_field(host, user):
    """The shadow password field, only ever compared in the tests (these probe users have throwaway values)."""
    return host.check_output("getent shadow %s", user).split(":")[1]


@pytest.fixture
def cleanup(host):
    """Names of probe users and groups to remove after the test (users first), and the scratch layout."""
    users, groups = [], []
    yield users, groups
    for user in users:
        host.run("userdel %s", user)
    for group in groups:
        host.run("groupdel %s", group)
    host.run("rm -rf %s", SCRATCH)


def test_different_names_check_mode_then_no_private_group_and_no_home(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe")
    groups += ["alicia-probe-data", "alicia-probe"]
    args = dict(service_user_name="alicia-probe", service_user_group="alicia-probe-data",
                service_user_extra_groups=["systemd-journal"], service_user_comment="Probe",
                service_user_home="/var/lib/alicia-probe")

    rc, out, tasks = converge(check=True, **args)
    assert rc == 0 and recap(out)["changed"] > 0, out[-3000:]
    assert tasks.get(GROUP) == 1 and tasks.get(USER) == 1, tasks
    assert not host.user("alicia-probe").exists and not host.group("alicia-probe-data").exists

    rc, out, tasks = converge(**args)
    assert rc == 0, out[-3000:]
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
    assert_rerun_reads_only(**args)


def test_existing_unlocked_login_user_fixed(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe2")
    groups.append("alicia-probe2")
    # As a plain useradd leaves it: user-private group, login shell, a password set.
    host.check_output("useradd -s /bin/bash -p probe-not-a-hash alicia-probe2")
    assert host.check_output("passwd -S %s", "alicia-probe2").split()[1] == "P"
    args = dict(service_user_name="alicia-probe2", service_user_group="alicia-probe2",
                service_user_extra_groups=["systemd-journal"], service_user_comment="Probe 2",
                service_user_home="/var/lib/alicia-probe2")

    rc, out, tasks = converge(**args)
    assert rc == 0 and tasks.get(USER) == 1, out[-3000:]
    # Locked the way usermod -L locks: "!" in front, the rest kept; never printed.
    assert shadow_field(host, "alicia-probe2") == "!probe-not-a-hash"
    assert "probe-not-a-hash" not in out
    assert host.check_output("passwd -S %s", "alicia-probe2").split()[1] == "L"
    user = host.user("alicia-probe2")
    assert (user.shell, user.home, user.gecos) == ("/usr/sbin/nologin", "/var/lib/alicia-probe2", "Probe 2")
    assert "systemd-journal" in user.groups
    assert not host.file("/var/lib/alicia-probe2").exists
    assert_rerun_reads_only(**args)


def test_gid_and_uid_changes(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe3")
    groups.append("alicia-probe3")
    free = [i for i in range(850, 900)
            if host.run("getent group %s", str(i)).rc == 2 and host.run("getent passwd %s", str(i)).rc == 2][:2]
    assert len(free) == 2, "no two free ids between 850 and 899 on the test host"
    first, second = free
    args = dict(service_user_name="alicia-probe3", service_user_group="alicia-probe3")

    assert converge(service_user_gid=first, **args)[0] == 0
    assert host.group("alicia-probe3").gid == first and host.user("alicia-probe3").gid == first

    rc, out, tasks = converge(service_user_gid=second, **args)
    assert rc == 0, out[-3000:]
    assert host.group("alicia-probe3").gid == second and host.user("alicia-probe3").gid == second

    rc, out, tasks = converge(service_user_uid=first, service_user_gid=second, **args)
    assert rc == 0, out[-3000:]
    assert host.user("alicia-probe3").uid == first
    assert_rerun_reads_only(service_user_uid=first, service_user_gid=second, **args)


def test_conflicts_stop_before_any_change(host, cleanup):
    users, groups = cleanup
    users.append("alicia-probe4")
    groups.append("alicia-probe4")
    args = dict(service_user_name="alicia-probe4", service_user_group="alicia-probe4")
    journal = host.group("systemd-journal").gid
    for role_vars, message in ((dict(service_user_uid=0), "uid 0 is already used by user root"),
                               (dict(service_user_gid=journal),
                                "gid %d is already used by group systemd-journal" % journal),
                               (dict(service_user_extra_groups=["alicia-no-such-group"]),
                                "supplementary group alicia-no-such-group does not exist")):
        rc, out, tasks = converge(**dict(args, **role_vars))
        assert rc != 0 and message in out, out[-3000:]
        assert GROUP not in tasks and USER not in tasks, tasks
        # Neither the group nor the user was made before the failure.
        assert not host.group("alicia-probe4").exists and not host.user("alicia-probe4").exists
