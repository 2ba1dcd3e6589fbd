"""A crash-looping service fails alicia.platform.health_gate within a few
restarts, not at its timeout (issue 15 §3): a systemd unit and a supervisor
program of the deployed platform made to exit at start (the reference
service's ALICIA_FAULT_FAIL_AT_START), gated from the host itself with the
module's defaults (timeout 90 s, interval 1 s, max_restarts 2). Asserted on
counts (restarts, state reads, probes), never on wall time; the services are
restored and healthy again at the end of each test."""
import json
import os
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import health_of, resolved_catalogue, wait_until  # noqa: E402

HOST = "alicia-process_managers"
CATALOGUE = resolved_catalogue()
TIMEOUT = 90  # the gate's timeout: at an interval of 1 s, about 90 probes if it waited it out
# Far fewer than the timeout allows: the second exit comes after one RestartSec
# (5 s) on systemd, after supervisor's 1 s + 2 s retry waits; a read a second.
MOST_READS = 20


def url(name):
    return "http://127.0.0.1:%d/health" % CATALOGUE[name]["listen_port"]


def healthy(host, name):
    return (health_of(host, CATALOGUE[name]["listen_port"]) or {}).get("status") == "healthy"


def gate(*endpoints):
    """alicia.platform.health_gate on the host (ad hoc, JSON callback): the module's result."""
    args = {"endpoints": list(endpoints), "timeout": TIMEOUT}
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
           HOST, "-m", "alicia.platform.health_gate", "-a", json.dumps(args)]
    # The module count callback reports elsewhere than the idempotence run's count (a test reads that).
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1",
               ALICIA_MODULE_COUNT_FILE=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"],
                                                     "crashloop_count.json"))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          timeout=TIMEOUT + 120, check=False)
    # The JSON report, whatever other callbacks print around it.
    data, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{\n"):])
    return data["plays"][0]["tasks"][0]["hosts"][HOST]


def test_a_unit_that_exits_at_start_fails_the_gate_after_two_restarts(host):
    name = "personality_system"
    unit = CATALOGUE[name]["unit"]
    dropin = "/etc/systemd/system/%s.d" % unit
    assert healthy(host, name)
    try:
        host.run_expect([0], "mkdir -p %s && printf '[Service]\\nEnvironment=ALICIA_FAULT_FAIL_AT_START=1\\n' > "
                        "%s/crashloop-test.conf && systemctl daemon-reload && systemctl restart %s", dropin, dropin,
                        unit)
        result = gate({"service": name, "url": url(name), "unit": unit})
        assert result.get("failed") is True and result["unhealthy"] == [name], result
        process = result["results"][0]["process"]
        assert process["restarts"] == 2 and process["last_exit"] == "status=1/FAILURE", process
        assert result["state_reads"] <= MOST_READS and result["results"][0]["attempts"] <= MOST_READS, result
        assert ("unit %s keeps exiting, last exit status=1/FAILURE, 2 restarts since the gate started" % unit
                in result["msg"]), result["msg"]
        assert "last probe: connection refused" in result["msg"], result["msg"]
    finally:
        host.run("rm -rf %s && systemctl daemon-reload && systemctl reset-failed %s; systemctl restart %s",
                 dropin, unit, unit)
    assert wait_until(lambda: healthy(host, name), 60), "%s not healthy again" % name
    assert host.run("systemctl is-active %s", unit).stdout.strip() == "active"


def test_a_program_that_exits_at_start_fails_the_gate_in_backoff(host):
    name = "ai_service"
    program = "alicia-%s" % name
    conf = "/etc/supervisor/conf.d/%s.conf" % program
    saved = "/root/%s.conf.crashloop-test" % program
    assert healthy(host, name)
    try:
        host.run_expect([0], "cp -p %s %s && sed -i 's/^environment=.*/&,ALICIA_FAULT_FAIL_AT_START=\"1\"/' %s && "
                        "grep -q 'ALICIA_FAULT_FAIL_AT_START=\"1\"' %s && supervisorctl update", conf, saved, conf,
                        conf)
        result = gate({"service": name, "url": url(name), "program": program})
        assert result.get("failed") is True and result["unhealthy"] == [name], result
        process = result["results"][0]["process"]
        assert process["kind"] == "program" and process["crash_loop"], process
        assert result["state_reads"] <= MOST_READS and result["results"][0]["attempts"] <= MOST_READS, result
        assert "supervisor program %s keeps exiting (BACKOFF" % program in result["msg"], result["msg"]
    finally:
        host.run("cp -p %s %s && rm -f %s && supervisorctl update", saved, conf, saved)
    # RUNNING (past startsecs) as the other tests expect it, and healthy.
    assert wait_until(lambda: host.run("supervisorctl status %s", program).stdout.split()[1:2] == ["RUNNING"], 60), \
        host.run("supervisorctl status %s", program).stdout
    assert wait_until(lambda: healthy(host, name), 60), "%s not healthy again" % name
