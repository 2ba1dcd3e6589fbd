# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service role's plan (module_utils/_service_plan.py, _service_layout.py):
the desired state of every runtime x artifact, table-driven, and the
follow-ups of what the modules report, read from structured results."""

import os

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _service_layout as layout
from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import DEFAULT_RUNTIMES
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_validate import SERVICE_RUNTIMES
from ansible_collections.alicia.platform.plugins.module_utils._files import check_args

HOST = "h1"
GROUPS = {"alicia_core": [HOST], "alicia_voice": [HOST], "alicia_broker": ["b1"]}
GROUP_NAMES = ["alicia", "alicia_core", "alicia_voice"]
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, HOST: {"alicia_address": "10.0.0.2"}}


@pytest.fixture
def app(tmp_path):
    """A python_app directory with its requirements, and a wheelhouse."""
    def _app(name="app", requirements="dep==1.0\n", wheelhouse=None):
        src = tmp_path / name
        src.mkdir(exist_ok=True)
        (src / "requirements.txt").write_text(requirements)
        artifact = {"type": "python_app", "src": str(src), "entry": "main.py"}
        if wheelhouse:
            (tmp_path / wheelhouse).mkdir(exist_ok=True)
            artifact["wheelhouse"] = str(tmp_path / wheelhouse)
        return artifact
    return _app


def secrets(catalogue):
    return dict((name, {"MQTT_PASSWORD": "pw", "JWT_SECRET": "j"}) for name in catalogue)


def build(resolve, overrides, names, settings=None, group_names=GROUP_NAMES):
    catalogue = resolve(overrides)
    plan = sp.plan(catalogue, names, group_names, HOST, groups=GROUPS, settings=settings)
    files = sp.files(plan, catalogue, secrets=secrets(catalogue), mqtt_broker="10.0.0.1", hostvars=HOSTVARS,
                     groups=GROUPS)
    return catalogue, plan, files


def paths(files, key=None):
    return [f["path"] for f in files if key is None or f.get("key") == key]


# ---- one list of runtimes ----------------------------------------------------------

def test_one_strategy_per_runtime_of_the_one_runtime_list():
    assert sorted(sp.RUNTIMES) == sorted(layout.RUNTIMES) == sorted(DEFAULT_RUNTIMES) == sorted(SERVICE_RUNTIMES)
    assert "docker" not in layout.HOST_RUNTIMES and set(layout.HOST_RUNTIMES) < set(layout.RUNTIMES)


def test_the_role_s_runtime_choices_are_the_host_runtimes(root):
    """meta/argument_specs.yml cannot import Python: checked against the one list here."""
    import yaml
    with open(os.path.join(root, "roles", "service", "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)
    choices = spec["argument_specs"]["main"]["options"]["service_runtime"]["choices"]
    assert sorted(choices) == sorted([""] + list(layout.HOST_RUNTIMES))


# ---- desired state, runtime x artifact ---------------------------------------------

REL = "/opt/alicia/stt_service/releases/1.0.0"
# runtime, artifact (None: the reference; "app": a python_app), the files of the
# service keyed by its name (beyond data directory and environment file), the
# runner the gate reads, and where the service appears in the plan.
CASES = [
    ("systemd", None, ["/opt/alicia/stt_service", REL, REL + "/alicia_reference_service.py",
                       "/opt/alicia/stt_service/current", "/etc/systemd/system/alicia-stt_service.service"],
     {"unit": "alicia-stt_service.service"}, "wanted_units"),
    ("systemd", {"type": "command", "command": "/bin/true x"}, ["/etc/systemd/system/alicia-stt_service.service"],
     {"unit": "alicia-stt_service.service"}, "wanted_units"),
    ("systemd", "app", ["/opt/alicia/stt_service", "/opt/alicia/stt_service/releases", REL,
                        "/opt/alicia/stt_service/current", "/etc/systemd/system/alicia-stt_service.service"],
     {"unit": "alicia-stt_service.service"}, "venvs"),
    ("docker", None, ["/opt/alicia/stt_service", "/opt/alicia/stt_service/image",
                      "/opt/alicia/stt_service/image/alicia_reference_service.py",
                      "/opt/alicia/stt_service/image/Dockerfile"], {"container": "alicia_stt_service"}, "containers"),
    ("docker", {"type": "command", "command": "/bin/true x"},
     ["/opt/alicia/stt_service", "/opt/alicia/stt_service/image",
      "/opt/alicia/stt_service/image/alicia_reference_service.py", "/opt/alicia/stt_service/image/Dockerfile"],
     {"container": "alicia_stt_service"}, "containers"),
    ("docker", {"type": "container", "image": "busybox:1"}, ["/opt/alicia/stt_service"],
     {"container": "alicia_stt_service"}, "containers"),
    ("supervisor", None, ["/opt/alicia/stt_service", REL, REL + "/alicia_reference_service.py",
                          "/opt/alicia/stt_service/current"], {"program": "alicia-stt_service"}, "programs"),
    ("supervisor", {"type": "command", "command": "/bin/true x"}, [], {"program": "alicia-stt_service"}, "programs"),
    ("manual", None, ["/opt/alicia/stt_service", REL, REL + "/alicia_reference_service.py",
                      "/opt/alicia/stt_service/current", "/etc/alicia/manual/stt_service.json"], {}, "manual"),
    ("manual", {"type": "command", "command": "/bin/true x"}, ["/etc/alicia/manual/stt_service.json"], {}, "manual"),
]


@pytest.mark.parametrize("runtime, artifact, own, runner, where", CASES,
                         ids=["%s-%s" % (c[0], (c[1] or {"type": "reference"})["type"] if c[1] != "app" else "python_app")
                              for c in CASES])
def test_desired_state_of_each_runtime_and_artifact(resolve, app, runtime, artifact, own, runner, where):
    entry = {"runtime": runtime}
    if artifact:
        entry["artifact"] = app() if artifact == "app" else artifact
    _, plan, files = build(resolve, {"stt_service": entry}, ["stt_service"])
    keyed = paths(files, "stt_service")
    for path in own:
        assert path in keyed, (path, keyed)
    # Every runtime: the data directory and the environment file (a secret, 0640).
    assert "/var/lib/alicia/stt_service" in keyed
    (env,) = [f for f in files if f["path"] == "/etc/alicia/stt_service.env"]
    assert env["secret"] is True and env["mode"] == "0640" and env["vars"]["env"]["MQTT_BROKER"] == "10.0.0.1"
    # The batch passes the files module's own checks (no duplicate path).
    assert check_args(files) == []
    # The one endpoint names what runs it; the plan lists the service where its runtime wants it.
    (endpoint,) = plan["endpoints"]
    assert endpoint["url"] == "http://127.0.0.1:8001/health" and endpoint["expect_status"] == [200]
    assert dict((k, endpoint[k]) for k in ("unit", "container", "program") if k in endpoint) == runner
    assert plan[where], where
    assert plan["by_runtime"][runtime] == ["stt_service"]
    # Every other runtime's leftovers are removed, keyed apart.
    others = dict((k, v) for k, v in sp.all_keys(plan).items() if v["service"] == "stt_service")
    assert others["stt_service"]["kind"] == "service"
    if runtime != "systemd":
        assert others["stt_service:unit"]["followup"] == "units_absent"
        assert "/etc/systemd/system/alicia-stt_service.service" in paths(files, "stt_service:unit")
    if runtime != "supervisor":
        assert others["stt_service:program"]["followup"] == "programs_absent"
    if runtime != "manual":
        assert others["stt_service:manual"]["followup"] == "manual_absent"


def test_the_release_layout_is_one_definition(resolve, app):
    """reference under systemd, supervisor and manual: the same release files."""
    layouts = []
    for runtime in ("systemd", "supervisor", "manual"):
        _, _, files = build(resolve, {"stt_service": {"runtime": runtime}}, ["stt_service"])
        layouts.append([f for f in files if f["path"].startswith("/opt/alicia/stt_service")
                        and f["key"] == "stt_service"])
    assert layouts[0] == layouts[1] == layouts[2]
    assert layouts[0][-1] == {"path": "/opt/alicia/stt_service/current", "state": "link", "target": "releases/1.0.0",
                              "key": "stt_service"}


def test_a_multi_instance_service_has_a_target_instance_units_and_endpoints(resolve):
    overrides = {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}
    _, plan, files = build(resolve, overrides, ["tts_service"])
    assert plan["multi"] == ["tts_service"]
    assert plan["instance_units"] == ["alicia-tts_service-1.service", "alicia-tts_service-2.service"]
    assert [u["name"] for u in plan["wanted_units"]] == ["alicia-tts_service.target"] + plan["instance_units"]
    assert [(e["service"], e["url"], e["unit"]) for e in plan["endpoints"]] == [
        ("tts_service-1", "http://127.0.0.1:9201/health", "alicia-tts_service-1.service"),
        ("tts_service-2", "http://127.0.0.1:9202/health", "alicia-tts_service-2.service"),
        ("tts_service", "http://127.0.0.1:8003/health", "haproxy.service")]
    assert "/etc/systemd/system/alicia-tts_service.service" in paths(files, "tts_service:single")
    assert plan["balancer_units"] == [{"name": "haproxy.service", "enabled": True, "state": "started"}]
    one = sp.plan(resolve(overrides), ["tts_service"], GROUP_NAMES, HOST, GROUPS, {"instance": "tts_service-2"})
    assert one["restart_units"] == ["alicia-tts_service-2.service"]
    assert [e["service"] for e in one["endpoints"]] == ["tts_service-2", "tts_service"]


def test_a_forced_host_runtime_runs_every_service(resolve):
    _, plan, _ = build(resolve, {}, ["stt_service", "ai_service"], settings={"runtime": "manual"})
    assert plan["manual"] == ["stt_service", "ai_service"] and plan["wanted_units"] == []


def test_an_unknown_service_or_runtime_is_refused_naming_it(resolve):
    with pytest.raises(sp.ServicePlanError, match="unknown service 'nope'"):
        sp.plan(resolve(), ["nope"], GROUP_NAMES, HOST)
    with pytest.raises(sp.ServicePlanError, match="service 'stt_service' field 'runtime'"):
        sp.plan(resolve({"stt_service": {"runtime": "lxc"}}), ["stt_service"], GROUP_NAMES, HOST)


# ---- wheelhouses (issue 15: a duplicate path crashed the plan) -------------------------

def test_three_python_apps_with_two_wheelhouses_plan_each_path_once(resolve, app):
    """Shared wheelhouse and requirements, shared wheelhouse with other
    requirements, and a wheelhouse of its own: before the fix the batch held
    <install>/wheelhouse once per wheelhouse and the files module refused it."""
    overrides = {
        "stt_service": {"artifact": app("a", "dep==1.0\n", "wh1")},
        "ai_service": {"artifact": app("a", "dep==1.0\n", "wh1")},
        "tts_service": {"artifact": app("b", "dep==2.0\n", "wh1")},
        "voice_router": {"artifact": app("c", "dep==3.0\n", "wh2")},
    }
    _, plan, files = build(resolve, overrides, ["stt_service", "ai_service", "tts_service", "voice_router"])
    assert check_args(files) == []
    assert len(paths(files)) == len(set(paths(files)))
    assert paths(files).count("/opt/alicia/wheelhouse") == 1
    trees = [f for f in files if f["path"].startswith("/opt/alicia/wheelhouse/")]
    assert len(trees) == 3 and len(plan["venvs"]) == 3
    assert plan["venv_of"]["stt_service"] == plan["venv_of"]["ai_service"] != plan["venv_of"]["voice_router"]
    assert sorted(os.path.basename(t["src"]) for t in trees) == ["wh1", "wh1", "wh2"]
    assert sp.all_keys(plan)[trees[0]["key"]]["services"] == ["stt_service", "ai_service"]


def test_a_path_wanted_twice_differently_is_refused():
    with pytest.raises(sp.ServicePlanError, match="/x is wanted twice"):
        sp._dedupe([{"path": "/x", "state": "directory"}, {"path": "/x", "state": "absent"}])


# ---- follow-ups, read from the keys table ------------------------------------------------

# runtime, the changed keys, the follow-ups expected (the others empty).
FOLLOWUP_CASES = [
    ("systemd", ["stt_service"], {"units_restart": ["alicia-stt_service.service"]}),
    ("systemd", ["stt_service:container", "stt_service:program", "stt_service:manual"],
     {"containers_absent": ["alicia_stt_service"], "programs_absent": ["alicia-stt_service"],
      "manual_absent": ["stt_service"]}),
    ("docker", ["stt_service", "stt_service:unit"],
     {"containers_restart": ["alicia_stt_service"], "units_absent": ["alicia-stt_service.service"]}),
    ("supervisor", ["stt_service", "stt_service:program"],
     {"programs_restart": ["alicia-stt_service"], "programs_updated": ["alicia-stt_service"]}),
    ("supervisor", ["stt_service:unit", "stt_service:manual"],
     {"units_absent": ["alicia-stt_service.service"], "manual_absent": ["stt_service"]}),
    ("manual", ["stt_service", "alicia-servicectl"], {"manual_restart": ["stt_service"]}),
    ("manual", ["stt_service:unit", "stt_service:program"],
     {"units_absent": ["alicia-stt_service.service"], "programs_absent": ["alicia-stt_service"]}),
    ("docker", ["unrelated", "ai_service"], {}),
]


@pytest.mark.parametrize("runtime, changed, expected", FOLLOWUP_CASES)
def test_followups_of_each_runtime(resolve, runtime, changed, expected):
    _, plan, _ = build(resolve, {"stt_service": {"runtime": runtime}}, ["stt_service"])
    got = sp.followups(plan, {"changed_keys": changed}, {})
    assert got == dict((name, expected.get(name, [])) for name in sp.FOLLOWUPS)


def test_a_rebuilt_virtualenv_restarts_exactly_its_services(resolve, app):
    overrides = {"stt_service": {"artifact": app("a")}, "ai_service": {"artifact": app("b", "other\n")}}
    _, plan, _ = build(resolve, overrides, ["stt_service", "ai_service"])
    got = sp.followups(plan, {"changed_keys": []}, {"changed_paths": [plan["venv_of"]["ai_service"]]})
    assert got["units_restart"] == ["alicia-ai_service.service"]
    assert sp.followups(plan, None, None)["units_restart"] == []


def test_a_multi_instance_service_stops_its_single_unit(resolve):
    _, plan, _ = build(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}, ["tts_service"])
    got = sp.followups(plan, {"changed_keys": ["tts_service", "tts_service:single"]})
    # Never restarted whole: its instances roll one at a time (alicia.platform.roll).
    assert got["units_restart"] == []
    assert got["instances_roll"] == ["alicia-tts_service-1.service", "alicia-tts_service-2.service"]
    assert got["units_absent"] == ["alicia-tts_service.service"]


# ---- the platform plan's work -------------------------------------------------------------

WORK_CASES = [
    ("systemd", {"files": {"changed_keys": ["stt_service"]}}, ["stt_service"]),
    ("systemd", {"files": {"changed_keys": ["stt_service:program"]}}, []),
    ("systemd", {"files": {"units": {"alicia-stt_service.service": {"active": False, "enabled": True}}}},
     ["stt_service"]),
    ("systemd", {"files": {"units": {"alicia-stt_service.service": {"active": True, "enabled": True}}}}, []),
    ("docker", {"containers": {"containers": {"alicia_stt_service": {"actions": ["recreate"]}}}}, ["stt_service"]),
    ("docker", {"containers": {"containers": {"alicia_stt_service": {"actions": []}}}}, []),
    ("supervisor", {"supervisor": {"actions": {"alicia-stt_service": ["start"]}}}, ["stt_service"]),
    ("manual", {"manual": {"actions": {"stt_service": ["start"]}}}, ["stt_service"]),
    ("manual", {}, []),
]


@pytest.mark.parametrize("runtime, results, services", WORK_CASES)
def test_plan_work_of_each_runtime(resolve, runtime, results, services):
    _, plan, _ = build(resolve, {"stt_service": {"runtime": runtime}}, ["stt_service", "ai_service"])
    got = sp.plan_work(plan, **results)
    assert got == {"services": services, "phases": ["voice"] if services else []}


def test_plan_work_of_a_stale_virtualenv_or_a_changed_wheelhouse(resolve, app):
    overrides = {"stt_service": {"artifact": app("a", wheelhouse="wh")}, "ai_service": {"artifact": app("b", "x\n")}}
    _, plan, files = build(resolve, overrides, ["stt_service", "ai_service"])
    (tree,) = [f for f in files if f["path"].startswith("/opt/alicia/wheelhouse/")]
    assert sp.plan_work(plan, files={"changed_keys": [tree["key"]]})["services"] == ["stt_service"]
    stale = {"changed_paths": [plan["venv_of"]["ai_service"]]}
    assert sp.plan_work(plan, venvs=stale)["services"] == ["ai_service"]


# ---- reports ---------------------------------------------------------------------------------

def test_restart_report_and_unhealthy_logs(resolve):
    overrides = {"ai_service": {"runtime": "supervisor"}, "tts_service": {"runtime": "docker"}}
    _, plan, _ = build(resolve, overrides, ["stt_service", "ai_service", "tts_service"])
    lines = sp.restart_report(
        plan, units={"units": {"alicia-stt_service.service": {"actions": ["restart"], "after": {"main_pid": 42}}}},
        supervisor={"actions": {"alicia-ai_service": ["start"]}, "programs": {"alicia-ai_service": {"pid": 7}}},
        gate={"results": [{"service": "stt_service", "healthy": True, "status": 200, "latency": 0.0123}]})
    assert lines == ["stt_service on h1: restart, pid 42, healthy (HTTP 200 in 12.3 ms)",
                     "ai_service on h1: start, pid 7, not gated (HTTP - in 0 ms)",
                     "tts_service on h1: unchanged, pid ?, not gated (HTTP - in 0 ms)"]
    containers = {"containers": {"alicia_tts_service": {"after": {"log_path": "/docker/tts.log"}}}}
    assert sp.unhealthy_logs(plan, ["tts_service", "ai_service"], containers) == [
        "/var/log/alicia/ai_service.log", "/docker/tts.log"]
    assert sp.unhealthy_logs(plan, [], {}) == ["/var/log/alicia/stt_service.log", "/var/log/alicia/ai_service.log"]


def test_remote_dependencies_are_gated_from_this_host(resolve):
    catalogue = resolve({"voice_router": {"group": "alicia_router"}})
    groups = dict(GROUPS, alicia_router=["r1"])
    plan = sp.plan(catalogue, ["voice_router"], ["alicia_router"], "r1", groups=groups)
    assert plan["remote_deps"] == ["stt_service", "ai_service", "tts_service"]
    endpoints = sp.remote_endpoints(plan, catalogue, hostvars=HOSTVARS, groups=groups)
    assert [e["url"] for e in endpoints] == ["http://10.0.0.2:8001/health", "http://10.0.0.2:8002/health",
                                             "http://10.0.0.2:8003/health"]


# ---- a failed health gate's marker (the next run restarts and gates the service again) ------

# runtime, the follow-up of the service's marker and its target.
GATE_CASES = [
    ("systemd", "units_restart", "alicia-stt_service.service"),
    ("docker", "containers_restart", "alicia_stt_service"),
    ("supervisor", "programs_restart", "alicia-stt_service"),
    ("manual", "manual_restart", "stt_service"),
]


@pytest.mark.parametrize("runtime, followup, target", GATE_CASES, ids=[c[0] for c in GATE_CASES])
def test_every_runtime_wants_the_failed_gate_marker_absent_and_restarts_the_service(resolve, runtime, followup,
                                                                                    target):
    _, plan, files = build(resolve, {"stt_service": {"runtime": runtime}}, ["stt_service", "ai_service"])
    assert [f for f in files if f.get("key") == "stt_service:gate"] == [
        {"path": "/var/lib/alicia/gate-failed/stt_service", "state": "absent", "key": "stt_service:gate"}]
    assert "/var/lib/alicia/gate-failed/ai_service" in paths(files, "ai_service:gate")
    assert check_args(files) == []
    info = plan["keys"]["stt_service:gate"]
    assert info == {"service": "stt_service", "kind": "gate_failed", "action": "restart", "followup": followup,
                    "target": target}
    # The marker found (removed) on the host: the service restarts, exactly it.
    got = sp.followups(plan, {"changed_keys": ["stt_service:gate"]}, {})
    assert got == dict((name, [target] if name == followup else []) for name in sp.FOLLOWUPS)
    # The platform plan (check mode) puts its phase to work; a clean host (no marker) does not.
    assert sp.plan_work(plan, files={"changed_keys": ["stt_service:gate"]}) == {"services": ["stt_service"],
                                                                                "phases": ["voice"]}
    assert sp.plan_work(plan, files={"changed_keys": []}) == {"services": [], "phases": []}
    # A teardown removes it too.
    assert {"path": "/var/lib/alicia/gate-failed/stt_service", "state": "absent"} in plan["removed_files"]


def test_the_marker_directory_is_a_setting(resolve):
    _, plan, files = build(resolve, {}, ["stt_service"], settings={"gate_failed_dir": "/srv/state/gate"})
    assert paths(files, "stt_service:gate") == ["/srv/state/gate/stt_service"]


def test_a_multi_instance_service_s_marker_rolls_its_instances(resolve):
    _, plan, _ = build(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}, ["tts_service"])
    got = sp.followups(plan, {"changed_keys": ["tts_service:gate"]})
    assert got["units_restart"] == [] and len(got["instances_roll"]) == 2


def test_the_roll_skips_instances_the_units_call_just_started_and_names_backend_server_and_endpoint(resolve):
    _, plan, _ = build(resolve, {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}, ["tts_service"])
    found = sp.followups(plan, {"changed_keys": ["tts_service"]})
    first, second = found["instances_roll"]
    rolled = sp.roll(plan, found, {"started": [first]})
    assert rolled["canaries"] == [] and [r["unit"] for r in rolled["rest"]] == [second]
    (only,) = rolled["rest"]
    assert (only["backend"], only["server"]) == ("tts_service", only["instance"])
    assert only["endpoint"]["url"] == "http://127.0.0.1:9202/health" and only["endpoint"]["unit"] == second
    assert sp.roll(plan, found, {"started": [first, second]}) == {"canaries": [], "rest": []}
    # What alicia.platform.roll takes, nothing else.
    assert sorted(only) == ["backend", "endpoint", "instance", "server", "service", "unit"]


def test_with_canary_the_first_instance_rolled_of_each_service_is_its_canary(resolve):
    overrides = {"tts_service": {"instances": 3, "instance_ports": [9201, 9202, 9203]}}
    _, plan, _ = build(resolve, overrides, ["tts_service"])
    found = sp.followups(plan, {"changed_keys": ["tts_service"]})
    rolled = sp.roll(plan, found, {}, canary=True, canary_weight=10)
    assert [(r["instance"], r["weight"]) for r in rolled["canaries"]] == [("tts_service-1", 10)]
    assert [r["instance"] for r in rolled["rest"]] == ["tts_service-2", "tts_service-3"]
    assert not [r for r in rolled["rest"] if "weight" in r]
    rolled = sp.roll(plan, found, {}, canary=False, canary_weight=10)
    assert rolled["canaries"] == [] and len(rolled["rest"]) == 3
    # The first instance just started (nothing to drain): the next one rolled is the canary.
    rolled = sp.roll(plan, found, {"started": [found["instances_roll"][0]]}, canary=True, canary_weight=10)
    assert [r["instance"] for r in rolled["canaries"]] == ["tts_service-2"]
    assert [r["instance"] for r in rolled["rest"]] == ["tts_service-3"]


def test_the_roll_outcome_lists_the_instances_restarted_and_the_first_failure():
    skipped = {"skipped": True, "changed": False}
    # No canary, a good roll.
    assert sp.roll_outcome(skipped, [], {"rolled": ["a-1", "a-2"], "failed_instance": None}) == {
        "touched": ["a-1", "a-2"], "failure": {}}
    # An instance that did not turn healthy.
    bad = {"service": "a", "instance": "a-1", "msg": "a-1: not healthy"}
    assert sp.roll_outcome(skipped, [], {"rolled": ["a-1"], "failed_instance": bad}) == {
        "touched": ["a-1"], "failure": bad}
    # A canary that failed its window (the rest was not rolled); a skipped watch is no verdict.
    watches = [{"skipped": True, "_service_roll_canary": {"service": "b", "instance": "b-1"},
                "ansible_loop_var": "_service_roll_canary"},
               {"passed": False, "msg": "error rate 50 % over 1 %", "ansible_loop_var": "_service_roll_canary",
                "_service_roll_canary": {"service": "a", "instance": "a-1"}}]
    got = sp.roll_outcome({"rolled": ["a-1"], "failed_instance": None}, watches, skipped)
    assert got == {"touched": ["a-1"], "failure": {"service": "a", "instance": "a-1",
                                                   "msg": "error rate 50 % over 1 %"}}
    # A good canary, then the rest.
    good = [{"passed": True, "msg": "ok", "ansible_loop_var": "_service_roll_canary",
             "_service_roll_canary": {"service": "a", "instance": "a-1"}}]
    assert sp.roll_outcome({"rolled": ["a-1"], "failed_instance": None}, good,
                           {"rolled": ["a-2"], "failed_instance": None}) == {"touched": ["a-1", "a-2"], "failure": {}}
    # A canary that did not turn healthy: its roll's failure.
    assert sp.roll_outcome({"rolled": ["a-1"], "failed_instance": bad}, [], skipped)["failure"] == bad
    assert sp.roll_outcome(None, None, None) == {"touched": [], "failure": {}}


def test_the_failed_gate_marks_the_services_it_named_and_tails_their_logs(resolve, tmp_path):
    overrides = {"tts_service": {"instances": 2, "instance_ports": [9201, 9202]}}
    _, plan, _ = build(resolve, overrides, ["stt_service", "tts_service"],
                       settings={"gate_failed_dir": str(tmp_path / "gate")})
    # An instance's name stands for its service; a gate that named none marks the run's every service.
    assert sp.gate_failed_services(plan, ["tts_service-2"]) == ["tts_service"]
    assert sp.gate_failed_services(plan, ["stt_service", "other"]) == ["stt_service"]
    assert sp.gate_failed_services(plan, []) == ["stt_service", "tts_service"]
    argv = sp.gate_failed_argv(plan, ["tts_service-1"], {}, 7)
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[4:] == [str(tmp_path / "gate"), "7", str(tmp_path / "gate" / "tts_service"), "--",
                        "/var/log/alicia/tts_service-1.log", "/var/log/alicia/tts_service-2.log"]


def test_the_failed_gate_s_command_writes_the_markers_then_tails(tmp_path):
    """The script itself, run: markers written (their directory created), logs tailed, a missing log tolerated."""
    import subprocess
    log = tmp_path / "a.log"
    log.write_text("".join("line %d\n" % i for i in range(10)))
    gate = tmp_path / "state" / "gate"
    argv = ["/bin/sh", "-c", sp.GATE_FAILED_SCRIPT, "x", str(gate), "3", str(gate / "a"), str(gate / "b"), "--",
            str(log), str(tmp_path / "missing.log")]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert sorted(os.listdir(str(gate))) == ["a", "b"]
    assert "line 7\nline 8\nline 9\n" in proc.stdout and "line 6" not in proc.stdout
    assert "could not record" not in proc.stdout
    # A marker that cannot be written is said, and the logs are still shown.
    (tmp_path / "file").write_text("")
    argv = ["/bin/sh", "-c", sp.GATE_FAILED_SCRIPT, "x", str(tmp_path / "file"), "2", str(tmp_path / "file" / "a"),
            "--", str(log)]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert "could not record the failed gate under %s" % (tmp_path / "file") in proc.stdout
    assert "line 9" in proc.stdout
    # No log at all: no tail reading stdin.
    argv = ["/bin/sh", "-c", sp.GATE_FAILED_SCRIPT, "x", str(gate), "2", str(gate / "c"), "--"]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, universal_newlines=True, check=False,
                          timeout=10, input="stdin\n")
    assert (gate / "c").exists() and "stdin" not in proc.stdout


def test_a_rollback_of_some_instances_rolls_and_gates_only_them(resolve):
    overrides = {"tts_service": {"instances": 3, "instance_ports": [9201, 9202, 9203]}}
    _, plan, _ = build(resolve, overrides, ["tts_service"], settings={"instance": ["tts_service-1", "tts_service-3"]})
    found = sp.followups(plan, {"changed_keys": ["tts_service"]})
    assert found["instances_roll"] == ["alicia-tts_service-1.service", "alicia-tts_service-3.service"]
    assert [e["service"] for e in plan["endpoints"]] == ["tts_service-1", "tts_service-3", "tts_service"]
