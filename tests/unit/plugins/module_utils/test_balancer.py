# -*- coding: utf-8 -*-
"""plugins/module_utils/_balancer.py: the balancer role's input checks and
the services as haproxy.cfg is written from them."""

import re

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _balancer as bal


def tts(**fields):
    service = {"name": "tts_service", "port": 8003,
               "servers": [{"name": "tts_service-1", "port": 8031}, {"name": "tts_service-2", "port": 8032}]}
    service.update(fields)
    return service


def test_a_minimal_service_is_fine():
    assert bal.errors([tts()]) == []
    assert bal.errors([]) == []


def test_a_complete_service_is_fine():
    service = tts(bind="10.0.0.5", balance="leastconn",
                  health={"path": "/ready?full=1", "json_field": "state", "json_value": "ok"},
                  servers=[{"name": "tts-primary", "address": "127.0.0.1", "port": 8031, "weight": 256,
                            "state": "enabled"},
                           {"name": "tts-secondary", "address": "::1", "port": "8032", "weight": "0",
                            "state": "drain"},
                           {"name": "tts-remote", "address": "tts.example.org", "port": 8003, "state": "disabled"}])
    assert bal.errors([service]) == []


@pytest.mark.parametrize("fields,message", [
    ({"name": "tts service"}, "balancer: balancer_services[0]: name must be 1-64 characters"),
    ({"name": "-tts"}, "name must be 1-64 characters"),
    ({"name": "x" * 65}, "name must be 1-64 characters"),
    ({"port": 0}, "balancer: service 'tts_service': port (the published port) must be 1-65535, got 0"),
    ({"port": 70000}, "port (the published port) must be 1-65535, got 70000"),
    ({"port": "80a"}, "port (the published port) must be 1-65535, got \"80a\""),
    ({"port": True}, "port (the published port) must be 1-65535, got true"),
    ({"bind": "0.0.0.0/0"}, "bind must be an IPv4 or IPv6 address (0.0.0.0 for every address), got \"0.0.0.0/0\""),
    ({"bind": "localhost"}, "bind must be an IPv4 or IPv6 address"),
    ({"balance": "source"}, "balance must be one of roundrobin, leastconn, got \"source\""),
    ({"mode": "tcp"}, "balancer: service 'tts_service': unknown key(s) mode (known: name, port, bind, balance,"),
    ({"health": "/health"}, "health must be a mapping {path, json_field, json_value}, got \"/health\""),
    ({"health": {"path": "health"}}, "health.path must be an absolute URL path"),
    ({"health": {"path": "/he alth"}}, "health.path must be an absolute URL path"),
    ({"health": {"path": "/health#x"}}, "health.path must be an absolute URL path"),
    ({"health": {"path": '/h"'}}, "health.path must be an absolute URL path"),
    ({"health": {"json_field": "a.b"}}, "health.json_field must be a word of A-Z, a-z, 0-9, '_' and '-', got \"a.b\""),
    ({"health": {"json_value": '"x'}}, "health.json_value must be a word"),
    ({"health": {"status": 200}}, "health: unknown key(s) status (known: path, json_field, json_value)"),
    ({"servers": []}, "servers must be a non-empty list of {name, address, port, weight, state}, got []"),
    ({"servers": None}, "servers must be a non-empty list"),
    ({"servers": ["a"]}, "balancer: service 'tts_service': servers[0]: must be a mapping"),
])
def test_service_problems_name_the_service_and_field(fields, message):
    found = bal.errors([tts(**fields)])
    assert any(message in line for line in found), found


@pytest.mark.parametrize("server,message", [
    ({"name": "a b", "port": 1}, "servers[0]: name must be 1-64 characters"),
    ({"name": "s", "port": 0}, "server 's': port must be 1-65535, got 0"),
    ({"name": "s"}, "server 's': port must be 1-65535, got null"),
    ({"name": "s", "port": 1, "address": "not an address"}, "server 's': address must be an IPv4 or IPv6 address"),
    ({"name": "s", "port": 1, "address": "10.0.0.0/8"}, "address must be an IPv4 or IPv6 address or a host name"),
    ({"name": "s", "port": 1, "weight": 257}, "server 's': weight must be a whole number 0-256, got 257"),
    ({"name": "s", "port": 1, "weight": -1}, "weight must be a whole number 0-256, got -1"),
    ({"name": "s", "port": 1, "weight": 1.5}, "weight must be a whole number 0-256, got 1.5"),
    ({"name": "s", "port": 1, "state": "maint"}, "server 's': state must be one of enabled, disabled, drain, got \"maint\""),
    ({"name": "s", "port": 1, "backup": True}, "server 's': unknown key(s) backup (known: name, address, port,"),
])
def test_server_problems_name_the_service_server_and_field(server, message):
    found = bal.errors([tts(servers=[server])])
    assert any(message in line for line in found), found
    assert all(line.startswith("balancer: service 'tts_service': ") for line in found), found


def test_names_are_unique():
    found = bal.errors([tts(servers=[{"name": "a", "port": 1}, {"name": "a", "port": 2}]),
                        tts(port=8004, servers=[{"name": "b", "port": 3}])])
    assert found == [
        "balancer: service 'tts_service': server name 'a' is used more than once (servers[0], servers[1])",
        "balancer: service name 'tts_service' is used more than once (balancer_services[0], balancer_services[1])",
    ]


def test_a_backend_name_two_services_would_write_is_refused():
    blue_green = tts(slots=True, servers=[{"name": "blue", "port": 8031}, {"name": "green", "port": 8032}])
    for name in ("tts_service_blue", "tts_service_green", "tts_service_canary"):
        found = bal.errors([blue_green, tts(name=name, port=8004, servers=[{"name": "a", "port": 8041}])])
        assert found == ["balancer: balancer_services[1] (%s) field 'name': its backend %s is also the backend of "
                         "balancer_services[0] (tts_service)" % (name, name)], found
    # Other names, and the backends backends() writes, are distinct.
    services = [blue_green, tts(name="tts_service_red", port=8004, servers=[{"name": "a", "port": 8041}])]
    assert bal.errors(services) == []
    written = [server["backend"] for service in bal.backends(services) for server in service["servers"]]
    written += [service["canary_backend"] for service in bal.backends(services) if service.get("canary_backend")]
    assert sorted(written) == sorted(name for service in services for name in bal.backend_names(service))


def test_server_names_may_repeat_across_services():
    assert bal.errors([tts(), tts(name="stt_service", port=8001,
                                  servers=[{"name": "tts_service-1", "port": 8011}])]) == []


def test_no_port_is_used_twice_on_the_host():
    found = bal.errors([
        tts(servers=[{"name": "a", "port": 9001}, {"name": "b", "port": 8001}]),
        tts(name="stt", port=8001, servers=[{"name": "c", "port": 9001, "address": "localhost"},
                                            {"name": "d", "port": 9003, "address": "::1"}]),
        tts(name="ai", port=8003, servers=[{"name": "e", "port": 9004}]),
    ])
    assert found == [
        "balancer: port 8001 is used more than once on the host: service 'tts_service' server 'b', "
        "service 'stt' (published)",
        "balancer: port 8003 is used more than once on the host: service 'tts_service' (published), "
        "service 'ai' (published)",
        "balancer: port 9001 is used more than once on the host: service 'tts_service' server 'a', service 'stt' "
        "server 'c'",
    ]


def test_remote_servers_do_not_take_host_ports():
    assert bal.errors([tts(servers=[{"name": "a", "port": 8003, "address": "10.0.0.7"},
                                    {"name": "b", "port": 8003, "address": "10.0.0.8"}])]) == []
    # ...unless the address is one this host binds.
    found = bal.errors([tts(bind="10.0.0.7", servers=[{"name": "a", "port": 8003, "address": "10.0.0.7"}])])
    assert found == ["balancer: port 8003 is used more than once on the host: service 'tts_service' (published), "
                     "service 'tts_service' server 'a'"]


def test_ports_used_by_others_on_the_host():
    found = bal.errors([tts()], used_ports={"8031": "service 'ai_service'", 1883: "mqtt_broker", 8003: "old"})
    assert found == [
        "balancer: port 8003 of service 'tts_service' (published) is already used on the host by old",
        "balancer: port 8031 of service 'tts_service' server 'tts_service-1' is already used on the host by "
        "service 'ai_service'",
    ]
    assert bal.errors([tts()], used_ports=[8003]) == [
        "balancer: used_ports must be a mapping of port to what uses it, got [8003]"]


def test_not_a_list():
    assert bal.errors({"name": "x"}) == ['balancer: balancer_services must be a list of services, got {"name": "x"}']


SETTINGS = {
    "check_inter": "1s", "check_fastinter": "250ms", "check_downinter": "1s", "check_rise": 2, "check_fall": 2,
    "retries": 3, "retry_on": "conn-failure empty-response junk-response", "maxconn": 4096,
    "hard_stop_after": "5m", "log_level": "notice", "extra_global": ["tune.bufsize 32768"], "extra_defaults": [],
    "timeouts": {"connect": "1s", "client": "30s", "server": "30s", "http-request": "10s", "check": "2s"},
}


def test_the_role_defaults_are_fine():
    assert bal.errors([tts()], SETTINGS) == []


@pytest.mark.parametrize("key,value,message", [
    ("check_inter", "1 s", "balancer_check_inter must be an HAProxy time (a number with us, ms, s, m, h or d), got \"1 s\""),
    ("check_inter", 1000, "balancer_check_inter must be an HAProxy time"),
    ("hard_stop_after", "", "balancer_hard_stop_after must be an HAProxy time"),
    ("check_fall", 0, "balancer_check_fall must be a whole number >= 1, got 0"),
    ("retries", -1, "balancer_retries must be a whole number >= 0, got -1"),
    ("maxconn", "many", "balancer_maxconn must be a whole number >= 1, got \"many\""),
    ("retry_on", "conn-failure sometimes", "balancer_retry_on must be space-separated keywords of none, conn-failure"),
    ("retry_on", "", "balancer_retry_on must be space-separated keywords"),
    ("log_level", "verbose", "balancer_log_level must be one of emerg, alert, crit, err, warning, notice, info, debug"),
    ("extra_global", "maxconn 10", "balancer_extra_global must be a list of haproxy.cfg lines, got \"maxconn 10\""),
    ("extra_defaults", ["option httplog", "a\nb"], "balancer_extra_defaults item 2 must be one non-empty line"),
    ("extra_defaults", [" "], "balancer_extra_defaults item 1 must be one non-empty line"),
    ("timeouts", {"connect": "1 s"}, "balancer_timeouts.connect must be an HAProxy time"),
    ("timeouts", {"forever": "1s"}, "balancer_timeouts: unknown timeout \"forever\" (known: connect, client"),
    ("timeouts", "1s", "balancer_timeouts must be a mapping of HAProxy timeout name to time"),
    ("colour", "blue", "balancer: unknown setting(s) colour (known: check_inter"),
])
def test_setting_problems_name_the_variable(key, value, message):
    found = bal.errors([tts()], dict(SETTINGS, **{key: value}))
    assert len(found) == 1 and message in found[0], found


# ---- backends --------------------------------------------------------------------

def test_backends_fill_the_defaults():
    backends = bal.backends([tts(servers=[{"name": "a", "port": "8031"},
                                          {"name": "b", "port": 8032, "weight": 30, "state": "drain", "address": "::1"},
                                          {"name": "c", "port": 8033, "state": "disabled"}])])
    assert backends == [{
        "name": "tts_service", "port": 8003, "bind": "0.0.0.0", "listen": "0.0.0.0:8003", "balance": "roundrobin",
        "health": {"path": "/health", "json_field": "status", "json_value": "healthy"},
        "expect": '"\\"status\\" *: *\\"healthy\\""',
        "slots": False,
        "servers": [
            {"name": "a", "address": "127.0.0.1", "port": 8031, "weight": 100, "state": "enabled",
             "endpoint": "127.0.0.1:8031", "config_weight": 100, "backend": "tts_service"},
            {"name": "b", "address": "::1", "port": 8032, "weight": 30, "state": "drain",
             "endpoint": "[::1]:8032", "config_weight": 0, "backend": "tts_service"},
            {"name": "c", "address": "127.0.0.1", "port": 8033, "weight": 100, "state": "disabled",
             "endpoint": "127.0.0.1:8033", "config_weight": 100, "backend": "tts_service"},
        ],
    }]


def test_a_blue_green_service_has_a_backend_per_slot_and_a_canary_backend_of_both():
    (backend,) = bal.backends([tts(slots=True, servers=[{"name": "blue", "port": 9020},
                                                        {"name": "green", "port": 9021}])])
    assert backend["slots"] is True and backend["canary_backend"] == "tts_service_canary"
    assert [(server["name"], server["backend"]) for server in backend["servers"]] == [
        ("blue", "tts_service_blue"), ("green", "tts_service_green")]
    assert "canary_backend" not in bal.backends([tts(servers=[{"name": "a", "port": 8031}])])[0]


def test_backends_ipv6_bind_and_own_health():
    backend = bal.backends([tts(bind="::", health={"json_field": "state", "json_value": "UP"})])[0]
    assert backend["listen"] == "[::]:8003"
    assert backend["health"] == {"path": "/health", "json_field": "state", "json_value": "UP"}
    assert backend["expect"] == '"\\"state\\" *: *\\"UP\\""'


def test_the_health_regex_reads_the_json_status():
    """What HAProxy gets once it unquotes the argument matches the reference
    service's /health (and compact JSON), not an unhealthy answer."""
    argument = bal.health_expect("status", "healthy")
    regex = re.compile(argument[1:-1].replace('\\"', '"'))
    assert regex.search('{"broker_connected": true, "status": "healthy", "version": "1.0.0"}')
    assert regex.search('{"status":"healthy"}')
    assert not regex.search('{"broker_connected": false, "status": "unhealthy"}')
    assert not regex.search('{"detail": "healthy", "status": "starting"}')


def test_backends_refuse_bad_services():
    with pytest.raises(bal.BalancerError, match="balancer: service 'tts_service': port"):
        bal.backends([tts(port=0)])
