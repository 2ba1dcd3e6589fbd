"""The lab hosts the benchmark creates itself (scripts/lab.sh) and site.yml runs against them."""

import glob
import json
import os
import re
import secrets as random_secrets
import shutil
import subprocess
import sys
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, ".cache", "bench")
BIN = os.path.dirname(sys.executable)
INVENTORY = "inventories/lab"
# ansible.cfg's callbacks (preload: what a user's run gets) plus the module count.
CALLBACKS = "ansible.posix.profile_tasks,alicia.platform.preload,alicia.platform.module_count"
PHASES = ["core", "management", "voice", "devices", "advanced", "observability"]
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                   r"\s+failed=(?P<failed>\d+)")


class LabError(RuntimeError):
    pass


def docker_answers():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def running_hosts():
    proc = subprocess.run(["docker", "ps", "--filter", "label=alicia.lab=1", "--filter", "status=running",
                           "--format", "{{.Names}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    return sorted(line.strip() for line in proc.stdout.splitlines() if line.strip())


def lab(action, hosts=1, docker=False, image=None):
    """scripts/lab.sh up|down with LAB_HOSTS=hosts (LAB_DOCKER=1: hosts that run their own Docker engine;
    LAB_IMAGE=image: another image than the lab's); its output goes to .cache/bench/lab.log."""
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ, LAB_HOSTS=str(hosts), LAB_DOCKER="1" if docker else "0",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    if image:
        env["LAB_IMAGE"] = image
    with open(os.path.join(OUT, "lab.log"), "a") as log:
        proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "lab.sh"), action], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise LabError("scripts/lab.sh %s (LAB_HOSTS=%s) failed: see .cache/bench/lab.log" % (action, hosts))


def forget_facts():
    """Drop the cached facts of the lab hosts (ansible.cfg caches them): a fresh host is gathered again."""
    for path in glob.glob(os.path.join(ROOT, ".cache", "facts", "alicia-lab-*")):
        os.unlink(path)


def fresh(hosts, docker=False, image=None):
    """New lab hosts: down, up (LAB_HOSTS=hosts, from ``image`` when given), no cached facts."""
    lab("down")
    lab("up", hosts, docker=docker, image=image)
    forget_facts()


def host_sh(host, script, check=True, stdin=None):
    """``bash -c script`` on a lab host (docker exec): its stdout; raises LabError when it fails (``check``)."""
    proc = subprocess.run(["docker", "exec", "-i", host, "bash", "-c", script], capture_output=True, text=True,
                          input=stdin)
    if check and proc.returncode != 0:
        raise LabError("on %s: %s failed (%d): %s" % (host, script[:80], proc.returncode,
                                                      (proc.stderr or proc.stdout)[-1500:]))
    return proc.stdout


def recap(stdout):
    """{host: {ok, changed, unreachable, failed}} from the PLAY RECAP lines."""
    hosts = {}
    for line in stdout.splitlines():
        match = RECAP.match(line.strip())
        if match:
            hosts[match.group("host")] = dict((key, int(match.group(key)))
                                              for key in ("ok", "changed", "unreachable", "failed"))
    return hosts


def _children(pid):
    """Every descendant pid of pid (from /proc)."""
    parents = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples the resident memory of a process tree every `interval` s: peak of the sum, peak of one process."""

    def __init__(self, pid, interval=0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_total = self.peak_single = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            pids = [self.pid] + _children(self.pid)
            sizes = [_rss_kib(pid) for pid in pids]
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max([self.peak_single] + sizes)
            self.done.wait(self.interval)


def run_playbook(label, playbook="playbooks/site.yml", inventory=INVENTORY, extra_files=(), extra=None,
                 limit=None, sample_rss=False, args=()):
    """One ansible-playbook run with the module_count callback -> dict (wall, rc, recap, counts, rss, log)."""
    os.makedirs(OUT, exist_ok=True)
    report = os.path.join(OUT, "%s.json" % label)
    log = os.path.join(OUT, "%s.log" % label)
    if os.path.exists(report):
        os.unlink(report)
    env = dict(os.environ)
    env.update({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"), "ANSIBLE_CALLBACKS_ENABLED": CALLBACKS,
                "ALICIA_MODULE_COUNT_FILE": report, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "PATH": BIN + os.pathsep + env.get("PATH", "")})
    command = [os.path.join(BIN, "ansible-playbook"), playbook, "-i", inventory]
    for path in extra_files:
        command += ["-e", "@" + path]
    if extra:
        command += ["-e", json.dumps(extra)]
    if limit:
        command += ["--limit", limit]
    command += list(args)
    with open(log, "w") as handle:
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        sampler = None
        if sample_rss:
            sampler = RssSampler(proc.pid)
            sampler.start()
        rc = proc.wait()
        wall = time.monotonic() - started
        if sampler:
            sampler.done.set()
            sampler.join()
    with open(log) as handle:
        stdout = handle.read()
    counts = None
    if os.path.exists(report):
        with open(report) as handle:
            counts = json.load(handle)["hosts"]
    result = {"label": label, "wall": wall, "rc": rc, "recap": recap(stdout), "counts": counts,
              "log": os.path.relpath(log, ROOT)}
    if sampler:
        result["rss_total_mib"] = sampler.peak_total / 1024.0
        result["rss_single_mib"] = sampler.peak_single / 1024.0
    if rc != 0:
        lines = stdout.splitlines()
        errors = [i for i, line in enumerate(lines) if line.startswith(("fatal:", "[ERROR]"))]
        tail = "\n".join(lines[errors[0]:errors[0] + 12] if errors else lines[-25:])
        raise LabError("ansible-playbook %s failed (exit %d), log %s:\n%s" % (playbook, rc, result["log"], tail))
    return result


def changed(run):
    return sum(host["changed"] for host in run["recap"].values())


def executions(run):
    """The largest per-host module execution count of a run (None without the callback's report)."""
    if not run["counts"]:
        return None
    return max(entry["total"] for entry in run["counts"].values())


def extra_services(count, inventory=INVENTORY, base_port=9100):
    """An extra-vars file (0600) adding `count` copies of the reference service (spread over the six phases)
    to the inventory's own catalogue_overrides, with their MQTT passwords merged into its catalogue_secrets
    (extra vars replace a variable whole). The copies are named extra_001... in order, so that a smaller
    count is a subset of a larger one."""
    group_vars = os.path.join(ROOT, inventory, "group_vars", "all")
    with open(os.path.join(group_vars, "vault.yml")) as handle:
        known = (yaml.safe_load(handle) or {}).get("catalogue_secrets") or {}
    with open(os.path.join(group_vars, "main.yml")) as handle:
        overrides = dict((yaml.safe_load(handle) or {}).get("catalogue_overrides") or {})
    passwords = dict(known)
    stable = _stable_passwords()
    for index in range(count):
        name = "extra_%03d" % (index + 1)
        overrides[name] = {"phase": PHASES[index % len(PHASES)], "port": base_port + index,
                           "description": "benchmark copy %d of the reference service" % (index + 1),
                           "resources": {"cpu_limit": 0.25, "memory_limit": "64M", "cpu_reservation": 0.1,
                                         "memory_reservation": "32M"}}
        passwords[name] = {"MQTT_PASSWORD": stable.setdefault(name, random_secrets.token_urlsafe(24))}
    _save_passwords(stable)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "extra-services-%d.yml" % count)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump({"catalogue_overrides": overrides, "catalogue_secrets": passwords}, handle)
    return path


def _passwords_file():
    return os.path.join(OUT, "extra-passwords.json")


def _stable_passwords():
    """The extra services keep their password from one file to the next (a new one would change the host)."""
    try:
        with open(_passwords_file()) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _save_passwords(passwords):
    os.makedirs(OUT, exist_ok=True)
    descriptor = os.open(_passwords_file(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(passwords, handle)


def host_addresses():
    """{lab host: its address on the lab network} from inventories/lab/lab-hosts.yml."""
    path = os.path.join(ROOT, INVENTORY, "lab-hosts.yml")
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return dict((name, entry["alicia_address"]) for name, entry in data["all"]["hosts"].items())


# Resident memory of each running alicia-*.service on a host (main process and its children, from /proc).
RSS_SCRIPT = r'''
for unit in $(systemctl list-units --state=running --plain --no-legend 'alicia-*.service' | awk '{print $1}'); do
  pid=$(systemctl show -p MainPID --value "$unit")
  [ "$pid" -gt 0 ] 2>/dev/null || continue
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null)
  echo "$unit ${rss:-0}"
done
'''


def service_rss(host):
    """{unit: RSS in MiB} of the running alicia-*.service units of a lab host."""
    proc = subprocess.run(["docker", "exec", host, "bash", "-c", RSS_SCRIPT], capture_output=True, text=True)
    found = {}
    for line in proc.stdout.splitlines():
        unit, _, kib = line.partition(" ")
        if kib.strip().isdigit():
            found[unit] = int(kib) / 1024.0
    return found
