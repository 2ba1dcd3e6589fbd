# -*- coding: utf-8 -*-
"""module_utils._process_state: reading units, containers and programs, and the crash-loop verdicts.

Fake command output in the formats of Debian 12 (systemd 252, docker.io 20.10,
supervisor 4.2); no process runs.
"""

import json

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _process_state as ps


def unit_block(unit, active="active", sub="running", restarts=0, result="success", code=0, status=0,
               memory="536870912", load="loaded"):
    # systemctl show prints the properties in its own order, not in -p's.
    return "\n".join(["Id=%s" % unit, "NRestarts=%d" % restarts, "ExecMainCode=%d" % code,
                      "ExecMainStatus=%d" % status, "MemoryMax=%s" % memory, "Result=%s" % result,
                      "LoadState=%s" % load, "ActiveState=%s" % active, "SubState=%s" % sub])


def show(*blocks):
    return "\n\n".join(blocks) + "\n"


def container(name, status="running", restarts=0, exit_code=0, oom=False, memory=268435456, error=""):
    return {"Name": "/" + name, "RestartCount": restarts, "HostConfig": {"Memory": memory},
            "State": {"Status": status, "Restarting": status == "restarting", "OOMKilled": oom,
                      "ExitCode": exit_code, "Error": error}}


class Runner(object):
    """run(argv) answering from queues per command (the last answer repeats); every call logged."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        queue = self.answers.get(argv[0])
        if queue is None:
            return 127, "", "%s: not found" % argv[0]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if isinstance(answer, tuple) else (0, answer, "")


# ---- words ----------------------------------------------------------------------

@pytest.mark.parametrize("code, status, text", [
    (1, 1, "status=1/FAILURE"), (1, 3, "status=3/NOTIMPLEMENTED"), (1, 203, "status=203/EXEC"),
    (1, 42, "status=42"), (2, 9, "signal=KILL"), (2, 15, "signal=TERM"), (3, 11, "signal=SEGV (core dumped)"),
    (0, 0, None),
])
def test_exit_text_as_systemctl_status_prints_it(code, status, text):
    assert ps.exit_text(code, status) == text


@pytest.mark.parametrize("code, text", [(0, None), (1, "status=1"), (137, "status=137 (signal=KILL)"),
                                        (None, None), (255, "status=255")])
def test_docker_exit_text(code, text):
    assert ps.docker_exit_text(code) == text


@pytest.mark.parametrize("value, text", [("67108864", "64M"), ("536870912", "512M"), ("2147483648", "2G"),
                                         ("infinity", None), ("18446744073709551615", None), (0, None),
                                         ("1536", "1536 bytes"), ("3072", "3K")])
def test_human_bytes(value, text):
    assert ps.human_bytes(value) == text


# ---- reading ----------------------------------------------------------------------

def test_one_systemctl_show_for_every_unit_in_argument_order():
    run = Runner(systemctl=[show(unit_block("a.service", "activating", "auto-restart", 3, "exit-code", 1, 1),
                                 unit_block("b.service", memory="infinity"),
                                 unit_block("gone.service", "inactive", "dead", load="not-found"))])
    states = ps.read_states([("unit", "a.service"), ("unit", "b.service"), ("unit", "gone.service"),
                             ("unit", "a.service")], run)
    assert run.calls == [["systemctl", "show", "-p", "Id,NRestarts,ActiveState,SubState,Result,ExecMainCode,"
                          "ExecMainStatus,MemoryMax,LoadState", "a.service", "b.service", "gone.service"]]
    assert states[("unit", "a.service")] == {
        "kind": "unit", "name": "a.service", "restarts": 3, "active": "activating", "sub": "auto-restart",
        "restart_scheduled": True, "result": "exit-code", "exit": "status=1/FAILURE", "oom": False,
        "memory_limit": "512M"}
    assert states[("unit", "b.service")]["memory_limit"] is None
    assert ("unit", "gone.service") not in states, "a unit systemd does not know gives no state"


def test_one_docker_inspect_for_every_container_and_a_missing_one():
    listing = json.dumps([container("alicia_a", "restarting", 4, 137, oom=True),
                          container("alicia_b", memory=0)])
    run = Runner(docker=[(1, listing, "Error: No such container: alicia_gone")])
    states = ps.read_states([("container", "alicia_a"), ("container", "alicia_b"),
                             ("container", "alicia_gone")], run)
    assert run.calls == [["docker", "inspect", "--type", "container", "alicia_a", "alicia_b", "alicia_gone"]]
    assert states[("container", "alicia_a")] == {
        "kind": "container", "name": "alicia_a", "restarts": 4, "active": "restarting", "sub": "restarting",
        "result": None, "exit": "status=137 (signal=KILL)", "oom": True, "memory_limit": "256M"}
    assert states[("container", "alicia_b")]["memory_limit"] is None
    assert ("container", "alicia_gone") not in states


def test_one_supervisorctl_status_for_every_program():
    out = ("stt_service                      BACKOFF   Exited too quickly (process log may have details)\n"
           "tts_service                      RUNNING   pid 812, uptime 0:00:03\n"
           "ai_service                       FATAL     Exited too quickly (process log may have details)\n")
    run = Runner(supervisorctl=[(3, out, "")])
    states = ps.read_states([("program", "stt_service"), ("program", "tts_service"), ("program", "ai_service")], run)
    assert run.calls == [["supervisorctl", "status", "stt_service", "tts_service", "ai_service"]]
    assert [states[("program", n)]["active"] for n in ("stt_service", "tts_service", "ai_service")] == [
        "BACKOFF", "RUNNING", "FATAL"]
    assert states[("program", "ai_service")]["result"] == "Exited too quickly (process log may have details)"


def test_missing_commands_and_garbage_give_no_state():
    run = Runner()
    assert ps.read_states([("unit", "a.service"), ("container", "c"), ("program", "p")], run) == {}
    assert [c[0] for c in run.calls] == ["systemctl", "docker", "supervisorctl"]
    assert ps.read_states([("unit", "a.service")], Runner(systemctl=[(1, "", "Failed to connect to bus")])) == {}
    assert ps.read_states([("container", "c")], Runner(docker=[(0, "not json", "")])) == {}
    assert ps.parse_systemctl_show(show(unit_block("a.service")), ["a.service", "b.service"]) == {}, \
        "blocks that do not match the units are not guessed"
    assert ps.read_states([], Runner()) == {}


# ---- verdicts ---------------------------------------------------------------------

def keyed(states):
    """parse_*() answers keyed as read_states() keys them: (kind, name)."""
    return dict(((state["kind"], name), state) for name, state in states.items())


def unit_state(**kwargs):
    return keyed(ps.parse_systemctl_show(show(unit_block("a.service", **kwargs)), ["a.service"]))


A = ("unit", "a.service")


def test_a_unit_restarted_max_restarts_times_since_the_first_read_crash_loops():
    watch = ps.CrashWatch(max_restarts=2)
    # Restarted 5 times before the gate: the baseline, not counted.
    assert watch.observe(unit_state(restarts=5)) == {}
    assert watch.observe(unit_state(restarts=6)) == {}
    assert watch.track(A).restarts == 1
    verdicts = watch.observe(unit_state(restarts=7, active="activating", sub="start"))
    assert verdicts == {A: "unit a.service keeps exiting, 2 restarts since the gate started"}
    assert watch.observe(unit_state(restarts=9)) == verdicts, "a verdict stays"


def test_a_restart_systemd_has_scheduled_counts_as_docker_counts_it():
    """SubState auto-restart: exited, restarted after RestartSec (NRestarts grows only then)."""
    watch = ps.CrashWatch(max_restarts=2)
    exited = dict(active="activating", sub="auto-restart", result="exit-code", code=1, status=1)
    assert watch.observe(unit_state(restarts=0, **exited)) == {}, "exited once, restart pending: 1"
    assert watch.track(A).restarts == 1
    assert watch.observe(unit_state(restarts=1, active="activating", sub="start")) == {}, "that restart made: still 1"
    assert watch.track(A).restarts == 1
    verdicts = watch.observe(unit_state(restarts=1, **exited))
    assert verdicts == {A: "unit a.service keeps exiting, last exit status=1/FAILURE, "
                           "2 restarts since the gate started (the last one scheduled)"}


def test_the_last_exit_is_kept_while_the_restarted_process_runs():
    watch = ps.CrashWatch(max_restarts=2)
    watch.observe(unit_state(restarts=0, active="activating", sub="auto-restart", code=2, status=11, memory="infinity"))
    verdicts = watch.observe(unit_state(restarts=2, code=0, status=0))
    assert verdicts[A] == ("unit a.service keeps exiting, last exit signal=SEGV, 2 restarts since the gate started")


def test_a_failed_unit_fails_at_the_first_read():
    verdicts = ps.CrashWatch().observe(unit_state(active="failed", sub="failed", result="start-limit-hit",
                                                  code=1, status=3, restarts=4))
    assert verdicts == {A: "unit a.service failed (start-limit-hit), last exit status=3/NOTIMPLEMENTED, "
                           "0 restarts since the gate started"}


def test_an_out_of_memory_kill_names_memory_max():
    watch = ps.CrashWatch(max_restarts=1)
    watch.observe(unit_state(restarts=0, memory="67108864"))
    verdicts = watch.observe(unit_state(restarts=0, active="activating", sub="auto-restart", result="oom-kill",
                                        code=2, status=9, memory="67108864"))
    assert verdicts == {A: "unit a.service keeps exiting, killed by the out-of-memory killer at MemoryMax=64M, "
                           "last exit signal=KILL, 1 restart since the gate started (the last one scheduled)"}


def test_a_sigkill_under_a_memory_max_is_named_as_a_likely_oom_kill():
    """cgroup v1 hosts: systemd reports Result=signal for an OOM kill."""
    watch = ps.CrashWatch(max_restarts=1)
    verdicts = watch.observe(unit_state(restarts=0, active="activating", sub="auto-restart", result="signal",
                                        code=2, status=9, memory="33554432"))
    assert verdicts[A] == ("unit a.service keeps exiting, last exit signal=KILL (out of memory at MemoryMax=32M, "
                           "unless someone sent it), 1 restart since the gate started (the last one scheduled)")


def test_a_healthy_looking_unit_that_restarted_once_is_not_judged():
    watch = ps.CrashWatch(max_restarts=2)
    assert watch.observe(unit_state(restarts=0, active="activating", sub="auto-restart", code=1, status=1)) == {}
    for restarts in (1, 1, 1, 1):
        assert watch.observe(unit_state(restarts=restarts)) == {}
    assert watch.track(A).restarts == 1


def test_a_restart_counter_reset_keeps_the_restarts_counted():
    watch = ps.CrashWatch(max_restarts=3)
    for restarts in (4, 5, 0, 1):  # someone restarted the unit by hand: NRestarts back to 0
        watch.observe(unit_state(restarts=restarts))
    assert watch.track(A).restarts == 2


def container_states(**kwargs):
    return keyed(ps.parse_docker_inspect(json.dumps([container("alicia_a", **kwargs)]), ["alicia_a"]))


def test_a_container_oom_killed_and_restarting():
    watch = ps.CrashWatch(max_restarts=2)
    watch.observe(container_states(restarts=0))
    watch.observe(container_states(status="restarting", restarts=1, exit_code=137, oom=True))
    verdicts = watch.observe(container_states(status="restarting", restarts=2, exit_code=137, oom=True))
    assert verdicts == {("container", "alicia_a"): "container alicia_a keeps exiting, killed by the out-of-memory "
                        "killer at memory limit 256M, last exit status=137 (signal=KILL), 2 restarts since the gate started"}


def test_an_exited_container_fails_at_once():
    verdicts = ps.CrashWatch().observe(container_states(status="exited", exit_code=1))
    assert verdicts[("container", "alicia_a")] == ("container alicia_a exited, last exit status=1, "
                                                   "0 restarts since the gate started")


def program_states(state, description=""):
    return keyed(ps.parse_supervisorctl_status("alicia  %s  %s\n" % (state, description), ["alicia"]))


def test_a_program_fatal_fails_and_backoff_counts_exits():
    fatal = ps.CrashWatch().observe(program_states("FATAL", "Exited too quickly (process log may have details)"))
    assert fatal == {("program", "alicia"): "supervisor program alicia FATAL "
                                            "(Exited too quickly (process log may have details))"}
    watch = ps.CrashWatch(max_restarts=2)
    assert watch.observe(program_states("BACKOFF", "Exited too quickly")) == {}
    assert watch.observe(program_states("STARTING")) == {}
    verdicts = watch.observe(program_states("BACKOFF", "Exited too quickly"))
    assert verdicts == {("program", "alicia"): "supervisor program alicia keeps exiting (BACKOFF: Exited too "
                                               "quickly), seen exiting 2 times, in BACKOFF at 2 state reads"}


def test_a_program_in_backoff_at_more_reads_than_max_restarts_keeps_exiting():
    """Reads that missed the short STARTING between two backoffs (1 s, then 2 s, ...)."""
    watch = ps.CrashWatch(max_restarts=2)
    assert watch.observe(program_states("BACKOFF", "Exited too quickly")) == {}
    assert watch.observe(program_states("BACKOFF", "Exited too quickly")) == {}
    verdicts = watch.observe(program_states("BACKOFF", "Exited too quickly"))
    assert verdicts == {("program", "alicia"): "supervisor program alicia keeps exiting (BACKOFF: Exited too "
                                               "quickly), seen exiting 1 time, in BACKOFF at 3 state reads"}


def test_a_running_program_is_never_judged():
    watch = ps.CrashWatch(max_restarts=1)
    for _ in range(5):
        assert watch.observe(program_states("RUNNING", "pid 10, uptime 0:00:05")) == {}


def test_max_restarts_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ps.CrashWatch(0)
