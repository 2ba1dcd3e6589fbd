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


def _collection_version(fqcn):
    """The version of a collection importable here (the `ansible` package's bundle), or None."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("ansible_collections.%s" % fqcn)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        manifest = Path(location) / "MANIFEST.json"
        if manifest.exists():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    return None


def _admits(spec, version):
    """Whether a galaxy version range like '>=3.10.0,<5.0.0' admits version."""
    def key(text):
        return tuple(int(part) for part in text.split("."))
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|<|==)\s*([\d.]+)\s*", clause)
        assert match, "unsupported range clause %r" % clause
        op, bound = match.groups()
        if op == ">=" and not key(version) >= key(bound):
            return False
        if op == "<" and not key(version) < key(bound):
            return False
        if op == "==" and key(version) != key(bound):
            return False
    return True


def test_dependencies_are_the_same_in_galaxy_yml_and_requirements_yml_and_admit_the_tested_versions():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]
    requirements = dict((c["name"], c["version"])
                        for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"])
    assert galaxy == requirements
    for fqcn, spec in galaxy.items():
        version = _collection_version(fqcn)
        assert version is not None, "%s is not installed with the ansible package here" % fqcn
        # The tests run against this version: the range must admit it.
        assert _admits(spec, version), "%s %s is tested but %s excludes it" % (fqcn, version, spec)


def test_every_dependency_is_used():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]
    sources = [p for d in ("roles", "playbooks", "plugins") for p in (ROOT / d).rglob("*")
               if p.is_file() and p.suffix in (".yml", ".py", ".j2")]
    text = "\n".join(p.read_text(errors="replace") for p in sources)
    for fqcn in galaxy:
        assert fqcn + "." in text, "%s is a dependency that nothing uses" % fqcn
