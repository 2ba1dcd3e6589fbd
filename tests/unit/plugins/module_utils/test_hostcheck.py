# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-deployment host checks (module_utils/_hostcheck.py): the read against
fake /proc trees (and once against the real one), and the judging rules
against plans the service role builds from the shipped catalogue."""

import os
import socket
import sys
from collections import namedtuple

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _hostcheck as hc
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp

HOST = "h1"
GROUPS = {"alicia_core": [HOST], "alicia_voice": [HOST], "alicia_broker": ["b1"]}
GROUP_NAMES = ["alicia", "alicia_core", "alicia_voice"]

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def tcp_line(n, address, port, state, inode, uid=0):
    return ("   %d: %s:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000 %5d        0 %s 1 0000 100 0 0 10 0\n"
            % (n, address, port, state, uid, inode))


def tcp6_line(n, address, port, state, inode):
    return ("   %d: %s:%04X 00000000000000000000000000000000:0000 %s 00000000:00000000 00:00000000 00000000     0"
            "        0 %s 1 0000 100 0 0 10 0\n" % (n, address, port, state, inode))


def fake_proc(root, tcp=(), tcp6=(), processes=None, meminfo="MemTotal: 8000000 kB\nMemAvailable: 2097152 kB\n"):
    """A /proc tree: net/tcp{,6}, meminfo, and per pid cmdline, environ, cgroup and fd links (socket inodes)."""
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(TCP_HEADER + "".join(tcp))
    (root / "net" / "tcp6").write_text(TCP_HEADER + "".join(tcp6))
    (root / "meminfo").write_text(meminfo)
    (root / "self").mkdir()  # not a pid: skipped
    for pid, spec in (processes or {}).items():
        base = root / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "cmdline").write_bytes(b"\0".join(a.encode() for a in spec.get("argv", [])) + b"\0")
        (base / "comm").write_text(spec.get("comm", "x") + "\n")
        (base / "environ").write_bytes(b"\0".join(("%s=%s" % kv).encode() for kv in spec.get("env", {}).items()))
        (base / "cgroup").write_text(spec.get("cgroup", ""))
        os.symlink("/dev/null", str(base / "fd" / "0"))
        for n, inode in enumerate(spec.get("sockets", []), start=3):
            os.symlink("socket:[%s]" % inode, str(base / "fd" / str(n)))
    return str(root)


# ---- the read -------------------------------------------------------------------------

def test_listeners_map_listen_sockets_to_their_processes(tmp_path):
    proc = fake_proc(tmp_path / "proc", tcp=[
        tcp_line(0, "00000000", 8080, "0A", 111),        # 0.0.0.0:8080 LISTEN
        tcp_line(1, "0100007F", 8081, "0A", 222),        # 127.0.0.1:8081 LISTEN
        tcp_line(2, "0100007F", 8082, "01", 333),        # ESTABLISHED: not a listener
        tcp_line(3, "0100007F", 9999, "0A", 444),        # a port nobody asked about
    ], tcp6=[tcp6_line(0, "0" * 32, 8083, "0A", 555)], processes={
        4242: {"argv": ["python3", "-m", "http.server", "8080"], "cgroup": "0::/user.slice/session-3.scope\n",
               "env": {"HOME": "/root", "SECRET": "s3cr3t"}, "sockets": [111]},
        77: {"argv": ["/usr/bin/python3", "/opt/alicia/tts/current/service.py"],
             "cgroup": "0::/system.slice/alicia-tts_service.service\n",
             "env": {"SERVICE_NAME": "tts_service", "MQTT_PASSWORD": "pw"}, "sockets": [222, 333]},
        78: {"argv": [], "comm": "kworker", "sockets": []},
    })
    found = hc.listeners([8080, 8081, 8082, 8083, 8084], proc)
    assert found["8080"] == [{"pid": 4242, "command": "python3 -m http.server 8080", "name": "python3",
                              "unit": "session-3.scope", "env": {}, "port": 8080, "address": "0.0.0.0",
                              "uid": 0, "user": "root"}]
    assert found["8081"][0]["pid"] == 77 and found["8081"][0]["unit"] == "alicia-tts_service.service"
    # Only the two names the judging reads leave the host, never the rest of the environment.
    assert found["8081"][0]["env"] == {"SERVICE_NAME": "tts_service"}
    assert found["8082"] == [] and found["8084"] == []
    # A socket whose process is not found (another user's, without root): listed, pid None.
    assert found["8083"] == [{"pid": None, "command": "?", "name": "?", "unit": None, "env": {}, "port": 8083,
                              "address": "::", "uid": 0, "user": "root"}]
    assert "9999" not in found


def test_a_socket_shared_by_a_parent_and_its_workers_lists_each_process(tmp_path):
    proc = fake_proc(tmp_path / "proc", tcp=[tcp_line(0, "00000000", 80, "0A", 9)], processes={
        10: {"argv": ["/usr/sbin/haproxy", "-Ws"], "cgroup": "0::/system.slice/haproxy.service\n", "sockets": [9]},
        11: {"argv": ["/usr/sbin/haproxy", "-Ws"], "cgroup": "0::/system.slice/haproxy.service\n", "sockets": [9]},
    })
    assert [h["pid"] for h in hc.listeners([80], proc)["80"]] == [10, 11]


@pytest.mark.parametrize("text, unit", [
    ("0::/system.slice/haproxy.service\n", "haproxy.service"),
    ("0::/system.slice/docker-0123abcd.scope\n", "docker-0123abcd.scope"),
    ("0::/system.slice/supervisor.service/x\n", "supervisor.service"),
    ("12:pids:/x\n1:name=systemd:/system.slice/alicia-a.service\n0::/\n", "alicia-a.service"),
    ("0::/\n", None),
    ("", None),
])
def test_unit_of_cgroup(text, unit):
    assert hc.unit_of_cgroup(text) == unit


@pytest.mark.parametrize("hex_address, text", [
    ("0100007F", "127.0.0.1"), ("00000000", "0.0.0.0"), ("0" * 32, "::"),
    ("0000000000000000FFFF00000100007F", "::ffff:127.0.0.1"),
])
def test_addresses(hex_address, text):
    assert hc._address(hex_address) == text


def test_free_space_of_a_path_not_there_yet_is_its_nearest_parents(tmp_path):
    Stat = namedtuple("Stat", "f_bavail f_frsize")
    seen = []

    def statvfs(path):
        seen.append(path)
        return Stat(f_bavail=300, f_frsize=1024 * 1024)
    found = hc.free_space([str(tmp_path / "opt" / "alicia"), str(tmp_path)], statvfs=statvfs)
    assert found[str(tmp_path / "opt" / "alicia")] == {"checked": str(tmp_path), "free_mb": 300,
                                                       "device": os.stat(str(tmp_path)).st_dev}
    assert seen == [str(tmp_path), str(tmp_path)]


def test_mem_available(tmp_path):
    assert hc.mem_available_mb(fake_proc(tmp_path / "a")) == 2048
    assert hc.mem_available_mb(fake_proc(tmp_path / "b", meminfo="MemTotal: 1 kB\n")) is None


def test_report_against_the_real_proc_finds_this_process_listening():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        found = hc.report([port], ["/"])
    finally:
        sock.close()
    holders = found["listeners"][str(port)]
    assert [h["pid"] for h in holders] == [os.getpid()], holders
    assert holders[0]["address"] == "127.0.0.1"
    assert os.path.basename(sys.executable) in holders[0]["command"] or "python" in holders[0]["command"]
    assert found["paths"]["/"]["free_mb"] > 0 and found["mem_available_mb"] > 0


# ---- the judging --------------------------------------------------------------------------

def plan_of(resolve, overrides, names, settings=None):
    return sp.plan(resolve(overrides), names, GROUP_NAMES, HOST, groups=GROUPS, settings=settings)


def holder(pid, command, unit=None, env=None, address="0.0.0.0", user="root"):
    return {"pid": pid, "command": command, "name": os.path.basename(command.split()[0]), "unit": unit,
            "env": env or {}, "address": address, "user": user}


def report(listeners=None, free_mb=10000, mem=100000):
    return {"listeners": dict((str(p), h) for p, h in (listeners or {}).items()),
            "paths": {"/opt/alicia": {"checked": "/opt", "free_mb": free_mb},
                      "/var/lib/alicia": {"checked": "/var/lib/alicia", "free_mb": free_mb}},
            "mem_available_mb": mem}


def test_request_names_every_port_and_the_install_and_data_directories(resolve):
    plan = plan_of(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}},
                   ["stt_service", "tts_service"])
    tts, stt = [plan["entries"][plan["names"].index(n)] for n in ("tts_service", "stt_service")]
    assert hc.request(plan) == {"ports": sorted([stt["port"], tts["port"], 9201, 9202]),
                                "paths": ["/opt/alicia", "/var/lib/alicia"]}


def test_a_foreign_listener_is_named_with_host_service_port_pid_and_command(resolve):
    plan = plan_of(resolve, {}, ["stt_service", "ai_service"])
    stt = plan["entries"][plan["names"].index("stt_service")]
    ai = plan["entries"][plan["names"].index("ai_service")]
    found = hc.problems(plan, report({
        stt["port"]: [holder(4242, "python3 -m http.server %s" % stt["port"], "session-3.scope")],
        ai["port"]: [holder(77, "/usr/bin/python3 service.py", "alicia-ai_service.service",
                            {"SERVICE_NAME": "ai_service"})],
    }))
    assert found == ["h1: service stt_service needs port %d (service), held by PID 4242 (python3 -m http.server %d, "
                     "unit session-3.scope) on 0.0.0.0, not by the service" % (stt["port"], stt["port"])]


def test_a_process_of_another_service_or_another_unit_is_foreign(resolve):
    plan = plan_of(resolve, {}, ["stt_service"])
    port = plan["entries"][0]["port"]
    for other in (holder(5, "x", "alicia-ai_service.service", {"SERVICE_NAME": "ai_service"}),
                  holder(5, "/usr/sbin/haproxy -Ws", "haproxy.service"),
                  holder(None, "?")):
        found = hc.problems(plan, report({port: [other]}))
        assert len(found) == 1 and "stt_service needs port %d" % port in found[0], (other, found)
    assert "PID unknown (?, socket of user root)" in hc.problems(plan, report({port: [holder(None, "?")]}))[0]


def test_a_listener_whose_process_is_unreadable_is_judged_by_its_sockets_owner(resolve):
    """Root without CAP_SYS_PTRACE (a lab container) cannot map another user's sockets to processes."""
    plan = plan_of(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}},
                   ["stt_service", "tts_service"])
    stt = plan["entries"][plan["names"].index("stt_service")]
    tts = plan["entries"][plan["names"].index("tts_service")]
    ours = report({stt["port"]: [holder(None, "?", user="alicia")], 9201: [holder(None, "?", user="alicia")],
                   tts["port"]: [holder(None, "?", user="root")]})
    assert hc.problems(plan, ours) == []
    foreign = report({stt["port"]: [holder(None, "?", user="root")], 9201: [holder(None, "?", user="www-data")]})
    found = hc.problems(plan, foreign, check_memory=False)
    assert len(found) == 2 and "socket of user root" in found[0] and "socket of user www-data" in found[1], found


@pytest.mark.parametrize("own", [
    holder(9, "/usr/bin/python3 service.py", None, {"SERVICE_NAME": "stt_service"}),   # manual: its environment
    holder(9, "/usr/bin/python3 service.py", "alicia-stt_service.service"),            # its unit
    holder(9, "/usr/bin/python3 service.py", "supervisor.service", {"SUPERVISOR_PROCESS_NAME": "alicia-stt_service"}),
])
def test_the_services_own_process_is_ours(resolve, own):
    plan = plan_of(resolve, {}, ["stt_service"])
    assert hc.problems(plan, report({plan["entries"][0]["port"]: [own]})) == []


def test_the_balanced_port_is_haproxys_and_the_instance_ports_the_instances(resolve):
    plan = plan_of(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}, ["tts_service"])
    port = plan["entries"][0]["port"]
    ok = report({port: [holder(3, "/usr/sbin/haproxy -Ws", "haproxy.service")],
                 9201: [holder(4, "python3 s", "alicia-tts_service-1.service")],
                 9202: [holder(5, "python3 s", "alicia-tts_service-2.service")]})
    assert hc.problems(plan, ok) == []
    # HAProxy on an instance's port is not the instance.
    bad = report({9201: [holder(3, "/usr/sbin/haproxy -Ws", "haproxy.service")]})
    assert ["9201 (instance)" in p for p in hc.problems(plan, bad, check_memory=False)] == [True]


def test_a_docker_services_published_port_is_docker_proxys(resolve):
    plan = plan_of(resolve, {"stt_service": {"runtime": "docker"}}, ["stt_service"])
    port = plan["entries"][0]["port"]
    proxy = holder(6, "/usr/bin/docker-proxy -proto tcp -host-port %d" % port, "docker.service")
    assert hc.problems(plan, report({port: [proxy]})) == []


def test_a_service_switched_away_from_docker_keeps_its_container_s_proxy_until_the_phase_removes_it(resolve):
    """The port is still published by the old container (the phase removes it first): not foreign."""
    plan = plan_of(resolve, {"stt_service": {"runtime": "systemd"}}, ["stt_service"])
    port = plan["entries"][0]["port"]
    proxy = holder(6, "/usr/sbin/docker-proxy -proto tcp -host-port %d" % port, "docker.service")
    assert hc.problems(plan, report({port: [proxy]}), check_memory=False) == []


def test_too_little_disk_names_the_path_and_the_figures(resolve):
    plan = plan_of(resolve, {}, ["stt_service"])
    found = hc.problems(plan, report(free_mb=100), min_free_mb=256, check_memory=False)
    assert found == ["h1: /opt/alicia (file system of /opt) has 100 MB free, 256 MB needed "
                     "(service_host_check_min_free_mb)",
                     "h1: /var/lib/alicia (file system of /var/lib/alicia) has 100 MB free, 256 MB needed "
                     "(service_host_check_min_free_mb)"]
    assert hc.problems(plan, report(free_mb=256), min_free_mb=256) == []


def test_memory_counts_the_reservations_of_the_services_not_running_yet(resolve):
    overrides = {"stt_service": {"resources": {"memory_reservation": "300M"}},
                 "ai_service": {"resources": {"memory_reservation": "1G"}}}
    plan = plan_of(resolve, overrides, ["stt_service", "ai_service"])
    ai = plan["entries"][plan["names"].index("ai_service")]
    # Both to start: 1324 MB reserved.
    found = hc.problems(plan, report(mem=1000))
    assert len(found) == 1 and "reserve 1324 MB" in found[0] and "MemAvailable is 1000 MB" in found[0], found
    assert "ai_service" in found[0] and "stt_service" in found[0]
    # ai_service already runs (its port is its own): only stt_service's 300 MB count.
    running = report({ai["port"]: [holder(8, "python3 s", "alicia-ai_service.service")]}, mem=1000)
    assert hc.problems(plan, running) == []
    assert "reserve 300 MB" in hc.problems(plan, dict(running, mem_available_mb=200))[0]
    assert hc.problems(plan, report(mem=1000), check_memory=False) == []


@pytest.mark.parametrize("value, mb", [("256M", 256), ("1G", 1024), ("512Mi", 512), (1048576, 1), ("1024K", 1),
                                       (None, 0)])
def test_size_mb(value, mb):
    assert hc.size_mb(value) == mb


def test_no_report_no_problem(resolve):
    assert hc.problems(plan_of(resolve, {}, ["stt_service"]), {}) == []


# ---- the release's size ------------------------------------------------------------------

def entry(path, state="file", data=None, key=None):
    return {"path": path, "state": state, "data": data, "key": key}


@pytest.mark.parametrize("state, data, action, size", [
    ("file", b"x" * 1000, "created", 1000),            # content (a src copy or a tree's file arrives as content)
    ("file", b"x" * 1000, "updated", 1000),            # replaced: the new content is written beside the old
    ("file", b"x" * 1000, "unchanged", 0),
    ("file", b"x" * 1000, "attributes", 0),            # only owner, group or mode: nothing written
    ("directory", None, "created", hc.DIRECTORY_BYTES),
    ("directory", None, "attributes", 0),
    ("link", None, "updated", 0),
    ("touch", None, "created", 0),
    ("absent", None, "removed", 0),
])
def test_written_bytes(state, data, action, size):
    assert hc.written_bytes(entry("/opt/alicia/x", state, data), action) == size


def test_needed_space_groups_what_changes_by_the_path_that_holds_it_and_by_key():
    entries = [
        entry("/opt/alicia/stt_service/releases/1.1.0", "directory", key="stt_service"),
        entry("/opt/alicia/stt_service/releases/1.1.0/app.py", data=b"a" * 3000, key="stt_service"),
        entry("/opt/alicia/stt_service/releases/1.0.0/app.py", data=b"a" * 9000, key="stt_service"),  # unchanged
        entry("/opt/alicia/wheelhouse/x.whl", data=b"w" * 500, key="venv:/opt/alicia/venvs/ab"),
        entry("/opt/alicia/data/registry.json", data=b"r" * 70),                # deeper path, no key
        entry("/etc/alicia/stt_service.env", data=b"e" * 40, key="stt_service"),  # under no path: not counted
        entry("/opt/alicia-other/f", data=b"o" * 40, key="stt_service"),         # a prefix, not a parent
    ]
    files = dict((e["path"], {"action": "created"}) for e in entries)
    files["/opt/alicia/stt_service/releases/1.0.0/app.py"] = {"action": "unchanged"}
    found = hc.needed_space(entries, files, ["/opt/alicia", "/opt/alicia/data"])
    assert found == {"/opt/alicia": {"stt_service": hc.DIRECTORY_BYTES + 3000, "venv:/opt/alicia/venvs/ab": 500},
                     "/opt/alicia/data": {"": 70}}
    host = hc.with_needed_space({"paths": {"/opt/alicia": {"free_mb": 5}, "/opt/alicia/data": {"free_mb": 5}}},
                                entries, files)
    assert host["paths"]["/opt/alicia"]["needed_bytes"] == hc.DIRECTORY_BYTES + 3500
    assert host["paths"]["/opt/alicia/data"] == {"free_mb": 5, "needed_bytes": 70, "needed_by_key": {"": 70}}


def test_containing_path():
    assert hc.containing_path("/opt/alicia/x/y", ["/var", "/opt", "/opt/alicia/"]) == "/opt/alicia/"
    assert hc.containing_path("/opt/alicia", ["/opt/alicia"]) == "/opt/alicia"
    assert hc.containing_path("/optional", ["/opt"]) is None


def disk_report(free_mb, needed_by_key=None, data_needed=None, device=None):
    paths = report(free_mb=free_mb)["paths"]
    paths["/opt/alicia"]["needed_by_key"] = needed_by_key or {}
    paths["/var/lib/alicia"]["needed_by_key"] = data_needed or {}
    if device is not None:
        for space in paths.values():
            space["device"] = device
    return dict(report(free_mb=free_mb), paths=paths)


def python_plan(resolve, names=("stt_service", "tts_service"), **artifact):
    artifact = dict({"type": "python_app", "src": "/nonexistent"}, **artifact)
    return plan_of(resolve, dict((n, {"artifact": artifact}) for n in names), list(names))


def test_the_new_release_and_its_virtualenv_must_fit_above_the_margin(resolve):
    plan = python_plan(resolve)
    venv = plan["venv_of"]["stt_service"]
    files = {"stt_service": 30 * hc.MB, "tts_service:slots": 5 * hc.MB + 1}
    venvs = [{"path": venv, "changed": True, "action": "rebuilt", "estimate_bytes": 100 * hc.MB},
             {"path": "/opt/alicia/venvs/unchanged", "changed": False, "estimate_bytes": None}]
    # 256 MB margin + 30 + 6 (5 MB and a byte) + 100 = 392 MB: 392 free passes, 391 fails.
    assert hc.problems(plan, disk_report(392, files), min_free_mb=256, check_memory=False, venvs=venvs) == []
    found = hc.problems(plan, disk_report(391, files), min_free_mb=256, check_memory=False, venvs=venvs)
    # The same requirements: one venv for both services, counted once under both names.
    assert plan["venv_of"]["tts_service"] == venv
    assert found == ["h1: /opt/alicia (file system of /opt) has 391 MB free, 392 MB needed: 136 MB for the new "
                     "releases and virtualenvs of stt_service (files 30 MB), stt_service/tts_service (virtualenv "
                     "100 MB), tts_service (files 6 MB), plus 256 MB (service_host_check_min_free_mb)"], found
    # Without the venvs' result only the files count; with nothing changing only the margin.
    assert hc.problems(plan, disk_report(292, files), min_free_mb=256, check_memory=False) == []
    assert "291 MB free, 292 MB needed" in hc.problems(plan, disk_report(291, files), min_free_mb=256,
                                                       check_memory=False)[0]
    assert hc.problems(plan, disk_report(256), min_free_mb=256, check_memory=False, venvs=venvs[1:]) == []


def test_paths_on_one_file_system_add_their_needs_up_and_are_judged_once(resolve):
    plan = python_plan(resolve, ["stt_service"])
    kwargs = dict(min_free_mb=100, check_memory=False)
    one_fs = disk_report(150, {"stt_service": 30 * hc.MB}, {"stt_service": 30 * hc.MB}, device=2049)
    found = hc.problems(plan, one_fs, **kwargs)
    assert found == ["h1: /opt/alicia and /var/lib/alicia (file system of /opt) has 150 MB free, 160 MB needed: "
                     "60 MB for the new releases and virtualenvs of stt_service (files 60 MB), plus 100 MB "
                     "(service_host_check_min_free_mb)"], found
    # Two file systems: each needs only its own.
    assert hc.problems(plan, disk_report(150, {"stt_service": 30 * hc.MB}, {"stt_service": 30 * hc.MB}),
                       **kwargs) == []


def test_files_of_no_service_and_a_shared_wheelhouse_are_named(resolve):
    plan = python_plan(resolve, wheelhouse="/srv/wheels")
    wheelhouse_keys = [k for k in plan["keys"] if k.startswith("venv:")]
    assert len(wheelhouse_keys) == 1
    found = hc.problems(plan, disk_report(1, dict([("", 1)] + [(k, hc.MB) for k in wheelhouse_keys])),
                        min_free_mb=0, check_memory=False)
    assert len(found) == 1 and "other files (files 1 MB)" in found[0], found
    for key in wheelhouse_keys:
        assert "/".join(plan["keys"][key]["services"]) + " (files 1 MB)" in found[0], found
