"""Every role keeps the collection's contract: each default is declared in
meta/argument_specs.yml with a description, public variables carry the role's prefix, handlers use
`listen:`."""
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.isdir(os.path.join(ROOT, "roles", d)))


def load(role, *parts):
    path = os.path.join(ROOT, "roles", role, *parts)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_roles_found():
    assert {"catalogue", "service_user", "network_hardening", "log_rotation", "broker"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_declared_in_argument_specs(role):
    defaults = load(role, "defaults", "main.yml") or {}
    specs = load(role, "meta", "argument_specs.yml")
    assert specs, "%s has no meta/argument_specs.yml" % role
    options = specs["argument_specs"]["main"].get("options", {})
    missing = sorted(set(defaults) - set(options))
    assert not missing, "%s: defaults not in argument_specs: %s" % (role, missing)
    for name, spec in options.items():
        assert spec.get("description"), "%s: %s has no description" % (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    defaults = load(role, "defaults", "main.yml") or {}
    wrong = [name for name in defaults if not name.startswith(role + "_")]
    assert not wrong, "%s: defaults without the '%s_' prefix: %s" % (role, role, wrong)


@pytest.mark.parametrize("role", ROLES)
def test_handlers_listen(role):
    handlers = load(role, "handlers", "main.yml") or []
    for handler in handlers:
        assert "listen" in handler, "%s: handler %r has no listen:" % (role, handler.get("name"))
