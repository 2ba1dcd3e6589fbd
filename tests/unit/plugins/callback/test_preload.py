# -*- coding: utf-8 -*-
"""The preload callback: which modules it imports in the controller process, and that one that
does not import is reported and left alone."""

import sys

from ansible_collections.alicia.platform.plugins.callback import preload


def test_it_lists_every_filter_and_module_utils_file_of_the_collection():
    names = preload.modules()
    assert "ansible_collections.alicia.platform.plugins.module_utils._service_plan" in names
    assert "ansible_collections.alicia.platform.plugins.module_utils.catalogue" in names
    assert "ansible_collections.alicia.platform.plugins.filter.service_plan" in names
    # The logic before the filters that call it; no package __init__, no callback, no module.
    first_filter = min(i for i, n in enumerate(names) if ".filter." in n)
    assert all(".module_utils." in n for n in names[:first_filter])
    assert not [n for n in names if n.endswith("__init__") or ".modules." in n or ".callback." in n]


def test_it_imports_them_in_this_process():
    name = "ansible_collections.alicia.platform.plugins.module_utils._canary"
    sys.modules.pop(name, None)
    imported, failed = preload.preload([name])
    assert imported == [name] and failed == {} and name in sys.modules


def test_a_module_that_does_not_import_is_reported_not_raised():
    def importer(name):
        if name == "bad":
            raise ImportError("No module named 'paho'")
        return None

    imported, failed = preload.preload(["good", "bad"], importer=importer)
    assert imported == ["good"] and failed == {"bad": "ImportError: No module named 'paho'"}


def test_the_callback_preloads_when_created():
    callback = preload.CallbackModule()
    assert "ansible_collections.alicia.platform.plugins.filter.catalogue" in callback.imported
    assert callback.failed == {}
