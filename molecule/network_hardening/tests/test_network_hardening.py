"""network_hardening: the firewall and sysctl hardening, checked by behaviour.

The hardened host runs real listeners (prepare.yml); the client container,
on the same Molecule network, connects to them.
"""

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import testinfra

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")
sys.path.insert(0, os.path.join(PROJECT, "molecule", "_lib"))
from alicia_molecule import probe, run_playbook  # noqa: E402

HARDENED = "alicia-network_hardening"
CLIENT = "alicia-network_hardening-client"
testinfra_hosts = ["docker://" + HARDENED]

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
CONVERGE = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
TABLE = "alicia_filter"
RULESET = "/etc/nftables/alicia.nft"
NFTABLES_CONF = "/etc/nftables.conf"
SYSCTL_FILE = "/etc/sysctl.d/60-alicia-network-hardening.conf"

# port -> what the client must see. "open": accepted and listening;
# "refused": accepted, nothing listens (the host answers RST); "timeout":
# dropped by the firewall although something listens.
EXPECTED = {
    22: "refused",   # SSH, always accepted (no sshd in the image)
    1883: "open",    # mqtt_broker, platform networks
    8009: "open",    # security_gateway, client networks
    8026: "open",    # config_service, platform networks
    8010: "timeout",  # device_registry, CIDRs that exclude the client
    9100: "open",    # network_hardening_extra_rules
    9200: "open",    # drop-in file (prepare.yml)
    9300: "open",    # drop-in of another play, reloaded by its notification (converge.yml)
    9301: "refused",  # the same drop-in: listening, refused with a reset
    9999: "timeout",  # listening, allowed by nothing
}

@pytest.fixture(scope="module")
def client():
    return testinfra.get_host("docker://" + CLIENT)


@pytest.fixture(scope="module")
def address(host):
    addresses = [a for a in host.interface("eth0").addresses if ":" not in a]
    assert addresses, "the hardened host has no IPv4 address on eth0"
    return addresses[0]


@pytest.fixture(scope="module")
def reachability(client, address):
    """port -> open, refused or timeout, connecting from the client to each port of EXPECTED on the host."""
    found = probe(client, ["%s:%d" % (address, port) for port in EXPECTED])
    return dict((port, found["%s:%d" % (address, port)]) for port in EXPECTED)


@pytest.fixture(scope="module")
def table(host):
    data = json.loads(host.check_output("nft -j list table inet %s", TABLE))["nftables"]
    chains = {o["chain"]["name"]: o["chain"] for o in data if "chain" in o}
    sets = {o["set"]["name"]: o["set"] for o in data if "set" in o}
    rules = {}
    for o in data:
        if "rule" in o:
            rules.setdefault(o["rule"]["chain"], []).append(o["rule"])
    return {"chains": chains, "sets": sets, "rules": rules}


def snapshot(host):
    """The running ruleset and the installed files, to compare around a failed run."""
    return {
        "ruleset": host.check_output("nft list ruleset"),
        "files": {p: hashlib.sha256(host.file(p).content).hexdigest() for p in (RULESET, NFTABLES_CONF)},
    }


def run_converge(extra_vars):
    """Run converge.yml again with bad variables; return (rc, output on one line)."""
    rc, out = run_playbook(CONVERGE, "--limit", HARDENED, extra_vars=extra_vars, inventory=INVENTORY, timeout=300,
                           env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    return rc, " ".join(out.split())


def test_listeners_answer_on_the_hardened_host_itself(host):
    # Every test listener answers over loopback: a "timeout" from the client
    # is then the firewall, not a missing listener.
    listeners = ["127.0.0.1:%d" % p for p in EXPECTED if p != 22]
    assert probe(host, listeners) == dict.fromkeys(listeners, "open")


@pytest.mark.parametrize("port,state", sorted(EXPECTED.items()))
def test_client_reaches_only_the_allowed_ports(reachability, port, state):
    assert reachability[port] == state, "port %d from the client" % port


def test_input_policy_drop_with_ssh_first(table):
    chain = table["chains"]["input"]
    assert (chain["type"], chain["hook"], chain["policy"]) == ("filter", "input", "drop")
    first = table["rules"]["input"][0]
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}} in first["expr"]
    assert first["expr"][-1] == {"accept": None}
    assert len(first["expr"]) == 2, "SSH from anywhere: no source match when network_hardening_ssh_sources is empty"


def test_output_policy_accept(table):
    chain = table["chains"]["output"]
    assert (chain["hook"], chain["policy"]) == ("output", "accept")


def test_state_loopback_and_rate_limited_icmp(host):
    chain = host.check_output("nft list chain inet %s input", TABLE)
    for rule in (
        "ct state established,related accept",
        "ct state invalid drop",
        'iif "lo" accept',
        "icmp type echo-request limit rate 10/second burst 20 packets accept",
        "icmpv6 type echo-request limit rate 10/second burst 20 packets accept",
        "jump input_extra",
    ):
        assert rule in chain


def test_sources_split_by_family(table, address):
    def elements(name):
        return [e["prefix"]["addr"] + "/" + str(e["prefix"]["len"]) if isinstance(e, dict) and "prefix" in e else e
                for e in table["sets"][name].get("elem", [])]

    assert table["sets"]["platform_v4"]["type"] == "ipv4_addr"
    assert table["sets"]["platform_v6"]["type"] == "ipv6_addr"
    assert elements("platform_v6") == ["fd00:a1c1:10::/64"]
    assert not any(":" in e for e in elements("platform_v4"))
    assert elements("svc_device_registry_v4") == ["192.0.2.0/24"]
    assert elements("svc_device_registry_v6") == ["2001:db8:a1c1::/48"]
    assert elements("ssh_v4") == [] and elements("ssh_v6") == []


def test_catalogue_rules_name_their_service(host):
    chain = host.check_output("nft list chain inet %s input", TABLE)
    assert 'tcp dport 1883 ip saddr @platform_v4 accept comment "mqtt_broker (platform)"' in chain
    assert 'tcp dport 8009 ip saddr @clients_v4 accept comment "security_gateway (clients)"' in chain
    assert 'tcp dport 8010 ip6 saddr @svc_device_registry_v6 accept comment "device_registry (cidrs)"' in chain
    # Not on this host's groups: no rule (voice_router runs on alicia_voice).
    assert "8004" not in chain


def test_nftables_service_enabled_active_and_stop_spares_other_tables(host):
    service = host.service("nftables")
    assert service.is_enabled
    assert service.is_running or service.systemd_properties["ActiveState"] == "active"
    stop = service.systemd_properties["ExecStop"]
    assert "delete table inet %s" % TABLE in stop and "flush" not in stop


def test_config_files(host):
    conf = host.file(NFTABLES_CONF)
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o755)
    assert 'include "%s"' % RULESET in conf.content_string
    assert not [line for line in conf.content_string.splitlines() if line.strip().startswith("flush")]
    ruleset = host.file(RULESET)
    assert (ruleset.user, ruleset.group, ruleset.mode) == ("root", "root", 0o640)


def test_a_drop_in_of_another_play_is_live(host):
    # converge.yml's second play wrote it and notified
    # `network_hardening: reload firewall`: the reload put its rules in the
    # running ruleset (the client's view is in EXPECTED: 9300 open, 9301 refused).
    assert host.file("/etc/nftables.d/60-converge.nft").exists
    ruleset = host.check_output("nft list ruleset")
    assert 'tcp dport 9300 accept comment "converge drop-in"' in ruleset
    assert 'tcp dport 9301 reject with tcp reset comment "converge drop-in"' in ruleset


def test_reload_keeps_other_tables(host):
    # A table of someone else (docker's iptables-nft rules, for one).
    host.check_output("nft add table ip alicia_test_foreign")
    try:
        host.check_output("nft add chain ip alicia_test_foreign keep")
        before = host.check_output("nft list table inet %s", TABLE)
        host.check_output("systemctl reload nftables")
        assert "keep" in host.check_output("nft list table ip alicia_test_foreign")
        assert host.check_output("nft list table inet %s", TABLE) == before
    finally:
        host.run("nft delete table ip alicia_test_foreign")


BAD_RUNS = {
    # nft rejects it: fails at the `nft -c` validate step.
    "rule": {"network_hardening_extra_rules": ["tcp dport 7777 acept"]},
    # Malformed CIDR: fails in preflight, naming the variable.
    "cidr": {"network_hardening_client_networks": ["10.0.0.300/24"]},
    # Unknown allow_from: fails in preflight, naming the service and field.
    "allow_from": {"catalogue_overrides": {"config_service": {"firewall": {"allow_from": "everyone"}}}},
}


@pytest.fixture(scope="module")
def bad_runs(host):
    """Run converge.yml with each bad variable (in parallel: none changes anything)."""
    before = snapshot(host)
    with ThreadPoolExecutor(len(BAD_RUNS)) as pool:
        results = dict(zip(BAD_RUNS, pool.map(run_converge, BAD_RUNS.values())))
    return {"before": before, "after": snapshot(host), "results": results}


@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_bad_variable_fails_and_leaves_the_running_rules(bad_runs, case):
    rc, out = bad_runs["results"][case]
    assert rc != 0, out
    assert bad_runs["after"] == bad_runs["before"], "running ruleset or installed files changed"


def test_bad_rule_message_shows_nft_error(bad_runs):
    _, out = bad_runs["results"]["rule"]
    assert "failed `nft -c`" in out and "the running rules are unchanged" in out, out
    assert "acept" in out, "nft's own message is shown"


def test_bad_cidr_message_names_the_variable(bad_runs):
    _, out = bad_runs["results"]["cidr"]
    assert "network_hardening_client_networks must list IPv4/IPv6 addresses or CIDRs" in out, out
    assert "not valid: 10.0.0.300/24" in out, out


def test_bad_allow_from_message_names_the_service_and_field(bad_runs):
    _, out = bad_runs["results"]["allow_from"]
    assert "service 'config_service'" in out and "firewall.allow_from" in out and "everyone" in out, out


def test_sysctl_persisted_and_applied_where_the_kernel_allows(host):
    f = host.file(SYSCTL_FILE)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    persisted = dict((k.strip(), v.strip()) for k, v in
                     (line.split("=", 1) for line in f.content_string.splitlines() if "=" in line and not line.startswith("#")))
    expected = {
        "net.ipv4.conf.all.rp_filter": "1",
        "net.ipv4.conf.all.accept_redirects": "0",
        "net.ipv4.conf.all.send_redirects": "0",
        "net.ipv4.conf.all.accept_source_route": "0",
        "net.ipv4.conf.all.log_martians": "1",
        "net.ipv4.tcp_syncookies": "1",
        "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    }
    for key, value in expected.items():
        assert persisted.get(key) == value, key
        path = "/proc/sys/" + key.replace(".", "/")
        # Applied where writable; otherwise (read-only /proc/sys in this
        # container) skipped, which is what the role reports.
        if host.run("test -w %s", path).rc == 0:
            assert host.sysctl(key) == int(value), key
        else:
            assert "ro" in host.check_output("findmnt -no OPTIONS /proc/sys").split(","), key
