"""benchmarks/parts/health_gate.py: seed 000's health_check.sh rewritten to the benchmark's host and ports."""

import subprocess

from parts import health_gate


def test_the_seed_loop_with_the_ports_and_host_filled_in():
    script = health_gate.seed_sweep_script([("security_gateway", 8009), ("tts_service", 8003)], "172.30.57.2")
    assert '  "8009:Security Gateway"\n  "8003:Tts Service"\n)' in script
    assert "curl -s -f http://172.30.57.2:$port/health > /dev/null" in script
    assert 'for service in "${services[@]}"; do' in script


def test_the_sweep_reports_each_endpoint(tmp_path):
    server = health_gate.start_server("security_gateway")
    try:
        closed = health_gate.start_server("gone")
        closed_port = closed.server_address[1]
        closed.shutdown()
        closed.server_close()
        path = tmp_path / "health_check.sh"
        path.write_text(health_gate.seed_sweep_script(
            [("security_gateway", server.server_address[1]), ("tts_service", closed_port)], "127.0.0.1"))
        out = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=30).stdout
    finally:
        server.shutdown()
        server.server_close()
    assert "OK Security Gateway (Port %d) - Healthy" % server.server_address[1] in out
    assert "FAIL Tts Service (Port %d) - Unhealthy" % closed_port in out
