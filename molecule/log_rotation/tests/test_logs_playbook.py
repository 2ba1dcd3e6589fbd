"""playbooks/logs.yml against the scenario's host: error counts in the
window, the export to the controller, warnings and failures over threshold."""

import json
import os
import subprocess
import sys

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

PLAYBOOK = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "logs.yml")
INVENTORY = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
AI_LOG = "/var/log/alicia/ai_service.log"


def run_logs(host_name, *extra):
    command = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, "-l", host_name, PLAYBOOK]
    for item in extra:
        command += ["-e", json.dumps(item)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def seeded(host):
    """Errors two hours old (outside the window) and recent ones, in the
    ai_service log file and in voice_router's journal."""
    host.check_output(
        "old=$(date -d '-2 hours' '+%%Y-%%m-%%d %%H:%%M:%%S'); now=$(date '+%%Y-%%m-%%d %%H:%%M:%%S');"
        " { for i in 1 2 3 4 5 6; do echo \"$old,001 - ai_service - ERROR - old failure $i\"; done;"
        "   for i in 1 2 3; do echo \"$now,001 - ai_service - ERROR - recent failure $i\";"
        "     echo '  File \"ai.py\", line 7, in handle'; done;"
        "   echo \"$now,500 - ai_service - CRITICAL - model unavailable\";"
        "   echo \"$now,600 - ai_service - INFO - request served\"; } >> %s", AI_LOG)
    host.check_output(
        "systemd-run --quiet --wait --unit=alicia-voice_router --description='stand-in voice_router'"
        " /bin/sh -c 'echo \"ERROR: stt timeout\"; echo \"routing ok\"'")
    return host.backend.get_hostname()


def test_report_counts_exports_and_warns(seeded, tmp_path):
    result = run_logs(seeded, {
        "logs_window_minutes": 10, "logs_error_threshold": 3,
        "logs_error_thresholds": {"voice_router": 0, "mqtt_broker": 1000},
        "logs_export_dir": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: error threshold passed" in result.stdout
    assert "ai_service: 4 errors in the last 10 min (threshold 3)" in result.stdout

    report = json.loads((tmp_path / seeded / "report.json").read_text())
    ai = report["services"]["ai_service"]
    # 3 ERROR + 1 CRITICAL in the window; the 6 old errors are outside it.
    assert (ai["errors"], ai["file_errors"], ai["journal_errors"]) == (4, 4, 0)
    assert ai["lines"] == 8 and ai["exists"] and ai["size"] > 0
    router = report["services"]["voice_router"]
    assert router["journal_errors"] == 1 and router["file_errors"] == 0
    assert sorted(report["over_threshold"]) == ["ai_service", "voice_router"]
    # Every log of the host is reported: the voice services and the broker.
    assert set(report["services"]) == {"stt_service", "ai_service", "tts_service", "voice_router", "mqtt_broker"}

    exported = (tmp_path / seeded / "ai_service.log").read_text()
    assert "recent failure 3" in exported and "model unavailable" in exported
    assert "old failure" not in exported
    assert "ERROR: stt timeout" in (tmp_path / seeded / "voice_router.log").read_text()
    # The archives are cleaned up on both sides.
    assert not (tmp_path / (seeded + ".tar.gz")).exists()


def test_report_fails_over_threshold(seeded, tmp_path):
    result = run_logs(seeded, {
        "logs_window_minutes": 10, "logs_error_threshold": 3,
        "logs_error_thresholds": {"mqtt_broker": 1000},
        "logs_fail_on_threshold": True, "logs_export": False,
        "logs_export_dir": str(tmp_path)})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Error threshold passed: ai_service: 4 errors" in output
    assert "model unavailable" in output
    assert not any(tmp_path.iterdir())


def test_report_passes_under_threshold(seeded, tmp_path):
    result = run_logs(seeded, {
        "logs_window_minutes": 10, "logs_error_threshold": 5,
        "logs_error_thresholds": {"mqtt_broker": 1000},
        "logs_fail_on_threshold": True, "logs_export": False})
    assert result.returncode == 0, result.stdout
    assert "WARNING" not in result.stdout
