# -*- coding: utf-8 -*-
"""The files module run for real (a fresh Python per run) against a temporary directory."""

import base64
import grp
import json
import os
import pwd
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _files

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def files(run_module_file):
    """files(entries, check=False, diff=False, **args) -> (rc, result)."""
    def _run(entries, check=False, diff=False, **args):
        args = dict(args, files=entries, _ansible_check_mode=check, _ansible_diff=diff)
        return run_module_file("files", args)
    return _run


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def leftovers(directory):
    return [name for name in os.listdir(str(directory)) if name.startswith(".alicia-files-")]


def validator(directory, needle="ok"):
    """A validate script: fails with a message on stderr unless the file contains ``needle``."""
    script = directory / "check.sh"
    script.write_text("#!/bin/sh\ngrep -q '%s' \"$1\" || { echo \"bad content in $1\" >&2; exit 3; }\n" % needle)
    script.chmod(0o755)
    return str(script)


# ---------------------------------------------------------------------------
# create, update, unchanged
# ---------------------------------------------------------------------------

def test_create_then_unchanged_then_update(files, tmp_path):
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    entries = [dict(path=str(a), content="one\n", mode="0640", key="a"),
               dict(path=str(b), content="two\n", key="b")]
    rc, result = files(entries, defaults=dict(mode="0600"))
    assert rc == 0, result
    assert result["changed"] is True
    assert result["files"] == {str(a): dict(changed=True, state="file", action="created"),
                               str(b): dict(changed=True, state="file", action="created")}
    assert result["changed_paths"] == [str(a), str(b)]
    assert result["changed_keys"] == ["a", "b"]
    assert (a.read_text(), mode_of(a), b.read_text(), mode_of(b)) == ("one\n", 0o640, "two\n", 0o600)

    rc, result = files(entries, defaults=dict(mode="0600"))
    assert (rc, result["changed"], result["changed_paths"], result["changed_keys"]) == (0, False, [], [])
    assert set(item["action"] for item in result["files"].values()) == {"unchanged"}

    entries[1]["content"] = "two, changed\n"
    rc, result = files(entries, defaults=dict(mode="0600"))
    assert (rc, result["changed"], result["changed_paths"]) == (0, True, [str(b)])
    assert result["files"][str(b)]["action"] == "updated"
    assert result["files"][str(a)]["action"] == "unchanged"
    assert b.read_text() == "two, changed\n" and mode_of(b) == 0o600
    assert leftovers(tmp_path) == []


def test_content_update_is_a_rename_and_keeps_attributes(files, tmp_path):
    path = tmp_path / "f"
    path.write_text("old\n")
    path.chmod(0o604)
    inode = os.stat(str(path)).st_ino
    rc, result = files([dict(path=str(path), content="new\n")])
    assert rc == 0 and result["files"][str(path)]["action"] == "updated"
    assert os.stat(str(path)).st_ino != inode, "content must be replaced by renaming a new file over it"
    assert path.read_text() == "new\n"
    assert mode_of(path) == 0o604, "an entry without mode keeps the existing mode"
    assert leftovers(tmp_path) == []


def test_mode_and_owner_change_without_rewriting(files, tmp_path):
    path = tmp_path / "f"
    path.write_text("same\n")
    path.chmod(0o644)
    os.utime(str(path), (1000000000, 1000000000))
    inode = os.stat(str(path)).st_ino
    expected_before = ["mode: 0644"]
    if os.geteuid() == 0:  # root can hand the file to someone else first
        os.chown(str(path), 54321, 54321)
        expected_before = ["owner: 54321", "group: 54321", "mode: 0644"]
    rc, result = files([dict(path=str(path), content="same\n", owner=USER, group=GROUP, mode="0600")], diff=True)
    assert rc == 0, result
    assert result["files"][str(path)] == dict(changed=True, state="file", action="attributes")
    st = os.stat(str(path))
    assert (st.st_ino, st.st_mtime, st.st_uid, st.st_gid) == (inode, 1000000000, os.getuid(), os.getgid())
    assert mode_of(path) == 0o600
    assert result["diff"][0]["before"].splitlines() == expected_before
    assert result["diff"][0]["after"].splitlines()[-1] == "mode: 0600"
    rc, result = files([dict(path=str(path), content="same\n", owner=USER, group=GROUP, mode=0o600)])
    assert (rc, result["changed"]) == (0, False), "an int mode is the same mode"


def test_binary_content_b64_round_trip(files, tmp_path):
    data = bytes(range(256)) * 4
    path = tmp_path / "blob"
    rc, result = files([dict(path=str(path), content_b64=base64.b64encode(data).decode())], diff=True)
    assert rc == 0 and result["changed"] is True
    assert path.read_bytes() == data
    assert result["diff"][0]["after"].startswith("(binary content not shown: 1024 bytes, sha1 ")
    rc, result = files([dict(path=str(path), content_b64=base64.b64encode(data).decode())])
    assert (rc, result["changed"]) == (0, False)


def test_symlink_at_a_file_path_is_replaced_not_followed(files, tmp_path):
    target = tmp_path / "target"
    target.write_text("target\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    rc, result = files([dict(path=str(link), content="mine\n")])
    assert rc == 0 and result["files"][str(link)]["action"] == "updated"
    assert not link.is_symlink() and link.read_text() == "mine\n"
    assert target.read_text() == "target\n"


def test_missing_parent_fails_naming_it(files, tmp_path):
    path = tmp_path / "nope" / "f"
    rc, result = files([dict(path=str(path), content="x")])
    assert rc == 1
    assert "parent directory %s does not exist" % (tmp_path / "nope") in result["msg"]
    assert result["failed_path"] == str(path)


# ---------------------------------------------------------------------------
# directory, touch, absent
# ---------------------------------------------------------------------------

def test_directory_with_parents(files, tmp_path):
    top = tmp_path / "a"
    leaf = top / "b" / "c"
    rc, result = files([dict(path=str(leaf), state="directory", owner=USER, mode="0750")], diff=True)
    assert rc == 0 and result["files"][str(leaf)] == dict(changed=True, state="directory", action="created")
    for directory in (top, top / "b", leaf):
        assert directory.is_dir() and mode_of(directory) == 0o750, directory
    assert result["diff"][0]["before"] == "state: absent\n"
    assert result["diff"][0]["after"].startswith("state: directory\nowner: %s\nmode: 0750\n" % USER)
    assert "parents created: %s %s" % (top, top / "b") in result["diff"][0]["after"]

    rc, result = files([dict(path=str(leaf), state="directory", mode="0750")])
    assert (rc, result["changed"]) == (0, False)
    rc, result = files([dict(path=str(leaf), state="directory", mode="0700")], diff=True)
    assert result["files"][str(leaf)]["action"] == "attributes" and mode_of(leaf) == 0o700
    assert (result["diff"][0]["before"], result["diff"][0]["after"]) == ("mode: 0750\n", "mode: 0700\n")
    assert mode_of(top) == 0o750, "only the declared directory changes once it exists"


def test_directory_mode_from_defaults(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "d"), state="directory"),
                        dict(path=str(tmp_path / "d" / "f"), content="x")], defaults=dict(mode="0640"))
    assert rc == 0, result
    assert mode_of(tmp_path / "d") == 0o750 and mode_of(tmp_path / "d" / "f") == 0o640


def test_directory_over_a_file_fails(files, tmp_path):
    (tmp_path / "f").write_text("x")
    rc, result = files([dict(path=str(tmp_path / "f"), state="directory")])
    assert rc == 1 and "exists and is not a directory" in result["msg"]


def test_touch_creates_then_never_changes_content_or_timestamps(files, tmp_path):
    new = tmp_path / "new.log"
    rc, result = files([dict(path=str(new), state="touch", mode="0640")])
    assert rc == 0 and result["files"][str(new)] == dict(changed=True, state="touch", action="created")
    assert new.read_bytes() == b"" and mode_of(new) == 0o640

    existing = tmp_path / "existing.log"
    existing.write_text("log line\n")
    existing.chmod(0o644)
    os.utime(str(existing), (1000000000, 1100000000))
    rc, result = files([dict(path=str(existing), state="touch", mode="0640")])
    assert rc == 0 and result["files"][str(existing)]["action"] == "attributes"
    st = os.stat(str(existing))
    assert (existing.read_text(), st.st_atime, st.st_mtime, mode_of(existing)) == (
        "log line\n", 1000000000, 1100000000, 0o640)
    rc, result = files([dict(path=str(existing), state="touch", mode="0640")])
    assert (rc, result["changed"]) == (0, False)
    assert os.stat(str(existing)).st_mtime == 1100000000


def test_absent_file_link_and_directory(files, tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "target").write_text("kept")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "g").write_text("y")
    paths = [str(tmp_path / name) for name in ("f", "link", "dir", "never-there")]
    rc, result = files([dict(path=p, state="absent") for p in paths], diff=True)
    assert rc == 0, result
    assert [result["files"][p]["action"] for p in paths] == ["removed", "removed", "removed", "unchanged"]
    assert result["removed"] == paths[:3]
    assert sorted(os.listdir(str(tmp_path))) == ["target"]
    assert [d["before"] for d in result["diff"]] == ["state: file\n", "state: link\n", "state: directory\n"]
    assert set(d["after"] for d in result["diff"]) == {"state: absent\n"}


# ---------------------------------------------------------------------------
# prune
# ---------------------------------------------------------------------------

def test_prune_removes_only_undeclared_matching_files(files, tmp_path):
    d = tmp_path / "logrotate.d"
    d.mkdir()
    for name in ("alicia-tts", "alicia-old", "apt", ".alicia-hidden"):
        (d / name).write_text(name)
    (d / "alicia-link").symlink_to(d / "apt")
    (d / "alicia-dir").mkdir()
    (d / "alicia-dir" / "inner").write_text("inner")
    rc, result = files([dict(path=str(d / "alicia-tts"), content="alicia-tts", key="policies")],
                       prune=[dict(path=str(d), patterns=["alicia-*"], key="pruned"),
                              dict(path=str(tmp_path / "missing"), patterns=["*"])], diff=True)
    assert rc == 0, result
    assert result["removed"] == [str(d / "alicia-link"), str(d / "alicia-old")]
    assert result["files"][str(d / "alicia-old")] == dict(changed=True, state="absent", action="removed", pruned=True)
    assert result["changed_keys"] == ["pruned"], "alicia-tts was unchanged; only the prune changed something"
    assert sorted(os.listdir(str(d))) == [".alicia-hidden", "alicia-dir", "alicia-tts", "apt"]
    assert (d / "alicia-dir" / "inner").exists()
    rc, result = files([dict(path=str(d / "alicia-tts"), content="alicia-tts")],
                       prune=[dict(path=str(d), patterns=["alicia-*"])])
    assert (rc, result["changed"], result["removed"]) == (0, False, [])


def test_prune_does_not_run_after_a_failure(files, tmp_path):
    (tmp_path / "alicia-old").write_text("old")
    rc, result = files([dict(path=str(tmp_path / "x" / "f"), content="x")],
                       prune=[dict(path=str(tmp_path), patterns=["alicia-*"])])
    assert rc == 1 and (tmp_path / "alicia-old").exists() and result["removed"] == []


def test_prune_keeps_the_newest_releases_and_never_the_current_one(files, tmp_path):
    """releases/*: the declared current release stays, of the others the 2 newest by mtime stay."""
    service = tmp_path / "voice_router"
    names = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
    for offset, name in enumerate(names):
        (service / "releases" / name / "pkg").mkdir(parents=True)
        (service / "releases" / name / "pkg" / "main.py").write_text(name)
        os.utime(str(service / "releases" / name), (1000000000 + 60 * offset,) * 2)
    (service / "releases" / "notes.txt").write_text("not a release")
    entries = [dict(path=str(service / "releases" / "1.0.0"), state="directory"),  # redeployed: the oldest
               dict(path=str(service / "current"), state="link", target="releases/1.0.0", key="voice_router")]
    prune = [dict(path=str(service / "releases"), patterns=["1.*"], directories=True, keep=2, key="releases")]

    rc, result = files(entries, prune=prune, check=True, diff=True)
    assert rc == 0, result
    removed = [str(service / "releases" / name) for name in ("1.1.0", "1.2.0")]
    assert result["removed"] == removed
    assert [(d["before_header"], d["before"], d["after"]) for d in result["diff"][1:]] == [
        (path, "state: directory\n", "state: absent\n") for path in removed]
    assert len(os.listdir(str(service / "releases"))) == 6, "check mode removes nothing"

    rc, result = files(entries, prune=prune)
    assert rc == 0, result
    assert result["removed"] == removed and result["changed_keys"] == ["voice_router", "releases"]
    assert result["files"][removed[0]] == dict(changed=True, state="absent", action="removed", pruned=True)
    assert sorted(os.listdir(str(service / "releases"))) == ["1.0.0", "1.3.0", "1.4.0", "notes.txt"]
    assert (service / "current" / "pkg" / "main.py").read_text() == "1.0.0"

    rc, result = files(entries, prune=prune)
    assert (rc, result["changed"], result["removed"]) == (0, False, []), "two kept: nothing more to remove"


def test_prune_directories_without_keep_removes_every_undeclared_match(files, tmp_path):
    d = tmp_path / "conf.d"
    (d / "alicia-old" / "deep").mkdir(parents=True)
    (d / "alicia-old" / "deep" / "f").write_text("x")
    (d / "alicia-kept").mkdir()
    (d / "alicia-kept" / "declared").write_text("y")
    (d / "other").mkdir()
    rc, result = files([dict(path=str(d / "alicia-kept" / "declared"), content="y")],
                       prune=[dict(path=str(d), patterns=["alicia-*"], directories=True)])
    assert rc == 0, result
    assert result["removed"] == [str(d / "alicia-old")]
    assert sorted(os.listdir(str(d))) == ["alicia-kept", "other"], "a directory holding a declared path stays"


def test_module_alone_refuses_a_tree(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "app"), state="tree", src="app")])
    assert rc == 1
    assert "state tree is expanded by the alicia.platform.files action plugin" in result["msg"]
    assert not (tmp_path / "app").exists()


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------

def test_validate_passes_and_installs(files, tmp_path):
    check = validator(tmp_path)
    path = tmp_path / "conf"
    rc, result = files([dict(path=str(path), content="ok\n", validate=check + " %s")])
    assert rc == 0, result
    assert path.read_text() == "ok\n"


def test_validate_failure_keeps_live_file_and_reports_earlier_entries(files, tmp_path):
    """The first entry installs the validator the second uses; the third is never applied."""
    check = tmp_path / "bin" / "check"
    conf = tmp_path / "conf"
    conf.write_text("ok, old\n")
    inode = os.stat(str(conf)).st_ino
    later = tmp_path / "later"
    script = "#!/bin/sh\ngrep -q ok \"$1\" || { echo \"no ok in $1\" >&2; echo checked; exit 3; }\n"
    rc, result = files([
        dict(path=str(tmp_path / "bin"), state="directory", key="bin"),
        dict(path=str(check), content=script, mode="0755", key="validator"),
        dict(path=str(conf), content="bad\n", validate=str(check) + " %s", key="conf"),
        dict(path=str(later), content="later\n", key="later"),
    ])
    assert rc == 1
    assert "validate failed for %s" % conf in result["msg"]
    assert "no ok in " in result["msg"] and "checked" in result["msg"] and "exited 3" in result["msg"]
    assert result["failed_path"] == str(conf)
    assert result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "bin"), str(check)]
    assert result["changed_keys"] == ["bin", "validator"]
    assert str(conf) not in result["files"] and str(later) not in result["files"]
    assert conf.read_text() == "ok, old\n" and os.stat(str(conf)).st_ino == inode
    assert not later.exists()
    assert leftovers(tmp_path) == []


def test_validate_runs_only_when_content_changes(files, tmp_path):
    path = tmp_path / "conf"
    path.write_text("fine\n")
    rc, result = files([dict(path=str(path), content="fine\n", mode="0600", validate="false %s")])
    assert rc == 0 and result["files"][str(path)]["action"] == "attributes"


# ---------------------------------------------------------------------------
# check mode
# ---------------------------------------------------------------------------

def test_check_mode_writes_nothing_and_runs_no_validate(files, tmp_path):
    marker = tmp_path / "validated"
    existing = tmp_path / "existing"
    existing.write_text("old\n")
    existing.chmod(0o644)
    (tmp_path / "alicia-stale").write_text("stale")
    before = sorted(os.listdir(str(tmp_path)))
    entries = [
        dict(path=str(tmp_path / "d"), state="directory"),
        dict(path=str(tmp_path / "d" / "f"), content="new\n"),
        dict(path=str(existing), content="new\n", mode="0600", validate="touch %s %s" % (marker, "%s")),
        dict(path=str(tmp_path / "t"), state="touch"),
        dict(path=str(tmp_path / "gone-anyway"), state="absent"),
    ]
    rc, result = files(entries, check=True, diff=True, prune=[dict(path=str(tmp_path), patterns=["alicia-*"])])
    assert rc == 0, result
    assert result["changed"] is True
    assert [result["files"][e["path"]]["action"] for e in entries] == [
        "created", "created", "updated", "created", "unchanged"]
    assert result["removed"] == [str(tmp_path / "alicia-stale")]
    assert sorted(os.listdir(str(tmp_path))) == before
    assert existing.read_text() == "old\n" and mode_of(existing) == 0o644
    assert len(result["diff"]) == 5
    assert result["diff"][2]["before"] == "old\n" and result["diff"][2]["after"] == "new\n"
    assert result["diff"][2]["before_header"] == "%s (mode 0644)" % existing
    assert result["diff"][2]["after_header"] == "%s (mode 0600)" % existing


def test_check_mode_missing_owner_and_parent_do_not_fail(files, tmp_path):
    entries = [
        dict(path=str(tmp_path / "app"), state="directory", owner="alicia-no-such-user", group="alicia-no-such-group"),
        dict(path=str(tmp_path / "app" / "env"), content="A=1\n", owner="alicia-no-such-user", mode="0640"),
        dict(path=str(tmp_path / "app" / "log"), state="touch", owner="alicia-no-such-user"),
    ]
    existing = tmp_path / "existing"
    existing.write_text("same\n")
    entries.append(dict(path=str(existing), content="same\n", owner="alicia-no-such-user"))
    rc, result = files(entries, check=True, diff=True)
    assert rc == 0, result
    assert [item["action"] for item in result["files"].values()] == ["created", "created", "created", "attributes"]
    assert result["diff"][3]["after"] == "owner: alicia-no-such-user\n"
    assert not (tmp_path / "app").exists()

    rc, result = files(entries)
    assert rc == 1
    assert "files[0] (%s): owner alicia-no-such-user does not exist" % (tmp_path / "app") in result["msg"]
    assert not (tmp_path / "app").exists(), "a missing owner fails before anything is touched"


# ---------------------------------------------------------------------------
# diff, secrets, keys, bad input
# ---------------------------------------------------------------------------

def test_diff_shows_text_changes(files, tmp_path):
    path = tmp_path / "conf"
    path.write_text("a\nb\n")
    rc, result = files([dict(path=str(path), content="a\nc\n"), dict(path=str(tmp_path / "same"), state="absent")],
                       diff=True)
    assert rc == 0
    assert result["diff"] == [dict(before_header=str(path), after_header=str(path), before="a\nb\n", after="a\nc\n")]
    rc, result = files([dict(path=str(path), content="a\nc\n")])
    assert "diff" not in result, "no diff outside diff mode"


def test_large_content_diff_placeholder(files, tmp_path):
    big = "x" * (300 * 1024)
    rc, result = files([dict(path=str(tmp_path / "big"), content=big)], diff=True)
    assert rc == 0 and (tmp_path / "big").read_text() == big
    assert result["diff"][0]["after"].startswith("(content not shown: 307200 bytes, over 256 KiB")


def test_secret_never_in_output(files, tmp_path):
    secret = "MQTT_PASSWORD=s3cr3t-Value-42\n"
    path = tmp_path / "env"
    path.write_text("MQTT_PASSWORD=old-s3cr3t\n")
    rc, result = files([dict(path=str(path), content=secret, secret=True, mode="0600"),
                        dict(path=str(tmp_path / "plain"), content="plain text\n")], diff=True)
    assert rc == 0
    out = json.dumps(result)
    assert "s3cr3t" not in out
    assert result["diff"][0]["before"] == "(secret content not shown)\n"
    assert result["diff"][0]["after"] == "(secret content not shown, changed)\n"
    assert result["diff"][1]["after"] == "plain text\n", "content that is not secret shows in diffs"
    assert [e.get("content") for e in result["invocation"]["module_args"]["files"]] == [
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"] * 2
    assert path.read_text() == secret


def test_secret_masked_in_validator_output(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "env"), content="hunter2-secret\n", secret=True,
                             validate="sh -c 'cat \"$1\"; exit 1' check %s")])
    assert rc == 1
    assert "hunter2-secret" not in json.dumps(result)
    assert "validate failed for %s" % (tmp_path / "env") in result["msg"]


def test_changed_keys_unique_in_order_of_changes(files, tmp_path):
    (tmp_path / "same").write_text("same")
    rc, result = files([
        dict(path=str(tmp_path / "a"), content="a", key="units"),
        dict(path=str(tmp_path / "same"), content="same", key="journald"),
        dict(path=str(tmp_path / "b"), content="b", key="policies"),
        dict(path=str(tmp_path / "c"), content="c", key="units"),
        dict(path=str(tmp_path / "d"), content="d"),
    ])
    assert rc == 0
    assert result["changed_keys"] == ["units", "policies"]


def test_duplicate_path_rejected_before_anything(files, tmp_path):
    first = tmp_path / "first"
    rc, result = files([dict(path=str(first), content="x"),
                        dict(path=str(tmp_path / "dup"), content="x"),
                        dict(path=str(tmp_path) + "//dup/", content="y")])
    assert rc == 1
    assert "duplicate path %s" % (tmp_path / "dup") in result["msg"] and "files[2]" in result["msg"]
    assert not first.exists()


def test_relative_path_rejected_naming_the_entry(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "a"), content="x"), dict(path="etc/b", content="x")])
    assert rc == 1 and "files[1] (etc/b): path must be absolute" in result["msg"]
    assert not (tmp_path / "a").exists()


def test_module_alone_rejects_template_and_src(files, tmp_path):
    rc, result = files([dict(path=str(tmp_path / "a"), template="a.j2")])
    assert rc == 1 and "action plugin" in result["msg"]


# ---------------------------------------------------------------------------
# symbolic links (state link): release switching
# ---------------------------------------------------------------------------

@pytest.fixture
def service(tmp_path):
    """A service directory with releases/0.9.0 and releases/1.0.0 (each with a file); returns the directory."""
    for version in ("0.9.0", "1.0.0"):
        (tmp_path / "releases" / version).mkdir(parents=True)
        (tmp_path / "releases" / version / "app.py").write_text("version %s\n" % version)
    return tmp_path


def link_entry(service, target, **extra):
    return dict(dict(path=str(service / "current"), state="link", target=target), **extra)


def test_link_created_then_unchanged(files, service):
    current = service / "current"
    rc, result = files([link_entry(service, "releases/1.0.0", owner=USER, group=GROUP, key="stt_service")],
                       diff=True)
    assert rc == 0, result
    assert result["files"] == {str(current): dict(changed=True, state="link", action="created")}
    assert (result["changed_paths"], result["changed_keys"]) == ([str(current)], ["stt_service"])
    assert os.readlink(str(current)) == "releases/1.0.0"
    assert (current / "app.py").read_text() == "version 1.0.0\n"
    st = os.lstat(str(current))
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert result["diff"] == [dict(before_header=str(current), after_header=str(current), before="state: absent\n",
                                   after="symlink -> releases/1.0.0\nowner: %s\ngroup: %s\n" % (USER, GROUP))]

    rc, result = files([link_entry(service, "releases/1.0.0", owner=USER, group=GROUP, key="stt_service")],
                       diff=True)
    assert rc == 0, result
    assert result["files"][str(current)] == dict(changed=False, state="link", action="unchanged")
    assert (result["changed"], result["changed_keys"], result["diff"]) == (False, [], [])
    assert os.lstat(str(current)).st_ino == st.st_ino, "an unchanged link is not recreated"


def test_link_target_is_stored_as_given(files, service):
    """Text, not resolution: an absolute target to the same directory is another target; dangling is fine."""
    current = service / "current"
    absolute = str(service / "releases" / "1.0.0")
    for target, action in ((absolute, "created"), (absolute, "unchanged"), ("releases/1.0.0", "updated"),
                           ("./releases/../releases/1.0.0/", "updated"), ("../not/there", "updated")):
        rc, result = files([link_entry(service, target)])
        assert rc == 0, result
        assert result["files"][str(current)]["action"] == action, target
        assert os.readlink(str(current)) == target
    assert leftovers(service) == []


def test_link_switch_is_a_rename_over_the_old_link(files, service):
    current = service / "current"
    current.symlink_to("releases/0.9.0")
    old_inode = os.lstat(str(current)).st_ino
    rc, result = files([dict(path=str(service / "other"), state="link", target="releases/0.9.0", key="other"),
                        link_entry(service, "releases/1.0.0", key="stt_service")],
                       diff=True)  # nothing is created after the switch that could reuse the freed inode
    assert rc == 0, result
    assert result["files"][str(current)] == dict(changed=True, state="link", action="updated")
    assert result["changed_keys"] == ["other", "stt_service"]
    assert os.readlink(str(current)) == "releases/1.0.0"
    assert os.lstat(str(current)).st_ino != old_inode, "a new link renamed over the path"
    inodes = [os.lstat(str(service / name)).st_ino for name in os.listdir(str(service))]
    assert old_inode not in inodes, "the old link is gone, not kept under another name"
    assert result["diff"][1] == dict(before_header=str(current), after_header=str(current),
                                     before="symlink -> releases/0.9.0\n", after="symlink -> releases/1.0.0\n")
    assert (service / "releases" / "0.9.0" / "app.py").read_text() == "version 0.9.0\n", "targets untouched"
    assert leftovers(service) == []


READER = r"""
import json, os, sys
path, stop = sys.argv[1], sys.argv[2]
seen, problems, last, flips, reads = {}, [], None, 0, 0
while reads % 64 or not os.path.exists(stop):
    reads += 1
    try:
        text = os.readlink(path)
    except OSError as exc:  # ENOENT while missing, EINVAL if it were no link
        problems.append(repr(exc))
        continue
    seen[text] = seen.get(text, 0) + 1
    if last is None:
        print("ready", flush=True)
    flips += last is not None and text != last
    last = text
print(json.dumps(dict(seen=seen, flips=flips, problems=problems[:5], errors=len(problems))))
"""


def test_link_switch_never_leaves_the_path_missing(service, monkeypatch):
    """200 switches while another process reads the link in a loop: always one release, never ENOENT.

    Every file system call on the path is recorded too: the only one is a
    rename of a temporary link onto it (no unlink, no rename away, no
    symlink created at the path itself).
    """
    current = str(service / "current")
    targets = ["releases/0.9.0", "releases/1.0.0"]
    switches = []
    for target in targets:
        entries, _prunes = _files.prepare([dict(path=current, state="link", target=target)])
        assert _files.resolve_ids(entries) == []
        switches.append(entries)
    assert _files.apply_all(switches[0], [])["files"][current]["action"] == "created"

    calls = []

    def spy(name, real, *watched):
        def _call(*args, **kwargs):
            calls.append((name,) + tuple(str(args[i]) for i in watched))
            return real(*args, **kwargs)
        monkeypatch.setattr(os, name, _call)
    for name in ("unlink", "remove", "rmdir"):
        spy(name, getattr(os, name), 0)
    for name in ("rename", "replace", "symlink"):
        spy(name, getattr(os, name), 0, 1)

    stop = service / "stop-reading"
    reader = subprocess.Popen([sys.executable, "-c", READER, current, str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "ready\n"
        for number in range(200):
            before = os.lstat(current).st_ino
            result = _files.apply_all(switches[(number + 1) % 2], [])
            assert result["files"][current]["action"] == "updated"
            assert os.lstat(current).st_ino != before
            time.sleep(0.0005)  # let the reader run between switches on a busy machine
    finally:
        stop.write_text("")
        out, _err = reader.communicate(timeout=30)
    seen = json.loads(out)
    assert seen["errors"] == 0, "the path was missing or no link during a switch: %r" % seen["problems"]
    assert set(seen["seen"]) == set(targets) and seen["flips"] > 0, "the reader ran during the switches"

    touching = [call for call in calls if current in call[1:]]
    assert [call[0] for call in touching] == ["rename"] * 200, touching[:5]
    assert all(call[2] == current and os.path.basename(call[1]).startswith(".alicia-files-") for call in touching)
    assert os.readlink(current) == targets[0]
    assert leftovers(service) == []


def test_link_never_replaces_a_directory(files, service):
    current = service / "current"
    current.mkdir()
    (current / "data").write_text("user data\n")
    for force in (False, True):
        rc, result = files([dict(path=str(service / "first"), content="x\n"),
                            link_entry(service, "releases/1.0.0", force=force)])
        assert rc == 1, result
        assert "files[1] (%s): %s is a directory" % (current, current) in result["msg"]
        assert result["failed_path"] == str(current)
        assert result["changed_paths"] == ([str(service / "first")] if not force else [])
        assert current.is_dir() and not current.is_symlink()
        assert (current / "data").read_text() == "user data\n"
    assert leftovers(service) == []


def test_link_replaces_a_regular_file_only_with_force(files, service):
    current = service / "current"
    current.write_text("not a link\n")
    rc, result = files([link_entry(service, "releases/1.0.0")])
    assert rc == 1, result
    assert "files[0] (%s): %s is a regular file" % (current, current) in result["msg"]
    assert "force: true" in result["msg"] and result["failed_path"] == str(current)
    assert not current.is_symlink() and current.read_text() == "not a link\n"

    rc, result = files([link_entry(service, "releases/1.0.0", force=True)], check=True, diff=True)
    assert rc == 0 and result["files"][str(current)]["action"] == "updated"
    assert not current.is_symlink(), "check mode replaces nothing"

    rc, result = files([link_entry(service, "releases/1.0.0", force=True, key="k")], diff=True)
    assert rc == 0, result
    assert result["files"][str(current)] == dict(changed=True, state="link", action="updated")
    assert result["changed_keys"] == ["k"]
    assert (result["diff"][0]["before"], result["diff"][0]["after"]) == (
        "state: file\n", "symlink -> releases/1.0.0\n")
    assert os.readlink(str(current)) == "releases/1.0.0"
    rc, result = files([link_entry(service, "releases/1.0.0", force=True)])
    assert (rc, result["changed"]) == (0, False)
    assert leftovers(service) == []


def test_link_check_mode_touches_nothing(files, service):
    current, other = service / "current", service / "other"
    current.symlink_to("releases/0.9.0")
    other.symlink_to("releases/0.9.0")
    inode = os.lstat(str(current)).st_ino
    before = sorted(os.listdir(str(service)))
    entries = [
        link_entry(service, "releases/1.0.0", key="stt_service"),
        dict(path=str(service / "new"), state="link", target="releases/1.0.0"),
        dict(path=str(service / "svc2" / "current"), state="link", target="releases/1.0.0"),
        dict(path=str(other), state="link", target="releases/0.9.0"),
    ]
    rc, result = files(entries, check=True, diff=True)
    assert rc == 0, result
    assert [result["files"][e["path"]]["action"] for e in entries] == ["updated", "created", "created", "unchanged"]
    assert result["changed_keys"] == ["stt_service"]
    assert sorted(os.listdir(str(service))) == before
    assert os.readlink(str(current)) == "releases/0.9.0" and os.lstat(str(current)).st_ino == inode
    assert [(d["before"], d["after"]) for d in result["diff"]] == [
        ("symlink -> releases/0.9.0\n", "symlink -> releases/1.0.0\n"),
        ("state: absent\n", "symlink -> releases/1.0.0\n"),
        ("state: absent\n", "symlink -> releases/1.0.0\n")]

    rc, result = files(entries[2:3])
    assert rc == 1 and "parent directory %s does not exist" % (service / "svc2") in result["msg"]


def test_link_absent_removes_only_the_link(files, service):
    current, dangling = service / "current", service / "dangling"
    current.symlink_to("releases/1.0.0")
    dangling.symlink_to("releases/nope")
    rc, result = files([dict(path=str(current), state="absent", key="k"), dict(path=str(dangling), state="absent")],
                       diff=True)
    assert rc == 0, result
    assert result["removed"] == [str(current), str(dangling)] and result["changed_keys"] == ["k"]
    assert not os.path.lexists(str(current)) and not os.path.lexists(str(dangling))
    assert (service / "releases" / "1.0.0" / "app.py").read_text() == "version 1.0.0\n", "the target is kept"
    assert [d["before"] for d in result["diff"]] == ["state: link\n", "state: link\n"]
    rc, result = files([dict(path=str(current), state="absent")])
    assert (rc, result["changed"]) == (0, False)


def test_link_is_never_pruned_when_declared(files, service):
    current, previous = service / "current", service / "previous"
    previous.symlink_to("releases/0.9.0")
    entries = [link_entry(service, "releases/1.0.0")]
    prune = [dict(path=str(service), patterns=["*"], key="pruned")]
    rc, result = files(entries, prune=prune)
    assert rc == 0, result
    assert result["removed"] == [str(previous)], "an undeclared link is pruned, the declared one is not"
    assert os.readlink(str(current)) == "releases/1.0.0"
    assert (service / "releases" / "0.9.0" / "app.py").exists(), "pruning a link never touches its target"
    rc, result = files(entries, prune=prune)
    assert (rc, result["changed"], result["removed"]) == (0, False, [])
    assert os.readlink(str(current)) == "releases/1.0.0"


@pytest.mark.skipif(os.geteuid() != 0, reason="lchown to another user needs root")
def test_link_owner_and_group_are_the_links_own(files, service):
    current = service / "current"
    target = service / "releases" / "1.0.0"
    current.symlink_to("releases/1.0.0")
    os.lchown(str(current), 54321, 54321)
    target_st = os.stat(str(target))
    inode = os.lstat(str(current)).st_ino
    rc, result = files([link_entry(service, "releases/1.0.0", owner=USER, group=GROUP, key="k")], diff=True)
    assert rc == 0, result
    assert result["files"][str(current)] == dict(changed=True, state="link", action="attributes")
    assert result["changed_keys"] == ["k"]
    assert (result["diff"][0]["before"], result["diff"][0]["after"]) == (
        "owner: 54321\ngroup: 54321\n", "owner: %s\ngroup: %s\n" % (USER, GROUP))
    st = os.lstat(str(current))
    assert (st.st_ino, st.st_uid, st.st_gid) == (inode, os.getuid(), os.getgid())
    assert (os.stat(str(target)).st_uid, os.stat(str(target)).st_gid) == (target_st.st_uid, target_st.st_gid)

    os.lchown(str(current), 54321, 54321)
    rc, result = files([link_entry(service, "releases/0.9.0")])
    assert rc == 0 and result["files"][str(current)]["action"] == "updated"
    st = os.lstat(str(current))
    assert (st.st_uid, st.st_gid) == (54321, 54321), "a switch without owner/group keeps the old link's"


def test_link_rejects_mode_and_needs_target(files, service):
    current = service / "current"
    rc, result = files([dict(path=str(service / "first"), content="x"),
                        link_entry(service, "releases/1.0.0", mode="0777"),
                        dict(path=str(service / "other"), state="link"),
                        dict(path=str(service / "third"), state="link", target="x", validate="true %s")])
    assert rc == 1
    assert "files[1] (%s): mode does not apply to state link" % current in result["msg"]
    assert "files[2] (%s): state link needs target" % (service / "other") in result["msg"]
    assert "files[3] (%s): validate only applies to state file" % (service / "third") in result["msg"]
    assert not os.path.lexists(str(current)) and not (service / "first").exists()

    rc, result = files([link_entry(service, "releases/1.0.0")], defaults=dict(mode="0600", owner=USER))
    assert rc == 0 and os.readlink(str(current)) == "releases/1.0.0", "defaults.mode does not apply to links"


# ---------------------------------------------------------------------------
# report_units: the state of the units the files configure, in the same execution
# ---------------------------------------------------------------------------

FAKE_SHOW = """#!/bin/sh
# A fake systemctl: logs its argv, answers `show` for units named in $FAKE_UNITS_DIR.
echo "$*" >> "$FAKE_UNITS_DIR/calls"
[ "$1" = show ] || exit 9
shift
first=1
for arg in "$@"; do
    case "$arg" in --*) continue ;; esac
    [ "$first" = 1 ] || echo
    first=0
    if [ -f "$FAKE_UNITS_DIR/$arg" ]; then
        cat "$FAKE_UNITS_DIR/$arg"
    else
        printf 'Id=%s\\nLoadState=not-found\\nActiveState=inactive\\nSubState=dead\\nUnitFileState=\\nMainPID=0\\n' "$arg"
    fi
done
[ -f "$FAKE_UNITS_DIR/fail" ] && { echo "Failed to connect to bus" >&2; exit 1; }
exit 0
"""


@pytest.fixture
def fake_systemctl(tmp_path, monkeypatch):
    """A directory of unit states read by a fake systemctl first on PATH; returns (units_dir, calls())."""
    units_dir = tmp_path / "units"
    bindir = tmp_path / "bin"
    units_dir.mkdir()
    bindir.mkdir()
    script = bindir / "systemctl"
    script.write_text(FAKE_SHOW)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ.get("PATH", "")))
    monkeypatch.setenv("FAKE_UNITS_DIR", str(units_dir))
    (units_dir / "logrotate.timer").write_text(
        "Id=logrotate.timer\nLoadState=loaded\nActiveState=active\nSubState=waiting\nUnitFileState=enabled\nMainPID=0\n")

    def calls():
        path = units_dir / "calls"
        return path.read_text().splitlines() if path.exists() else []
    return units_dir, calls


def test_report_units_reads_each_unit_once_in_one_systemctl_show(files, tmp_path, fake_systemctl):
    _units_dir, calls = fake_systemctl
    target = tmp_path / "policy"
    entry = dict(path=str(target), content="weekly\n", owner=USER, group=GROUP, mode="0644")
    rc, result = files([entry], report_units=["logrotate.timer", "absent.service", "logrotate.timer"])
    assert rc == 0, result
    assert result["changed"] is True
    assert result["units"]["logrotate.timer"]["active"] is True
    assert result["units"]["logrotate.timer"]["enabled"] is True
    assert result["units"]["logrotate.timer"]["sub_state"] == "waiting"
    assert result["units"]["absent.service"]["load_state"] == "not-found"
    assert result["units"]["absent.service"]["active"] is False
    assert len(calls()) == 1 and calls()[0].endswith("logrotate.timer absent.service"), calls()


def test_report_units_after_applying_and_in_check_mode(files, tmp_path, fake_systemctl):
    units_dir, calls = fake_systemctl
    (units_dir / "logrotate.timer").write_text(
        "Id=logrotate.timer\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nMainPID=0\n")
    target = tmp_path / "dropin.conf"
    rc, result = files([dict(path=str(target), content="[Timer]\n", owner=USER, group=GROUP, mode="0644")],
                       check=True, report_units=["logrotate.timer"])
    assert rc == 0, result
    assert result["changed"] is True and not target.exists()
    assert result["units"]["logrotate.timer"] == dict(
        load_state="loaded", active_state="inactive", sub_state="dead", unit_file_state="disabled", main_pid=0,
        active=False, enabled=False)
    assert len(calls()) == 1


def test_no_report_units_no_systemctl_call(files, tmp_path, fake_systemctl):
    _units_dir, calls = fake_systemctl
    rc, result = files([dict(path=str(tmp_path / "f"), content="x\n", owner=USER, group=GROUP, mode="0644")])
    assert rc == 0, result
    assert result["units"] == {}
    assert calls() == []


def test_report_units_failure_names_the_units_and_keeps_what_was_applied(files, tmp_path, fake_systemctl):
    units_dir, _calls = fake_systemctl
    (units_dir / "fail").write_text("")
    target = tmp_path / "policy"
    rc, result = files([dict(path=str(target), content="weekly\n", owner=USER, group=GROUP, mode="0644")],
                       report_units=["logrotate.timer"])
    assert rc == 1
    assert "applied, but the state of logrotate.timer could not be read" in result["msg"]
    assert "Failed to connect to bus" in result["msg"]
    assert result["changed_paths"] == [str(target)] and target.read_text() == "weekly\n"
