# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry module (plugins/modules/registry.py) against a real Mosquitto
with the broker role's ACL (conftest.catalogue_acl) and real reference-service
instances registering themselves: what runs where with each heartbeat's age,
the cleanup of stale entries (and its check mode), and who may read or clear."""

import json
import signal
import time

import paho.mqtt.client as mqtt
import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.alicia.platform.plugins.module_utils import _registry as registry
from ansible_collections.alicia.platform.plugins.modules import registry as registry_module
from conftest import ADMIN, password_for, wait_until


def run(capsys, bus, user, password, check_mode=False, diff=False, **args):
    args.update({"host": "127.0.0.1", "port": bus.port, "username": user, "password": password, "wait": 5,
                 "settle": 0.3})
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            registry_module.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def read(bus, user, password):
    return registry.collect("127.0.0.1", bus.port, user, password, wait=5, settle=0.3)


@pytest.fixture
def platform(start_service, bus):
    """Two live instances, one crashed (its entry left with its last heartbeat) and one
    entry ten minutes old, as a host that went away would leave it."""
    tts = start_service("tts_service", SERVICE_INSTANCE="tts-primary", SERVICE_VERSION="2.0.0")
    stt = start_service("stt_service")
    crashed = start_service("device_manager")
    for service in (tts, stt, crashed):
        service.wait_health("healthy")
    old = {"service": "wake_word", "instance": "wake_word", "host": "gone", "port": 8005, "version": "0.9.0",
           "state": "running", "timestamp": time.time() - 600}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(*ADMIN)
    client.connect("127.0.0.1", bus.port, 30)
    client.loop_start()
    client.publish(registry.topic("wake_word", "wake_word"), json.dumps(old), qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    crashed.kill()
    reader = ("discovery_service", password_for("discovery_service"))
    wait_until(lambda: len(read(bus, *reader)) == 4, what="four registry entries")
    return {"tts": tts, "stt": stt, "reader": reader}


def test_discover_lists_what_runs_where_with_the_heartbeat_age(capsys, bus, platform):
    code, out = run(capsys, bus, *platform["reader"])
    assert code == 0 and out["changed"] is False and out["failure"] is None
    rows = dict((row["instance"], row) for row in out["entries"])
    assert sorted(rows) == ["device_manager", "stt_service", "tts-primary", "wake_word"]
    tts = rows["tts-primary"]
    assert (tts["service"], tts["port"], tts["version"], tts["state"], tts["stale"]) == (
        "tts_service", platform["tts"].port, "2.0.0", "running", False)
    assert tts["health_url"] == "http://127.0.0.1:%d/health" % platform["tts"].port
    assert 0 <= tts["heartbeat_age"] < 300
    assert rows["wake_word"]["stale"] is True and rows["wake_word"]["heartbeat_age"] >= 600
    assert rows["device_manager"]["stale"] is False  # crashed a moment ago: not silent for long yet
    assert out["stale"] == ["alicia/registry/wake_word/wake_word"] and out["removed"] == []
    assert out["table"][-1] == "4 registered, 1 stale (no heartbeat for more than 300 s)"
    assert out["msg"] == "4 registered, 1 stale"


def test_cleanup_clears_only_the_stale_entries_and_not_in_check_mode(capsys, bus, platform):
    code, out = run(capsys, bus, *ADMIN, cleanup=True, check_mode=True, diff=True)
    assert code == 0 and out["changed"] is True and out["removed"] == ["alicia/registry/wake_word/wake_word"]
    assert "would be cleared" in out["msg"]
    assert "alicia/registry/wake_word/wake_word" in out["diff"]["before"]
    assert "alicia/registry/wake_word/wake_word" not in out["diff"]["after"]
    assert len(read(bus, *platform["reader"])) == 4  # check mode cleared nothing

    code, out = run(capsys, bus, *ADMIN, cleanup=True)
    assert code == 0 and out["changed"] is True and out["removed"] == ["alicia/registry/wake_word/wake_word"]
    left = read(bus, *platform["reader"])
    assert sorted(left) == ["alicia/registry/device_manager/device_manager", "alicia/registry/stt_service/stt_service",
                            "alicia/registry/tts_service/tts-primary"]
    # A configurable stale period: with 0.001 s every entry is stale, but only the listed services go.
    code, out = run(capsys, bus, *ADMIN, cleanup=True, stale_after=0.001, services=["device_manager"])
    assert out["removed"] == ["alicia/registry/device_manager/device_manager"]
    assert len(read(bus, *platform["reader"])) == 2
    code, out = run(capsys, bus, *ADMIN, cleanup=True)
    assert code == 0 and out["changed"] is False and out["removed"] == []


def test_a_clean_stop_deregisters(capsys, bus, platform):
    platform["stt"].signal(signal.SIGTERM)
    assert platform["stt"].wait_exit() == 0
    code, out = run(capsys, bus, *platform["reader"])
    assert "stt_service" not in [row["service"] for row in out["entries"]]


def test_only_registry_readers_read_and_only_the_owner_writes(capsys, bus, platform):
    # A service that is not a registry reader gets nothing (the ACL drops what it may not read).
    assert read(bus, "stt_service", password_for("stt_service")) == {}
    # And it cannot clear another service's entry: the broker drops the publish.
    _messages, tried = registry.collect("127.0.0.1", bus.port, "stt_service", password_for("stt_service"), wait=1,
                                        settle=0.1, clear_topics=lambda _m: [registry.topic("wake_word", "wake_word")])
    assert tried == ["alicia/registry/wake_word/wake_word"]
    assert "alicia/registry/wake_word/wake_word" in read(bus, *platform["reader"])
    code, out = run(capsys, bus, "health_monitor", password_for("health_monitor"))
    assert code == 0 and len(out["entries"]) == 4


def test_failures_name_the_cause(capsys, bus):
    code, out = run(capsys, bus, "discovery_service", "wrong")
    assert code == 1 and out["failure"] == "bad_credentials" and "refused the login of 'discovery_service'" in out["msg"]
    code, out = run(capsys, bus, *ADMIN, stale_after=0)
    assert code == 1 and out["msg"] == "registry: stale_after must be a number of seconds > 0, got 0.0"
