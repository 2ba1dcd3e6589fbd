"""A new user's path through README.md (readme_user.py, run by converge.yml):
the tarball installed into an empty directory, the README's inventory and
vault, alicia.platform.site by its FQCN from outside the checkout without
ansible.cfg. Here: the platform it deployed is healthy, it runs the
tarball's files, and the README's health sweep passes from the installed
copy."""
import hashlib
import json
import os
import re
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
sys.path.insert(0, os.path.join(PROJECT, "molecule", "new_user"))
from alicia_molecule import health_by_port, resolved_catalogue  # noqa: E402
import readme_user  # noqa: E402

CATALOGUE = resolved_catalogue()
SERVICES = sorted(n for n, e in CATALOGUE.items() if e["kind"] == "service")
REFERENCE = "roles/service/files/alicia_reference_service.py"


def runs():
    with open(readme_user.runs_file()) as handle:
        return json.load(handle)


def user_run(argv):
    """``argv`` as the user runs it: in the user's directory, with the user's environment."""
    return subprocess.run([os.path.join(readme_user.BIN, argv[0])] + list(argv[1:]), cwd=readme_user.workdir(),
                          env=readme_user.user_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)


def test_the_users_runs_deployed_then_changed_nothing():
    # check (--check --diff on the fresh host), converge, idempotence: each the README's command.
    done = runs()
    assert [r["mode"] for r in done] == ["check", "site", "site"], done
    assert all(r["rc"] == 0 and r["hosts"] == [readme_user.HOST] for r in done), done
    assert done[0]["command"] == "ansible-playbook alicia.platform.site -i inventory --check --diff"
    assert done[1]["command"] == done[2]["command"] == "ansible-playbook alicia.platform.site -i inventory"
    # The fresh host changed (so the recap is read, and the idempotence step's changed=0 means something).
    assert done[0]["changed"] > 0 and done[1]["changed"] > 0, done
    assert done[2]["changed"] == 0, done


def test_the_user_has_no_ansible_cfg_and_only_the_installed_collection():
    version = user_run(["ansible", "--version"])
    assert re.search(r"^\s*config file = None$", version.stdout, re.M), version.stdout
    listed = user_run(["ansible-galaxy", "collection", "list", "alicia.platform"])
    assert listed.returncode == 0, listed.stdout
    paths = re.findall(r"^# (\S+)$", listed.stdout, re.M)
    assert paths == [os.path.join(readme_user.collections_dir(), "ansible_collections")], listed.stdout
    assert not readme_user.workdir().startswith(os.path.realpath(PROJECT) + os.sep)


def test_every_service_answers_healthy(host):
    health = health_by_port(host, [CATALOGUE[name]["port"] for name in SERVICES])
    unhealthy = {name: health[str(CATALOGUE[name]["port"])] for name in SERVICES
                 if health[str(CATALOGUE[name]["port"])].get("status") != "healthy"}
    assert not unhealthy, unhealthy
    assert len(SERVICES) == 22


def test_broker_listens(host):
    assert host.service("mosquitto").is_running
    assert host.socket("tcp://0.0.0.0:1883").is_listening


def test_services_run_the_tarballs_reference_service(host):
    with open(os.path.join(readme_user.installed(), "FILES.json")) as handle:
        shipped = {f["name"]: f["chksum_sha256"] for f in json.load(handle)["files"]}
    with open(os.path.join(readme_user.installed(), REFERENCE), "rb") as handle:
        installed = hashlib.sha256(handle.read()).hexdigest()
    assert shipped[REFERENCE] == installed
    for name in SERVICES:
        deployed = host.check_output("sha256sum /opt/alicia/%s/current/alicia_reference_service.py", name).split()[0]
        assert deployed == installed, name
        assert host.service(CATALOGUE[name]["unit"]).is_running, name


def test_readme_health_sweep_passes_from_the_installed_copy():
    argv = readme_user.health_command()
    assert argv == ["ansible-playbook", "alicia.platform.health", "-i", "inventory"]
    sweep = user_run(argv)
    assert sweep.returncode == 0, sweep.stdout[-3000:]
    total = len(CATALOGUE)
    assert "%d checked, %d healthy, 0 unhealthy, 0 unreachable" % (total, total) in sweep.stdout, sweep.stdout[-3000:]


def test_the_users_vault_is_encrypted_and_no_secret_is_in_the_output():
    with open(os.path.join(readme_user.workdir(), "inventory", "group_vars", "all", "vault.yml")) as handle:
        assert handle.read().startswith("$ANSIBLE_VAULT;")
    with open(os.path.join(readme_user.root(), "secrets.json")) as handle:
        values = list(json.load(handle).values())
    assert len(values) == 2 + len(SERVICES) + 3  # broker admin and monitor, MQTT per service, 3 API secrets
    with open(os.path.join(readme_user.root(), "readme-user.log")) as handle:
        log = handle.read()
    assert "PLAY RECAP" in log
    assert not [value for value in values if value in log]
