# -*- coding: utf-8 -*-
"""module_utils._files: argument checks, modes, defaults and diff texts as plain functions."""

import base64
import os

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _files as f


@pytest.mark.parametrize("value, expected", [
    ("0644", 0o644), ("644", 0o644), ("0o600", 0o600), ("02755", 0o2755), (0o640, 0o640), (420, 0o644), (None, None),
])
def test_parse_mode(value, expected):
    assert f.parse_mode(value) == expected


@pytest.mark.parametrize("value", ["u=rw,g=r", "0899", "", "012345", True, 0o17777, -1])
def test_parse_mode_rejects(value):
    with pytest.raises(ValueError):
        f.parse_mode(value)


@pytest.mark.parametrize("mode, expected", [(0o644, 0o755), (0o640, 0o750), (0o600, 0o700), (0o000, 0o000),
                                            (0o2644, 0o2755), (None, None)])
def test_directory_mode_from_file_mode(mode, expected):
    assert f.directory_mode_from(mode) == expected


def test_check_args_accepts_a_good_list():
    files = [
        dict(path="/etc/a", template="a.j2", vars={"x": 1}, validate="true %s"),
        dict(path="/etc/b", src="b"),
        dict(path="/etc/c", content=""),
        dict(path="/etc/d", state="directory"),
        dict(path="/etc/e", state="touch"),
        dict(path="/etc/f", state="absent"),
    ]
    assert f.check_args(files, prune=[dict(path="/etc", patterns=["alicia-*"])]) == []


def test_check_args_names_every_problem():
    files = [
        dict(path="/etc/a", content="x"),
        dict(path="etc/relative", content="x"),
        dict(path="/etc//a/", content="y"),
        dict(path="/etc/b", content="x", src="b"),
        dict(path="/etc/c"),
        dict(path="/etc/d", state="directory", content="x"),
        dict(path="/etc/e", content="x", validate="true"),
        dict(path="/etc/f", content="x", mode="rw"),
        dict(path="/etc/g", content="x", vars={"a": 1}),
    ]
    errors = f.check_args(files, prune=[dict(path="relative", patterns=[])])
    text = "\n".join(errors)
    assert "files[1] (etc/relative): path must be absolute" in text
    assert "files[2] (/etc//a/): duplicate path /etc/a (already files[0])" in text
    assert "files[3] (/etc/b): at most one of" in text
    assert "files[4] (/etc/c): state file needs one of" in text
    assert "files[5] (/etc/d): state directory takes no content" in text
    assert "files[6] (/etc/e): validate must contain %s" in text
    assert "files[7] (/etc/f): mode must be octal digits" in text
    assert "files[8] (/etc/g): vars only applies to a template" in text
    assert "prune[0] (relative): path must be absolute" in text
    assert "prune[0] (relative): patterns must be a non-empty list" in text
    assert len(errors) == 10


def test_check_args_module_alone_takes_only_rendered_content():
    errors = f.check_args([dict(path="/etc/a", template="a.j2")], sources=f.RENDERED_SOURCES)
    assert errors and "template is rendered by the alicia.platform.files action plugin" in errors[0]
    assert f.check_args([dict(path="/etc/a", content_b64="not base64!")], sources=f.RENDERED_SOURCES) == [
        "files[0] (/etc/a): content_b64 is not valid base64"]


def test_prepare_applies_defaults_and_directory_mode():
    files = [
        dict(path="/srv/x/", state="directory"),
        dict(path="/srv/x/a", content="a"),
        dict(path="/srv/x/b", content_b64=base64.b64encode(b"\x00\x01").decode(), owner="alicia", mode="0600"),
    ]
    entries, prunes = f.prepare(files, defaults=dict(owner="root", group="adm", mode="0640"),
                                prune=[dict(path="/srv/x/", patterns=["*"])])
    assert [(e["path"], e["owner"], e["group"], e["mode"]) for e in entries] == [
        ("/srv/x", "root", "adm", 0o750), ("/srv/x/a", "root", "adm", 0o640), ("/srv/x/b", "alicia", "adm", 0o600)]
    assert entries[1]["data"] == b"a" and entries[2]["data"] == b"\x00\x01" and entries[0]["data"] is None
    assert prunes == [dict(path="/srv/x", patterns=["*"], key=None)]
    entries, _prunes = f.prepare([dict(path="/srv/y", state="directory")],
                                 defaults=dict(mode="0644", directory_mode="0700"))
    assert entries[0]["mode"] == 0o700


def test_resolve_ids_reports_missing_users_and_groups():
    entries, _prunes = f.prepare([dict(path="/a", content="", owner="root", group="0"),
                                  dict(path="/b", content="", owner="alicia-no-such-user", group="no-such-group")])
    problems = f.resolve_ids(entries)
    assert (entries[0]["uid"], entries[0]["gid"]) == (0, 0)
    assert problems == ["files[1] (/b): owner alicia-no-such-user does not exist",
                        "files[1] (/b): group no-such-group does not exist"]


def test_diff_text_placeholders():
    assert f.diff_text(b"line\n") == "line\n"
    assert f.diff_text(None) == ""
    assert f.diff_text(b"pw\n", secret=True, side="before") == "(secret content not shown)\n"
    assert f.diff_text(b"pw\n", secret=True) == "(secret content not shown, changed)\n"
    assert f.diff_text(b"\x00\x01").startswith("(binary content not shown: 2 bytes, sha1 ")
    assert f.diff_text(b"\xff\xfe").startswith("(binary content not shown")
    assert f.diff_text(b"a" * (256 * 1024 + 1)).startswith("(content not shown: 262145 bytes, over 256 KiB")


def test_apply_all_in_a_directory(tmp_path):
    """The plain functions without a module: create, then nothing to do."""
    entries, prunes = f.prepare([dict(path=str(tmp_path / "d"), state="directory", mode="0700"),
                                 dict(path=str(tmp_path / "d" / "f"), content="x\n", key="k")])
    assert f.resolve_ids(entries) == []
    result = f.apply_all(entries, prunes, want_diff=True)
    assert result["changed_paths"] == [str(tmp_path / "d"), str(tmp_path / "d" / "f")]
    assert result["changed_keys"] == ["k"]
    assert (tmp_path / "d" / "f").read_text() == "x\n"
    assert os.stat(str(tmp_path / "d")).st_mode & 0o777 == 0o700
    again = f.apply_all(entries, prunes, want_diff=True)
    assert again["changed"] is False and again["diff"] == [] and again["msg"] == "0 of 2 paths changed"


def test_check_args_link_entries():
    good = [dict(path="/opt/alicia/stt/current", state="link", target="releases/1.0.0", owner="root", key="stt"),
            dict(path="/opt/alicia/tts/current", state="link", target="/opt/alicia/tts/releases/2", force=True)]
    assert f.check_args(good) == []
    errors = f.check_args([
        dict(path="/a", state="link"),
        dict(path="/b", state="link", target=""),
        dict(path="/c", state="link", target="x", mode="0777"),
        dict(path="/d", state="link", target="x", template="d.j2"),
        dict(path="/e", state="link", target="x", src="e"),
        dict(path="/f", state="link", target="x", content="x"),
        dict(path="/g", state="link", target="x", validate="true %s"),
        dict(path="/h", content="x", target="x"),
        dict(path="/i", state="directory", force=True),
        dict(path="/", state="link", target="x"),
        dict(path="/j", state="link", target="a\x00b"),
    ])
    assert errors == [
        "files[0] (/a): state link needs target (the text the link points at)",
        "files[1] (/b): state link needs target (the text the link points at)",
        "files[2] (/c): mode does not apply to state link (Linux ignores the mode of a symbolic link)",
        "files[3] (/d): state link takes no template",
        "files[4] (/e): state link takes no src",
        "files[5] (/f): state link takes no content",
        "files[6] (/g): validate only applies to state file",
        "files[7] (/h): target only applies to state link",
        "files[8] (/i): force only applies to state link",
        "files[9] (/): refusing to replace /",
        "files[10] (/j): target must not contain NUL",
    ]


def test_prepare_link_takes_no_mode_but_owner_and_group_defaults():
    entries, _prunes = f.prepare([dict(path="/srv/current/", state="link", target="releases/1.0.0/", force=True)],
                                 defaults=dict(owner="root", group="adm", mode="0640", directory_mode="0750"))
    entry = entries[0]
    assert (entry["path"], entry["target"], entry["mode"], entry["owner"], entry["group"], entry["force"]) == (
        "/srv/current", "releases/1.0.0/", None, "root", "adm", True), "the target is kept as given"
    assert f.link_text("releases/1.0.0") == "symlink -> releases/1.0.0\n"


def test_apply_all_link_next_to_its_release(tmp_path):
    """A release directory, a file in it and the link in one list; the link's key is reported."""
    release = tmp_path / "releases" / "1.0.0"
    entries, prunes = f.prepare([dict(path=str(release), state="directory"),
                                 dict(path=str(release / "app.py"), content="print(1)\n"),
                                 dict(path=str(tmp_path / "current"), state="link", target="releases/1.0.0",
                                      key="stt_service")],
                                prune=[dict(path=str(tmp_path), patterns=["*"])])
    assert f.resolve_ids(entries) == []
    result = f.apply_all(entries, prunes)
    assert result["changed_keys"] == ["stt_service"] and result["removed"] == []
    assert (tmp_path / "current" / "app.py").read_text() == "print(1)\n"
    assert f.apply_all(entries, prunes)["changed"] is False
