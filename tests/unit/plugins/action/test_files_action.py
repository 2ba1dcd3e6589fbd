# -*- coding: utf-8 -*-
"""alicia.platform.files through real ansible-playbook runs against localhost (connection local).

Each test builds a throwaway playbook directory with a role (templates/,
files/) and checks the files on disk, the registered result, the --check
--diff output and the number of module executions (counted by an
interpreter wrapper that appends a line per Python start).
"""

import json
import os
import stat
import sys

import pytest
import yaml

BLOB = bytes(range(256)) + b"\x00tail"
TOKEN = "tok-5ecret-8c1e"
GREETING = "hello from the play 7f3a"

POLICY = """{{ ansible_managed | comment }}
{{ policy.path }} {
{% include 'options.j2' %}

    su {{ demo_user }} {{ demo_user }}
}
"""
OPTIONS = """    {{ policy.rotate }}
    missingok
"""


def files_task(demo_dir, extra=0):
    entries = [
        {"path": demo_dir + "/conf.d", "state": "directory", "mode": "0755"},
        {"path": demo_dir + "/conf.d/alicia-tts", "template": "policy.j2", "key": "policies",
         "vars": {"policy": {"path": "/var/log/alicia/tts.log", "rotate": "daily"}}},
        {"path": demo_dir + "/conf.d/alicia-stt", "template": "policy.j2", "key": "policies",
         "vars": {"policy": {"path": "/var/log/alicia/stt.log", "rotate": "weekly"}}},
        {"path": demo_dir + "/blob.bin", "src": "blob.bin", "mode": "0600", "key": "blob"},
        {"path": demo_dir + "/motd", "content": "{{ demo_greeting }}\n", "key": "motd"},
        {"path": demo_dir + "/secret.env", "content": "TOKEN={{ demo_token }}\n", "secret": True, "mode": "0600"},
        {"path": demo_dir + "/app.log", "state": "touch", "mode": "0640"},
    ]
    entries += [{"path": "%s/conf.d/extra-%02d" % (demo_dir, i), "content": "extra %d\n" % i} for i in range(extra)]
    return {
        "name": "Demo | files",
        "alicia.platform.files": {
            "defaults": {"mode": "0644"},
            "files": entries,
            "prune": [{"path": demo_dir + "/conf.d", "patterns": ["alicia-*"], "key": "pruned"}],
        },
        "register": "demo_result",
        "tags": ["files"],
    }


def builtin_template_task(demo_dir):
    return {
        "name": "Demo | the same template with ansible.builtin.template",
        "ansible.builtin.template": {"src": "policy.j2", "dest": demo_dir + "/builtin-tts", "mode": "0644"},
        "vars": {"policy": {"path": "/var/log/alicia/tts.log", "rotate": "daily"}},
        "tags": ["compare"],
    }


@pytest.fixture
def project(tmp_path):
    """A playbook directory with role `demo`; returns (playbook, demo_dir, write_tasks)."""
    role = tmp_path / "play" / "roles" / "demo"
    for sub in ("templates", "files", "tasks"):
        (role / sub).mkdir(parents=True)
    (role / "templates" / "policy.j2").write_text(POLICY)
    (role / "templates" / "options.j2").write_text(OPTIONS)
    (role / "files" / "blob.bin").write_bytes(BLOB)
    demo_dir = str(tmp_path / "target")
    playbook = tmp_path / "play" / "site.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Demo", "hosts": "localhost", "gather_facts": False,
        "vars": {"demo_greeting": GREETING, "demo_token": TOKEN, "demo_user": "alicia"},
        "roles": ["demo"],
    }], sort_keys=False))

    def write_tasks(tasks):
        (role / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    return str(playbook), demo_dir, write_tasks


@pytest.fixture
def playbook(run_playbook):
    """playbook(path, *args, json_output=False, python=...) -> (CompletedProcess, parsed JSON or None)."""
    def _run(path, *args, **kwargs):
        env = dict(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json")  # no profile_tasks lines in the output
        json_output = kwargs.pop("json_output", False)
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        python = kwargs.pop("python", sys.executable)
        proc = run_playbook(["-i", "localhost,", "-c", "local", path] + list(args), python=python, **env)
        parsed = json.loads(proc.stdout) if json_output and proc.stdout.strip().startswith("{") else None
        return proc, parsed
    return _run


def task_results(parsed, name):
    return [task["hosts"]["localhost"] for play in parsed["plays"] for task in play["tasks"]
            if task["task"]["name"].split(" : ", 1)[-1] == name]  # "demo : Demo | files"


def test_renders_like_template_copies_src_and_is_idempotent(project, playbook):
    path, demo_dir, write_tasks = project
    os.makedirs(demo_dir + "/conf.d")
    for name in ("alicia-old", "other"):
        with open(os.path.join(demo_dir, "conf.d", name), "w") as handle:
            handle.write(name)
    write_tasks([files_task(demo_dir), builtin_template_task(demo_dir)])

    proc, parsed = playbook(path, json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = task_results(parsed, "Demo | files")[0]

    with open(demo_dir + "/conf.d/alicia-tts") as handle:
        tts = handle.read()
    assert tts == ("#\n# Ansible managed\n#\n/var/log/alicia/tts.log {\n    daily\n    missingok\n"
                   "    su alicia alicia\n}\n")
    with open(demo_dir + "/builtin-tts") as handle:
        assert tts == handle.read(), "same bytes as ansible.builtin.template renders"
    with open(demo_dir + "/conf.d/alicia-stt") as handle:
        assert "/var/log/alicia/stt.log {\n    weekly\n" in handle.read()
    with open(demo_dir + "/blob.bin", "rb") as handle:
        assert handle.read() == BLOB
    assert stat.S_IMODE(os.stat(demo_dir + "/blob.bin").st_mode) == 0o600
    with open(demo_dir + "/motd") as handle:
        assert handle.read() == GREETING + "\n"
    with open(demo_dir + "/secret.env") as handle:
        assert handle.read() == "TOKEN=%s\n" % TOKEN
    assert sorted(os.listdir(demo_dir + "/conf.d")) == ["alicia-stt", "alicia-tts", "other"]

    assert result["changed"] is True
    assert result["changed_keys"] == ["policies", "blob", "motd", "pruned"]
    assert result["removed"] == [demo_dir + "/conf.d/alicia-old"]
    assert result["files"][demo_dir + "/conf.d"]["action"] == "unchanged"
    assert result["files"][demo_dir + "/app.log"] == dict(changed=True, state="touch", action="created")
    assert TOKEN not in json.dumps(result)

    proc, parsed = playbook(path, "--tags", "files", json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    again = task_results(parsed, "Demo | files")[0]
    assert (again["changed"], again["changed_paths"], again["changed_keys"]) == (False, [], [])


def test_one_module_execution_for_many_files(project, playbook, tmp_path):
    path, demo_dir, write_tasks = project
    counter = tmp_path / "executions"
    wrapper = tmp_path / "counting-python"
    wrapper.write_text("#!/bin/sh\necho \"$$\" >> '%s'\nexec '%s' \"$@\"\n" % (counter, sys.executable))
    wrapper.chmod(0o755)
    write_tasks([files_task(demo_dir, extra=25)])

    proc, parsed = playbook(path, "--tags", "files", json_output=True, python=str(wrapper))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = task_results(parsed, "Demo | files")[0]
    assert len(result["changed_paths"]) == 32
    assert len(counter.read_text().split()) == 1, "32 paths in exactly one module execution"

    proc, parsed = playbook(path, "--tags", "files", json_output=True, python=str(wrapper))
    assert task_results(parsed, "Demo | files")[0]["changed"] is False
    assert len(counter.read_text().split()) == 2


def test_check_diff_on_a_fresh_host(project, playbook):
    path, demo_dir, write_tasks = project
    write_tasks([files_task(demo_dir)])
    proc, _parsed = playbook(path, "--check", "--diff", "--tags", "files")
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert not os.path.exists(demo_dir), "check mode writes nothing"
    assert "--- before: %s/conf.d\n+++ after: %s/conf.d\n" % (demo_dir, demo_dir) in out
    assert "-state: absent\n+state: directory\n+mode: 0755\n" in out
    assert "--- before: %s/conf.d/alicia-tts\n+++ after: %s/conf.d/alicia-tts (mode 0644)\n" % (demo_dir, demo_dir) in out
    assert "+# Ansible managed\n" in out and "+/var/log/alicia/tts.log {\n" in out
    assert "+(binary content not shown: 261 bytes" in out
    assert "+%s\n" % GREETING in out
    assert "+(secret content not shown, changed)\n" in out
    assert TOKEN not in out and TOKEN not in proc.stderr
    assert "changed: [localhost]" in out


def test_content_is_not_logged_at_vvv(project, playbook):
    path, demo_dir, write_tasks = project
    write_tasks([files_task(demo_dir)])
    proc, _parsed = playbook(path, "-vvv", "--tags", "files")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout, "the invocation is shown at -vvv"
    for text in (TOKEN, GREETING, "Ansible managed"):
        assert text not in proc.stdout and text not in proc.stderr, text
    assert proc.stdout.count("<localhost> EXEC ") == 1


def test_bad_entries_fail_on_the_controller_naming_the_entry(project, playbook):
    path, demo_dir, write_tasks = project

    def task(name, entries):
        return {"name": name, "alicia.platform.files": {"files": entries}, "ignore_errors": True}

    first = {"path": demo_dir + "/first", "content": "x"}
    write_tasks([
        task("missing template", [first, {"path": demo_dir + "/b", "template": "nope.j2"}]),
        task("undefined variable", [first, {"path": demo_dir + "/c", "template": "policy.j2"}]),
        task("duplicate", [first, {"path": demo_dir + "/first/", "content": "y"}]),
        task("relative", [first, {"path": "etc/x", "content": "y"}]),
        task("two sources", [first, {"path": demo_dir + "/d", "content": "y", "src": "blob.bin"}]),
        task("missing src", [first, {"path": demo_dir + "/e", "src": "nope.bin"}]),
    ])
    proc, parsed = playbook(path, json_output=True)
    assert parsed is not None, proc.stdout[-3000:] + proc.stderr[-3000:]

    def msg(name):
        result = task_results(parsed, name)[0]
        assert result["failed"] is True, result
        return result["msg"]

    assert "files[1] (%s/b)" % demo_dir in msg("missing template") and "nope.j2" in msg("missing template")
    assert "files[1] (%s/c): template policy.j2" % demo_dir in msg("undefined variable")
    assert "policy" in msg("undefined variable")
    assert "files[1] (%s/first/): duplicate path %s/first" % (demo_dir, demo_dir) in msg("duplicate")
    assert "files[1] (etc/x): path must be absolute" in msg("relative")
    assert "files[1] (%s/d): at most one of" % demo_dir in msg("two sources")
    assert "files[1] (%s/e)" % demo_dir in msg("missing src") and "nope.bin" in msg("missing src")
    assert not os.path.exists(demo_dir), "bad entries fail before the module runs"


def release_task(service_dir):
    """A release directory, a file in it and the current link, in one task; the version from -e release=..."""
    return {
        "name": "Demo | release",
        "alicia.platform.files": {
            "defaults": {"mode": "0644"},
            "files": [
                {"path": service_dir + "/releases/{{ release }}", "state": "directory", "mode": "0755"},
                {"path": service_dir + "/releases/{{ release }}/service.env", "content": "VERSION={{ release }}\n"},
                {"path": service_dir + "/current", "state": "link", "target": "releases/{{ release }}",
                 "key": "stt_service"},
            ],
        },
    }


def test_release_switch_with_a_link(project, playbook):
    path, demo_dir, write_tasks = project
    service = demo_dir + "/stt_service"
    current = service + "/current"
    write_tasks([release_task(service)])

    proc, parsed = playbook(path, "-e", "release=1.0.0", json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = task_results(parsed, "Demo | release")[0]
    assert result["changed"] is True and result["changed_keys"] == ["stt_service"]
    assert [result["files"][p]["action"] for p in (service + "/releases/1.0.0", current)] == ["created", "created"]
    assert result["files"][current]["state"] == "link"
    assert os.readlink(current) == "releases/1.0.0"
    with open(current + "/service.env") as handle:
        assert handle.read() == "VERSION=1.0.0\n"

    proc, parsed = playbook(path, "-e", "release=1.0.0", json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    again = task_results(parsed, "Demo | release")[0]
    assert (again["changed"], again["changed_paths"], again["changed_keys"]) == (False, [], [])
    assert again["files"][current] == dict(changed=False, state="link", action="unchanged")

    proc, _parsed = playbook(path, "-e", "release=1.1.0", "--diff")
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert "--- before: %s\n+++ after: %s\n" % (current, current) in out
    assert "-symlink -> releases/1.0.0\n+symlink -> releases/1.1.0\n" in out
    assert "changed: [localhost]" in out
    assert os.readlink(current) == "releases/1.1.0"
    with open(current + "/service.env") as handle:
        assert handle.read() == "VERSION=1.1.0\n"
    assert os.path.isdir(service + "/releases/1.0.0"), "the previous release stays for a rollback"

    proc, parsed = playbook(path, "-e", "release=1.0.0", json_output=True)
    rollback = task_results(parsed, "Demo | release")[0]
    assert rollback["changed_paths"] == [current] and rollback["changed_keys"] == ["stt_service"]
    assert rollback["files"][current]["action"] == "updated" and os.readlink(current) == "releases/1.0.0"


def test_bad_link_entries_fail_on_the_controller(project, playbook):
    path, demo_dir, write_tasks = project

    def task(name, link):
        entries = [{"path": demo_dir + "/first", "content": "x"}, dict({"path": demo_dir + "/current"}, **link)]
        return {"name": name, "alicia.platform.files": {"files": entries}, "ignore_errors": True}

    write_tasks([
        task("no target", {"state": "link"}),
        task("mode", {"state": "link", "target": "releases/1", "mode": "0777"}),
        task("template", {"state": "link", "target": "releases/1", "template": "nope.j2"}),
        task("content", {"state": "link", "target": "releases/1", "content": "x"}),
        task("src", {"state": "link", "target": "releases/1", "src": "blob.bin"}),
        task("validate", {"state": "link", "target": "releases/1", "validate": "true %s"}),
        task("target without link", {"content": "x", "target": "releases/1"}),
    ])
    proc, parsed = playbook(path, json_output=True)
    assert parsed is not None, proc.stdout[-3000:] + proc.stderr[-3000:]

    def msg(name):
        result = task_results(parsed, name)[0]
        assert result["failed"] is True, result
        assert "invocation" not in result, "failed on the controller, before the module ran"
        return result["msg"]

    name = "files[1] (%s/current): " % demo_dir
    assert name + "state link needs target" in msg("no target")
    assert name + "mode does not apply to state link" in msg("mode")
    assert name + "state link takes no template" in msg("template") and "nope.j2" not in msg("template")
    assert name + "state link takes no content" in msg("content")
    assert name + "state link takes no src" in msg("src")
    assert name + "validate only applies to state file" in msg("validate")
    assert name + "target only applies to state link" in msg("target without link")
    assert not os.path.exists(demo_dir), "bad entries fail before the module runs"


# ---------------------------------------------------------------------------
# state tree: a directory of the controller, expanded on the controller
# ---------------------------------------------------------------------------

APP = {
    "main.py": "from pkg import util\nutil.run()\n",
    "pkg/__init__.py": "",
    "pkg/util.py": "def run():\n    return 1\n",
    "pkg/data/voices.json": "{\"default\": \"en\"}\n",
    "bin/start.sh": "#!/bin/sh\nexec python3 main.py\n",
    "__pycache__/main.cpython-311.pyc": "compiled",
    "pkg/__pycache__/util.cpython-311.pyc": "compiled",
    "pkg/stale.pyc": "compiled",
    ".git/HEAD": "ref: refs/heads/main\n",
    "tests/test_util.py": "def test(): pass\n",
}
COPIED = ["bin", "bin/start.sh", "main.py", "pkg", "pkg/__init__.py", "pkg/data", "pkg/data/voices.json",
          "pkg/util.py", "settings.toml"]


def write_app(role_files):
    for name, text in APP.items():
        path = os.path.join(role_files, "app", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    os.chmod(os.path.join(role_files, "app", "bin", "start.sh"), 0o755)


def tree_task(service_dir, shared_src):
    return {
        "name": "Demo | release tree",
        "alicia.platform.files": {
            "defaults": {"mode": "0640"},
            "files": [
                {"path": service_dir + "/releases/{{ release }}", "state": "tree", "src": "app/",
                 "directory_mode": "0750", "exclude": ["tests"], "key": "app"},
                {"path": service_dir + "/shared", "state": "tree", "src": shared_src, "mode": "0600"},
                {"path": service_dir + "/current", "state": "link", "target": "releases/{{ release }}",
                 "key": "switch"},
            ],
            "prune": [{"path": service_dir + "/releases", "patterns": ["*"], "directories": True, "keep": 1}],
        },
        "register": "demo_result",
    }


def listing(root):
    found = []
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)


def test_tree_copies_a_release_directory_in_one_module_execution(project, playbook, tmp_path):
    path, demo_dir, write_tasks = project
    role_files = os.path.join(os.path.dirname(path), "roles", "demo", "files")
    write_app(role_files)
    shared = tmp_path / "shared-src"
    shared.mkdir()
    (shared / "settings.toml").write_text("[voice]\n")
    os.symlink(str(shared / "settings.toml"), os.path.join(role_files, "app", "settings.toml"))  # followed
    service = demo_dir + "/voice_router"
    write_tasks([tree_task(service, str(shared))])
    counter = tmp_path / "executions"
    wrapper = tmp_path / "counting-python"
    wrapper.write_text("#!/bin/sh\necho \"$$\" >> '%s'\nexec '%s' \"$@\"\n" % (counter, sys.executable))
    wrapper.chmod(0o755)

    def deploy(release, *args):
        counter.write_text("")
        proc, parsed = playbook(path, "-e", "release=" + release, *args, json_output=not args, python=str(wrapper))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert len(counter.read_text().split()) == 1, "the whole task, trees included, in one module execution"
        return proc, (task_results(parsed, "Demo | release tree")[0] if parsed else None)

    proc, _result = deploy("1.0.0", "--check", "--diff")
    assert not os.path.exists(demo_dir), "check mode writes nothing"
    release = service + "/releases/1.0.0"
    assert "--- before: %s/pkg/util.py\n+++ after: %s/pkg/util.py (mode 0640)\n" % (release, release) in proc.stdout
    assert "+def run():\n" in proc.stdout
    assert "-state: absent\n+state: directory\n+mode: 0750\n" in proc.stdout
    assert "compiled" not in proc.stdout and "refs/heads" not in proc.stdout

    _proc, result = deploy("1.0.0")
    assert listing(release) == COPIED
    for name in ("main.py", "pkg/util.py", "pkg/data/voices.json", "bin/start.sh"):
        with open(os.path.join(release, name)) as handle:
            assert handle.read() == APP[name], name
    with open(os.path.join(release, "settings.toml")) as handle:
        assert handle.read() == "[voice]\n", "a link to a file is copied as the file"
    modes = dict((name, stat.S_IMODE(os.lstat(os.path.join(release, name)).st_mode)) for name in COPIED)
    assert modes == {"bin": 0o750, "bin/start.sh": 0o750, "main.py": 0o640, "pkg": 0o750, "pkg/__init__.py": 0o640,
                     "pkg/data": 0o750, "pkg/data/voices.json": 0o640, "pkg/util.py": 0o640, "settings.toml": 0o640}
    assert stat.S_IMODE(os.stat(release).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(service + "/shared/settings.toml").st_mode) == 0o600, "the entry's mode wins"
    assert stat.S_IMODE(os.stat(service + "/shared").st_mode) == 0o700
    assert result["changed_keys"] == ["app", "switch"]
    assert result["files"][release + "/pkg/util.py"] == dict(changed=True, state="file", action="created")
    assert result["files"][release + "/pkg"] == dict(changed=True, state="directory", action="created")
    assert len(result["files"]) == 1 + len(COPIED) + 2 + 1

    _proc, result = deploy("1.0.0")
    assert (result["changed"], result["changed_paths"], result["changed_keys"]) == (False, [], [])

    with open(os.path.join(role_files, "app", "pkg", "util.py"), "a") as handle:
        handle.write("# fixed\n")
    _proc, result = deploy("1.0.0")
    assert (result["changed_paths"], result["changed_keys"]) == ([release + "/pkg/util.py"], ["app"])

    _proc, result = deploy("1.1.0")
    assert os.readlink(service + "/current") == "releases/1.1.0"
    assert sorted(os.listdir(service + "/releases")) == ["1.0.0", "1.1.0"], "keep 1: the previous release stays"
    _proc, result = deploy("1.2.0")
    assert sorted(os.listdir(service + "/releases")) == ["1.1.0", "1.2.0"]
    assert result["removed"] == [service + "/releases/1.0.0"]


def test_bad_tree_entries_fail_on_the_controller(project, playbook, tmp_path):
    path, demo_dir, write_tasks = project
    role_files = os.path.join(os.path.dirname(path), "roles", "demo", "files")
    write_app(role_files)
    looped = tmp_path / "looped"
    looped.mkdir()
    os.symlink(str(tmp_path), str(looped / "parent"))

    def task(name, entries):
        return {"name": name, "alicia.platform.files": {"files": entries}, "ignore_errors": True}

    first = {"path": demo_dir + "/first", "content": "x"}
    write_tasks([
        task("tree of a file", [first, {"path": demo_dir + "/t", "state": "tree", "src": "blob.bin"}]),
        task("directory as a file", [first, {"path": demo_dir + "/f", "src": "app"}]),
        task("link to a directory", [first, {"path": demo_dir + "/l", "state": "tree", "src": str(looped)}]),
        task("overlap", [{"path": demo_dir + "/app", "state": "tree", "src": "app"},
                         {"path": demo_dir + "/app/main.py", "content": "x"}]),
        task("missing", [first, {"path": demo_dir + "/m", "state": "tree", "src": "nope"}]),
    ])
    proc, parsed = playbook(path, json_output=True)
    assert parsed is not None, proc.stdout[-3000:] + proc.stderr[-3000:]

    def msg(name):
        result = task_results(parsed, name)[0]
        assert result["failed"] is True and "invocation" not in result, result
        return result["msg"]

    assert "files[1] (%s/t): state tree needs src to be a directory; blob.bin is not" % demo_dir in msg(
        "tree of a file")
    assert "files[1] (%s/f): src app is a directory; use state: tree to copy a directory" % demo_dir in msg(
        "directory as a file")
    assert "files[1] (%s/l): src %s: %s/parent is a symbolic link to a directory" % (demo_dir, looped, looped) in msg(
        "link to a directory")
    assert "files[1] (%s/app/main.py): %s/app/main.py is also declared by files[0] (%s/app)" % (
        (demo_dir,) * 3) in msg("overlap")
    assert "files[1] (%s/m)" % demo_dir in msg("missing") and "nope" in msg("missing")
    assert not os.path.exists(demo_dir), "bad entries fail before the module runs"


def test_check_mode_sizes_src_copies_and_trees_by_their_sources(project, playbook):
    """report_host's needed bytes: a src copy and a tree's files count their source files' sizes (the action
    plugin sends them as content), each directory created one block; by key, below the reported path."""
    path, demo_dir, write_tasks = project
    role_files = os.path.join(os.path.dirname(path), "roles", "demo", "files")
    os.makedirs(os.path.join(role_files, "rel", "sub"))
    with open(os.path.join(role_files, "rel", "a.txt"), "wb") as handle:
        handle.write(b"a" * 100)
    with open(os.path.join(role_files, "rel", "sub", "b.bin"), "wb") as handle:
        handle.write(b"b" * 5000)
    write_tasks([{
        "name": "Demo | sized",
        "alicia.platform.files": {
            "defaults": {"mode": "0644"},
            "files": [
                {"path": demo_dir, "state": "directory", "key": "app"},
                {"path": demo_dir + "/blob.bin", "src": "blob.bin", "key": "blob"},
                {"path": demo_dir + "/rel", "state": "tree", "src": "rel", "key": "app"},
            ],
            "report_host": {"paths": [demo_dir]},
        },
        "register": "demo_result",
    }])
    proc, parsed = playbook(path, "--check", json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    space = task_results(parsed, "Demo | sized")[0]["host"]["paths"][demo_dir]
    assert space["needed_by_key"] == {"blob": len(BLOB), "app": 3 * 4096 + 100 + 5000}, space
    assert space["needed_bytes"] == len(BLOB) + 3 * 4096 + 5100
    assert not os.path.exists(demo_dir)
