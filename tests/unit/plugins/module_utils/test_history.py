# -*- coding: utf-8 -*-
"""The deployment history: known-good and bad releases, rollback targets, atomic writes."""

import json
import os

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _history as history


def rec(name, version, **spec):
    return {"service": name, "version": version, "spec": dict(spec, name=name, version=version), "release": None}


def gate(doc, records, unhealthy=(), strategy="direct", exists=lambda path: True, n=[0]):
    n[0] += 1
    return history.record_gate(doc, records, list(unhealthy), dict((u, "HTTP 503") for u in unhealthy), "lab1",
                               strategy, "d%d" % n[0], "start", "end", exists=exists)


def test_a_first_healthy_deployment_becomes_known_good_with_no_from_version():
    doc = history.empty()
    changed, targets = gate(doc, [rec("tts", "1.0")])
    assert changed and targets == {}
    assert doc["services"]["tts"]["known_good"]["version"] == "1.0"
    (only,) = doc["deployments"]
    assert (only["from"], only["to"], only["result"], only["reason"]) == (None, "1.0", "ok", None)


def test_an_unchanged_release_adds_no_record():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0")])
    changed, _ = gate(doc, [rec("tts", "1.0")])
    assert not changed and len(doc["deployments"]) == 1


def test_a_failed_release_is_marked_bad_and_its_rollback_target_is_the_known_good_one():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0"), rec("stt", "1.0")])
    changed, targets = gate(doc, [rec("tts", "2.0"), rec("stt", "1.0")], unhealthy=["tts"])
    assert changed and list(targets) == ["tts"] and targets["tts"]["version"] == "1.0"
    entry = doc["services"]["tts"]
    assert entry["bad"] == [history.digest(rec("tts", "2.0")["spec"])]
    assert entry["known_good"]["version"] == "1.0" and entry["current"]["version"] == "2.0"
    last = doc["deployments"][-1]
    assert (last["service"], last["from"], last["to"], last["result"], last["reason"]) == ("tts", "1.0", "2.0",
                                                                                           "failed", "HTTP 503")
    # The rollback gated healthy: recorded as such, current again the known-good release.
    changed, targets = gate(doc, [rec("tts", "1.0")], strategy="rollback")
    assert changed and targets == {}
    last = doc["deployments"][-1]
    assert (last["from"], last["to"], last["result"], last["strategy"]) == ("2.0", "1.0", "rolled_back", "rollback")
    assert doc["services"]["tts"]["current"]["version"] == "1.0"


def test_a_rollback_never_goes_back_to_a_bad_release():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0")])
    gate(doc, [rec("tts", "2.0")])            # 2.0 good, 1.0 previous good
    gate(doc, [rec("tts", "3.0")], unhealthy=["tts"])        # 3.0 bad
    gate(doc, [rec("tts", "2.0")], strategy="rollback")
    # Later 2.0 turns out bad too (same entry deployed under another one's name cannot be good and bad: new spec).
    doc["services"]["tts"]["bad"].append(doc["services"]["tts"]["known_good"]["digest"])
    _, targets = gate(doc, [rec("tts", "4.0")], unhealthy=["tts"])
    assert targets["tts"]["version"] == "1.0", "2.0 is bad, 3.0 is bad: back to 1.0"


def test_a_known_good_release_that_fails_is_not_rolled_back_nor_marked_bad():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0")])
    gate(doc, [rec("tts", "2.0")])
    _, targets = gate(doc, [rec("tts", "2.0")], unhealthy=["tts"])
    assert targets == {} and doc["services"]["tts"]["bad"] == []


def test_no_target_without_a_known_good_release_or_when_its_directory_is_gone():
    doc = history.empty()
    _, targets = gate(doc, [rec("tts", "1.0")], unhealthy=["tts"])
    assert targets == {}
    doc = history.empty()
    good = dict(rec("tts", "1.0"), release="/opt/alicia/tts/releases/1.0")
    gate(doc, [good])
    _, targets = gate(doc, [rec("tts", "2.0")], unhealthy=["tts"], exists=lambda path: False)
    assert targets == {}


def test_a_failed_rollback_returns_no_target_and_is_recorded():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0")])
    gate(doc, [rec("tts", "2.0")], unhealthy=["tts"])
    _, targets = gate(doc, [rec("tts", "1.0")], unhealthy=["tts"], strategy="rollback")
    assert targets == {}
    assert doc["deployments"][-1]["result"] == "rollback_failed"


def test_records_are_capped(monkeypatch):
    monkeypatch.setattr(history, "KEEP_RECORDS", 3)
    doc = history.empty()
    for version in range(5):
        gate(doc, [rec("tts", str(version))])
    assert [d["to"] for d in doc["deployments"]] == ["2", "3", "4"]


def test_summary_lists_versions_and_the_last_deployments():
    doc = history.empty()
    gate(doc, [rec("tts", "1.0")])
    gate(doc, [rec("tts", "2.0")], unhealthy=["tts"])
    out = history.summary(doc, last=1)
    assert out["services"]["tts"]["current"] == "2.0" and out["services"]["tts"]["known_good"] == "1.0"
    assert len(out["deployments"]) == 1 and out["deployments"][0]["result"] == "failed"


def test_update_writes_atomically_with_mode_0600_and_leaves_no_temporary_file(tmp_path):
    path = str(tmp_path / "sub" / "deployments.json")
    history.update(path, lambda doc: gate(doc, [rec("tts", "1.0")]))
    assert json.load(open(path))["services"]["tts"]["known_good"]["version"] == "1.0"
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert sorted(os.listdir(str(tmp_path / "sub"))) == ["deployments.json", "deployments.json.lock"]


def test_a_failed_write_leaves_the_old_document_whole(tmp_path, monkeypatch):
    path = str(tmp_path / "deployments.json")
    history.update(path, lambda doc: gate(doc, [rec("tts", "1.0")]))
    before = open(path).read()

    def broken_dump(*_args, **_kwargs):
        raise IOError("disk full")

    monkeypatch.setattr(history.json, "dump", broken_dump)
    with pytest.raises(IOError):
        history.update(path, lambda doc: gate(doc, [rec("tts", "2.0")]))
    assert open(path).read() == before
    assert sorted(os.listdir(str(tmp_path))) == ["deployments.json", "deployments.json.lock"]


@pytest.mark.parametrize("text", ["[]", '{"services": []}', "{nope"])
def test_a_document_that_is_not_a_history_is_refused(tmp_path, text):
    path = tmp_path / "deployments.json"
    path.write_text(text)
    with pytest.raises(history.HistoryError):
        history.load(str(path))
