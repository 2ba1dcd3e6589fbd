"""scripts/content-check.py: README.md's Included content table against the
collection (run by `make lint`), on a small collection tree of its own."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("content_check", ROOT / "scripts" / "content-check.py")
content_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(content_check)

FILTER_FILE = '''
class FilterModule(object):
    def filters(self):
        return {"alpha": alpha, "beta": beta}
'''

README = """# x

## Included content

| kind | name | what |
| --- | --- | --- |
| module | `alicia.platform.files` | files |
| filter | `alpha`, `beta` | `plugins/filter/greek.py`: letters |
| callback | `alicia.platform.module_count` | counts |
| role | `alicia.platform.service` | services |
| playbook | `playbooks/site.yml` | all |

## Next section

| module | `alicia.platform.not_in_the_table` | rows after the section do not count |
"""


@pytest.fixture
def tree(tmp_path):
    for path, text in {
        "plugins/modules/files.py": "",
        "plugins/filter/greek.py": FILTER_FILE,
        "plugins/callback/module_count.py": "",
        "roles/service/meta/main.yml": "---\n",
        "playbooks/site.yml": "---\n",
        "README.md": README,
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def test_a_table_in_step_passes(tree, capsys):
    assert content_check.problems(str(tree)) == []
    assert content_check.main(["--root", str(tree)]) == 0
    assert "module (1), filter (2), callback (1), role (1), playbook (1)" in capsys.readouterr().out


def test_what_the_table_lacks_is_named_with_its_source(tree, capsys):
    (tree / "plugins/modules/units.py").write_text("")
    (tree / "plugins/filter/greek.py").write_text(FILTER_FILE.replace('"beta": beta', '"beta": beta, "gamma": g'))
    (tree / "roles/broker/meta").mkdir(parents=True)
    (tree / "roles/broker/meta/main.yml").write_text("---\n")
    (tree / "playbooks/health.yml").write_text("---\n")
    assert content_check.problems(str(tree)) == [
        "README.md: module units (plugins/modules/units.py) is missing from the Included content table",
        "README.md: filter gamma (plugins/filter/greek.py) is missing from the Included content table",
        "README.md: role broker (roles/broker) is missing from the Included content table",
        "README.md: playbook health.yml (playbooks/health.yml) is missing from the Included content table",
    ]
    assert content_check.main(["--root", str(tree)]) == 1
    assert "module units" in capsys.readouterr().err


def test_what_the_collection_lacks_is_named(tree):
    (tree / "plugins/callback/module_count.py").unlink()
    (tree / "plugins/filter/greek.py").write_text(FILTER_FILE.replace(', "beta": beta', ""))
    (tree / "playbooks/site.yml").unlink()
    assert content_check.problems(str(tree)) == [
        "README.md: filter beta is listed in the Included content table but the collection has no such filter",
        "README.md: callback module_count is listed in the Included content table but the collection has no"
        " such callback",
        "README.md: playbook site.yml is listed in the Included content table but the collection has no such"
        " playbook",
    ]


def test_a_filter_listed_under_the_wrong_file(tree):
    (tree / "plugins/filter/latin.py").write_text(FILTER_FILE.replace('"alpha": alpha, "beta": beta', '"beta": b'))
    (tree / "plugins/filter/greek.py").write_text(FILTER_FILE.replace(', "beta": beta', ""))
    assert content_check.problems(str(tree)) == [
        "README.md: filter beta is registered by plugins/filter/latin.py, not by plugins/filter/greek.py as its"
        " row says"]


def test_unknown_kinds_duplicates_and_a_missing_section(tree):
    readme = (tree / "README.md").read_text()
    (tree / "README.md").write_text(readme.replace("| role |", "| rol |").replace(
        "| playbook | `playbooks/site.yml` | all |", "| playbook | `playbooks/site.yml`, `site.yml` | all |"))
    found = content_check.problems(str(tree))
    assert "README.md: unknown kind 'rol' in the Included content table (known: module, filter, callback, role," \
           " playbook)" in found
    assert "README.md: playbook site.yml is listed twice" in found
    (tree / "README.md").write_text("# x\n")
    assert content_check.main(["--root", str(tree)]) == 1


def test_a_filter_file_it_cannot_read_is_an_error(tree):
    (tree / "plugins/filter/greek.py").write_text("class FilterModule(object):\n    def filters(self):\n"
                                                  "        return dict(alpha=alpha)\n")
    with pytest.raises(ValueError, match="does not return a dict literal"):
        content_check.problems(str(tree))
