"""Seed 004's TTS layout on app1 (vars/catalogue_overrides.yml): tts_service as
two instances (tts-primary on 127.0.0.1:9000, tts-secondary on 9001), each
with its engine settings, behind the local balancer (HAProxy) on the
published port 8003, reached by the other platform hosts.

Checked by behaviour: the target and instance units, who listens where,
what the firewall opens, each instance's /health (its name and settings),
its own log, an instance killed under load from app2 (no failed request),
one instance restarted alone by restart.yml, and the health sweep's rows.
Runs after test_multihost.py (file order) and leaves both instances up.
"""

import json
import os
import re
import sys
import time

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import get_host, resolved_catalogue, run_playbook, wait_until  # noqa: E402
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CATALOGUE = resolved_catalogue(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars/catalogue_overrides.yml"))
TTS = CATALOGUE["tts_service"]
APP1, APP2 = "alicia-multihost-app1", "alicia-multihost-app2"
INSTANCES = {"tts-primary": 9000, "tts-secondary": 9001}
PUBLISHED = 8003


@pytest.fixture(scope="module")
def app1():
    return get_host(APP1)


@pytest.fixture(scope="module")
def app2():
    return get_host(APP2)


@pytest.fixture(scope="module")
def app1_address(app1):
    return [a for a in app1.interface("eth0").addresses if ":" not in a][0]


def get(host, url):
    """GET url from host: the JSON body, or {"error": ...}."""
    script = ("import json, sys, urllib.request\n"
              "try:\n"
              "    print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())\n"
              "except Exception as exc:\n"
              "    print(json.dumps({'error': repr(exc)}))\n")
    return json.loads(host.check_output("/usr/bin/python3 -c %s %s", script, url))


def main_pid(host, unit):
    return int(host.service(unit).systemd_properties["MainPID"])


def both_serve(host, url, tries=20):
    seen = set()
    for _ in range(tries):
        seen.add(get(host, url).get("instance"))
    return seen >= set(INSTANCES)


def playbook(name, *args):
    """ansible-playbook playbooks/<name> on the scenario's inventory: (rc, output).
    Module counts go to a file of its own (module_count.json stays the idempotence run's)."""
    return run_playbook(os.path.join(PROJECT, "playbooks", name), *args, inventory=INVENTORY, timeout=600)


# ---- the catalogue the scenario deploys -------------------------------------------------

def test_the_catalogue_resolves_two_named_instances_with_their_settings():
    assert TTS["unit"] == "alicia-tts_service.target"
    assert [(i["name"], i["listen_port"], i["unit"], i["log"]) for i in TTS["instance_list"]] == [
        ("tts-primary", 9000, "alicia-tts-primary.service", "/var/log/alicia/tts-primary.log"),
        ("tts-secondary", 9001, "alicia-tts-secondary.service", "/var/log/alicia/tts-secondary.log")]


# ---- units, sockets, firewall --------------------------------------------------------------

def test_the_target_and_each_instance_unit_run_sandboxed(app1):
    target = app1.service("alicia-tts_service.target")
    assert target.is_enabled and target.is_running
    assert not app1.file("/etc/systemd/system/alicia-tts_service.service").exists
    for name in INSTANCES:
        unit = app1.service("alicia-%s.service" % name)
        assert unit.is_running and unit.is_enabled, name
        props = unit.systemd_properties
        assert props["PartOf"] == "alicia-tts_service.target", props["PartOf"]
        assert (props["User"], props["Group"]) == ("alicia", "alicia")
        assert props["MemoryMax"] == str(256 * 1024 * 1024) and props["CPUQuotaPerSecUSec"] == "500ms"
        assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
        assert app1.check_output("ps -o user= -p %s", props["MainPID"]).strip() == "alicia"


def test_instances_listen_on_localhost_and_the_balancer_on_the_published_port(app1):
    listening = app1.check_output("ss -Hltnp")
    for name, port in INSTANCES.items():
        assert re.search(r"127\.0\.0\.1:%d\b" % port, listening), (name, listening)
        assert not re.search(r"(0\.0\.0\.0|\*|\[::\]):%d\b" % port, listening), (name, listening)
    assert re.search(r"0\.0\.0\.0:%d\b" % PUBLISHED, listening), listening
    assert app1.service("haproxy").is_running
    ruleset = app1.check_output("nft list table inet alicia_filter")
    assert re.search(r"\b%d\b" % PUBLISHED, ruleset), ruleset
    for port in INSTANCES.values():
        assert not re.search(r"\b%d\b" % port, ruleset), ruleset


def test_another_platform_host_reaches_the_balanced_port_not_the_instances(app2, app1_address):
    body = get(app2, "http://%s:%d/health" % (app1_address, PUBLISHED))
    assert (body.get("status"), body.get("service")) == ("healthy", "tts_service"), body
    assert body.get("instance") in INSTANCES, body
    for port in INSTANCES.values():
        assert "error" in get(app2, "http://%s:%d/health" % (app1_address, port))


# ---- each instance: name, settings, config files, log ----------------------------------

def test_each_instance_reports_its_name_and_engine_settings(app1):
    primary = get(app1, "http://127.0.0.1:9000/health")
    secondary = get(app1, "http://127.0.0.1:9001/health")
    assert (primary["status"], primary["service"], primary["instance"]) == ("healthy", "tts_service", "tts-primary")
    assert primary["settings"] == {"engine_type": "hybrid", "enable_coqui": True, "log_level": "INFO",
                                   "coqui_model": "tts_models/en/ljspeech/tacotron2-DDC",
                                   "health_check_interval": 30}
    assert (secondary["status"], secondary["instance"]) == ("healthy", "tts-secondary")
    assert secondary["settings"]["engine_type"] == "espeak" and secondary["settings"]["enable_coqui"] is False
    assert secondary["settings"]["coqui_model"] == "tts_models/en/ljspeech/tacotron2-DDC"


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_instance_files_modes_and_own_log(app1, name):
    for path in ("/etc/alicia/%s.json" % name, "/etc/alicia/%s.env" % name):
        f = app1.file(path)
        assert (f.user, f.group, f.mode) == ("root", "alicia", 0o640), path
    assert 'SERVICE_BIND="127.0.0.1"' in app1.check_output("cat /etc/alicia/%s.env", name)
    pid = main_pid(app1, "alicia-%s.service" % name)
    # Its own pid file (seed 004's pid_file), the unit's main process.
    pid_file = app1.file("/run/alicia/%s.pid" % name)
    assert (pid_file.user, pid_file.content_string) == ("alicia", "%d\n" % pid), name
    log = app1.check_output("cat /var/log/alicia/%s.log", name)
    assert re.search(r" INFO %s\[%d\] HTTP listening on 127\.0\.0\.1:%d" % (name, pid, INSTANCES[name]), log), log[-2000:]
    assert "/var/log/alicia/%s.log" % name in app1.check_output("cat /etc/logrotate.d/alicia*")


# ---- an instance killed under load, one restarted alone -----------------------------------

# GET `url` `count` times over `seconds` from the host; a request fails when it
# raises or does not answer 200 healthy; answers counted by instance.
LOAD = r'''
import json, sys, time, urllib.request
url, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
result = {"requests": 0, "failed": 0, "errors": [], "by_instance": {}}
start = time.monotonic()
for i in range(count):
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            doc = json.load(reply)
        name = doc.get("instance", "?")
        result["by_instance"][name] = result["by_instance"].get(name, 0) + 1
        if reply.status != 200 or doc.get("status") != "healthy":
            result["failed"] += 1; result["errors"].append(str(doc)[:200])
    except Exception as exc:
        result["failed"] += 1; result["errors"].append(repr(exc))
    result["requests"] += 1
    time.sleep(max(0.0, start + (i + 1) * seconds / count - time.monotonic()))
result["elapsed_s"] = round(time.monotonic() - start, 2)
result["errors"] = result["errors"][:5]
print(json.dumps(result))
'''


def test_an_instance_killed_under_load_from_another_host_fails_no_request(app1, app2, app1_address):
    assert wait_until(lambda: both_serve(app2, "http://%s:%d/health" % (app1_address, PUBLISHED)), 30)
    before = main_pid(app1, "alicia-tts-primary.service")
    app2.run("cat > /tmp/alicia-tts-load.py <<'PY'\n%s\nPY" % LOAD)
    app2.run("rm -f /tmp/alicia-tts-load.json")
    app2.run("nohup /usr/bin/python3 /tmp/alicia-tts-load.py http://%s:%d/health 200 8 > /tmp/alicia-tts-load.json "
             "2>&1 &" % (app1_address, PUBLISHED))
    time.sleep(2)
    app1.check_output("systemctl kill --signal=KILL alicia-tts-primary.service")
    assert wait_until(lambda: app2.run("grep -q elapsed_s /tmp/alicia-tts-load.json").rc == 0, 60)
    result = json.loads(app2.check_output("cat /tmp/alicia-tts-load.json"))
    print("tts-primary killed (SIGKILL) 2 s into 200 requests over 8 s from app2 through %s:%d: %d failed; "
          "answers by instance: %s" % (app1_address, PUBLISHED, result["failed"], result["by_instance"]))
    assert result["requests"] == 200 and result["failed"] == 0, result
    assert result["by_instance"].get("tts-secondary", 0) > 100, result
    # systemd restarts the killed instance (Restart=on-failure) and the balancer takes it back.
    assert wait_until(lambda: main_pid(app1, "alicia-tts-primary.service") not in (0, before), 30)
    assert wait_until(lambda: both_serve(app2, "http://%s:%d/health" % (app1_address, PUBLISHED)), 30)


def test_restart_one_instance_leaves_the_other_serving(app1):
    primary = main_pid(app1, "alicia-tts-primary.service")
    secondary = main_pid(app1, "alicia-tts-secondary.service")
    rc, out = playbook("restart.yml", "-e", "service=tts_service", "-e", "instance=tts-secondary")
    assert rc == 0, out[-3000:]
    assert main_pid(app1, "alicia-tts-primary.service") == primary
    assert main_pid(app1, "alicia-tts-secondary.service") not in (0, secondary)
    assert get(app1, "http://127.0.0.1:9001/health")["status"] == "healthy"
    assert wait_until(lambda: both_serve(app1, "http://127.0.0.1:%d/health" % PUBLISHED), 30)


def test_restart_refuses_an_unknown_instance_before_touching_a_host(app1):
    before = main_pid(app1, "alicia-tts-primary.service")
    rc, out = playbook("restart.yml", "-e", "service=tts_service", "-e", "instance=tts-tertiary")
    assert rc != 0
    assert "restart: instance: service tts_service has no instance 'tts-tertiary'; " \
           "its instances are: tts-primary, tts-secondary" in out, out[-3000:]
    assert main_pid(app1, "alicia-tts-primary.service") == before


def test_a_stopped_balancer_is_put_back_by_the_next_run(app1):
    """The platform plan sees the balancer's unit: with haproxy stopped, a
    re-run of converge.yml runs the voice phase on app1, which starts it."""
    app1.check_output("systemctl stop haproxy.service")
    rc, out = run_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), inventory=INVENTORY)
    assert rc == 0, out[-3000:]
    assert app1.service("haproxy").is_running
    assert wait_until(lambda: both_serve(app1, "http://127.0.0.1:%d/health" % PUBLISHED), 30)


# ---- the health sweep -----------------------------------------------------------------------

def test_the_health_sweep_reports_each_instance_and_the_balanced_port(tmp_path):
    report = tmp_path / "health.json"
    rc, out = playbook("health.yml", "-e", "health_format=json", "-e", "health_output=%s" % report)
    assert rc == 0, out[-3000:]
    rows = [r for r in json.loads(report.read_text())["rows"] if r["service"] == "tts_service"]
    assert sorted((r["instance"], r["port"], r["host"], r["status"]) for r in rows) == [
        ("balanced", PUBLISHED, APP1, "healthy"), ("tts-primary", 9000, APP1, "healthy"),
        ("tts-secondary", 9001, APP1, "healthy")], rows
