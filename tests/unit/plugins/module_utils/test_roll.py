# -*- coding: utf-8 -*-
"""plugins/module_utils/_roll.py (module alicia.platform.roll): instances
rolled one at a time against the fake HAProxy runtime API
(tests/unit/plugins/fake_haproxy.py), a fake systemctl and a fake gate;
the order of what happens is read from one shared event list."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _haproxy as hx
from ansible_collections.alicia.platform.plugins.module_utils import _roll as roll
from ansible_collections.alicia.platform.tests.unit.plugins.fake_clock import FakeClock
from ansible_collections.alicia.platform.tests.unit.plugins.fake_haproxy import FDRAIN, FakeHAProxy, server


class Host(object):
    """systemctl and the gate, both writing to ``events``; the gate's verdict per instance."""

    def __init__(self, fake, unhealthy=(), refuse_restart=()):
        self.fake = fake
        self.events = []
        self.unhealthy = set(unhealthy)
        self.refuse_restart = set(refuse_restart)
        self.clock = FakeClock()

    def run(self, argv):
        self.events.append(("systemctl", argv[1], argv[2]))
        if argv[2] in self.refuse_restart:
            return 1, "", "Job for %s failed." % argv[2]
        return 0, "", ""

    def gate(self, endpoint):
        name = endpoint["service"]
        # What HAProxy saw while the instance was gated: drained (FDRAIN), never in rotation.
        backend, server_name = endpoint["backend"], endpoint["service"]
        self.events.append(("gate", name, bool(self.fake.state_of(backend, server_name)[0] & FDRAIN)))
        self.clock.advance(1.5)
        if name in self.unhealthy:
            return {"healthy": False, "elapsed": 1.5, "msg": "health gate: %s exits at start" % name}
        return {"healthy": True, "elapsed": 1.5, "msg": "ok"}


def instance(name, port, weight=None):
    found = {"service": "tts", "instance": name, "unit": "alicia-%s.service" % name, "backend": "tts",
             "server": name, "endpoint": {"service": name, "backend": "tts",
                                          "url": "http://127.0.0.1:%d/health" % port,
                                          "unit": "alicia-%s.service" % name}}
    if weight is not None:
        found["weight"] = weight
    return found


PARAMS = {"timeout": 30, "interval": 0.5, "healthy_reads": 3, "healthy_interval": 0.25}


@pytest.fixture
def fake():
    haproxy = FakeHAProxy([server("tts", "tts-1", 18101), server("tts", "tts-2", 18102),
                           server("tts", "tts-3", 18103)])
    yield haproxy
    haproxy.close()


def do(fake, host, instances, check_mode=False):
    api = hx.RuntimeAPI(fake.path, timeout=2)
    return roll.roll(dict(PARAMS, instances=instances), api, host.run, check_mode=check_mode, gate=host.gate,
                     clock=host.clock, sleep=host.clock.sleep)


def sent(fake):
    return [line for line in fake.log if line.startswith("set ")]


def test_each_instance_drained_restarted_gated_then_back_in_rotation_one_at_a_time(fake):
    host = Host(fake)
    result = do(fake, host, [instance("tts-1", 18101), instance("tts-2", 18102)])
    assert result["changed"] and result["failed_instance"] is None
    assert result["rolled"] == ["tts-1", "tts-2"]
    assert result["actions"] == {"alicia-tts-1.service": ["restarted"], "alicia-tts-2.service": ["restarted"]}
    assert sent(fake) == ["set server tts/tts-1 state drain", "set server tts/tts-1 state ready",
                          "set server tts/tts-2 state drain", "set server tts/tts-2 state ready"]
    # Restarted after it was drained, gated while still drained; the next one only after.
    assert host.events == [("systemctl", "restart", "alicia-tts-1.service"), ("gate", "tts-1", True),
                           ("systemctl", "restart", "alicia-tts-2.service"), ("gate", "tts-2", True)]
    assert [fake.state_of("tts", name) for name in ("tts-1", "tts-2", "tts-3")] == [(0, 100)] * 3
    assert [e["seconds"] for e in result["instances"]] == [1.5, 1.5]
    assert result["msg"] == "rolled tts-1 (1.5 s), tts-2 (1.5 s)"


def test_an_instance_that_does_not_turn_healthy_stays_drained_and_ends_the_roll(fake):
    host = Host(fake, unhealthy=["tts-2"])
    result = do(fake, host, [instance("tts-1", 18101), instance("tts-2", 18102), instance("tts-3", 18103)])
    assert result["rolled"] == ["tts-1", "tts-2"]
    assert result["failed_instance"] == {
        "service": "tts", "instance": "tts-2",
        "msg": "tts-2: not healthy after its restart, left drained at the balancer: health gate: tts-2 exits at start"}
    # tts-3 untouched, tts-2 drained (no new request), tts-1 back in rotation.
    assert fake.state_of("tts", "tts-2")[0] & FDRAIN and fake.state_of("tts", "tts-3") == (0, 100)
    assert fake.state_of("tts", "tts-1") == (0, 100)
    assert ("systemctl", "restart", "alicia-tts-3.service") not in host.events
    assert "tts-2: not healthy" in result["msg"]


def test_a_refused_restart_is_a_failed_instance_left_drained(fake):
    host = Host(fake, refuse_restart=["alicia-tts-1.service"])
    result = do(fake, host, [instance("tts-1", 18101), instance("tts-2", 18102)])
    assert result["rolled"] == ["tts-1"] and result["failed_instance"]["instance"] == "tts-1"
    assert "systemctl restart alicia-tts-1.service failed: Job for alicia-tts-1.service failed." in \
        result["failed_instance"]["msg"]
    assert not [e for e in host.events if e[0] == "gate"]
    assert fake.state_of("tts", "tts-1")[0] & FDRAIN


def test_a_canary_comes_back_at_its_weight(fake):
    host = Host(fake)
    result = do(fake, host, [instance("tts-1", 18101, weight=10)])
    assert sent(fake) == ["set server tts/tts-1 state drain", "set weight tts/tts-1 10",
                          "set server tts/tts-1 state ready"]
    assert fake.state_of("tts", "tts-1") == (0, 10) and result["rolled"] == ["tts-1"]


def test_check_mode_touches_nothing(fake):
    host = Host(fake)
    result = do(fake, host, [instance("tts-1", 18101)], check_mode=True)
    assert result["changed"] and result["rolled"] == [] and result["msg"] == "would roll tts-1"
    assert sent(fake) == [] and host.events == []


def test_nothing_to_roll_changes_nothing(fake):
    host = Host(fake)
    result = do(fake, host, [])
    assert not result["changed"] and result["rolled"] == [] and result["msg"] == "rolled nothing"
    assert fake.log == []


def test_an_unknown_server_fails_before_the_instance_is_restarted(fake):
    host = Host(fake)
    bad = dict(instance("tts-9", 18109))
    with pytest.raises(roll.RollError) as caught:
        do(fake, host, [instance("tts-1", 18101), bad])
    assert "tts-9: not drained at the balancer, not restarted" in str(caught.value)
    assert "backend 'tts' has no server 'tts-9'" in str(caught.value)
    # What was done before it is reported.
    assert caught.value.result["rolled"] == ["tts-1"]
    assert ("systemctl", "restart", "alicia-tts-9.service") not in host.events


def test_haproxy_refusing_ready_is_an_error_naming_the_instance(fake):
    host = Host(fake)
    fake.refuse["set server tts/tts-1 state ready"] = "Permission denied.\n"
    with pytest.raises(roll.RollError) as caught:
        do(fake, host, [instance("tts-1", 18101)])
    assert "tts-1: healthy but not put back in rotation" in str(caught.value)


@pytest.mark.parametrize("instances, message", [
    ("x", "instances must be a list"),
    ([1], "instances[0] must be a mapping"),
    ([{"instance": "a"}], "instances[0] (a) lacks service, unit, backend, server, endpoint"),
    ([instance("tts-1", 1), instance("tts-1", 1)], "instances[1]: instance tts-1 is listed twice"),
    ([instance("tts-1", 1, weight=300)], "instances[0] (tts-1): weight must be an integer from 0 to 256"),
])
def test_a_bad_request_is_refused_before_anything_is_touched(fake, instances, message):
    host = Host(fake)
    with pytest.raises(roll.RollError) as caught:
        do(fake, host, instances)
    assert message in str(caught.value)
    assert fake.log == [] and host.events == []
