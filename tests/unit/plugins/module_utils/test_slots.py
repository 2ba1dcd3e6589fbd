# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green slots (module_utils/_slots.py, the module alicia.platform.slots):
the map file, the decision, and reconcile against fakes of systemctl,
HAProxy's runtime API, the health gate and the clock. Links, environment
files and the map file are real files under tmp_path; no real time passes
(time.sleep is made to fail)."""

import os
import stat
import time

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _service_plan as sp
from ansible_collections.alicia.platform.plugins.module_utils import _slots as slots
from ansible_collections.alicia.platform.plugins.module_utils._haproxy import HAProxyError

SERVICE = "tts_service"
ENV = b"SERVICE_NAME=tts_service\nSERVICE_VERSION=2.0.0\nMQTT_PASSWORD=s3cret\n"
OLD_ENV = b"SERVICE_NAME=tts_service\nSERVICE_VERSION=1.0.0\nMQTT_PASSWORD=s3cret\n"
SERVERS_HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
                  "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
                  "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord")
STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,status,hrsp_2xx,hrsp_5xx"


@pytest.fixture(autouse=True)
def no_real_time(monkeypatch):
    """Every wait goes through the fake clock: a real sleep is a test bug."""
    def refuse(seconds):
        raise AssertionError("real time.sleep(%r) called" % (seconds,))
    monkeypatch.setattr(time, "sleep", refuse)


# ---- fakes ---------------------------------------------------------------------------------

class Clock(object):
    """A monotonic clock that only moves when slept on."""

    def __init__(self, events):
        self.now = 1000.0
        self.events = events
        self.slept = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds
        self.slept += seconds


class Systemd(object):
    """``run(argv)``: answers ``systemctl show`` from ``units`` and applies the verbs to it."""

    STATES = {"restart": ("active", None), "start": ("active", None), "stop": ("inactive", None),
              "enable": (None, "enabled"), "disable": (None, "disabled")}

    def __init__(self, events, units=None, fail=()):
        self.events = events
        self.units = dict((name, dict(value)) for name, value in (units or {}).items())
        self.fail = set(fail)
        self.calls = []

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        assert argv[0] == "systemctl", argv
        if argv[1] == "show":
            names = [arg for arg in argv[2:] if not arg.startswith("--")]
            assert "--property=Id,ActiveState,UnitFileState" in argv
            blocks = []
            for name in names:
                unit = self.units.get(name, {"active": "inactive", "enabled": "disabled"})
                blocks.append("Id=%s\nActiveState=%s\nUnitFileState=%s" % (name, unit["active"], unit["enabled"]))
            return 0, "\n\n".join(blocks) + "\n", ""
        verb, name = argv[1], argv[2]
        self.events.append(("systemctl", verb, name))
        if (verb, name) in self.fail:
            return 1, "", "Job for %s failed." % name
        active, enabled = self.STATES[verb]
        unit = self.units.setdefault(name, {"active": "inactive", "enabled": "disabled"})
        if active:
            unit["active"] = active
        if enabled:
            unit["enabled"] = enabled
        return 0, "", ""

    def verbs(self):
        """Every systemctl call but ``show``, as ``verb unit``."""
        return ["%s %s" % (argv[1], argv[2]) for argv in self.calls if argv[1] != "show"]


class HAProxy(object):
    """The runtime API: ``command(line)`` as HAProxy answers it.

    ``backends``: backend -> {server: polls before its checks see it up (0: up now, None: never)};
    ``scur``: backend -> the current sessions ``show stat`` reports, one value per read (the last repeats);
    ``runtime_map``: the map's entries HAProxy holds (None: the map is not loaded)."""

    def __init__(self, events, backends=None, scur=None, runtime_map=None, reachable=True, map_path=None,
                 answered=None):
        self.events = events
        self.backends = backends or {}
        self.scur = dict((k, list(v)) for k, v in (scur or {}).items())
        # (backend, server) -> (2xx, 5xx) answered so far, one pair per `show stat` read (the last repeats).
        self.answered = dict((k, list(v)) for k, v in (answered or {}).items())
        self.runtime_map = runtime_map
        self.reachable = reachable
        self.map_path = map_path
        self.commands = []
        self.polls = {}
        self.map_file_at_set = []

    def command(self, line):
        self.commands.append(line)
        self.events.append(("api", line))
        if not self.reachable:
            raise HAProxyError("cannot connect to the HAProxy runtime API at /run/haproxy/admin.sock")
        words = line.split()
        if line == "show info":
            return "Name: HAProxy\nVersion: 2.6.12\nPid: 7\n"
        if line == "show servers state":
            lines = ["1", SERVERS_HEADER]
            for backend in sorted(self.backends):
                lines += self._servers_state(backend).rstrip("\n").split("\n")[2:]
            return "\n".join(lines) + "\n"
        if line.startswith("show servers state"):
            return self._servers_state(words[3])
        if words[:2] == ["set", "weight"] or (words[:2] == ["set", "server"] and words[3] == "state"):
            return "\n"
        if line == "show stat":
            return self._stat()
        if words[:2] in (["set", "map"], ["add", "map"]):
            path, key, value = words[2], words[3], words[4]
            if self.runtime_map is None or path != self.map_path:
                return "Unknown map identifier. Please use #<id> or <file>.\n"
            if words[0] == "set" and key not in self.runtime_map:
                return "entry not found.\n"
            with open(path) as handle:
                self.map_file_at_set.append((value, slots.parse_map(handle.read()).get(key)))
            self.runtime_map[key] = value
            return "\n"
        raise AssertionError("unexpected runtime API command %r" % line)

    def _servers_state(self, backend):
        if backend not in self.backends:
            return "Can't find backend.\n"
        lines = ["1", SERVERS_HEADER]
        for index, (server, after) in enumerate(sorted(self.backends[backend].items()), 1):
            polls = self.polls.get((backend, server), 0)
            self.polls[(backend, server)] = polls + 1
            up = after is not None and polls >= after
            lines.append("3 %s %d %s 127.0.0.1 %d 0 100 100 5 6 3 4 6 0 0 0 - 18101 -"
                         % (backend, index, server, 2 if up else 0))
        return "\n".join(lines) + "\n"

    def _stat(self):
        lines = [STAT_HEADER]
        for backend in sorted(self.backends):
            values = self.scur.get(backend) or [0]
            scur = values.pop(0) if len(values) > 1 else values[0]
            for server in sorted(self.backends[backend]):
                values = self.answered.get((backend, server)) or [(0, 0)]
                ok, errors = values.pop(0) if len(values) > 1 else values[0]
                lines.append("%s,%s,0,0,%d,1,,9,0,0,,0,,0,0,UP,%d,%d" % (backend, server, scur, ok, errors))
            lines.append("%s,BACKEND,0,0,%d,1,,9,0,0,0,0,,0,0,UP,0,0" % (backend, scur))
        return "\n".join(lines) + "\n"

    def sent(self, prefix):
        return [line for line in self.commands if line.startswith(prefix)]


class Gate(object):
    """``gate(endpoints)``: the answer given, the endpoints recorded."""

    def __init__(self, events, healthy=True, msg="", clock=None, elapsed=1.5):
        self.events = events
        self.healthy = healthy
        self.msg = msg
        self.clock = clock
        self.elapsed = elapsed
        self.calls = []

    def __call__(self, endpoints):
        self.calls.append(endpoints)
        self.events.append(("gate", endpoints[0]["url"]))
        if self.clock is not None:
            self.clock.sleep(self.elapsed)
        return {"healthy": self.healthy, "elapsed": self.elapsed, "msg": self.msg}


# ---- the host under tmp_path ---------------------------------------------------------------

class Host(object):
    """One blue-green service on disk: its environment file, the slots' links and environment
    copies, the map file; and the fakes around it."""

    def __init__(self, tmp_path, live="blue", live_release="releases/1.0.0", idle_release=None, env=ENV,
                 live_env=None, units=None, map_extra=None, map_loaded=True, backends=None, scur=None,
                 reachable=True, healthy=True, gate_msg="", answered=None, probe_answers=None):
        self.tmp = tmp_path
        self.home = tmp_path / "opt" / SERVICE
        self.conf = tmp_path / "etc"
        (self.home / "releases").mkdir(parents=True)
        self.conf.mkdir()
        (tmp_path / "haproxy").mkdir()
        self.env = self.conf / ("%s.env" % SERVICE)
        self.env.write_bytes(env)
        os.chmod(str(self.env), 0o640)
        self.map = tmp_path / "haproxy" / "alicia-slots.map"
        entries = dict(map_extra or {})
        if live:
            entries[SERVICE] = "%s_%s" % (SERVICE, live)
        self.map.write_text(slots.render_map(entries) if entries else "")
        for name, release in ((live, live_release), (self.other(live), idle_release)):
            if name and release:
                os.symlink(release, str(self.link(name)))
        if live:
            self.slot_env(live).write_bytes(env if live_env is None else live_env)
        self.events = []
        self.clock = Clock(self.events)
        default_units = {}
        if live:
            default_units[self.unit(live)] = {"active": "active", "enabled": "enabled"}
        self.systemd = Systemd(self.events, default_units if units is None else units)
        runtime_map = (dict(entries) if map_loaded is True else dict(map_loaded)) if map_loaded is not False else None
        self.api = HAProxy(self.events, backends=backends if backends is not None else {
            "%s_blue" % SERVICE: {"blue": 0}, "%s_green" % SERVICE: {"green": 0}}, scur=scur,
            runtime_map=runtime_map, reachable=reachable, map_path=str(self.map), answered=answered)
        self.gate = Gate(self.events, healthy=healthy, msg=gate_msg, clock=self.clock)
        # The canary's health reads, in order (the last repeats).
        self.probe_answers = list(probe_answers or [{"healthy": True, "error": None}])
        self.probed = []

    @staticmethod
    def other(name):
        return {"blue": "green", "green": "blue"}.get(name)

    def link(self, name):
        return self.home / name

    def slot_env(self, name):
        return self.conf / ("%s-%s.release.env" % (SERVICE, name))

    @staticmethod
    def unit(name):
        return "alicia-%s-%s.service" % (SERVICE, name)

    def service(self, release="releases/2.0.0"):
        return {"service": SERVICE, "release": release, "env": str(self.env),
                "health": {"path": "/health", "expect_status": [200], "json_field": "status",
                           "json_value": "healthy", "timeout": 5},
                "slots": [{"name": name, "unit": self.unit(name), "port": port, "link": str(self.link(name)),
                           "env": str(self.slot_env(name)), "backend": "%s_%s" % (SERVICE, name), "server": name}
                          for name, port in (("blue", 18101), ("green", 18102))],
                "canary_backend": "%s_canary" % SERVICE}

    def params(self, release="releases/2.0.0", refresh=None, up_timeout=10, drain_timeout=10, services=None,
               restart=None, canary=None):
        return {"services": services if services is not None else [self.service(release)], "map": str(self.map),
                "refresh": refresh or [], "restart": restart or [], "socket": "/run/haproxy/admin.sock",
                "canary": canary,
                "timeout": 30, "interval": 0.5,
                "healthy_reads": 3, "healthy_interval": 0.25, "up_timeout": up_timeout, "drain_timeout": drain_timeout}

    def reconcile(self, check_mode=False, **params):
        return slots.reconcile(self.params(**params), self.systemd, self.api, check_mode=check_mode,
                               clock=self.clock, sleep=self.clock.sleep, gate=self.gate, host="h1",
                               probe=self.probe)

    def probe(self, endpoint):
        self.probed.append(endpoint["url"])
        self.events.append(("probe", endpoint["url"]))
        return self.probe_answers.pop(0) if len(self.probe_answers) > 1 else self.probe_answers[0]

    def snapshot(self):
        """Every file under tmp_path: its bytes (or link target) and mode."""
        found = {}
        for folder, dirs, files in os.walk(str(self.tmp)):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    found[path] = ("link", os.readlink(path))
                elif os.path.isfile(path):
                    with open(path, "rb") as handle:
                        found[path] = ("file", handle.read(), stat.S_IMODE(os.stat(path).st_mode))
        return found

    def map_entries(self):
        return slots.parse_map(self.map.read_text())

    def index(self, event):
        assert event in self.events, (event, self.events)
        return self.events.index(event)


# ---- the map file ------------------------------------------------------------------------------

def test_map_round_trip():
    entries = {"tts_service": "tts_service_green", "ai_service": "ai_service_blue"}
    text = slots.render_map(entries)
    assert text.splitlines()[1:] == ["ai_service ai_service_blue", "tts_service tts_service_green"]
    assert text.startswith("#") and text.endswith("\n")
    assert slots.parse_map(text) == entries
    assert slots.render_map(slots.parse_map(text)) == text


def test_parse_map_skips_comments_blank_lines_and_lone_keys():
    text = "# comment\n\n  tts_service   tts_service_blue  \nlonely\n#x y\nai_service ai_service_green\n"
    assert slots.parse_map(text) == {"tts_service": "tts_service_blue", "ai_service": "ai_service_green"}
    assert slots.parse_map("") == {} == slots.parse_map(None)


# ---- the decision --------------------------------------------------------------------------------

SVC = {"service": SERVICE, "release": "releases/2.0.0", "slots": [{"name": "blue"}, {"name": "green"}]}


def state(live, links, env_same):
    return {"live": live, "links": links, "env_same": env_same}


@pytest.mark.parametrize("st, refresh, expected", [
    (state("blue", {"blue": "releases/2.0.0", "green": None}, {"blue": True, "green": False}), False,
     {"action": "keep", "to": "blue", "from": "blue"}),
    (state("green", {"blue": "releases/1.0.0", "green": "releases/2.0.0"}, {"blue": True, "green": True}), False,
     {"action": "keep", "to": "green", "from": "green"}),
    (state("blue", {"blue": "releases/1.0.0", "green": "releases/2.0.0"}, {"blue": True, "green": True}), False,
     {"action": "switch", "to": "green", "from": "blue"}),
    (state("green", {"blue": "releases/2.0.0", "green": "releases/1.0.0"}, {"blue": False, "green": True}), False,
     {"action": "switch", "to": "blue", "from": "green"}),
    # Same release, another environment: a switch (the copy is frozen per slot).
    (state("blue", {"blue": "releases/2.0.0", "green": None}, {"blue": False, "green": False}), False,
     {"action": "switch", "to": "green", "from": "blue"}),
    # Same release and environment, the units changed: refresh.
    (state("blue", {"blue": "releases/2.0.0", "green": None}, {"blue": True, "green": False}), True,
     {"action": "switch", "to": "green", "from": "blue"}),
    (state(None, {"blue": None, "green": None}, {"blue": False, "green": False}), False,
     {"action": "install", "to": "blue", "from": None}),
    (state("purple", {"blue": "releases/2.0.0", "green": None}, {"blue": True, "green": False}), False,
     {"action": "install", "to": "blue", "from": None}),
])
def test_decide(st, refresh, expected):
    assert slots.decide(SVC, st, refresh=refresh) == expected


# ---- the request ------------------------------------------------------------------------------

def test_check_services_is_quiet_for_a_good_request(tmp_path):
    host = Host(tmp_path)
    assert slots.check_services([host.service()]) == []
    assert slots.check_services([]) == [] == slots.check_services(None)


def test_check_services_names_every_problem(tmp_path):
    good = Host(tmp_path).service()
    no_release = dict(good, release="", env=None)
    one_slot = dict(good, service="ai_service", slots=good["slots"][:1])
    bad_slot = dict(good, service="stt_service", slots=[dict(good["slots"][0], port=None, backend=""), "green"])
    problems = slots.check_services(["x", {"release": "r"}, good, dict(good), no_release, one_slot, bad_slot])
    assert problems == [
        "services[0]: must be a mapping with a service name",
        "services[1]: must be a mapping with a service name",
        "service tts_service: listed more than once",
        "service tts_service: listed more than once",
        "service tts_service: release is required",
        "service tts_service: env is required",
        "service ai_service: slots must list 2 slots",
        "service stt_service: a slot lacks port, backend",
        "service stt_service: a slot lacks name, unit, port, link, env, backend, server",
    ]


def test_a_bad_request_is_refused_before_the_host_is_touched(tmp_path):
    host = Host(tmp_path)
    before = host.snapshot()
    params = host.params()
    params["services"][0]["slots"] = params["services"][0]["slots"][:1]
    with pytest.raises(slots.SlotsError, match="service tts_service: slots must list 2 slots"):
        slots.reconcile(params, host.systemd, host.api, clock=host.clock, sleep=host.clock.sleep, gate=host.gate)
    assert host.systemd.calls == [] and host.api.commands == [] and host.gate.calls == []
    assert host.snapshot() == before


# ---- the host readers -----------------------------------------------------------------------

def test_read_units_in_one_systemctl_show(tmp_path):
    host = Host(tmp_path, units={Host.unit("blue"): {"active": "activating", "enabled": "enabled"},
                                 Host.unit("green"): {"active": "failed", "enabled": "disabled"}})
    found = slots.read_units(host.systemd, [Host.unit("blue"), Host.unit("green")])
    assert found == {Host.unit("blue"): {"active": True, "enabled": True, "state": "activating"},
                     Host.unit("green"): {"active": False, "enabled": False, "state": "failed"}}
    assert len(host.systemd.calls) == 1
    assert slots.read_units(host.systemd, []) == {} and len(host.systemd.calls) == 1

    def broken(argv):
        return 1, "", "Failed to connect to bus"
    with pytest.raises(slots.SlotsError, match="Failed to connect to bus"):
        slots.read_units(broken, [Host.unit("blue")])


def test_server_up_and_sessions_read_haproxy(tmp_path):
    host = Host(tmp_path, backends={"b_blue": {"blue": 1}, "b_green": {"green": None}},
                scur={"b_blue": [4, 0]})
    assert slots.server_up(host.api, "b_blue", "blue") is False
    assert slots.server_up(host.api, "b_blue", "blue") is True
    assert slots.server_up(host.api, "b_green", "green") is False
    assert slots.server_up(host.api, "b_green", "other") is None
    assert slots.server_up(host.api, "unknown", "blue") is None
    assert slots.sessions(host.api, "b_blue") == 4
    assert slots.sessions(host.api, "b_blue") == 0
    assert slots.sessions(host.api, "unknown") == 0


def test_set_map_sets_adds_or_reports_a_map_not_loaded(tmp_path):
    host = Host(tmp_path, map_loaded={"a": "a_blue"})
    path = str(host.map)
    assert slots.set_map(host.api, path, "a", "a_green") is True
    assert host.api.commands[-1] == "set map %s a a_green" % path
    # A key HAProxy's map lacks: added.
    assert slots.set_map(host.api, path, "b", "b_blue") is True
    assert host.api.commands[-2:] == ["set map %s b b_blue" % path, "add map %s b b_blue" % path]
    assert host.api.runtime_map == {"a": "a_green", "b": "b_blue"}
    # A map HAProxy has not loaded: False (its reload reads the file).
    assert slots.set_map(host.api, str(tmp_path / "other.map"), "a", "x") is False

    class Refusing(object):
        def command(self, line):
            return "Permission denied.\n"
    with pytest.raises(HAProxyError, match="Permission denied"):
        slots.set_map(Refusing(), path, "a", "x")


# ---- reconcile: keep --------------------------------------------------------------------------

def test_keep_when_the_live_slot_runs_the_wanted_release(tmp_path):
    host = Host(tmp_path, live_release="releases/2.0.0")
    before = host.snapshot()
    result = host.reconcile()
    assert result["changed"] is False
    assert result["failed_services"] == {} and result["live"] == {SERVICE: "blue"}
    (svc,) = result["services"]
    assert (svc["action"], svc["from_slot"], svc["to_slot"], svc["switched"], svc["failed"], svc["fixed"]) == (
        "keep", "blue", "blue", False, False, [])
    assert svc["from_release"] == svc["to_release"] == "releases/2.0.0"
    # One systemctl show, nothing restarted; no switch at HAProxy; no file touched.
    assert host.systemd.verbs() == [] and len(host.systemd.calls) == 1
    assert host.api.sent("set map") == [] and host.api.sent("show servers state") == []
    assert host.gate.calls == []
    assert host.snapshot() == before


def test_keep_fixes_the_units(tmp_path):
    """The idle slot running and enabled, the live one stopped and disabled: put right, nothing restarted."""
    units = {Host.unit("blue"): {"active": "inactive", "enabled": "disabled"},
             Host.unit("green"): {"active": "active", "enabled": "enabled"}}
    host = Host(tmp_path, live_release="releases/2.0.0", idle_release="releases/1.0.0", units=units)
    result = host.reconcile()
    expected = ["start %s" % Host.unit("blue"), "enable %s" % Host.unit("blue"),
                "stop %s" % Host.unit("green"), "disable %s" % Host.unit("green")]
    assert host.systemd.verbs() == expected
    assert result["services"][0]["fixed"] == expected
    assert result["changed"] is True and result["services"][0]["action"] == "keep"
    assert result["live"] == {SERVICE: "blue"} and host.gate.calls == [] and host.api.sent("set map") == []
    # Fixed: the next run has nothing to do.
    host.systemd.calls = []
    again = host.reconcile()
    assert again["changed"] is False and host.systemd.verbs() == []


def test_keep_enables_a_live_slot_that_is_disabled(tmp_path):
    units = {Host.unit("blue"): {"active": "active", "enabled": "disabled"}}
    host = Host(tmp_path, live_release="releases/2.0.0", units=units)
    result = host.reconcile()
    assert host.systemd.verbs() == ["enable %s" % Host.unit("blue")]
    assert result["changed"] is True and result["services"][0]["fixed"] == ["enable %s" % Host.unit("blue")]


# ---- reconcile: a switch ----------------------------------------------------------------------

def test_a_switch(tmp_path):
    # HAProxy's checks see green up at the third read; the old backend has 2, 1, then 0 sessions.
    host = Host(tmp_path, map_extra={"ai_service": "ai_service_green"},
                backends={"%s_blue" % SERVICE: {"blue": 0}, "%s_green" % SERVICE: {"green": 2}},
                scur={"%s_blue" % SERVICE: [2, 1, 0]})
    old_blue_link = os.readlink(str(host.link("blue")))
    result = host.reconcile()

    # The idle slot got the release and a copy of the environment: same bytes, same mode.
    assert os.readlink(str(host.link("green"))) == "releases/2.0.0"
    assert os.readlink(str(host.link("blue"))) == old_blue_link == "releases/1.0.0"
    green_env = host.slot_env("green")
    assert green_env.read_bytes() == ENV
    assert stat.S_IMODE(os.stat(str(green_env)).st_mode) == stat.S_IMODE(os.stat(str(host.env)).st_mode) == 0o640
    assert os.stat(str(green_env)).st_uid == os.stat(str(host.env)).st_uid
    assert not [name for name in os.listdir(str(host.conf)) + os.listdir(str(host.home))
                if name.endswith(".alicia-new")]

    # systemd: the new slot restarted then enabled, the old stopped then disabled.
    blue, green = Host.unit("blue"), Host.unit("green")
    assert host.systemd.verbs() == ["restart %s" % green, "enable %s" % green, "stop %s" % blue,
                                    "disable %s" % blue]
    assert host.systemd.units[green] == {"active": "active", "enabled": "enabled"}
    assert host.systemd.units[blue] == {"active": "inactive", "enabled": "disabled"}

    # Gated on its own port, naming its unit.
    (endpoints,) = host.gate.calls
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert endpoint["url"] == "http://127.0.0.1:18102/health" and endpoint["unit"] == green
    assert endpoint["service"] == "%s/green" % SERVICE and endpoint["host"] == "h1"
    assert endpoint["json_field"] == "status" and endpoint["json_value"] == "healthy"

    # HAProxy: waited until its checks saw green up, then one set map; the map file rewritten, the others kept.
    state_reads = host.api.sent("show servers state")
    assert state_reads == ["show servers state %s_green" % SERVICE] * 3
    set_map = "set map %s %s %s_green" % (host.map, SERVICE, SERVICE)
    assert host.api.sent("set map") == [set_map] and host.api.sent("add map") == []
    assert host.api.runtime_map == {SERVICE: "%s_green" % SERVICE, "ai_service": "ai_service_green"}
    assert host.map_entries() == {SERVICE: "%s_green" % SERVICE, "ai_service": "ai_service_green"}

    # The order: restart, gate, HAProxy sees it up, switch, enable; drained (3 reads) before the old slot stops.
    events = host.events
    assert (host.index(("systemctl", "restart", green)) < host.index(("gate", endpoint["url"]))
            < events.index(("api", state_reads[0])) < host.index(("api", set_map))
            < host.index(("systemctl", "enable", green)) < host.index(("systemctl", "stop", blue)))
    stat_reads = [i for i, event in enumerate(events) if event == ("api", "show stat")]
    assert len(stat_reads) == 3
    assert host.index(("api", set_map)) < stat_reads[0] and stat_reads[-1] < host.index(("systemctl", "stop", blue))

    # The result.
    assert result["changed"] is True and result["failed_services"] == {} and result["live"] == {SERVICE: "green"}
    (svc,) = result["services"]
    assert (svc["action"], svc["from_slot"], svc["to_slot"], svc["switched"], svc["failed"], svc["drained"]) == (
        "switch", "blue", "green", True, False, True)
    assert (svc["from_release"], svc["to_release"]) == ("releases/1.0.0", "releases/2.0.0")
    assert svc["gate"] == {"healthy": True, "elapsed": 1.5, "msg": ""}
    assert svc["msg"] == ("tts_service: slot green now serves releases/2.0.0 "
                          "(slot blue, releases/1.0.0, stopped, installed)")
    # The gate's 1.5 s and two 0.1 s polls of the fake clock, no real time.
    assert svc["switch_seconds"] == pytest.approx(1.7)
    assert sp.failed_services(None, result) == {}

    # The next run keeps it.
    host.systemd.calls, host.gate.calls = [], []
    again = host.reconcile()
    assert again["changed"] is False and again["services"][0]["action"] == "keep"
    assert again["live"] == {SERVICE: "green"} and host.systemd.verbs() == [] and host.gate.calls == []


def test_a_switch_back_is_the_same_step(tmp_path):
    """A rollback: green live on 2.0.0, blue installed on 1.0.0, 1.0.0 wanted."""
    units = {Host.unit("green"): {"active": "active", "enabled": "enabled"},
             Host.unit("blue"): {"active": "inactive", "enabled": "disabled"}}
    host = Host(tmp_path, live="green", live_release="releases/2.0.0", idle_release="releases/1.0.0", units=units)
    host.slot_env("blue").write_bytes(OLD_ENV)
    result = host.reconcile(release="releases/1.0.0")
    assert result["live"] == {SERVICE: "blue"} and result["services"][0]["action"] == "switch"
    assert host.systemd.verbs() == ["restart %s" % Host.unit("blue"), "enable %s" % Host.unit("blue"),
                                    "stop %s" % Host.unit("green"), "disable %s" % Host.unit("green")]
    assert host.map_entries() == {SERVICE: "%s_blue" % SERVICE}
    # The environment copy is the service's current file, not the old copy.
    assert host.slot_env("blue").read_bytes() == ENV


def test_a_changed_environment_or_a_refresh_switches(tmp_path):
    host = Host(tmp_path, live_release="releases/2.0.0", live_env=OLD_ENV)
    assert host.reconcile()["live"] == {SERVICE: "green"}
    assert host.slot_env("green").read_bytes() == ENV

    other = tmp_path / "other"
    other.mkdir()
    host = Host(other, live_release="releases/2.0.0")
    result = host.reconcile(refresh=[SERVICE])
    assert result["services"][0]["action"] == "switch" and result["live"] == {SERVICE: "green"}


def test_a_restart_switches_to_the_other_slot_on_the_live_release(tmp_path):
    """restart.yml: the catalogue wants 2.0.0, blue serves 1.0.0: green gets 1.0.0, not 2.0.0."""
    host = Host(tmp_path, live_release="releases/1.0.0", idle_release="releases/0.9.0")
    result = host.reconcile(release="releases/2.0.0", restart=[SERVICE])
    done = result["services"][0]
    assert done["action"] == "switch" and done["restart"] and done["switched"] and not done["failed"]
    assert os.readlink(str(host.link("green"))) == "releases/1.0.0"
    assert os.readlink(str(host.link("blue"))) == "releases/1.0.0"
    assert host.slot_env("green").read_bytes() == ENV
    assert result["live"] == {SERVICE: "green"} and host.map_entries() == {SERVICE: "%s_green" % SERVICE}
    assert result["actions"] == {SERVICE: ["restarted"]}
    # The new slot is gated before the switch; the old one stops only after it.
    assert host.systemd.verbs() == ["restart %s" % Host.unit("green"), "enable %s" % Host.unit("green"),
                                    "stop %s" % Host.unit("blue"), "disable %s" % Host.unit("blue")]
    assert (host.index(("gate", "http://127.0.0.1:18102/health"))
            < host.index(("api", "set map %s %s %s_green" % (host.map, SERVICE, SERVICE))))


def test_a_restart_whose_slot_fails_leaves_the_live_slot_serving(tmp_path):
    host = Host(tmp_path, live_release="releases/1.0.0", healthy=False, gate_msg="exits at start")
    result = host.reconcile(release="releases/1.0.0", restart=[SERVICE])
    assert result["live"] == {SERVICE: "blue"} and host.map_entries() == {SERVICE: "%s_blue" % SERVICE}
    assert SERVICE in result["failed_services"] and result["actions"] == {}
    assert host.systemd.verbs() == ["restart %s" % Host.unit("green"), "stop %s" % Host.unit("green")]


def test_a_restart_of_a_service_with_no_live_slot_installs_the_wanted_release(tmp_path):
    host = Host(tmp_path, live=None)
    result = host.reconcile(release="releases/2.0.0", restart=[SERVICE])
    assert result["services"][0]["action"] == "install" and not result["services"][0]["restart"]
    assert os.readlink(str(host.link("blue"))) == "releases/2.0.0"


def test_the_old_slot_stops_after_drain_timeout_even_with_sessions(tmp_path):
    host = Host(tmp_path, scur={"%s_blue" % SERVICE: [3]})
    start = host.clock()
    result = host.reconcile(drain_timeout=2)
    svc = result["services"][0]
    assert svc["switched"] is True and svc["drained"] is False
    assert host.systemd.verbs()[-2:] == ["stop %s" % Host.unit("blue"), "disable %s" % Host.unit("blue")]
    # Bounded by the fake clock: the gate's 1.5 s, then about 2 s of drain polls.
    assert 3.5 <= host.clock() - start <= 3.7
    assert 20 <= len(host.api.sent("show stat")) <= 22


# ---- reconcile: a failed switch -----------------------------------------------------------------

def test_a_switch_whose_gate_fails(tmp_path):
    host = Host(tmp_path, healthy=False, gate_msg="tts_service/green: HTTP 503 starting")
    map_before = host.map.read_bytes()
    result = host.reconcile()
    green, blue = Host.unit("green"), Host.unit("blue")
    # Started, gated, stopped again; the live slot untouched.
    assert host.systemd.verbs() == ["restart %s" % green, "stop %s" % green]
    assert host.systemd.units[blue] == {"active": "active", "enabled": "enabled"}
    assert host.systemd.units[green]["active"] == "inactive"
    # HAProxy and the map untouched.
    assert host.map.read_bytes() == map_before
    assert host.api.sent("set map") == [] and host.api.sent("add map") == []
    assert host.api.sent("show servers state") == [] and host.api.sent("show stat") == []
    assert host.api.runtime_map == {SERVICE: "%s_blue" % SERVICE}
    # Reported, not raised: the service role's gate fails that service.
    assert result["live"] == {SERVICE: "blue"}
    svc = result["services"][0]
    assert svc["failed"] is True and svc["switched"] is False
    msg = result["failed_services"][SERVICE]
    assert "slot green (releases/2.0.0) failed its gate" in msg and "HTTP 503 starting" in msg
    assert "slot blue (releases/1.0.0) kept serving" in msg
    assert sp.failed_services(None, result) == {SERVICE: msg}
    assert sp.failed_services({"service": "stt_service", "msg": "canary"}, result, rollback=True) == {SERVICE: msg}


def test_haproxy_never_sees_the_slot_up(tmp_path):
    host = Host(tmp_path, backends={"%s_blue" % SERVICE: {"blue": 0}, "%s_green" % SERVICE: {"green": None}})
    map_before = host.map.read_bytes()
    start = host.clock()
    result = host.reconcile(up_timeout=3)
    green = Host.unit("green")
    assert host.systemd.verbs() == ["restart %s" % green, "stop %s" % green]
    assert host.map.read_bytes() == map_before and host.api.sent("set map") == []
    msg = result["failed_services"][SERVICE]
    assert "did not see %s_green/green up within 3 s" % SERVICE in msg
    assert result["live"] == {SERVICE: "blue"} and result["services"][0]["failed"] is True
    # The fake clock: the gate's 1.5 s then polls until up_timeout, every 0.1 s.
    assert 4.5 <= host.clock() - start <= 4.7
    assert 30 <= len(host.api.sent("show servers state")) <= 32


def test_a_backend_haproxy_does_not_know_yet_fails_the_switch(tmp_path):
    """Its configuration not reloaded: 'Can't find backend' is never up."""
    host = Host(tmp_path, backends={"%s_blue" % SERVICE: {"blue": 0}})
    result = host.reconcile(up_timeout=1)
    assert result["services"][0]["failed"] is True and host.api.sent("set map") == []
    assert host.systemd.verbs()[-1] == "stop %s" % Host.unit("green")


def test_a_refused_systemctl_verb_is_an_error(tmp_path):
    host = Host(tmp_path)
    host.systemd.fail.add(("restart", Host.unit("green")))
    with pytest.raises(slots.SlotsError, match="systemctl restart alicia-tts_service-green.service failed"):
        host.reconcile()
    assert host.api.sent("set map") == [] and host.map_entries() == {SERVICE: "%s_blue" % SERVICE}


# ---- reconcile: the first slot ------------------------------------------------------------------

def test_install_with_haproxy_s_map_not_loaded_yet(tmp_path):
    host = Host(tmp_path, live=None, units={}, map_loaded=False)
    result = host.reconcile()
    blue = Host.unit("blue")
    assert os.readlink(str(host.link("blue"))) == "releases/2.0.0"
    assert not os.path.lexists(str(host.link("green")))
    assert host.slot_env("blue").read_bytes() == ENV
    assert host.systemd.verbs() == ["restart %s" % blue, "enable %s" % blue]
    # 'Unknown map': the file is what HAProxy's reload reads; no failure.
    assert host.api.sent("set map") == ["set map %s %s %s_blue" % (host.map, SERVICE, SERVICE)]
    assert host.api.sent("add map") == []
    assert host.map_entries() == {SERVICE: "%s_blue" % SERVICE}
    assert result["failed_services"] == {} and result["live"] == {SERVICE: "blue"}
    svc = result["services"][0]
    assert (svc["action"], svc["from_slot"], svc["to_slot"], svc["switched"]) == ("install", None, "blue", True)
    assert "drained" not in svc
    assert svc["msg"] == "tts_service: slot blue now serves releases/2.0.0"


def test_install_when_the_map_file_does_not_exist_yet(tmp_path):
    host = Host(tmp_path, live=None, units={}, map_loaded=False)
    host.map.unlink()
    result = host.reconcile()
    assert result["live"] == {SERVICE: "blue"} and host.map_entries() == {SERVICE: "%s_blue" % SERVICE}
    assert stat.S_IMODE(os.stat(str(host.map)).st_mode) == 0o644


def test_install_when_haproxy_is_not_running(tmp_path):
    host = Host(tmp_path, live=None, units={}, reachable=False)
    result = host.reconcile()
    assert result["live"] == {SERVICE: "blue"} and result["failed_services"] == {}
    assert host.api.commands == ["show info"]
    assert host.map_entries() == {SERVICE: "%s_blue" % SERVICE}


def test_set_map_of_a_missing_key_falls_back_to_add_map(tmp_path):
    """HAProxy loaded the map before the service had a line: set map answers 'entry not found.'."""
    host = Host(tmp_path, live=None, units={}, map_loaded={"ai_service": "ai_service_blue"})
    result = host.reconcile()
    line = "%s %s %s_blue" % (host.map, SERVICE, SERVICE)
    assert host.api.sent("set map") == ["set map " + line] and host.api.sent("add map") == ["add map " + line]
    assert host.api.runtime_map == {"ai_service": "ai_service_blue", SERVICE: "%s_blue" % SERVICE}
    assert result["failed_services"] == {} and result["services"][0]["switched"] is True


def test_a_failed_first_slot_leaves_nothing_live(tmp_path):
    host = Host(tmp_path, live=None, units={}, healthy=False, gate_msg="connection refused")
    result = host.reconcile()
    assert host.systemd.verbs() == ["restart %s" % Host.unit("blue"), "stop %s" % Host.unit("blue")]
    assert result["live"] == {SERVICE: None}
    assert "nothing served it before" in result["failed_services"][SERVICE]
    assert host.map_entries() == {} and host.api.sent("set map") == []


# ---- check mode ---------------------------------------------------------------------------------

def test_check_mode_changes_nothing_yet_reports_the_switch(tmp_path):
    host = Host(tmp_path)
    before = host.snapshot()
    result = host.reconcile(check_mode=True)
    assert host.snapshot() == before
    assert not os.path.lexists(str(host.link("green"))) and not host.slot_env("green").exists()
    assert [argv[1] for argv in host.systemd.calls] == ["show"]
    assert host.api.sent("set map") == [] and host.api.sent("add map") == [] and host.gate.calls == []
    assert result["changed"] is True and result["live"] == {SERVICE: "green"}
    svc = result["services"][0]
    assert (svc["action"], svc["from_slot"], svc["to_slot"], svc["switched"]) == ("switch", "blue", "green", True)
    assert "would switch to slot green" in svc["msg"]


def test_check_mode_reports_unit_fixes_without_making_them(tmp_path):
    units = {Host.unit("blue"): {"active": "active", "enabled": "disabled"},
             Host.unit("green"): {"active": "active", "enabled": "disabled"}}
    host = Host(tmp_path, live_release="releases/2.0.0", units=units)
    result = host.reconcile(check_mode=True)
    assert [argv[1] for argv in host.systemd.calls] == ["show"]
    assert result["changed"] is True
    assert result["services"][0]["fixed"] == ["enable %s" % Host.unit("blue"), "stop %s" % Host.unit("green")]


def test_check_mode_of_an_install(tmp_path):
    host = Host(tmp_path, live=None, units={})
    before = host.snapshot()
    result = host.reconcile(check_mode=True)
    assert host.snapshot() == before and [argv[1] for argv in host.systemd.calls] == ["show"]
    assert result["live"] == {SERVICE: "blue"} and result["services"][0]["action"] == "install"


# ---- several services in one pass ---------------------------------------------------------------

def test_one_pass_for_several_services(tmp_path):
    """One kept, one switched: one systemctl show for all their units, the map keeps both."""
    host = Host(tmp_path)
    other = dict(host.service(), service="ai_service")
    other["env"] = str(host.conf / "ai_service.env")
    (host.conf / "ai_service.env").write_bytes(b"A=1\n")
    os.chmod(other["env"], 0o640)
    (tmp_path / "opt" / "ai_service").mkdir()
    other["slots"] = [dict(slot, unit="alicia-ai_service-%s.service" % slot["name"],
                           link=str(tmp_path / "opt" / "ai_service" / slot["name"]),
                           env=str(host.conf / ("ai_service-%s.release.env" % slot["name"])),
                           backend="ai_service_%s" % slot["name"]) for slot in other["slots"]]
    os.symlink("releases/3.0.0", other["slots"][1]["link"])
    (host.conf / "ai_service-green.release.env").write_bytes(b"A=1\n")
    host.map.write_text(slots.render_map({SERVICE: "%s_blue" % SERVICE, "ai_service": "ai_service_green"}))
    host.systemd.units["alicia-ai_service-green.service"] = {"active": "active", "enabled": "enabled"}
    other["release"] = "releases/3.0.0"
    params = host.params(services=[other, host.service()])
    result = slots.reconcile(params, host.systemd, host.api, clock=host.clock, sleep=host.clock.sleep,
                             gate=host.gate, host="h1")
    shows = [argv for argv in host.systemd.calls if argv[1] == "show"]
    assert len(shows) == 1 and len([arg for arg in shows[0] if arg.endswith(".service")]) == 4
    assert [svc["action"] for svc in result["services"]] == ["keep", "switch"]
    assert result["live"] == {"ai_service": "green", SERVICE: "green"}
    assert host.map_entries() == {SERVICE: "%s_green" % SERVICE, "ai_service": "ai_service_green"}
    assert len(host.gate.calls) == 1


# ---- reconcile: HAProxy refusing or away during a switch ------------------------------------------

def test_a_switch_without_haproxy_s_runtime_api_fails_and_stops_the_new_slot(tmp_path):
    """A live slot and HAProxy not answering: no switch (it cannot be made atomic), the new slot stops."""
    host = Host(tmp_path, reachable=False)
    map_before = host.map.read_bytes()
    result = host.reconcile()
    green = Host.unit("green")
    assert host.systemd.verbs() == ["restart %s" % green, "stop %s" % green]
    assert host.map.read_bytes() == map_before
    assert "does not answer: no switch without it" in result["failed_services"][SERVICE]
    assert result["live"] == {SERVICE: "blue"}


def test_a_refused_set_map_puts_the_map_file_back_and_stops_the_new_slot(tmp_path):
    host = Host(tmp_path)

    def refuse(line, command=host.api.command):
        if line.startswith("set map"):
            host.api.commands.append(line)
            return "Permission denied.\n"
        return command(line)
    host.api.command = refuse
    map_before = host.map.read_bytes()
    result = host.reconcile()
    green, blue = Host.unit("green"), Host.unit("blue")
    assert host.map.read_bytes() == map_before
    assert host.systemd.verbs() == ["restart %s" % green, "stop %s" % green]
    assert "stop %s" % blue not in host.systemd.verbs() and "enable %s" % green not in host.systemd.verbs()
    assert "not switched in, stopped again" in result["failed_services"][SERVICE]
    assert result["live"] == {SERVICE: "blue"}


def test_a_lost_map_file_starts_blue_and_stops_the_other_slot_still_running(tmp_path):
    host = Host(tmp_path, live=None, units={Host.unit("green"): {"active": "active", "enabled": "enabled"}})
    result = host.reconcile()
    green, blue = Host.unit("green"), Host.unit("blue")
    assert host.systemd.verbs() == ["restart %s" % blue, "enable %s" % blue, "stop %s" % green, "disable %s" % green]
    assert result["live"] == {SERVICE: "blue"} and host.map_entries() == {SERVICE: "%s_blue" % SERVICE}


# ---- strategy canary: the new slot watched beside the live one ---------------------------------

CANARY = {"weight": 10, "window": 3, "interval": 1, "min_requests": 20, "max_error_rate": 0.01}
CANARY_BACKEND = "%s_canary" % SERVICE


def canary_host(tmp_path, green=(0, 25), blue=(0, 230), **kwargs):
    """Blue live on 1.0.0; in the canary backend green (the canary) answers ``green`` 2xx from the
    first to the last read of the window, blue ``blue``."""
    backends = {"%s_blue" % SERVICE: {"blue": 0}, "%s_green" % SERVICE: {"green": 0},
                CANARY_BACKEND: {"blue": 0, "green": 0}}
    answered = {(CANARY_BACKEND, "green"): [(green[0], 0), (green[1], 0)],
                (CANARY_BACKEND, "blue"): [(blue[0], 0), (blue[1], 0)]}
    return Host(tmp_path, backends=backends, answered=answered, **kwargs)


def test_a_good_canary_is_watched_beside_the_live_slot_then_switched_in(tmp_path):
    host = canary_host(tmp_path)
    result = host.reconcile(canary=CANARY)
    green, blue = Host.unit("green"), Host.unit("blue")
    (svc,) = result["services"]
    assert result["failed_services"] == {} and result["live"] == {SERVICE: "green"}
    assert svc["switched"] is True and svc["canary"]["passed"] is True, svc
    assert svc["canary"]["canary_counts"]["requests"] == 25 and svc["canary"]["baseline_counts"]["requests"] == 230
    assert svc["msg"] == ("tts_service: slot green now serves releases/2.0.0 (slot blue, releases/1.0.0, stopped, "
                          "installed); its canary passed first: 25 request(s), error rate 0.00% (previous release "
                          "0.00% over 230)")
    # The canary backend first (green at the small weight, its weight back after the window), then green's own.
    to_canary = "set map %s %s %s" % (host.map, SERVICE, CANARY_BACKEND)
    to_green = "set map %s %s %s_green" % (host.map, SERVICE, SERVICE)
    assert host.api.sent("set map") == [to_canary, to_green]
    weights = host.api.sent("set weight")
    assert weights == ["set weight %s/green 10" % CANARY_BACKEND, "set weight %s/green 100" % CANARY_BACKEND]
    events = host.events
    assert (host.index(("gate", "http://127.0.0.1:18102/health")) < host.index(("api", weights[0]))
            < host.index(("api", to_canary)) < host.index(("probe", "http://127.0.0.1:18102/health"))
            < host.index(("api", weights[1])) < host.index(("api", to_green)) < host.index(("systemctl", "stop", blue)))
    assert len([event for event in events if event[0] == "probe"]) == 3
    # The map file named the live slot while the canary was watched; green once switched in.
    assert host.api.map_file_at_set == [(CANARY_BACKEND, "%s_blue" % SERVICE), ("%s_green" % SERVICE,
                                                                              "%s_green" % SERVICE)]
    assert host.map_entries() == {SERVICE: "%s_green" % SERVICE}
    assert host.systemd.verbs() == ["restart %s" % green, "enable %s" % green, "stop %s" % blue, "disable %s" % blue]


@pytest.mark.parametrize("kwargs, reason", [
    # 5 requests in the window: too little traffic to judge is not a pass.
    ({"green": (0, 5)}, "answered 5 request(s) in the window, fewer than min_requests 20"),
    # Its own health read fails in the window.
    ({"probe_answers": [{"healthy": True, "error": None}, {"healthy": False, "error": "status degraded"}]},
     "its health check failed during the window: status degraded"),
])
def test_a_bad_canary_is_taken_out_and_the_live_slot_kept_serving(tmp_path, kwargs, reason):
    host = canary_host(tmp_path, **kwargs)
    result = host.reconcile(canary=CANARY)
    green, blue = Host.unit("green"), Host.unit("blue")
    (svc,) = result["services"]
    assert svc["failed"] is True and svc["switched"] is False and svc["canary"]["passed"] is False
    assert reason in svc["canary"]["reason"] and reason in result["failed_services"][SERVICE]
    assert result["failed_services"][SERVICE].startswith(
        "tts_service: the canary in slot green (releases/2.0.0) failed its window, taken out and stopped; "
        "slot blue (releases/1.0.0) kept serving")
    assert result["live"] == {SERVICE: "blue"}
    # In, out: the live slot's backend named again, the canary drained and stopped; blue never touched.
    assert host.api.sent("set map") == ["set map %s %s %s" % (host.map, SERVICE, CANARY_BACKEND),
                                        "set map %s %s %s_blue" % (host.map, SERVICE, SERVICE)]
    assert "set server %s/green state drain" % CANARY_BACKEND in host.api.commands
    assert host.map_entries() == {SERVICE: "%s_blue" % SERVICE}
    assert host.systemd.verbs() == ["restart %s" % green, "stop %s" % green]
    assert sp.failed_services(None, result) == {SERVICE: result["failed_services"][SERVICE]}


def test_a_restart_or_a_first_slot_never_goes_through_the_canary(tmp_path):
    host = canary_host(tmp_path, live_release="releases/2.0.0")
    result = host.reconcile(canary=CANARY, restart=[SERVICE])
    assert result["services"][0]["switched"] is True and "canary" not in result["services"][0]
    assert host.api.sent("set weight") == [] and host.api.sent("set map") == [
        "set map %s %s %s_green" % (host.map, SERVICE, SERVICE)]
    first = Host(tmp_path / "first", live=None)
    (tmp_path / "first").mkdir(exist_ok=True)
    result = first.reconcile(canary=CANARY)
    assert result["services"][0]["action"] == "install" and "canary" not in result["services"][0]


def test_a_canary_needs_its_backend_and_well_formed_settings(tmp_path):
    host = canary_host(tmp_path)
    service = host.service()
    del service["canary_backend"]
    with pytest.raises(slots.SlotsError, match="service tts_service: canary_backend is required with canary"):
        host.reconcile(canary=CANARY, services=[service])
    with pytest.raises(slots.SlotsError, match="canary: weight must be 1-256"):
        host.reconcile(canary=dict(CANARY, weight=0))
    assert host.systemd.verbs() == [] and host.api.commands == []
