"""playbooks/backup.yml and restore.yml against the scenario's host: files
written into a service's data directory are backed up (a 0600 archive under
/var/backups/alicia), the list shows the backup's id; one file deleted, the
other changed (content, owner, mode) and the environment file edited, then
restore.yml puts all of them back with their owners and modes and the service
is running and healthy again. A restore of an unknown backup id and a backup
of an unknown service fail naming them, before the host is touched (the
service keeps its process). The probe files are removed at the end."""
import json
import os
import re
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import resolved_catalogue, wait_until  # noqa: E402

CATALOGUE = resolved_catalogue()
NAME = "personality_system"
PORT = CATALOGUE[NAME]["listen_port"]
UNIT = "alicia-%s.service" % NAME
DATA = "/var/lib/alicia/%s" % NAME
ENV = "/etc/alicia/%s.env" % NAME
BACKUPS = "/var/backups/alicia/%s" % NAME
PROBE = DATA + "/backup-probe.txt"
STATE = DATA + "/backup-state.txt"
GET = "python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)' %s"


def run(tool, *args):
    cmd = [os.path.join(os.path.dirname(sys.executable), tool), "-i", os.environ["MOLECULE_INVENTORY_FILE"]] + list(args)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ALICIA_MODULE_COUNT_FILE=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "backup_count.json"))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          timeout=600, check=False)
    return proc.returncode, proc.stdout


def playbook(name, *args):
    return run("ansible-playbook", os.path.join(PROJECT, "playbooks", name), *args)


def healthy(host):
    return host.run(GET, "http://127.0.0.1:%d/health" % PORT).stdout.strip() == "200"


def main_pid(host):
    return host.run("systemctl show -p MainPID --value %s", UNIT).stdout.strip()


def meta(host, path):
    f = host.file(path)
    return f.user, f.group, oct(f.mode)


def test_backup_then_restore_puts_data_and_config_back(host):
    owner, group = host.file(DATA).user, host.file(DATA).group
    assert owner != "root"
    env_before = host.file(ENV).content_string  # compared, never printed
    env_meta = meta(host, ENV)
    try:
        assert host.run("printf probe-1 > %s && chown %s:%s %s && chmod 0640 %s",
                        PROBE, owner, group, PROBE, PROBE).rc == 0
        assert host.run("printf state-1 > %s && chown %s:%s %s && chmod 0604 %s",
                        STATE, owner, group, STATE, STATE).rc == 0

        rc, out = playbook("backup.yml", "-e", "services=%s" % NAME)
        assert rc == 0, out[-4000:]
        ids = sorted(re.findall(r"(\d{8}T\d{6}Z)\.tar\.gz", host.run("ls %s", BACKUPS).stdout))
        assert ids, out[-4000:]
        made = ids[-1]
        archive = "%s/%s.tar.gz" % (BACKUPS, made)
        assert meta(host, archive) == ("root", "root", "0o600")
        assert host.file(BACKUPS).mode == 0o700

        # The list: the module's own action, on the host.
        rc, out = run("ansible", "alicia", "-m", "alicia.platform.backup",
                      "-a", json.dumps({"action": "list", "services": [NAME]}))
        assert rc == 0 and made in out, out[-3000:]

        # Damage: one file deleted, one changed (content, owner, mode), the environment edited.
        assert host.run("rm -f %s && printf state-2 > %s && chown root:root %s && chmod 0600 %s",
                        PROBE, STATE, STATE, STATE).rc == 0
        assert host.run("printf 'EXTRA=1\\n' >> %s", ENV).rc == 0

        # An unknown id: refused before the host is touched, naming it.
        pid = main_pid(host)
        rc, out = playbook("restore.yml", "-e", "service=%s" % NAME, "-e", "backup=20000101T000000Z")
        flat = re.sub(r"\s+", " ", out)
        assert rc != 0 and "unknown backup 20000101T000000Z" in flat and made in flat, out[-3000:]
        assert main_pid(host) == pid and host.file(STATE).content_string == "state-2"
        # An unknown service: refused naming it.
        rc, out = playbook("backup.yml", "-e", "services=%s,no_such_service" % NAME)
        assert rc != 0 and "unknown service(s) no_such_service" in re.sub(r"\s+", " ", out), out[-3000:]

        rc, out = playbook("restore.yml", "-e", "service=%s" % NAME, "-e", "backup=%s" % made)
        assert rc == 0, out[-4000:]
        assert host.file(PROBE).content_string == "probe-1"
        assert meta(host, PROBE) == (owner, group, "0o640")
        assert host.file(STATE).content_string == "state-1"
        assert meta(host, STATE) == (owner, group, "0o604")
        assert host.file(ENV).content_string == env_before and meta(host, ENV) == env_meta
        assert meta(host, DATA)[:2] == (owner, group)
        assert host.run("systemctl is-active %s", UNIT).stdout.strip() == "active"
        assert wait_until(lambda: healthy(host), 30)
        assert main_pid(host) != pid, "restore.yml stops and starts the service"
        secrets = [line.split("=", 1)[1] for line in env_before.splitlines() if "=" in line]
        assert not [value for value in secrets if len(value) >= 12 and value in out], "a secret of the env file printed"
    finally:
        host.run("rm -f %s %s", PROBE, STATE)
        if host.file(ENV).content_string != env_before:
            host.run("sed -i '/^EXTRA=1$/d' %s", ENV)
            host.run("systemctl restart %s", UNIT)
    assert wait_until(lambda: healthy(host), 30)
