"""The collection's ansible-core claim equals what `make test` runs."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _claim():
    spec = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    lower = re.search(r">=\s*(\d+)\.(\d+)\.0", spec)
    upper = re.search(r"<\s*(\d+)\.(\d+)\.0", spec)
    assert lower and upper, f"requires_ansible {spec!r} must be a closed range >=X.Y.0,<X.Z.0"
    return (int(lower[1]), int(lower[2])), (int(upper[1]), int(upper[2]))


def _tested_versions():
    compat = (ROOT / "scripts" / "compat.sh").read_text()
    default = re.search(r"versions=\(([\d. ]+)\)", compat)
    assert default, "scripts/compat.sh has no default versions=(...) list"
    versions = {tuple(int(p) for p in v.split(".")) for v in default[1].split()}
    pin = re.search(r"^ansible-core==(\d+)\.(\d+)\.", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin, "requirements.txt pins no ansible-core"
    versions.add((int(pin[1]), int(pin[2])))
    return sorted(versions)


def test_requires_ansible_is_exactly_the_tested_range():
    lower, upper = _claim()
    tested = _tested_versions()
    claimed = [(lower[0], minor) for minor in range(lower[1], upper[1])]
    assert lower[0] == upper[0], "the claim spans one major version"
    assert claimed == tested, f"requires_ansible covers {claimed}, make test runs {tested}"
