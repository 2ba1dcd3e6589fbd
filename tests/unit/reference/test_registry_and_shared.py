# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reference service's registry entry (alicia/registry/<name>/<instance>,
retained) and its command topic as a Mosquitto 2 shared subscription, against
a real Mosquitto whose ACL is the broker role's (conftest.catalogue_acl), under
both paho-mqtt major versions.

The exactly-once proof: two versions of one service run at once (a blue-green
switch), numbered commands are published throughout while the old one is
stopped with SIGTERM, and every command is answered exactly once, by the
version that handled it.
"""

import json
import signal
import threading
import time

from conftest import DEADLINE, wait_until


def registry_topic(name, instance):
    return "alicia/registry/%s/%s" % (name, instance)


def entries(watcher, topic, since=0):
    return [(json.loads(payload) if payload else None, retain)
            for t, payload, retain in watcher.messages[since:] if t == topic]


def test_the_registry_entry_is_retained_refreshed_with_each_heartbeat_and_cleared_on_a_clean_stop(start_service,
                                                                                                 watch):
    name, instance = "tts_service", "tts-primary"
    topic = registry_topic(name, instance)
    watcher = watch("alicia/registry/%s/#" % name)
    service = start_service(name, SERVICE_INSTANCE=instance, HEARTBEAT_INTERVAL="0.2", SERVICE_HOST="voice1")
    service.wait_health("healthy")
    first = json.loads(watcher.wait(topic)[1])
    assert dict((k, first[k]) for k in ("service", "instance", "host", "port", "version", "state", "health")) == {
        "service": name, "instance": instance, "host": "voice1", "port": service.port, "version": "1.2.3",
        "state": "running", "health": "healthy"}
    # Bound to 127.0.0.1 (the fixture's SERVICE_BIND): that is where its health URL answers.
    assert first["health_url"] == "http://127.0.0.1:%d/health" % service.port
    assert first["pid"] == service.proc.pid
    # Refreshed with each heartbeat: a later timestamp (the heartbeat age discover.yml reports).
    watcher.wait(topic, check=lambda m: json.loads(m[1])["timestamp"] > first["timestamp"])

    late = watch(topic)  # a reader that comes later gets the entry: it is retained
    assert late.wait(topic)[2] is True

    since = watcher.mark()
    service.signal(signal.SIGTERM)
    assert service.wait_exit() == 0
    watcher.wait(topic, payload="", since=since)
    states = [entry["state"] for entry, _retain in entries(watcher, topic, since) if entry]
    assert states and states[-1] == "draining", states
    assert entries(watcher, topic, since)[-1][0] is None  # the last word: cleared

    # Deregistered: a reader that subscribes now gets no entry (the retained status is the positive control:
    # retained messages come in the order of the subscription's filters).
    after = watch(topic, "alicia/%s/status" % name)
    after.wait("alicia/%s/status" % name, "offline")
    assert after.on(topic) == []


def test_a_crash_leaves_the_entry_with_its_last_heartbeat_for_the_cleanup(start_service, watch):
    name = "device_manager"
    topic = registry_topic(name, name)
    watcher = watch(topic)
    service = start_service(name)
    service.wait_health("healthy")
    watcher.wait(topic)
    service.kill()
    late = watch(topic)
    entry = late.wait(topic)
    assert entry[2] is True and json.loads(entry[1])["state"] == "running"


def test_commands_are_handled_exactly_once_while_two_versions_run_and_the_old_one_stops(start_service, watch):
    name = "voice_router"
    command, response = "alicia/%s/command" % name, "alicia/%s/response" % name
    watcher = watch(response)
    old = start_service(name, SERVICE_VERSION="1.0.0", SERVICE_INSTANCE="voice-blue")
    new = start_service(name, SERVICE_VERSION="2.0.0", SERVICE_INSTANCE="voice-green")
    old.wait_health("healthy")
    new.wait_health("healthy")

    def answers():
        found = {}
        for topic, payload, _retain in list(watcher.messages):
            if topic == response:
                document = json.loads(payload)
                found.setdefault(document.get("id"), []).append(document["version"])
        return found

    # Both are subscribed once each has answered a warm-up command (the broker shares them out in turn).
    warm = [0]

    def both_answer():
        warm[0] += 1
        watcher.publish(command, json.dumps({"action": "ping", "id": "warm-%d" % warm[0]}))
        versions = set(v for key, got in answers().items() if str(key).startswith("warm-") for v in got)
        return versions == {"1.0.0", "2.0.0"}
    wait_until(both_answer, what="both versions to answer")

    total, stop_at = 300, 100
    published = []

    def publisher():
        for number in range(total):
            watcher.publish(command, json.dumps({"action": "ping", "id": number}))
            published.append(number)
            time.sleep(0.005)
    thread = threading.Thread(target=publisher)
    thread.start()
    wait_until(lambda: stop_at in answers(), what="command %d answered" % stop_at)
    old.signal(signal.SIGTERM)
    assert old.wait_exit() == 0
    thread.join(DEADLINE * 3)
    assert published == list(range(total))

    wait_until(lambda: all(number in answers() for number in range(total)),
               what="every command answered; missing %s" % [n for n in range(total) if n not in answers()][:20])
    time.sleep(0.5)  # a duplicate would come right after (both were subscribed for the same command)
    got = answers()
    numbered = dict((number, got[number]) for number in range(total))
    duplicates = dict((number, versions) for number, versions in numbered.items() if len(versions) != 1)
    assert duplicates == {}, duplicates
    handled_by = [versions[0] for _number, versions in sorted(numbered.items())]
    assert "1.0.0" in handled_by[:stop_at] and "2.0.0" in handled_by
    # Once the old version's stop began, it took nothing new: the end is the new version's alone.
    assert set(handled_by[-20:]) == {"2.0.0"}
    assert "drain: unsubscribed from $share/%s/alicia/%s/command" % (name, name) in old.log()
    # Each instance logged each command it handled, with its version.
    assert old.log().count("voice-blue 1.0.0)") == sum(1 for v in got.values() for x in v if x == "1.0.0")
    assert new.running
