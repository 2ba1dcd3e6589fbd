#!/usr/bin/env python3
"""A new user's path through README.md, run on the controller against the
scenario's lab host.

The commands come from README.md's own sections and code blocks (Install;
Quick start: 1. An inventory, 2. The variables you set, 3. Secrets, 4. Run
it; Health sweep), so the scenario fails when the README's path breaks or
when a command it shows is no longer there. Where a user adapts the README
to their hosts, this does the same with the scenario's values:

- the tarball is built from the checkout with `--output-path` (the README
  writes it into the checkout; the checkout stays clean) and installed with
  `--no-deps` (the README's option for the `ansible` package, which bundles
  the dependencies: the build machine has no Galaxy);
- the inventory has the README's groups with the lab host in each (a host
  may be in several groups), reached by the docker connection;
- main.yml is the README's block with the user's values: `ansible_user`
  root (what `docker exec` runs as; the README's `ansible_become: true`
  stays, through sudo) and the scenario network as the networks;
- the vault file is the shipped vault.yml.example with the scenario's
  throwaway secrets, encrypted with `ansible-vault encrypt`; the vault
  password comes from ANSIBLE_VAULT_PASSWORD_FILE, as README's everyday
  operations say, instead of `--ask-vault-pass` (no terminal here).

Every command runs from a directory outside the checkout, with
ANSIBLE_COLLECTIONS_PATH holding only the empty directory the tarball was
installed into, and no ANSIBLE_* variable of the caller (no ANSIBLE_CONFIG:
ansible finds no configuration file at all, as on a new user's machine).

    readme_user.py deploy [--check]   build, install, inventory, vault, site
    readme_user.py cleanup            remove the scenario's directory

`deploy` prints one JSON line last: {"rc", "changed", "seconds", ...};
changed is the sum of the inner run's PLAY RECAP changed counts.
"""
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "new_user")
HOST = "alicia-%s" % SCENARIO
NETWORK = "alicia-mol-%s" % SCENARIO
BIN = os.path.dirname(sys.executable)
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class UserPathError(Exception):
    """The README's path cannot be followed (a section or a command is missing, a step failed)."""


# ---- where things are -----------------------------------------------------------

def root():
    """The scenario's directory on the controller, outside the checkout (stable across
    the converge runs of one scenario instance: the secrets and the vault password
    stay the same, so the re-run changes nothing)."""
    key = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", PROJECT + SCENARIO)
    path = os.path.join(tempfile.gettempdir(), "alicia-%s-%s" % (SCENARIO.replace("_", "-"),
                                                                 hashlib.sha256(key.encode()).hexdigest()[:10]))
    if os.path.realpath(path).startswith(os.path.realpath(PROJECT) + os.sep):
        raise UserPathError("the user's directory %s is inside the checkout" % path)
    return path


def workdir():
    """The user's working directory (made empty at every deploy)."""
    return os.path.join(root(), "user")


def collections_dir():
    return os.path.join(workdir(), "collections")


def installed():
    """The installed collection."""
    return os.path.join(collections_dir(), "ansible_collections", "alicia", "platform")


def vault_password_file():
    return os.path.join(root(), "vault-password")


def runs_file():
    """Each deploy's mode, rc and changed count, in order (read by the tests)."""
    return os.path.join(root(), "runs.json")


def user_env():
    """The environment of a new user's shell: none of the caller's ANSIBLE_* or
    MOLECULE_* variables, the venv's commands on PATH, the collections path only
    the directory the tarball was installed into, the vault password from a file."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "MOLECULE_")) and key != "PYTHONPATH"}
    env.update(PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
               ANSIBLE_COLLECTIONS_PATH=collections_dir(),
               ANSIBLE_VAULT_PASSWORD_FILE=vault_password_file(),
               ANSIBLE_NOCOLOR="1")
    return env


# ---- README.md ------------------------------------------------------------------

def readme():
    with open(os.path.join(PROJECT, "README.md")) as handle:
        return handle.read()


def sections(text):
    """heading -> (the section's text, [(language, body) of its fenced blocks]),
    each section up to the next heading of any level."""
    out, heading, lines, fence = {}, None, [], None
    for line in text.splitlines():
        if fence is None and line.startswith("#"):
            if heading:
                out[heading] = "\n".join(lines)
            heading, lines = line.lstrip("#").strip(), []
            continue
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        lines.append(line)
    if heading:
        out[heading] = "\n".join(lines)
    return {name: (body, re.findall(r"^```(\w*)\n(.*?)^```", body, re.M | re.S)) for name, body in out.items()}


def section(name):
    """The README section whose heading is ``name`` (or starts with it)."""
    found = sections(readme())
    for heading, content in found.items():
        if heading == name or heading.startswith(name):
            return content
    raise UserPathError("README.md has no section %r (headings: %s)" % (name, ", ".join(found)))


def command(name, starts, without=(), having=()):
    """The first command line of the bash blocks of README section ``name`` that
    starts with ``starts``, has none of the words ``without`` and all of ``having``,
    split, its comment dropped."""
    for lang, body in section(name)[1]:
        if lang not in ("bash", "sh", ""):
            continue
        for line in body.splitlines():
            argv = shlex.split(line.strip(), comments=True) if line.strip().startswith(starts) else []
            if argv and not set(without) & set(argv) and set(having) <= set(argv):
                return argv
    raise UserPathError("README.md section %r shows no command %r" % (name, starts))


def yaml_block(name, first_line=None):
    """The first YAML block of README section ``name`` (whose first line is ``first_line``, when given)."""
    for lang, body in section(name)[1]:
        if lang == "yaml" and (first_line is None or body.splitlines()[0].strip() == first_line):
            return yaml.safe_load(body)
    raise UserPathError("README.md section %r has no YAML block %s" % (name, first_line or ""))


def health_command():
    """README's health sweep of every service: the command the tests run."""
    return command("Health sweep", "ansible-playbook alicia.platform.health -i inventory", without=("-e",))


def site_command(check=False):
    """README's `Run it`: the site playbook by its FQCN (with --check --diff for the
    check run). `--ask-vault-pass` prompts; README's everyday operations take the
    password from ANSIBLE_VAULT_PASSWORD_FILE instead."""
    if "ANSIBLE_VAULT_PASSWORD_FILE" not in section("Everyday operations")[0]:
        raise UserPathError("README.md no longer says the vault password may come from ANSIBLE_VAULT_PASSWORD_FILE")
    argv = command("4. Run it", "ansible-playbook alicia.platform.site -i inventory",
                   without=("--tags", "--limit") + (() if check else ("--check",)),
                   having=("--check", "--diff") if check else ())
    return [arg for arg in argv if arg != "--ask-vault-pass"]


# ---- running ----------------------------------------------------------------------

def run(argv, cwd, log=None, env=None):
    """Run ``argv`` as the user in ``cwd``; its output (appended to ``log`` when given)."""
    argv = list(argv)
    if argv[0].startswith(("ansible", "molecule")):
        argv[0] = os.path.join(BIN, argv[0])
    proc = subprocess.run(argv, cwd=cwd, env=env or user_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    if log:
        with open(log, "a") as handle:
            handle.write("$ %s\n%s\n" % (" ".join(argv), proc.stdout))
    if proc.returncode != 0:
        raise UserPathError("`%s` in %s failed (rc %d):\n%s" % (
            " ".join(argv), cwd, proc.returncode, "\n".join(proc.stdout.splitlines()[-60:])))
    return proc.stdout


def private_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def throwaway_secrets(example):
    """The vault.yml.example with every CHANGE_ME replaced by the scenario's
    throwaway secret for that key (generated once per scenario instance)."""
    store_path = os.path.join(root(), "secrets.json")
    store = {}
    if os.path.exists(store_path):
        with open(store_path) as handle:
            store = json.load(handle)

    def fill(node, path):
        if isinstance(node, dict):
            return {key: fill(value, path + (str(key),)) for key, value in node.items()}
        if node == "CHANGE_ME":
            return store.setdefault(".".join(path), secrets.token_urlsafe(24))
        return node

    filled = fill(example, ())
    if "CHANGE_ME" in json.dumps(filled):
        raise UserPathError("vault.yml.example holds a CHANGE_ME this could not fill")
    private_file(store_path, json.dumps(store))
    return filled


def network_subnet():
    """The scenario network's subnet: the user's own network (platform, clients, SSH)."""
    out = subprocess.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", NETWORK],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    subnets = [s for s in out if ":" not in s]
    if not subnets:
        raise UserPathError("network %s has no IPv4 subnet" % NETWORK)
    return subnets[0]


def lab_hosts(node):
    """The README's inventory with every group's hosts replaced by the lab host."""
    if isinstance(node, dict):
        return {key: ({HOST: None} if key == "hosts" else lab_hosts(value)) for key, value in node.items()}
    return node


def recap(output):
    """host -> (ok, changed, unreachable, failed) of the run's PLAY RECAP."""
    tail = output.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in output else ""
    return {m.group(1): tuple(int(g) for g in m.groups()[1:]) for m in RECAP.finditer(tail)}


def prepare_user_directory():
    """Steps Install to 3 of the README, into a new empty directory."""
    if os.path.isdir(workdir()):
        shutil.rmtree(workdir())
    os.makedirs(collections_dir(), mode=0o700)
    os.chmod(root(), 0o700)
    if not os.path.exists(vault_password_file()):
        private_file(vault_password_file(), secrets.token_urlsafe(24) + "\n")
    log = os.path.join(root(), "readme-user.log")  # every run of the scenario, appended
    dist = os.path.join(workdir(), "dist")
    env = user_env()

    # Install: build the tarball, install it into the empty collections path.
    build = command("Install", "ansible-galaxy collection build")
    run(build + ["--output-path", dist], cwd=PROJECT, log=log)
    tarballs = [name for name in os.listdir(dist) if re.match(r"alicia-platform-.+\.tar\.gz$", name)]
    if len(tarballs) != 1:
        raise UserPathError("the build wrote %s, not one alicia-platform tarball" % tarballs)
    version = tarballs[0][len("alicia-platform-"):-len(".tar.gz")]
    install = command("Install", "ansible-galaxy collection install alicia-platform-<version>.tar.gz")
    install = [arg.replace("<version>", version) for arg in install]
    if "--no-deps" not in section("Install")[0]:
        raise UserPathError("README.md's Install section no longer names --no-deps")
    if os.listdir(collections_dir()):
        raise UserPathError("the collections directory is not empty before the install")
    run(install + ["--no-deps"], cwd=dist, log=log, env=env)
    if not os.path.isfile(os.path.join(installed(), "MANIFEST.json")):
        raise UserPathError("ansible-galaxy did not install into %s" % collections_dir())
    config = run(["ansible", "--version"], cwd=workdir(), env=env)
    if not re.search(r"^\s*config file = None$", config, re.M):
        raise UserPathError("the user's ansible reads a configuration file:\n" + config)

    # 1. An inventory: the shipped example copied as the README says, the hosts the README's shape.
    body = section("1. An inventory")[0]
    copy = re.search(r"`cp -r (\S+/ansible_collections/alicia/platform/(\S+)) (\S+)`", body)
    if not copy or copy.group(3) != "inventory":
        raise UserPathError("README.md's `1. An inventory` no longer shows the cp -r of the shipped example")
    run(["cp", "-r", os.path.join(installed(), copy.group(2)), "inventory"], cwd=workdir(), log=log, env=env)
    hosts = yaml_block("1. An inventory", "# inventory/hosts.yml")
    with open(os.path.join(workdir(), "inventory", "hosts.yml"), "w") as handle:
        handle.write("---\n")
        yaml.safe_dump(lab_hosts(hosts), handle, default_flow_style=False, sort_keys=False)
    os.makedirs(os.path.join(workdir(), "inventory", "host_vars"))
    with open(os.path.join(workdir(), "inventory", "host_vars", HOST + ".yml"), "w") as handle:
        handle.write("---\nansible_connection: community.docker.docker\n")

    # 2. The variables you set: the README's block, with this user's values.
    variables = yaml_block("2. The variables you set")
    required = re.findall(r"^\| `(\w+)` \| yes \|", section("2. The variables you set")[0], re.M)
    missing = [name for name in required if name not in variables]
    if not required or missing:
        raise UserPathError("README.md's example variables lack the required %s" % (missing or "(no table)"))
    subnet = network_subnet()
    variables.update(ansible_user="root",
                     network_hardening_platform_networks=[subnet],
                     network_hardening_client_networks=[subnet],
                     network_hardening_ssh_sources=[subnet])
    target = re.search(r"In `(inventory/group_vars/all/main\.yml)`", section("2. The variables you set")[0])
    if not target:
        raise UserPathError("README.md's `2. The variables you set` names no inventory/group_vars file")
    with open(os.path.join(workdir(), target.group(1)), "w") as handle:
        handle.write("---\n")
        yaml.safe_dump(variables, handle, default_flow_style=False, sort_keys=False)

    # 3. Secrets: vault.yml.example copied, filled in, encrypted.
    body = section("3. Secrets")[0]
    copy = re.search(r"Copy `(\S+)` to\s+`(\S+)`", body)
    if not copy:
        raise UserPathError("README.md's `3. Secrets` no longer says which example to copy where")
    with open(os.path.join(installed(), copy.group(1))) as handle:
        example = yaml.safe_load(handle)
    shown = yaml_block("3. Secrets")
    unknown = sorted(set(shown) - set(example)) + sorted(
        set(shown.get("vault_catalogue_secrets") or {}) - set(example.get("vault_catalogue_secrets") or {}))
    if unknown:
        raise UserPathError("README.md's vault example names %s, which vault.yml.example lacks" % unknown)
    vault = os.path.join(workdir(), copy.group(2))
    private_file(vault, "---\n" + yaml.safe_dump(throwaway_secrets(example), default_flow_style=False))
    run(command("3. Secrets", "ansible-vault encrypt"), cwd=workdir(), log=log, env=env)
    with open(vault) as handle:
        if not handle.read().startswith("$ANSIBLE_VAULT;"):
            raise UserPathError("ansible-vault encrypt left %s in clear text" % vault)
    return log


def deploy(check=False):
    """The README's path; the summary of the site run (mode, rc, changed, seconds)."""
    start = time.monotonic()
    summary = {"mode": "check" if check else "site", "rc": 1, "changed": None, "seconds": None}
    try:
        log = prepare_user_directory()
        argv = site_command(check)
        proc = subprocess.run([os.path.join(BIN, argv[0])] + argv[1:], cwd=workdir(), env=user_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        with open(log, "a") as handle:
            handle.write("$ %s\n%s\n" % (" ".join(argv), proc.stdout))
        hosts = recap(proc.stdout)
        summary.update(rc=proc.returncode, changed=sum(counts[1] for counts in hosts.values()),
                       hosts=sorted(hosts), command=" ".join(argv))
        if proc.returncode != 0 or HOST not in hosts:
            sys.stderr.write("\n".join(proc.stdout.splitlines()[-80:]) + "\n")
            summary["rc"] = proc.returncode or 1
    except UserPathError as exc:
        sys.stderr.write("%s\n" % exc)
        summary["error"] = str(exc).splitlines()[0]
    summary["seconds"] = round(time.monotonic() - start, 1)
    runs = []
    if os.path.exists(runs_file()):
        with open(runs_file()) as handle:
            runs = json.load(handle)
    with open(runs_file(), "w") as handle:
        json.dump(runs + [summary], handle)
    print(json.dumps(summary))
    return summary["rc"]


def main(argv):
    if argv[:1] == ["deploy"]:
        return deploy(check="--check" in argv[1:])
    if argv[:1] == ["cleanup"]:
        shutil.rmtree(root(), ignore_errors=True)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
