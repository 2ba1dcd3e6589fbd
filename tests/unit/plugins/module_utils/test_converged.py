# -*- coding: utf-8 -*-
"""plugins/module_utils/_converged.py: the converge record's inputs digest,
the host snapshot (on temporary trees, fake commands and a fake HAProxy
runtime API) and the check against a record."""

import json
import os
import stat

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _converged as conv
from ansible_collections.alicia.platform.tests.unit.plugins.fake_haproxy import FakeHAProxy, FDRAIN, server


# ---------------------------------------------------------------------------
# Controller: the inputs digest
# ---------------------------------------------------------------------------

HOSTS = {"app1": {"catalogue_overrides": {"stt_service": {"instances": 2}}, "alicia_address": "10.0.0.2",
                  "ansible_host": "app1.lab", "ansible_facts": {"date_time": "now"}, "_alicia_phase_running": "core",
                  "inventory_hostname": "app1", "group_names": ["alicia_core"], "omit": "__omit_place_holder__1"},
         "app2": {"alicia_address": "10.0.0.3"}}
GROUPS = {"all": ["app1", "app2"], "alicia_core": ["app1"], "alicia_voice": ["app2"]}


def digest(hosts=HOSTS, groups=GROUPS, tree="t1", version="2.19.0"):
    return conv.inputs_digest(hosts, groups, tree, version)


def test_the_digest_is_stable_and_counts_only_the_desired_state():
    first = digest()
    assert first == digest() and len(first) == 64
    # Key and group order do not count.
    assert digest(hosts=dict(reversed(list(HOSTS.items()))),
                  groups={"alicia_voice": ["app2"], "all": ["app2", "app1"], "alicia_core": ["app1"]}) == first
    # Ansible's own variables, the run's private facts and the magic variables do not count...
    for name, value in (("ansible_host", "elsewhere"), ("ansible_facts", {"date_time": "later"}),
                        ("_alicia_phase_running", ""), ("omit", "__omit_place_holder__2"),
                        ("inventory_hostname", "x")):
        assert digest(hosts=dict(HOSTS, app1=dict(HOSTS["app1"], **{name: value}))) == first, name
    # ...every input does: a variable of any host, an extra variable, the groups, the collection, ansible-core.
    assert digest(hosts=dict(HOSTS, app2={"alicia_address": "10.0.0.4"})) != first
    assert digest(hosts=dict(HOSTS, app2=dict(HOSTS["app2"], broker_port=1884))) != first
    assert digest(groups=dict(GROUPS, alicia_voice=["app1"])) != first
    assert digest(tree="t2") != first
    assert digest(version="2.19.1") != first


def test_is_input():
    assert [name for name in ("catalogue_services", "service_runtime", "alicia_partial_rollout", "ansible_port",
                              "_service_plan", "groups", "hostvars", "playbook_dir") if conv.is_input(name)] == [
        "catalogue_services", "service_runtime", "alicia_partial_rollout"]


def test_the_tree_digest_follows_the_collection_s_files(tmp_path):
    for sub in ("roles/demo/tasks", "plugins/filter/__pycache__", "docs"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "roles/demo/tasks/main.yml").write_text("- name: one\n")
    (tmp_path / "plugins/filter/demo.py").write_text("x = 1\n")
    first = conv.tree_digest(str(tmp_path))
    # Compiled files and what is not the collection's logic do not count.
    (tmp_path / "plugins/filter/__pycache__/demo.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "plugins/filter/demo.pyc").write_bytes(b"\0")
    (tmp_path / "docs/notes.md").write_text("hello\n")
    assert conv.tree_digest(str(tmp_path)) == first
    (tmp_path / "roles/demo/tasks/main.yml").write_text("- name: two\n")
    assert conv.tree_digest(str(tmp_path)) != first
    (tmp_path / "roles/demo/tasks/main.yml").write_text("- name: one\n")
    assert conv.tree_digest(str(tmp_path)) == first
    (tmp_path / "roles/demo/tasks/extra.yml").write_text("")
    assert conv.tree_digest(str(tmp_path)) != first


# ---------------------------------------------------------------------------
# Host: the snapshot
# ---------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "etc"
    (root / "alicia").mkdir(parents=True)
    (root / "alicia" / "stt.env").write_text("A=1\n")
    (root / "alicia" / "stt.env").chmod(0o640)
    (root / "mtab").write_text("volatile\n")
    os.symlink("releases/1.0.0", str(root / "alicia" / "current"))
    return root


def test_files_signs_every_path_and_names_each_change(tree):
    roots, exclude = [str(tree), str(tree.parent / "missing")], [str(tree / "mtab")]
    before = conv.files(roots, exclude)
    assert sorted(before) == sorted([str(tree), str(tree / "alicia"), str(tree / "alicia" / "stt.env"),
                                     str(tree / "alicia" / "current"), str(tree.parent / "missing")])
    assert before[str(tree.parent / "missing")] == "absent"
    assert before[str(tree / "alicia" / "current")] == "l releases/1.0.0"
    assert before[str(tree / "alicia" / "stt.env")].startswith("f 640 ")
    assert conv.files(roots, exclude) == before
    # An excluded path changes freely.
    (tree / "mtab").write_text("changed\n")
    assert conv.files(roots, exclude) == before

    env = str(tree / "alicia" / "stt.env")
    (tree / "alicia" / "stt.env").write_text("A=2\n")           # same size, new time
    info = os.stat(env)
    os.utime(env, ns=(info.st_atime_ns, info.st_mtime_ns + 1000))
    os.chmod(env, 0o644)
    os.unlink(str(tree / "alicia" / "current"))
    os.symlink("releases/0.9.0", str(tree / "alicia" / "current"))
    (tree / "alicia" / "new.env").write_text("")
    reasons = conv.compare({"files": before}, {"files": conv.files(roots, exclude)})
    assert [r.split(":")[0] for r in reasons] == ["path %s/alicia/current" % tree, "path %s/alicia/new.env" % tree,
                                                  "path %s" % env]
    assert reasons[0].endswith(": l releases/0.9.0, was l releases/1.0.0")
    assert reasons[1].endswith(": new")
    assert " 644 " in reasons[2].split(", was")[0] and " 640 " in reasons[2].split(", was")[1]
    os.unlink(env)
    assert "path %s: gone" % env in conv.compare({"files": before}, {"files": conv.files(roots, exclude)})


class Commands(object):
    """A fake run(argv): answers by the command's first two words; missing ones exit 127."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        key = " ".join(argv[:2])
        if key not in self.answers:
            return 127, "", "%s: not found" % argv[0]
        return self.answers[key]


UNITS = ("alicia-stt_service.service loaded active running Alicia stt_service\n"
         "alicia-tts_service-1.service loaded failed failed Alicia tts_service 1\n"
         "haproxy.service loaded active running HAProxy Load Balancer\n")
UNIT_FILES = ("alicia-stt_service.service enabled enabled\n"
              "alicia-tts_service-1.service enabled enabled\n"
              "haproxy.service enabled enabled\n"
              "alicia-report.timer disabled enabled\n")


def test_units_containers_programs_and_ruleset_from_one_command_each():
    run = Commands({"systemctl list-units": (0, UNITS, ""), "systemctl list-unit-files": (0, UNIT_FILES, ""),
                    "docker ps": (0, "alicia-stt_service abc123 running 9f8e\nalicia-tts_service def456 exited 1a2b\n",
                                  ""),
                    "supervisorctl status": (3, "alicia-stt_service RUNNING pid 12, uptime 0:01:00\n"
                                                "alicia-tts_service STOPPED Dec 07 06:00 PM\n", ""),
                    "nft -s": (0, "table inet alicia {\n}\n", "")})
    assert conv.units(run) == {"alicia-stt_service.service": "loaded active running enabled",
                               "alicia-tts_service-1.service": "loaded failed failed enabled",
                               "haproxy.service": "loaded active running enabled",
                               "alicia-report.timer": "- disabled"}
    assert run.calls[0][:2] == ["systemctl", "list-units"] and "alicia-*" in run.calls[0]
    assert conv.containers(run) == {"alicia-stt_service": "abc123 running 9f8e",
                                    "alicia-tts_service": "def456 exited 1a2b"}
    assert "label=alicia.platform.managed=true" in run.calls[-1]
    assert conv.programs(run) == {"alicia-stt_service": "RUNNING", "alicia-tts_service": "STOPPED"}
    assert conv.ruleset(run) == conv.ruleset(run) and len(conv.ruleset(run)) == 64
    assert run.calls[-1] == ["nft", "-s", "list", "ruleset"]  # stateless: no counters
    # Without the command (or its daemon): None, which a record compares as such.
    missing = Commands({})
    assert [conv.units(missing), conv.containers(missing), conv.programs(missing), conv.ruleset(missing)] == [None] * 4


def test_manual_instances_and_sysctl_values(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "stt_service.pid").write_text("%d\n" % os.getpid())
    (run_dir / "tts_service.pid").write_text("999999999\n")
    (run_dir / "stt_service.sock").write_text("")
    assert conv.manual(str(run_dir)) == {"stt_service.pid": "%d alive" % os.getpid(),
                                         "tts_service.pid": "999999999 gone"}
    assert conv.manual(str(tmp_path / "none")) == {}

    sysctl_dir, proc = tmp_path / "sysctl.d", tmp_path / "proc"
    sysctl_dir.mkdir()
    (sysctl_dir / "90-alicia.conf").write_text("# hardening\nnet.ipv4.ip_forward = 0\n-kernel.missing = 1\n; x\n")
    (sysctl_dir / "README").write_text("net.ipv4.not_read = 1\n")
    (proc / "net" / "ipv4").mkdir(parents=True)
    (proc / "net" / "ipv4" / "ip_forward").write_text("1\n")
    assert conv.sysctl(str(sysctl_dir), str(proc)) == {"net.ipv4.ip_forward": "1", "kernel.missing": None}


def test_haproxy_servers_as_the_runtime_api_has_them():
    haproxy = FakeHAProxy([server("tts_service", "tts_service-1", 18101), server("tts_service", "tts_service-2",
                                                                                18102, admin=FDRAIN)])
    try:
        before = conv.balancer(haproxy.path)
        assert before == {"tts_service/tts_service-1": "ready 100", "tts_service/tts_service-2": "drain 100"}
        haproxy.find("tts_service", "tts_service-1")["uweight"] = 0
        assert conv.compare({"balancer": before}, {"balancer": conv.balancer(haproxy.path)}) == [
            "HAProxy server tts_service/tts_service-1: ready 0, was ready 100"]
    finally:
        haproxy.close()
    assert conv.balancer("/nonexistent/admin.sock") is None


def test_snapshot_reads_everything_in_one_pass(tree, tmp_path):
    run = Commands({"systemctl list-units": (0, UNITS, ""), "systemctl list-unit-files": (0, UNIT_FILES, "")})
    shot = conv.snapshot(run, roots=[str(tree)], exclude=[], run_dir=str(tmp_path / "run"),
                         sysctl_dir=str(tmp_path / "sysctl.d"), socket_path=str(tmp_path / "admin.sock"))
    assert sorted(shot) == ["balancer", "containers", "files", "manual", "programs", "ruleset", "sysctl", "units"]
    assert shot["units"]["alicia-stt_service.service"] == "loaded active running enabled"
    assert (shot["containers"], shot["programs"], shot["ruleset"], shot["balancer"]) == (None, None, None, None)
    assert [argv[:2] for argv in run.calls] == [["systemctl", "list-units"], ["systemctl", "list-unit-files"],
                                                ["docker", "ps"], ["supervisorctl", "status"], ["nft", "-s"]]


# ---------------------------------------------------------------------------
# The record and the check
# ---------------------------------------------------------------------------

SNAPSHOT = {"files": {"/etc/alicia/stt.env": "f 640 0 997 4 1"},
            "units": {"alicia-stt_service.service": "loaded active running enabled"},
            "containers": None, "programs": None, "manual": {}, "ruleset": "aa", "sysctl": {"k": "0"},
            "balancer": None}


def test_check_names_why_a_host_is_not_converged():
    record = {"format": 1, "digest": "d1", "snapshot": SNAPSHOT}
    assert conv.check("d1", SNAPSHOT, record) == (True, [])
    assert conv.check("d1", SNAPSHOT, None) == (
        False, ["no converge record (no full site.yml run recorded this host's state)"])
    assert conv.check("d2", SNAPSHOT, record) == (
        False, ["the inputs changed since the recorded converge (inventory, variables or the collection)"])
    changed = dict(SNAPSHOT, units={"alicia-stt_service.service": "loaded inactive dead enabled"}, ruleset="bb",
                   sysctl={"k": "1"}, containers={})
    converged, reasons = conv.check("d1", changed, record)
    assert not converged
    assert reasons == ["unit alicia-stt_service.service: loaded inactive dead enabled, was loaded active running enabled",
                       "containers: now readable", "sysctl k: 1, was 0", "nftables: the running ruleset changed"]


def test_the_record_is_written_once_atomically_and_private(tmp_path):
    path = str(tmp_path / "lib" / "converged.json")
    assert conv.read_record(path) is None
    assert conv.write_record(path, "d1", SNAPSHOT) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert conv.read_record(path) == {"format": 1, "digest": "d1", "snapshot": SNAPSHOT}
    assert conv.write_record(path, "d1", SNAPSHOT) is False
    assert conv.write_record(path, "d2", SNAPSHOT) is True
    assert os.listdir(str(tmp_path / "lib")) == ["converged.json"]
    # A damaged record is an error to read, and is replaced by the next record.
    with open(path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(conv.ConvergedError, match="not JSON"):
        conv.read_record(path)
    assert conv.write_record(path, "d1", SNAPSHOT) is True
    # A record of another format is no record.
    with open(path, "w") as handle:
        json.dump({"format": 99, "digest": "d1", "snapshot": SNAPSHOT}, handle)
    assert conv.read_record(path) is None
