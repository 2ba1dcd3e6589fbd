"""The resolved catalogue (roles/catalogue/defaults/main.yml through the catalogue_resolve filter) in process."""

import os
import sys

import yaml

from .lab import ROOT


def resolved(overrides=None, environment=None):
    """{name: resolved entry} of the shipped catalogue with `overrides` (catalogue_overrides) merged."""
    collections = os.path.join(ROOT, ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.alicia.platform.plugins.filter.catalogue import FilterModule
    with open(os.path.join(ROOT, "roles", "catalogue", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    return FilterModule().filters()["catalogue_resolve"](
        defaults["catalogue_services"], overrides=overrides or {}, defaults=defaults["catalogue_service_defaults"],
        environment=environment or defaults["catalogue_environment"], phases=defaults["catalogue_phases"],
        broker=defaults["catalogue_broker"])
