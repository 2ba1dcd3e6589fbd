# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service role's rollback inputs: history records, the catalogue a
rollback deploys, release directories kept as they are, the failure message."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp

HOST = "h1"
GROUPS = {"alicia_core": [HOST], "alicia_voice": [HOST], "alicia_broker": ["b1"]}
GROUP_NAMES = ["alicia", "alicia_core", "alicia_voice"]
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, HOST: {"alicia_address": "10.0.0.2"}}


def plan(catalogue, names):
    return sp.plan(catalogue, names, GROUP_NAMES, HOST, groups=GROUPS)


def files(the_plan, catalogue, rollback=None):
    secrets = dict((name, {"MQTT_PASSWORD": "pw", "JWT_SECRET": "j"}) for name in catalogue)
    return sp.files(the_plan, catalogue, secrets=secrets, mqtt_broker="10.0.0.1", hostvars=HOSTVARS, groups=GROUPS,
                    rollback=rollback)


@pytest.fixture
def app_src(tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "requirements.txt").write_text("dep==1.0\n")
    return {"type": "python_app", "src": str(src), "entry": "main.py"}


def test_history_records_carry_version_entry_release_and_instances(resolve):
    catalogue = resolve({"stt_service": {"version": "2.1.0"}, "tts_service": {"runtime": "docker"},
                         "ai_service": {"instances": 2, "instance_ports": [9201, 9202]}})
    the_plan = plan(catalogue, ["stt_service", "tts_service", "ai_service"])
    records = dict((r["service"], r) for r in sp.history_records(the_plan))
    assert records["stt_service"]["version"] == "2.1.0"
    assert records["stt_service"]["spec"] == the_plan["entries"][[e["name"] for e in the_plan["entries"]].index(
        "stt_service")]
    assert records["stt_service"]["release"] == "/opt/alicia/stt_service/releases/2.1.0"
    assert records["tts_service"]["release"] is None, "docker builds an image: no release directory to check"
    assert len(records["ai_service"]["instances"]) == 2


def test_the_rollback_catalogue_puts_the_known_good_entries_back(resolve):
    catalogue = resolve({"stt_service": {"version": "2.0.0", "env": {"ALICIA_FAULT_FAIL_AT_START": "1"}}})
    good = dict(catalogue["stt_service"], version="1.0.0", env={})
    merged = sp.rollback_catalogue(catalogue, {"stt_service": {"version": "1.0.0", "spec": good}})
    assert merged["stt_service"]["version"] == "1.0.0" and merged["stt_service"]["env"] == {}
    assert merged["tts_service"] is catalogue["tts_service"]
    assert sp.rollback_catalogue(catalogue, {}) is catalogue
    with pytest.raises(sp.ServicePlanError, match="nope"):
        sp.rollback_catalogue(catalogue, {"nope": {"spec": {}}})


def test_a_rollback_keeps_the_catalogue_s_placement(resolve):
    """A known-good entry recorded while the service sat in another group or phase goes back at today's:
    a rollback never moves a service to other hosts (nor off its host's balancer)."""
    catalogue = resolve({"stt_service": {"version": "2.0.0"}})
    good = dict(catalogue["stt_service"], version="1.0.0", group="elsewhere", phase="advanced")
    merged = sp.rollback_catalogue(catalogue, {"stt_service": {"version": "1.0.0", "spec": good}})
    assert merged["stt_service"]["version"] == "1.0.0"
    assert (merged["stt_service"]["group"], merged["stt_service"]["phase"]) == (
        catalogue["stt_service"]["group"], catalogue["stt_service"]["phase"])
    assert good["group"] == "elsewhere", "the history's record is not changed"


def test_a_rollback_moves_the_current_link_back_and_the_environment_file_with_it(resolve):
    catalogue = resolve({"stt_service": {"version": "2.0.0", "env": {"ALICIA_FAULT_FAIL_AT_START": "1"}}})
    good = dict(catalogue["stt_service"], version="1.0.0", env={})
    merged = sp.rollback_catalogue(catalogue, {"stt_service": {"version": "1.0.0", "spec": good}})
    batch = files(plan(merged, ["stt_service"]), merged, rollback={"stt_service": {}})
    link = [f for f in batch if f["path"] == "/opt/alicia/stt_service/current"][0]
    assert link["target"] == "releases/1.0.0"
    (env,) = [f for f in batch if f["path"] == "/etc/alicia/stt_service.env"]
    assert "ALICIA_FAULT_FAIL_AT_START" not in env["vars"]["env"]


def test_a_python_app_rollback_keeps_its_release_directory_as_it_is(resolve, app_src):
    catalogue = resolve({"stt_service": {"version": "1.0.0", "artifact": app_src}})
    the_plan = plan(catalogue, ["stt_service"])
    release = "/opt/alicia/stt_service/releases/1.0.0"
    normal = [f for f in files(the_plan, catalogue) if f["path"] == release][0]
    assert normal["state"] == "tree" and normal["src"] == app_src["src"]
    kept = [f for f in files(the_plan, catalogue, rollback=["stt_service"]) if f["path"] == release][0]
    assert kept["state"] == "directory" and "src" not in kept, "never copied again from a source that moved on"
    assert kept["key"] == normal["key"], "its follow-ups are the service's"


def test_the_failure_message_names_service_host_versions_and_reason():
    failure = {"msg": "health gate: 1 of 1 endpoints unhealthy after 6.0 s:\n  - stt_service on h1: exited 3",
               "logs": "==> stt_service.log <==\nboom", "versions": {"stt_service": "2.0.0"},
               "rollback": {"stt_service": {"version": "1.0.0"}}}
    text = sp.gate_failure_message(failure, "h1", "phase voice")
    assert text.startswith("service: phase voice on h1 is not healthy: health gate: 1 of 1")
    assert "exited 3" in text and "stt_service 2.0.0 -> 1.0.0" in text and "Rolled back" in text and "boom" in text
    text = sp.gate_failure_message(dict(failure, rollback={}), "h1", "phase voice")
    assert "No known-good release to roll back to" in text
    text = sp.gate_failure_message(failure, "h1", "services stt_service", rollback_to=failure["rollback"],
                                   rollback_msg="health gate: still down")
    assert "its rollback failed too (stt_service 2.0.0 -> 1.0.0): health gate: still down" in text
    assert "The release that failed first: health gate: 1 of 1" in text


def test_the_files_batch_writes_each_service_s_registry_file_and_teardown_removes_it(resolve):
    catalogue = resolve({"stt_service": {"version": "2.1.0"}})
    the_plan = plan(catalogue, ["stt_service"])
    (entry,) = [f for f in files(the_plan, catalogue) if f["path"].endswith("/registry.d/stt_service.json")]
    assert "key" not in entry and entry["mode"] == "0644", "writing it restarts nothing, it holds no secret"
    assert '"version": "2.1.0"' in entry["content"] and '"host": "h1"' in entry["content"]
    removed = [f["path"] for f in the_plan["removed_files"]]
    assert "/var/lib/alicia/registry.d/stt_service.json" in removed


def _plan(*entries):
    return {"entries": [{"name": name, "version": version, "instance_list": [
        {"name": inst, "unit": "alicia-%s.service" % inst} for inst in insts]} for name, version, insts in entries]}


def test_gate_failure_names_the_versions_the_rollback_and_the_report_claim():
    failed = {"msg": "tts_service: HTTP 503", "rollback": {"tts_service": {"version": "1.0.0"}}}
    found = sp.gate_failure(_plan(("tts_service", "2.0.0", []), ("stt_service", "1.1.0", [])), failed, "log line")
    assert found["versions"] == {"tts_service": "2.0.0", "stt_service": "1.1.0"}
    assert found["pending"] == {"tts_service": {"version": "1.0.0"}} and found["instances"] == []
    assert found["claim"] == {"service": "tts_service", "from_version": "2.0.0", "to_version": "1.0.0"}
    assert (found["msg"], found["logs"]) == ("tts_service: HTTP 503", "log line")


def test_gate_failure_without_rollback_claims_nothing():
    failed = {"msg": "x", "rollback": {"tts_service": {"version": "1.0.0"}}}
    found = sp.gate_failure(_plan(("tts_service", "2.0.0", [])), failed, rollback=False)
    assert found["pending"] == {} and found["rollback"] == failed["rollback"] and found["claim"]["service"] == ""


def test_a_rollback_restarts_only_the_instances_this_run_restarted_or_started():
    failed = {"msg": "x", "rollback": {"tts_service": {"version": "1.0.0"}}}
    plan = _plan(("tts_service", "2.0.0", ["tts-1", "tts-2", "tts-3"]))
    # A roll (or a canary) that stopped at its first instance: the others never left the previous release.
    assert sp.gate_failure(plan, failed, touched=["tts-1"])["instances"] == ["tts-1"]
    # An instance the units call started (it was not running) ran the failed release too.
    units = {"started": ["alicia-tts-3.service"]}
    assert sp.gate_failure(plan, failed, touched=["tts-1"], units=units)["instances"] == ["tts-1", "tts-3"]
    # Nothing tells which ran the failed release: every instance.
    assert sp.gate_failure(plan, failed)["instances"] == []
    # A multi-instance service that is not rolled back does not count.
    other = {"msg": "x", "rollback": {"stt_service": {"version": "1.0.0"}}}
    plan = _plan(("tts_service", "2.0.0", ["tts-1"]), ("stt_service", "1.1.0", ["stt-1", "stt-2"]))
    assert sp.gate_failure(plan, other, touched=["tts-1", "stt-2"])["instances"] == ["stt-2"]


def test_an_instance_selection_is_one_name_a_list_or_every_instance():
    from ansible_collections.alicia.platform.plugins.module_utils import _service_layout as layout
    assert layout.selected("", "a") and layout.selected([], "a")
    assert layout.selected("a", "a") and not layout.selected("b", "a")
    assert layout.selected(["a", "c"], "c") and not layout.selected(["a", "c"], "b")
