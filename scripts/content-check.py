#!/usr/bin/env python3
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""README.md's "Included content" table against what the collection ships.

The table has one row per module, callback, role and playbook, and one row
per filter file listing the filters that file registers. This check reads
the checkout:

- modules: plugins/modules/*.py;
- filters: the names each plugins/filter/*.py returns from
  FilterModule.filters() (read from the source, nothing imported), per file;
- callbacks: plugins/callback/*.py;
- roles: roles/<name>/ with a meta/main.yml;
- playbooks: playbooks/*.yml;

and fails naming every entry the table lacks or lists without it being
there, and every filter listed in the row of a file that does not register
it. Run by `make lint`; unit-tested in tests/unit/collection.

    scripts/content-check.py [--root DIR]
"""

import argparse
import ast
import glob
import os
import re
import sys

SECTION = "## Included content"
KINDS = ("module", "filter", "callback", "role", "playbook")
PREFIX = "alicia.platform."


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def registered_filters(path):
    """The filter names a filter file registers: the keys of the dict FilterModule.filters() returns."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "FilterModule":
            for method in node.body:
                if isinstance(method, ast.FunctionDef) and method.name == "filters":
                    for sub in ast.walk(method):
                        if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Dict):
                            keys = sub.value.keys
                            if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys):
                                return sorted(k.value for k in keys)
                    raise ValueError("%s: FilterModule.filters() does not return a dict literal with string keys"
                                     % path)
    raise ValueError("%s: no FilterModule class with a filters() method" % path)


def shipped(root):
    """What the checkout ships: {kind: {name: source}} (filters: the file registering each)."""
    found = dict((kind, {}) for kind in KINDS)
    for path in sorted(glob.glob(os.path.join(root, "plugins", "modules", "*.py"))):
        if not _stem(path).startswith("_"):
            found["module"][_stem(path)] = os.path.relpath(path, root)
    for path in sorted(glob.glob(os.path.join(root, "plugins", "filter", "*.py"))):
        if not _stem(path).startswith("_"):
            for name in registered_filters(path):
                found["filter"][name] = os.path.relpath(path, root)
    for path in sorted(glob.glob(os.path.join(root, "plugins", "callback", "*.py"))):
        if not _stem(path).startswith("_"):
            found["callback"][_stem(path)] = os.path.relpath(path, root)
    for path in sorted(glob.glob(os.path.join(root, "roles", "*", "meta", "main.yml"))):
        role = os.path.dirname(os.path.dirname(path))
        found["role"][os.path.basename(role)] = os.path.relpath(role, root)
    for path in sorted(glob.glob(os.path.join(root, "playbooks", "*.yml"))):
        found["playbook"][os.path.basename(path)] = os.path.relpath(path, root)
    return found


def table_rows(readme):
    """The rows of the README's Included content table: [(kind, [names], rest of the row)]."""
    lines = readme.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        raise ValueError("README.md has no '%s' section" % SECTION)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("kind", "") or set(cells[0]) <= set("-: "):
            continue
        rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1]), " | ".join(cells[2:])))
    if not rows:
        raise ValueError("README.md's '%s' section has no table rows" % SECTION)
    return rows


def _name(kind, text):
    """A table name as the checkout names it: no FQCN prefix, no playbooks/ directory."""
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    if kind == "playbook" and text.startswith("playbooks/"):
        text = text[len("playbooks/"):]
    return text


def problems(root):
    """Every difference between the README's table and the checkout, one line each (empty: in step)."""
    with open(os.path.join(root, "README.md")) as handle:
        rows = table_rows(handle.read())
    actual = shipped(root)
    listed = dict((kind, {}) for kind in KINDS)
    found = []
    for kind, names, rest in rows:
        if kind not in KINDS:
            found.append("README.md: unknown kind %r in the %s table (known: %s)"
                         % (kind, SECTION[3:], ", ".join(KINDS)))
            continue
        if not names:
            found.append("README.md: a %s row names nothing (names go in backticks)" % kind)
        files = re.findall(r"`(plugins/filter/[^`]+\.py)`", rest) if kind == "filter" else []
        for text in names:
            name = _name(kind, text)
            if name in listed[kind]:
                found.append("README.md: %s %s is listed twice" % (kind, name))
            listed[kind][name] = files
    for kind in KINDS:
        for name in sorted(set(actual[kind]) - set(listed[kind])):
            found.append("README.md: %s %s (%s) is missing from the %s table" % (kind, name, actual[kind][name],
                                                                                 SECTION[3:]))
        for name in sorted(set(listed[kind]) - set(actual[kind])):
            found.append("README.md: %s %s is listed in the %s table but the collection has no such %s"
                         % (kind, name, SECTION[3:], kind))
    for name, files in sorted(listed["filter"].items()):
        source = actual["filter"].get(name)
        if source is not None and files and source not in files:
            found.append("README.md: filter %s is registered by %s, not by %s as its row says"
                         % (name, source, ", ".join(files)))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the checkout (default: this script's)")
    args = parser.parse_args(argv)
    try:
        found = problems(args.root)
    except (OSError, ValueError, SyntaxError) as exc:
        print("content-check: %s" % exc, file=sys.stderr)
        return 1
    if found:
        print("content-check: README.md's Included content table is out of step with the collection:",
              file=sys.stderr)
        for line in found:
            print("  - " + line, file=sys.stderr)
        return 1
    counts = shipped(args.root)
    print("content-check: README.md lists every %s" % ", ".join(
        "%s (%d)" % (kind, len(counts[kind])) for kind in KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
