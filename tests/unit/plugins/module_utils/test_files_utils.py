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
    assert prunes == [dict(path="/srv/x", patterns=["*"], key=None, directories=False, keep=None)]
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


# ---------------------------------------------------------------------------
# state tree (expanded by the action plugin)
# ---------------------------------------------------------------------------

def test_check_args_tree_entries():
    good = [dict(path="/opt/app/releases/1", state="tree", src="app/", mode="0640", directory_mode="0750",
                 exclude=["tests"], owner="root", key="app")]
    assert f.check_args(good) == []
    errors = f.check_args([
        dict(path="/a", state="tree"),
        dict(path="/b", state="tree", content="x"),
        dict(path="/c", state="tree", src="app", directory_mode="rwx"),
        dict(path="/d", state="tree", src="app", validate="true %s"),
        dict(path="/e", content="x", directory_mode="0755"),
        dict(path="/f", state="directory", exclude=["x"]),
        dict(path="/g", state="tree", src="app", exclude=[""]),
    ])
    assert errors == [
        "files[0] (/a): state tree needs src (a directory on the controller)",
        "files[1] (/b): state tree needs src (a directory on the controller)",
        "files[1] (/b): state tree takes its content from src only, not content",
        "files[2] (/c): directory_mode must be octal digits such as '0644', got 'rwx'",
        "files[3] (/d): validate only applies to state file",
        "files[4] (/e): directory_mode only applies to state tree",
        "files[5] (/f): exclude only applies to state tree",
        "files[6] (/g): exclude must be a list of non-empty patterns",
    ]
    alone = f.check_args([dict(path="/a", state="tree", src="app")], sources=f.RENDERED_SOURCES)
    assert alone == ["files[0] (/a): state tree is expanded by the alicia.platform.files action plugin; without it "
                     "pass one entry per file and directory"]


@pytest.fixture
def source_tree(tmp_path):
    """An application source directory with what a tree copies and what it skips."""
    src = tmp_path / "app"
    for directory in ("pkg/sub", "pkg/__pycache__", ".git/objects", "tests", "empty"):
        (src / directory).mkdir(parents=True)
    files = {"main.py": "import pkg\n", "pkg/__init__.py": "", "pkg/sub/data.json": "{}\n",
             "pkg/__pycache__/x.cpython-311.pyc": "c", "pkg/old.pyc": "c", ".git/HEAD": "ref\n",
             "tests/test_main.py": "", "README.md": "# app\n", "run.sh": "#!/bin/sh\n"}
    for name, text in files.items():
        (src / name).write_text(text)
    (src / "run.sh").chmod(0o755)
    (tmp_path / "shared.cfg").write_text("shared\n")
    (src / "shared.cfg").symlink_to(tmp_path / "shared.cfg")
    return src


def test_walk_tree_skips_caches_and_git_and_follows_links_to_files(source_tree):
    items = f.walk_tree(str(source_tree), exclude=["tests", "*.md"])
    assert [(rel, kind, executable) for rel, kind, _source, executable in items] == [
        ("empty", "directory", False),
        ("main.py", "file", False),
        ("pkg", "directory", False),
        ("pkg/__init__.py", "file", False),
        ("pkg/sub", "directory", False),
        ("pkg/sub/data.json", "file", False),
        ("run.sh", "file", True),
        ("shared.cfg", "file", False),
    ]
    assert dict((rel, source) for rel, _kind, source, _x in items)["main.py"] == str(source_tree / "main.py")
    names = [rel for rel, _kind, _source, _x in f.walk_tree(str(source_tree))]
    assert "README.md" in names and "tests/test_main.py" in names and ".git" not in names


@pytest.mark.parametrize("make, message", [
    (lambda src: (src / "link").symlink_to(src / "pkg"), "is a symbolic link to a directory or special file"),
    (lambda src: (src / "link").symlink_to(src / "nowhere"), "is a dangling symbolic link"),
    (lambda src: os.mkfifo(str(src / "fifo")), "is not a regular file or directory"),
])
def test_walk_tree_refuses_what_it_cannot_copy(source_tree, make, message):
    make(source_tree)
    with pytest.raises(f.TreeError) as failure:
        f.walk_tree(str(source_tree))
    assert message in str(failure.value)


@pytest.mark.parametrize("entry, defaults, expected", [
    (dict(), None, (0o644, 0o755, 0o755)),
    (dict(), dict(mode="0640"), (0o640, 0o750, 0o750)),
    (dict(), dict(mode="0640", directory_mode="0711"), (0o640, 0o750, 0o711)),
    (dict(mode="0600"), dict(mode="0644"), (0o600, 0o600, 0o700)),
    (dict(mode="0600", directory_mode="0755"), None, (0o600, 0o600, 0o755)),
])
def test_tree_modes(entry, defaults, expected):
    assert f.tree_modes(entry, defaults) == expected


def test_tree_entries_keep_the_layout_and_carry_owner_group_key(source_tree):
    entry = dict(path="/opt/app/releases/1.0/", state="tree", src="app", owner="root", group="alicia", key="app",
                 secret=False, mode=None, directory_mode="0750")
    expanded = f.tree_entries(entry, f.walk_tree(str(source_tree), exclude=["tests", "*.md"]))
    assert [(e["path"], e["state"], e["mode"]) for e in expanded] == [
        ("/opt/app/releases/1.0", "directory", "0750"),
        ("/opt/app/releases/1.0/empty", "directory", "0750"),
        ("/opt/app/releases/1.0/main.py", "file", "0644"),
        ("/opt/app/releases/1.0/pkg", "directory", "0750"),
        ("/opt/app/releases/1.0/pkg/__init__.py", "file", "0644"),
        ("/opt/app/releases/1.0/pkg/sub", "directory", "0750"),
        ("/opt/app/releases/1.0/pkg/sub/data.json", "file", "0644"),
        ("/opt/app/releases/1.0/run.sh", "file", "0755"),
        ("/opt/app/releases/1.0/shared.cfg", "file", "0644"),
    ]
    assert all((e["owner"], e["group"], e["key"]) == ("root", "alicia", "app") for e in expanded)
    assert [e["source"] for e in expanded if e["state"] == "file"][0] == str(source_tree / "main.py")
    assert "secret" not in expanded[0] and "source" not in expanded[0]
    assert f.check_args([dict((k, v) for k, v in e.items() if k != "source") for e in expanded],
                        sources=f.RENDERED_SOURCES) != [], "file entries still need content, from the action plugin"


def test_expanded_duplicates_name_both_entries():
    tree = dict(path="/opt/app", state="tree", src="app")
    other = dict(path="/opt/app/main.py", content="x")
    expanded = [(0, tree, dict(path="/opt/app")), (0, tree, dict(path="/opt/app/main.py")),
                (1, other, dict(path="/opt/app/main.py/"))]
    assert f.expanded_duplicates(expanded) == [
        "files[1] (/opt/app/main.py): /opt/app/main.py is also declared by files[0] (/opt/app)"]
    assert f.expanded_duplicates(expanded[:2]) == []


# ---------------------------------------------------------------------------
# prune: directories and keep
# ---------------------------------------------------------------------------

def releases(root, names, start=1000000000):
    """Release directories with a file each, mtimes one hour apart in the order given (oldest first)."""
    for offset, name in enumerate(names):
        path = root / name
        path.mkdir(parents=True)
        (path / "main.py").write_text(name)
        os.utime(str(path), (start + 3600 * offset, start + 3600 * offset))
    return [str(root / name) for name in names]


def test_check_args_prune_keep():
    assert f.check_args([], prune=[dict(path="/r", patterns=["*"], directories=True, keep=3)]) == []
    errors = f.check_args([], prune=[dict(path="/r", patterns=["*"], keep=-1), dict(path="/r", patterns=["*"],
                                                                                      keep=True)])
    assert errors == ["prune[0] (/r): keep must be a whole number, 0 or more, got -1",
                      "prune[1] (/r): keep must be a whole number, 0 or more, got True"]


def test_prune_candidates_leave_directories_unless_asked(tmp_path):
    releases(tmp_path, ["0.9", "1.0"])
    (tmp_path / "stray.txt").write_text("x")
    spec = dict(path=str(tmp_path), patterns=["*"])
    assert [p for p, _st in f.prune_candidates(spec, set())] == [str(tmp_path / "stray.txt")]
    spec["directories"] = True
    assert [p for p, _st in f.prune_candidates(spec, set())] == [
        str(tmp_path / "0.9"), str(tmp_path / "1.0"), str(tmp_path / "stray.txt")]


def test_prune_keep_the_newest_undeclared_releases(tmp_path):
    paths = releases(tmp_path / "releases", ["1.0", "1.1", "1.2", "1.3", "1.4"])
    os.utime(paths[0], (2000000000, 2000000000))  # 1.0 touched last: mtime, not the name, decides
    spec = dict(path=str(tmp_path / "releases"), patterns=["*"], directories=True, keep=2)
    declared = set([paths[4]])  # the current release
    assert [p for p, _st in f.prune_candidates(spec, declared)] == [paths[1], paths[2]]
    assert [p for p, _st in f.prune_candidates(dict(spec, keep=0), declared)] == paths[:4]
    assert f.prune_candidates(dict(spec, keep=10), declared) == []


def test_prune_never_removes_what_a_declared_link_points_at_or_a_directory_holding_a_declared_path(tmp_path):
    paths = releases(tmp_path / "releases", ["1.0", "1.1", "1.2"])
    entries, prunes = f.prepare(
        [dict(path=str(tmp_path / "current"), state="link", target="releases/1.0"),
         dict(path=paths[2] + "/main.py", content="1.2")],
        prune=[dict(path=str(tmp_path / "releases"), patterns=["*"], directories=True)])
    assert f.resolve_ids(entries) == []
    result = f.apply_all(entries, prunes)
    assert result["removed"] == [paths[1]]
    assert sorted(os.listdir(str(tmp_path / "releases"))) == ["1.0", "1.2"]


def test_apply_all_prunes_directories_recursively_and_links_as_links(tmp_path):
    paths = releases(tmp_path / "releases", ["1.0", "1.1", "1.2"])
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_text("x")
    os.symlink(str(tmp_path / "outside"), str(tmp_path / "releases" / "linked"))
    os.utime(str(tmp_path / "releases" / "linked"), (1, 1), follow_symlinks=False)
    entries, prunes = f.prepare([dict(path=paths[2], state="directory")],
                                prune=[dict(path=str(tmp_path / "releases"), patterns=["*"], directories=True,
                                            keep=1, key="releases")])
    assert f.resolve_ids(entries) == []
    check = f.apply_all(entries, prunes, check_mode=True, want_diff=True)
    assert check["removed"] == [paths[0], str(tmp_path / "releases" / "linked")]
    assert [d["before"] for d in check["diff"]] == ["state: directory\n", "state: link\n"]
    assert len(os.listdir(str(tmp_path / "releases"))) == 4, "check mode removes nothing"
    result = f.apply_all(entries, prunes)
    assert result["removed"] == check["removed"] and result["changed_keys"] == ["releases"]
    assert result["files"][paths[0]] == dict(changed=True, state="absent", action="removed", pruned=True)
    assert sorted(os.listdir(str(tmp_path / "releases"))) == ["1.1", "1.2"]
    assert (tmp_path / "outside" / "keep").read_text() == "x", "a link's target is never touched"
    assert f.apply_all(entries, prunes)["changed"] is False, "1.2 declared and 1.1 kept: nothing left to remove"
