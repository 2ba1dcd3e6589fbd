# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_supervisor.py: environment= quoting (round trip through a
stdlib copy of supervisord's own parsing) and the reconcile against a fake
supervisorctl: the exact sub-commands of each case."""

import configparser
import shlex

import pytest

from ansible_collections.alicia.platform.plugins.module_utils._supervisor import (
    SupervisorError,
    Supervisorctl,
    environment_problem,
    environment_value,
    parse_status,
    reconcile,
)
from ansible_collections.alicia.platform.tests.unit.plugins.fake_supervisor import FakeSupervisor


def supervisord_reads(value):
    """What supervisord 4.2 makes of `environment=<value>`: its config parser
    (inline comments ; and # after a blank), %-expansion, then
    datatypes.dict_of_key_value_pairs (non-POSIX shlex, quotes stripped)."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    parser.read_string("[program:x]\nenvironment=%s\n" % value)
    raw = parser.get("program:x", "environment") % {}
    lexer = shlex.shlex(raw)
    lexer.wordchars += "/.+-():"
    tokens = list(lexer)
    result = {}
    for i in range(0, len(tokens), 4):
        key, equals, val = tokens[i:i + 3]
        assert equals == "="
        result[key] = val.strip("'\"")
    return result


TRICKY = {
    "ALICIA_TRICKY": 'say "hi", \\ C:\\path $HOME ${USER} %h 100%',
    "COMMAS": "a,b,c=d",
    "APOSTROPHE": "it's 50% off, $5",
    "EMPTY": "",
    "SEMICOLON": "a;b#c",
    "MQTT_PASSWORD": "p@ss=w0rd$%(ENV_HOME)s",
}


def test_environment_round_trips_through_supervisords_parser():
    value = environment_value(TRICKY)
    assert supervisord_reads(value) == TRICKY


def test_environment_quotes_and_percent():
    assert environment_value({"B": 'say "hi" now', "A": "50%"}) == "A=\"50%%\",B='say \"hi\" now'"
    assert environment_value({"FLAG": True, "N": 3}) == 'FLAG="true",N="3"'


@pytest.mark.parametrize("value,text", [
    ("x'y\"z", "both ' and \""),
    ('"quoted"', "starting or ending with a quote"),
    ("end'", "starting or ending with a quote"),
    ("a ;comment", "starts a comment"),
    ("a\t#comment", "starts a comment"),
    ("two\nlines", "line break"),
])
def test_unwritable_values_name_the_variable_never_the_value(value, text):
    problem = environment_problem("SECRET", value)
    assert problem.startswith("variable SECRET: ") and text in problem
    with pytest.raises(SupervisorError) as exc:
        environment_value({"SECRET": value})
    assert "SECRET" in str(exc.value) and value not in str(exc.value)


def test_environment_rejects_bad_names():
    with pytest.raises(SupervisorError, match="not an identifier"):
        environment_value({"1X": "v"})


def test_parse_status():
    text = ("alicia-a      RUNNING   pid 41, uptime 0:01:02\n"
            "alicia-b      FATAL     Exited too quickly (process log may have details)\n"
            "alicia-c      STOPPED   Not started\n")
    assert parse_status(text) == {
        "alicia-a": {"state": "RUNNING", "pid": 41, "description": "pid 41, uptime 0:01:02"},
        "alicia-b": {"state": "FATAL", "pid": None, "description": "Exited too quickly (process log may have details)"},
        "alicia-c": {"state": "STOPPED", "pid": None, "description": "Not started"},
    }


def running(*names):
    fake = FakeSupervisor(config=dict((n, "v1") for n in names), loaded=dict((n, "v1") for n in names))
    for n in names:
        fake._spawn(n)
    return fake


def test_fresh_programs_one_update_no_restart():
    fake = FakeSupervisor(config={"a": "v1", "b": "v1"})
    result = reconcile(Supervisorctl(fake.run), ["a", "b"], updated=["a", "b"], restart=["a", "b"])
    assert fake.calls == [["status"], ["update"], ["status"]]
    assert result["changed"] and result["actions"] == {"a": ["added"], "b": ["added"]}
    assert result["programs"]["a"]["state"] == "RUNNING"


def test_unchanged_rerun_is_one_status_call():
    fake = running("a", "b")
    result = reconcile(Supervisorctl(fake.run), ["a", "b"])
    assert fake.calls == [["status"]] and not result["changed"] and result["actions"] == {}


def test_only_the_changed_program_restarts_once():
    fake = running("a", "b", "c")
    pids = dict((n, p["pid"]) for n, p in fake.procs.items())
    fake.config["b"] = "v2"
    result = reconcile(Supervisorctl(fake.run), ["a", "b", "c"], updated=["b"], restart=["b", "c"])
    # b: its section changed, restarted by the update only; c: its env/release changed: one restart.
    assert fake.calls == [["status"], ["update"], ["status"], ["restart", "c"], ["status"]]
    assert result["actions"] == {"b": ["updated"], "c": ["restarted"]}
    assert fake.procs["a"]["pid"] == pids["a"] and fake.procs["b"]["pid"] != pids["b"]


def test_a_stopped_program_is_started_in_one_call():
    fake = running("a", "b", "c")
    fake.procs["a"] = {"state": "FATAL", "pid": None}
    fake.procs["c"] = {"state": "STOPPED", "pid": None}
    result = reconcile(Supervisorctl(fake.run), ["a", "b", "c"])
    assert fake.calls == [["status"], ["start", "a", "c"], ["status"]]
    assert result["actions"] == {"a": ["started"], "c": ["started"]}


def test_check_mode_only_reads():
    fake = running("a")
    fake.procs["a"] = {"state": "EXITED", "pid": None}
    fake.config["b"] = "v1"
    result = reconcile(Supervisorctl(fake.run), ["a", "b"], updated=["b"], restart=["a"], check_mode=True)
    assert fake.calls == [["status"]]
    assert result["changed"] and result["actions"] == {"b": ["added"], "a": ["restarted"]}


def test_absent_program_stopped_and_removed():
    fake = running("a", "old")
    result = reconcile(Supervisorctl(fake.run), ["a"], absent=["old"])
    assert fake.calls == [["status"], ["stop", "old"], ["remove", "old"], ["status"]]
    assert "old" not in fake.loaded and result["programs"]["old"]["state"] == "ABSENT"
    # Again: nothing left to do.
    fake.calls = []
    assert not reconcile(Supervisorctl(fake.run), ["a"], absent=["old"])["changed"]


def test_section_removed_goes_with_the_update():
    fake = running("a", "old")
    del fake.config["old"]
    result = reconcile(Supervisorctl(fake.run), ["a"], updated=["old"], absent=["old"])
    assert fake.calls == [["status"], ["update"], ["status"]]
    assert result["actions"] == {"old": ["removed"]} or result["actions"] == {}
    assert "old" not in fake.loaded


def test_stopped_and_restarted_states():
    fake = running("a", "b")
    result = reconcile(Supervisorctl(fake.run), ["a", "b"], state="stopped")
    assert fake.calls[1:] == [["stop", "a", "b"], ["status"]] and result["changed"]
    fake.calls = []
    assert not reconcile(Supervisorctl(fake.run), ["a", "b"], state="stopped")["changed"]
    fake.calls = []
    reconcile(Supervisorctl(fake.run), ["a", "b"], state="restarted")
    assert fake.calls == [["status"], ["restart", "a", "b"], ["status"]]


def test_unknown_program_fails_naming_it():
    fake = running("a")
    with pytest.raises(SupervisorError, match="no program ghost"):
        reconcile(Supervisorctl(fake.run), ["a", "ghost"])


def test_a_failing_call_fails_with_its_message():
    def broken(argv):
        return (0, "a  RUNNING pid 3, uptime 0:00:01\n", "") if argv[1] == "status" else (7, "", "boom")
    with pytest.raises(SupervisorError, match="boom"):
        reconcile(Supervisorctl(broken), ["a"], restart=["a"])


def test_bad_names_and_state():
    fake = running("a")
    with pytest.raises(SupervisorError, match="not a supervisor program name"):
        reconcile(Supervisorctl(fake.run), ["a b"])
    with pytest.raises(SupervisorError, match="state must be one of"):
        reconcile(Supervisorctl(fake.run), ["a"], state="gone")


def test_config_option_passed():
    fake = running("a")
    ctl = Supervisorctl(fake.run, "/usr/bin/supervisorctl", "/etc/supervisor/supervisord.conf")
    seen = []
    ctl._run = lambda argv: seen.append(argv) or fake.run(argv)
    reconcile(ctl, ["a"])
    assert seen == [["/usr/bin/supervisorctl", "-c", "/etc/supervisor/supervisord.conf", "status"]]


def test_check_mode_reports_unknown_programs_as_added():
    fake = running("a")
    result = reconcile(Supervisorctl(fake.run), ["a", "b"], check_mode=True)
    assert fake.calls == [["status"]] and result["actions"] == {"b": ["added"]}
