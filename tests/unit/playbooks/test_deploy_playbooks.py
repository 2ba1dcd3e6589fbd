# -*- coding: utf-8 -*-
"""playbooks/deploy.yml and rollback.yml refuse a bad request before any
host is touched: every inventory host points at 127.0.0.1 port 9 over SSH,
where nothing listens, so a task that touched a host would come back
UNREACHABLE."""

import os
import subprocess
import sys

import pytest
import yaml

from test_preflight import INVENTORY


@pytest.fixture(scope="module")
def runs(tmp_path_factory, root, start_playbook):
    directory = tmp_path_factory.mktemp("deploy")
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    secrets = directory / "secrets.yml"
    subprocess.run([sys.executable, os.path.join(root, "scripts", "lab-secrets.py"), str(secrets)], check=True)
    base = ["-i", str(inventory), "-e", "@" + str(secrets)]
    cases = {
        "unknown": base + ["-e", "services=tts_service,nope", "playbooks/deploy.yml"],
        "strategy": base + ["-e", "services=tts_service", "-e", "strategy=yolo", "playbooks/deploy.yml"],
        "blue_green_single": base + ["-e", "services=tts_service", "-e", "strategy=blue_green",
                                    "playbooks/deploy.yml"],
        "canary_single": base + ["-e", "services=tts_service", "-e", "strategy=canary", "playbooks/deploy.yml"],
        "version": base + ["-e", "services=tts_service", "-e", "version=../x", "playbooks/deploy.yml"],
        "nothing": base + ["playbooks/deploy.yml"],
        "rollback_unknown": base + ["-e", "services=nope", "playbooks/rollback.yml"],
    }
    running = dict((name, start_playbook(args)) for name, args in cases.items())
    return dict((name, proc.wait_result()) for name, proc in running.items())


@pytest.mark.parametrize("case, message", [
    ("unknown", "services: nope is not a catalogue service"),
    ("strategy", "strategy must be one of direct, rolling, blue_green, canary, got 'yolo'"),
    ("blue_green_single", "strategy blue_green needs services with two slots behind the balancer: tts_service has "
                          "no field 'slot_ports'"),
    ("canary_single", "strategy canary needs services behind the balancer: tts_service runs one instance without "
                      "slots (field 'instances' more than 1"),
    ("version", "version '../x'"),
    ("nothing", "give exactly one of services"),
    ("rollback_unknown", "services: nope is not a catalogue service"),
])
def test_a_bad_request_fails_in_preflight_naming_the_field_and_touches_no_host(runs, case, message):
    proc = runs[case]
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert message in text.replace("\n", " "), text[-3000:]
    assert "unreachable=1" not in text and "UNREACHABLE" not in text, text[-3000:]
