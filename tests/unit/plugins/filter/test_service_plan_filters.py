# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/filter/service_plan.py: the filters the service role's vars call,
through Ansible's own templar (the role's vars file), and their errors."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.alicia.platform.plugins.filter.service_plan import FilterModule

FILTERS = FilterModule().filters()
GROUPS = {"alicia_voice": ["v1"], "alicia_broker": ["b1"]}
HOSTVARS = {"b1": {"alicia_address": "10.0.0.1"}, "v1": {"alicia_address": "10.0.0.2"}}


def test_every_filter_has_its_documentation(root):
    import os
    for name in FILTERS:
        assert os.path.exists(os.path.join(root, "plugins", "filter", name + ".yml")), name


@pytest.mark.parametrize("runtime, runner", [("systemd", "unit"), ("docker", "container"),
                                             ("supervisor", "program"), ("manual", None)])
def test_plan_files_and_followups_through_the_filters(resolve, runtime, runner):
    catalogue = resolve({"stt_service": {"runtime": runtime}})
    plan = FILTERS["service_plan"](catalogue, ["stt_service"], ["alicia_voice"], "v1", groups=GROUPS,
                                   settings={"restart_sec": "7"})
    (endpoint,) = plan["endpoints"]
    assert [k for k in ("unit", "container", "program") if k in endpoint] == ([runner] if runner else [])
    files = FILTERS["service_files"](plan, catalogue, secrets={"stt_service": {"MQTT_PASSWORD": "pw"}},
                                     mqtt_broker="10.0.0.1", hostvars=HOSTVARS, groups=GROUPS)
    changed = sorted(set(f["key"] for f in files if f.get("key")))
    follow = FILTERS["service_followups"](plan, {"changed_keys": changed}, {})
    assert any(follow.values())
    work = FILTERS["service_plan_work"](plan, files={"changed_keys": ["stt_service"]})
    assert work == {"services": ["stt_service"], "phases": ["voice"]}
    assert FILTERS["service_restart_report"](plan)[0].startswith("stt_service on v1: unchanged")
    assert FILTERS["service_unhealthy_logs"](plan, ["stt_service"], {}) in ([], ["/var/log/alicia/stt_service.log"])
    argv = FILTERS["service_gate_failed_argv"](plan, ["stt_service"], {}, 5)
    assert argv[:2] == ["/bin/sh", "-c"] and argv[argv.index("--") - 1] == "/var/lib/alicia/gate-failed/stt_service"
    assert FILTERS["service_remote_endpoints"](plan, catalogue, HOSTVARS, GROUPS) == []


def test_errors_become_filter_errors_naming_the_service(resolve):
    catalogue = resolve()
    with pytest.raises(AnsibleFilterError, match="unknown service 'nope'"):
        FILTERS["service_plan"](catalogue, ["nope"], ["alicia_voice"], "v1")
    plan = FILTERS["service_plan"](catalogue, ["stt_service"], ["alicia_voice"], "v1")
    with pytest.raises(AnsibleFilterError, match="stt_service.*MQTT_PASSWORD"):
        FILTERS["service_files"](plan, catalogue, secrets={}, mqtt_broker="10.0.0.1")


def test_the_role_s_vars_reach_the_plan_with_ansible_s_templar(render_with_templar):
    """roles/service/vars/main.yml holds plain references: the role's settings reach the plan."""
    files = ["roles/catalogue/defaults/main.yml", "roles/service/defaults/main.yml", "roles/service/vars/main.yml"]
    variables = {"group_names": ["alicia", "alicia_voice"], "inventory_hostname": "v1", "service_phase": "voice",
                 "groups": GROUPS, "hostvars": HOSTVARS, "service_restart_sec": 9, "service_install_dir": "/srv/a",
                 "catalogue_secrets": dict((n, {"MQTT_PASSWORD": "pw"}) for n in
                                           ("stt_service", "ai_service", "tts_service", "voice_router"))}
    got = render_with_templar(files, variables, {"plan": "_service_plan", "files": "_service_files",
                                                 "follow": "_service_followups"})
    assert got["plan"]["names"] == ["stt_service", "ai_service", "tts_service", "voice_router"]
    assert got["plan"]["settings"]["restart_sec"] == 9
    unit = [f for f in got["files"] if f["path"] == "/etc/systemd/system/alicia-stt_service.service"][0]
    assert unit["vars"]["home"] == "/srv/a/stt_service"
    assert got["follow"]["units_restart"] == []


def test_the_role_s_vars_file_holds_no_jinja_statement(root):
    import os
    with open(os.path.join(root, "roles", "service", "vars", "main.yml")) as handle:
        text = handle.read()
    assert "{%" not in text and "regex_replace" not in text
