"""Behaviour of alicia.platform.service_user on a fresh host."""

import json
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

USER = "alicia"
# path: (owner, group, mode)
LAYOUT = {
    "/opt/alicia": ("root", "root", 0o755),
    "/etc/alicia": ("root", USER, 0o750),
    "/var/lib/alicia": (USER, USER, 0o750),
    "/var/log/alicia": (USER, USER, 0o750),
    "/run/alicia": (USER, USER, 0o750),
}


def as_user(host, user, command):
    """Run a command as another user (sudo runs it directly, not via the shell)."""
    return host.run("sudo -n -u {} -- {}".format(user, command))


def test_system_group(host):
    group = host.group(USER)
    assert group.exists
    assert group.gid < 1000


def test_system_user_without_login(host):
    user = host.user(USER)
    assert user.exists
    assert user.uid < 1000
    assert user.group == USER
    assert user.home == "/var/lib/alicia"
    assert user.shell == "/usr/sbin/nologin"
    assert "systemd-journal" in user.groups
    # Login is refused: su runs the nologin shell, which exits non-zero.
    result = host.run("su %s -c true", USER)
    assert result.rc != 0
    assert "not available" in (result.stdout + result.stderr)


def test_password_locked(host):
    # Locked: the shadow field starts with "!" and passwd reports L.
    assert host.user(USER).password.startswith("!")
    status = host.check_output("passwd -S %s", USER).split()
    assert status[1] == "L"


def test_rerun_reads_the_account_and_runs_no_account_module():
    # module_count.json holds the last run before verify: the idempotence re-run.
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "module_count.json")) as handle:
        hosts = json.load(handle)["hosts"]
    assert hosts, "no host counted"
    read = "service_user : Service user | the group and the user as they are"
    modules = ("service_user : Service user | system group",
               "service_user : Service user | system user, no login, locked password")
    for name, counts in hosts.items():
        # One raw read of the group and the user (nothing differs, so ansible.builtin.group and
        # ansible.builtin.user do not run), alicia.platform.files for the layout.
        assert counts["tasks"].get(read) == 1, (name, counts["tasks"])
        assert not [m for m in modules if m in counts["tasks"]], (name, counts["tasks"])
        assert counts["roles"].get("service_user") == 2, (name, counts["roles"])


@pytest.mark.parametrize("path", sorted(LAYOUT))
def test_layout_owner_and_mode(host, path):
    owner, group, mode = LAYOUT[path]
    directory = host.file(path)
    assert directory.is_directory
    assert directory.user == owner
    assert directory.group == group
    assert directory.mode == mode


def test_runtime_dir_recreated_by_tmpfiles(host):
    conf = host.file("/etc/tmpfiles.d/alicia.conf")
    assert conf.user == "root" and conf.mode == 0o644
    host.check_output("rm -rf /run/alicia")
    assert not host.file("/run/alicia").exists
    host.check_output("systemd-tmpfiles --create /etc/tmpfiles.d/alicia.conf")
    runtime = host.file("/run/alicia")
    assert runtime.is_directory
    assert (runtime.user, runtime.group, runtime.mode) == (USER, USER, 0o750)
    # And the boot-time unit reads it: tmpfiles lists our line.
    assert "d /run/alicia 0750 alicia alicia -" in host.check_output("systemd-tmpfiles --cat-config")


def test_user_cannot_write_config_or_code(host):
    # Reading the config dir works (group r-x), writing does not.
    assert as_user(host, USER, "ls /etc/alicia").rc == 0
    for path in ("/etc/alicia", "/opt/alicia"):
        result = as_user(host, USER, "touch {}/probe".format(path))
        assert result.rc != 0, path
        assert "Permission denied" in result.stderr
        assert not host.file(path + "/probe").exists


@pytest.mark.parametrize("path", ["/var/lib/alicia", "/var/log/alicia", "/run/alicia"])
def test_user_writes_data_log_runtime(host, path):
    probe = path + "/probe"
    try:
        assert as_user(host, USER, "touch {}".format(probe)).rc == 0
        written = host.file(probe)
        assert written.user == USER
    finally:
        host.run("rm -f %s", probe)


@pytest.mark.parametrize("path", ["/etc/alicia", "/var/lib/alicia", "/var/log/alicia", "/run/alicia"])
def test_other_users_locked_out(host, path):
    result = as_user(host, "nobody", "ls {}".format(path))
    assert result.rc != 0
    assert "Permission denied" in result.stderr
