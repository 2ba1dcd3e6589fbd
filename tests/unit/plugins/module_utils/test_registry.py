# -*- coding: utf-8 -*-
"""_registry: the service registry's retained entries as rows (heartbeat age,
stale), the table, and the per-host registry files of the service role's
files batch. The broker side (collect, cleanup) runs against a real Mosquitto
in tests/unit/reference/test_registry_module.py."""

import json

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _registry as registry

NOW = 1000000.0


def entry(service, instance, age, **extra):
    document = {"service": service, "instance": instance, "host": "voice1", "port": 9000, "version": "1.0.0",
                "health_url": "http://127.0.0.1:9000/health", "state": "running", "timestamp": NOW - age}
    document.update(extra)
    return registry.topic(service, instance), json.dumps(document).encode()


def test_rows_have_the_heartbeat_age_and_the_stale_flag_sorted_by_service_and_instance():
    messages = dict([entry("tts_service", "tts-secondary", 12.34), entry("stt_service", "stt_service", 301),
                     entry("tts_service", "tts-primary", 2)])
    rows = registry.rows(messages, NOW, stale_after=300)
    assert [(r["service"], r["instance"], r["heartbeat_age"], r["stale"]) for r in rows] == [
        ("stt_service", "stt_service", 301.0, True), ("tts_service", "tts-primary", 2.0, False),
        ("tts_service", "tts-secondary", 12.3, False)]
    assert rows[1]["topic"] == "alicia/registry/tts_service/tts-primary"
    assert set(registry.FIELDS) <= set(rows[1])
    assert registry.stale(rows) == ["alicia/registry/stt_service/stt_service"]
    # The stale period is configurable: the same entries with 10 s.
    assert registry.stale(registry.rows(messages, NOW, stale_after=10)) == [
        "alicia/registry/stt_service/stt_service", "alicia/registry/tts_service/tts-secondary"]


def test_cleared_entries_are_skipped_and_unreadable_or_untimed_ones_are_stale():
    messages = {"alicia/registry/a/a": b"", "alicia/registry/b/b1": b"not json",
                "alicia/registry/c/c": json.dumps({"service": "c", "instance": "c"}).encode()}
    rows = registry.rows(messages, NOW)
    assert [(r["service"], r["instance"], r["stale"], r.get("error")) for r in rows] == [
        ("b", "b1", True, "not a JSON object"), ("c", "c", True, None)]
    assert rows[1]["heartbeat_age"] is None


def test_rows_of_some_services_only_and_a_clock_behind_the_entry():
    messages = dict([entry("a", "a", -5), entry("b", "b", 1)])
    rows = registry.rows(messages, NOW, services=["a"])
    assert [(r["service"], r["heartbeat_age"], r["stale"]) for r in rows] == [("a", 0.0, False)]


@pytest.mark.parametrize("bad", [0, -1, "300", True])
def test_stale_after_must_be_positive_seconds(bad):
    with pytest.raises(registry.RegistryError, match="stale_after must be a number of seconds > 0"):
        registry.rows({}, NOW, stale_after=bad)


def test_table_lines_and_total():
    rows = registry.rows(dict([entry("tts_service", "tts-primary", 2), entry("stt_service", "stt_service", 400)]),
                         NOW)
    lines = registry.table(rows)
    assert lines[0].split() == ["service", "instance", "host", "port", "version", "state", "heartbeat_age_s", "stale"]
    assert lines[1].split() == ["stt_service", "stt_service", "voice1", "9000", "1.0.0", "running", "400.0", "yes"]
    assert lines[2].split() == ["tts_service", "tts-primary", "voice1", "9000", "1.0.0", "running", "2.0", "no"]
    assert lines[-1] == "2 registered, 1 stale (no heartbeat for more than 300 s)"
    assert lines[0].index("host") == lines[1].index("voice1") == lines[2].index("voice1")  # aligned columns


def test_host_files_one_per_service_with_its_instances(resolve):
    catalogue = resolve({"tts_service": {"instances": 2, "instance_names": ["tts-primary", "tts-secondary"],
                                         "instance_ports": [9000, 9001]}})
    entries = [catalogue["tts_service"], catalogue["stt_service"]]
    files = registry.host_files(entries, "voice1")
    assert files[0] == {"path": "/var/lib/alicia/registry.d", "state": "directory", "mode": "0755"}
    assert [f["path"] for f in files[1:]] == ["/var/lib/alicia/registry.d/tts_service.json",
                                              "/var/lib/alicia/registry.d/stt_service.json"]
    assert all("key" not in f for f in files)  # writing them restarts nothing
    tts = json.loads(files[1]["content"])
    assert tts["service"] == "tts_service" and tts["host"] == "voice1" and tts["version"] == "1.0.0"
    assert [(i["instance"], i["port"], i["state"], i["topic"]) for i in tts["instances"]] == [
        ("tts-primary", 9000, "deployed", "alicia/registry/tts_service/tts-primary"),
        ("tts-secondary", 9001, "deployed", "alicia/registry/tts_service/tts-secondary")]
    stt = json.loads(files[2]["content"])
    assert [(i["instance"], i["port"], i["health_url"]) for i in stt["instances"]] == [
        ("stt_service", catalogue["stt_service"]["port"],
         "http://voice1:%d/health" % catalogue["stt_service"]["port"])]
    assert registry.host_files([], "voice1") == []
    assert registry.removed_host_files(entries, "/srv/data/") == [
        {"path": "/srv/data/registry.d/tts_service.json", "state": "absent"},
        {"path": "/srv/data/registry.d/stt_service.json", "state": "absent"}]
