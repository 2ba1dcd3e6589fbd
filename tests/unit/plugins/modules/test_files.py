# -*- coding: utf-8 -*-
"""The files module run for real (a fresh Python per run) against a temporary directory."""

import base64
import grp
import json
import os
import pwd
import stat

import pytest

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
