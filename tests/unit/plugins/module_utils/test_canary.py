# -*- coding: utf-8 -*-
"""plugins/module_utils/_canary.py: the canary's verdict from HAProxy's
counters and its health reads, with a scripted runtime API and a fake clock
(no socket, no sleeping)."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _canary as cn
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import HAProxyError

STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 tts 1 tts-1 127.0.0.1 2 0 10 100 8 15 3 3 6 0 0 0 - 18101 - 0 0 - - 0
3 tts 2 tts-2 127.0.0.1 2 0 100 100 0 15 3 3 6 0 0 0 - 18102 - 0 0 - - 0
3 tts 3 tts-3 127.0.0.1 2 0 100 100 0 15 3 3 6 0 0 0 - 18103 - 0 0 - - 0
"""
HEADER = "# pxname,svname,scur,stot,econ,eresp,status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,"


def stat(rows):
    """A `show stat` answer: rows of (server, 2xx, 5xx, econ, eresp, status)."""
    lines = [HEADER, "tts,FRONTEND,0,999,,,OPEN,0,999,0,0,0,0,", "other,o-1,0,5,0,0,UP,0,500,0,0,0,0,"]
    for name, ok, bad, econ, eresp, status in rows:
        lines.append("tts,%s,0,%d,%d,%d,%s,0,%d,0,0,%d,0,," % (name, ok + bad, econ, eresp, status, ok, bad))
    lines.append("tts,BACKEND,0,999,0,0,UP,0,999,0,0,0,0,")
    return "\n".join(lines) + "\n"


class FakeAPI(object):
    """Answers `show servers state` and, in turn, each scripted `show stat`; records the rest."""

    def __init__(self, stats, refuse=None):
        self.stats = list(stats)
        self.sent = []
        self.refuse = refuse

    def command(self, line):
        self.sent.append(line)
        if line == "show servers state":
            return STATE
        if line == "show stat":
            return self.stats.pop(0) if len(self.stats) > 1 else self.stats[0]
        if self.refuse and line.startswith(self.refuse):
            return "No such server."
        return ""


class Clock(object):
    """A fake clock that sleep() advances."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def params(**kwargs):
    found = {"service": "tts", "canary": "tts-1", "baseline": [], "window": 3.0, "interval": 1.0,
             "min_requests": 10, "max_error_rate": 0.01}
    found.update(kwargs)
    return found


def start():
    return stat([("tts-1", 0, 0, 0, 0, "UP"), ("tts-2", 100, 0, 0, 0, "UP"), ("tts-3", 100, 0, 0, 0, "UP")])


def run(stats, probe=None, refuse=None, **kwargs):
    clock = Clock()
    api = FakeAPI(stats, refuse=refuse)
    result = cn.watch(params(**kwargs), api, probe=probe, clock=clock, sleep=clock.sleep)
    return result, api


# ---- parsing and counting ------------------------------------------------------

def test_counters_read_only_the_backends_servers_with_requests_and_errors():
    found = cn.counters(cn.parse_stat(stat([("tts-1", 40, 2, 1, 1, "UP"), ("tts-2", 7, 0, 0, 0, "DOWN")])), "tts")
    assert found == {"tts-1": {"requests": 44, "errors": 4, "status": "UP"},
                     "tts-2": {"requests": 7, "errors": 0, "status": "DOWN"}}


def test_parse_stat_refuses_an_answer_without_its_header():
    with pytest.raises(HAProxyError, match="no CSV header"):
        cn.parse_stat("Unknown command.\n")


def test_delta_sums_servers_and_computes_the_rate():
    before = {"a": {"requests": 10, "errors": 1}, "b": {"requests": 5, "errors": 0}}
    after = {"a": {"requests": 30, "errors": 2}, "b": {"requests": 25, "errors": 1}}
    assert cn.delta(before, after, ["a", "b"]) == {"requests": 40, "errors": 2, "error_rate": 0.05}
    assert cn.delta(before, before, ["a"])["error_rate"] == 0.0


# ---- the verdict -----------------------------------------------------------------

def counts(requests, errors):
    return {"requests": requests, "errors": errors, "error_rate": float(errors) / requests if requests else 0.0}


def test_judge_no_data_is_a_failure_not_a_pass():
    passed, reason = cn.judge(counts(3, 0), counts(300, 0), [], [], 10, 0.01)
    assert not passed and "fewer than min_requests 10" in reason and "not a pass" in reason


def test_judge_fails_a_canary_worse_than_the_previous_release():
    passed, reason = cn.judge(counts(50, 5), counts(500, 5), [], [], 10, 0.01)
    assert not passed and "10.00% (5 of 50)" in reason and "1.00% (5 of 500)" in reason


def test_judge_passes_a_canary_as_good_as_the_previous_release():
    assert cn.judge(counts(50, 1), counts(500, 10), [], [], 10, 0.01)[0]


def test_judge_a_failed_health_read_or_down_fails_whatever_the_counts():
    assert cn.judge(counts(50, 0), counts(500, 0), ["connection refused"], [], 10, 0.01) == (
        False, "its health check failed during the window: connection refused")
    assert cn.judge(counts(50, 0), counts(500, 0), [], ["DOWN"], 10, 0.01)[0] is False


# ---- the watch -------------------------------------------------------------------

def test_a_good_canary_is_watched_for_the_whole_window_and_gets_its_weight_back():
    end = stat([("tts-1", 20, 0, 0, 0, "UP"), ("tts-2", 290, 0, 0, 0, "UP"), ("tts-3", 290, 0, 0, 0, "UP")])
    reads = []
    result, api = run([start(), end], probe=lambda: reads.append(1) or {"healthy": True})
    assert result["passed"] is True and result["changed"] is True
    assert result["samples"] == 3 and len(reads) == 3 and result["seconds"] == 3.0
    assert result["canary_counts"] == {"requests": 20, "errors": 0, "error_rate": 0.0}
    assert result["baseline_counts"]["requests"] == 380 and result["baseline"] == ["tts-2", "tts-3"]
    # Back at the configuration's weight (100), not left at the canary's 10.
    assert api.sent[-1] == "set weight tts/tts-1 100"
    assert "passed" in result["msg"]


def test_a_canary_with_no_traffic_is_not_promoted_and_is_drained():
    result, api = run([start()], probe=lambda: {"healthy": True})
    assert result["passed"] is False and result["canary_counts"]["requests"] == 0
    assert "fewer than min_requests" in result["reason"]
    assert api.sent[-2:] == ["set server tts/tts-1 state drain", "set weight tts/tts-1 100"]


def test_a_canary_that_turns_unhealthy_ends_the_window_at_once():
    answers = iter([{"healthy": True}, {"healthy": False, "error": "connection refused"}, {"healthy": True}])
    end = stat([("tts-1", 20, 0, 1, 0, "UP"), ("tts-2", 290, 0, 0, 0, "UP"), ("tts-3", 290, 0, 0, 0, "UP")])
    result, api = run([start(), end], probe=lambda: next(answers), window=30.0)
    assert result["passed"] is False and result["samples"] == 2 and result["seconds"] == 2.0
    assert result["health_failures"] == ["connection refused"]
    assert result["commands"] == ["set server tts/tts-1 state drain", "set weight tts/tts-1 100"]


def test_a_canary_haproxy_sees_going_down_fails():
    end = stat([("tts-1", 20, 0, 0, 0, "UP 1/3"), ("tts-2", 290, 0, 0, 0, "UP"), ("tts-3", 290, 0, 0, 0, "UP")])
    result, _api = run([start(), end])
    assert result["passed"] is False and result["down"] == ["UP 1/3"] and result["samples"] == 1


def test_a_canary_answering_errors_fails_against_a_clean_baseline():
    end = stat([("tts-1", 18, 4, 0, 0, "UP"), ("tts-2", 290, 0, 0, 0, "UP"), ("tts-3", 290, 0, 0, 0, "UP")])
    result, _api = run([start(), end])
    assert result["passed"] is False and result["canary_counts"]["errors"] == 4


def test_check_mode_reads_the_servers_and_watches_nothing():
    clock = Clock()
    api = FakeAPI([start()])
    result = cn.watch(params(), api, clock=clock, sleep=clock.sleep, check_mode=True)
    assert result["passed"] is None and result["changed"] is False
    assert api.sent == ["show servers state"] and clock.now == 100.0


@pytest.mark.parametrize("kwargs, message", [
    ({"canary": "tts-9"}, "no server 'tts-9'"),
    ({"baseline": ["tts-1"]}, "no server 'tts-1' besides the canary"),
    ({"service": "stt"}, "backend 'stt' has no server"),
    ({"min_requests": 0}, "no data is never a pass"),
    ({"window": 0}, "window must be more than 0"),
    ({"max_error_rate": 2}, "max_error_rate must be a fraction"),
])
def test_bad_requests_fail_before_anything_is_sent(kwargs, message):
    clock = Clock()
    api = FakeAPI([start()])
    with pytest.raises(HAProxyError, match=message):
        cn.watch(params(**kwargs), api, clock=clock, sleep=clock.sleep)
    assert not [line for line in api.sent if line.startswith("set ")]


def test_a_refused_command_is_an_error():
    with pytest.raises(HAProxyError, match="refused"):
        run([start()], refuse="set server")
