"""Every role keeps the collection's contract: each default is declared in
meta/argument_specs.yml with a description, public variables carry the role's
prefix, and every role does each shared thing one way: task and handler
names start with the role's title (`Log rotation | `), handlers listen on `<role>: <verb> <object>`,
templates start with the `ansible_managed | comment` header, the licence is
the collection's."""
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.exists(os.path.join(ROOT, "roles", d, "meta", "main.yml")))
HEADER = "{{ ansible_managed | comment }}"


def load(role, *parts):
    path = os.path.join(ROOT, "roles", role, *parts)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return yaml.safe_load(handle)


def task_names(tasks):
    """Names of the tasks of a task list, blocks included (rescue, always)."""
    for task in tasks or []:
        if "name" in task:
            yield task["name"]
        for key in ("block", "rescue", "always"):
            yield from task_names(task.get(key))


def test_roles_found():
    assert {"common", "catalogue", "service_user", "network_hardening", "log_rotation", "broker"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_declared_in_argument_specs(role):
    defaults = load(role, "defaults", "main.yml") or {}
    specs = load(role, "meta", "argument_specs.yml")
    assert specs, "%s has no meta/argument_specs.yml" % role
    assert "main" in specs["argument_specs"], "%s has no main entry point" % role
    # Declared where they are checked: main, or for the catalogue (a data-only
    # dependency of every role) the validate entry point preflight runs once.
    declared = set()
    for spec in specs["argument_specs"].values():
        declared |= set(spec.get("options") or {})
    missing = sorted(set(defaults) - declared)
    assert not missing, "%s: defaults not in argument_specs: %s" % (role, missing)
    for entry, spec in specs["argument_specs"].items():
        for name, option in (spec.get("options") or {}).items():
            assert option.get("description"), "%s: %s (%s) has no description" % (role, name, entry)


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    defaults = load(role, "defaults", "main.yml") or {}
    wrong = [name for name in defaults if not name.startswith(role + "_")]
    assert not wrong, "%s: defaults without the '%s_' prefix: %s" % (role, role, wrong)


@pytest.mark.parametrize("role", ROLES)
def test_private_variables_carry_the_role_prefix(role):
    private = load(role, "vars", "main.yml") or {}
    wrong = [name for name in private if not name.startswith("_%s_" % role)]
    assert not wrong, "%s: vars/main.yml names without the '_%s_' prefix: %s" % (role, role, wrong)


def title(role):
    """The role's name as task names start with it (ansible-lint wants a capital)."""
    return role.strip("_").replace("_", " ").capitalize()


@pytest.mark.parametrize("role", ROLES)
def test_task_and_handler_names_start_with_the_role(role):
    prefix = title(role) + " | "
    wrong = []
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml"))) + [
            os.path.join(ROOT, "roles", role, "handlers", "main.yml")]:
        if os.path.exists(path):
            with open(path) as handle:
                wrong += ["%s: %s" % (os.path.relpath(path, ROOT), name)
                          for name in task_names(yaml.safe_load(handle)) if not name.startswith(prefix)]
    assert not wrong, "names without the '%s' prefix:\n%s" % (prefix, "\n".join(wrong))


@pytest.mark.parametrize("role", ROLES)
def test_handlers_listen_on_role_topics(role):
    grammar = re.compile(r"^%s: [a-z]+ \S.*$" % re.escape(role))
    for handler in load(role, "handlers", "main.yml") or []:
        assert "listen" in handler, "%s: handler %r has no listen:" % (role, handler.get("name"))
        topics = handler["listen"] if isinstance(handler["listen"], list) else [handler["listen"]]
        for topic in topics:
            assert grammar.match(topic), "%s: topic %r is not '%s: <verb> <object>'" % (role, topic, role)


@pytest.mark.parametrize("role", ROLES)
def test_notifications_use_role_topics(role):
    topics = set()
    for handler in load(role, "handlers", "main.yml") or []:
        topics.update(handler["listen"] if isinstance(handler["listen"], list) else [handler["listen"]])

    def notified(tasks):
        for task in tasks or []:
            notify = task.get("notify") or []
            yield from notify if isinstance(notify, list) else [notify]
            for key in ("block", "rescue", "always"):
                yield from notified(task.get(key))

    for path in glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml")):
        with open(path) as handle:
            for topic in notified(yaml.safe_load(handle)):
                assert topic in topics or topic.startswith("network_hardening: "), \
                    "%s notifies %r, which no handler of the role listens on" % (os.path.relpath(path, ROOT), topic)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "roles", "*", "templates", "*.j2"))),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_templates_start_with_the_managed_header(path):
    with open(path) as handle:
        lines = handle.read().splitlines()
    first = lines[1] if lines and lines[0].startswith("#!") else lines[0]
    assert first == HEADER, "%s starts with %r" % (os.path.relpath(path, ROOT), first)


@pytest.mark.parametrize("role", ROLES)
def test_licence_is_the_collections(role):
    assert load(role, "meta", "main.yml")["galaxy_info"]["license"] == "GPL-3.0-or-later"


@pytest.mark.parametrize("path", sorted(p for p in glob.glob(os.path.join(ROOT, "roles", "*", "files", "*"))
                                        if os.path.isfile(p)),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_shipped_scripts_carry_the_gpl_header(path):
    with open(path) as handle:
        head = handle.read(600)
    if head.startswith("#!"):
        assert "GNU General Public License v3.0+" in head and "Apache" not in head, path
