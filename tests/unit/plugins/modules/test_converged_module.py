# -*- coding: utf-8 -*-
"""alicia.platform.converged run as a module file by a fresh Python (the
test machine's own /etc, units and containers as the host), and its
filter converge_digest."""

import json
import os
import stat

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.alicia.platform.plugins.filter.converged import FilterModule

DIGEST = "a" * 64


def test_record_then_check(run_module_file, tmp_path):
    path = str(tmp_path / "converged.json")
    rc, result = run_module_file("converged", {"digest": DIGEST, "path": path})
    assert rc == 0 and result["converged"] is False and result["changed"] is False
    assert result["reasons"] == ["no converge record (no full site.yml run recorded this host's state)"]
    assert not os.path.exists(path)

    # Check mode: would write, writes nothing.
    rc, result = run_module_file("converged", {"digest": DIGEST, "path": path, "state": "record",
                                               "_ansible_check_mode": True})
    assert rc == 0 and result["changed"] is True and not os.path.exists(path)

    rc, result = run_module_file("converged", {"digest": DIGEST, "path": path, "state": "record"})
    assert rc == 0 and result["changed"] is True and result["paths"] > 10
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    # This machine is the host: other work on it (Docker creating a network
    # rewrites the nftables ruleset) may change what is read between the
    # record and the check. Record again, at most 3 attempts (counted, not timed).
    for _attempt in range(3):
        rc, result = run_module_file("converged", {"digest": DIGEST, "path": path})
        assert rc == 0 and result["changed"] is False
        if result["converged"]:
            break
        run_module_file("converged", {"digest": DIGEST, "path": path, "state": "record"})
    assert result["converged"] is True, result["reasons"]
    assert (result["reasons"], result["reasons_count"]) == ([], 0)
    # The digest covers secrets: never in the result.
    assert DIGEST not in json.dumps(result)

    rc, result = run_module_file("converged", {"digest": "b" * 64, "path": path})
    assert rc == 0 and result["converged"] is False and result["reasons_count"] == 1
    assert "the inputs changed" in result["reasons"][0]


def test_a_damaged_record_fails_naming_it(run_module_file, tmp_path):
    path = tmp_path / "converged.json"
    path.write_text("{")
    rc, result = run_module_file("converged", {"digest": DIGEST, "path": str(path)})
    assert rc == 1 and result["failed"] is True
    assert result["msg"].startswith("converged: %s: not JSON" % path)


def test_the_filter_digests_hostvars_and_groups():
    converge_digest = FilterModule().filters()["converge_digest"]
    hostvars = {"app1": {"alicia_address": "10.0.0.2", "ansible_host": "a"}, "app2": {"alicia_address": "10.0.0.3"}}
    groups = {"all": ["app1", "app2"], "alicia_core": ["app1"]}
    first = converge_digest(hostvars, groups)
    assert len(first) == 64 and first == converge_digest(hostvars, groups)
    assert converge_digest(dict(hostvars, app1={"alicia_address": "10.0.0.2", "ansible_host": "b"}), groups) == first
    assert converge_digest(dict(hostvars, app2={"alicia_address": "10.0.0.9"}), groups) != first
    # Only the hosts given count.
    assert converge_digest(dict(hostvars, app2={}), groups, hosts=["app1"]) == converge_digest(hostvars, groups,
                                                                                              hosts=["app1"])
    with pytest.raises(AnsibleFilterError, match="the input must be hostvars"):
        converge_digest(["app1"], groups)
    with pytest.raises(AnsibleFilterError, match="groups must be the groups mapping"):
        converge_digest(hostvars, ["all"])
