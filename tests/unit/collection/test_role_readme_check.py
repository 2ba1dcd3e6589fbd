"""scripts/role-readme-check.py: every role's README.md against its
meta/argument_specs.yml (run by `make lint`), on a small roles tree of its own."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("role_readme_check", ROOT / "scripts" / "role-readme-check.py")
role_readme_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(role_readme_check)

SPECS = """---
argument_specs:
  main:
    short_description: x
    options:
      web_port:
        description: The port, C(8080) by default.
        type: int
        default: 8080
      web_name:
        description: ["The name,", is required.]
        type: str
        required: true
  reload:
    short_description: y
    options:
      web_port:
        description: The port, C(8080) by default.
        type: int
        default: 8080
      web_signal:
        description: Signal | sent.
        type: str
        default: HUP
"""

TASKS = """---
- name: Web | the plan
  ansible.builtin.set_fact:
    web_plan: 1
"""

PROSE = """# web

Set `web_name`; the role publishes the fact `web_plan` and uses the filter
`alicia.platform.web_errors` from `plugins/filter/web_extra.py`. See also
`other_role_flag` of the other role.
"""


@pytest.fixture
def tree(tmp_path):
    for path, text in {
        "roles/web/meta/argument_specs.yml": SPECS,
        "roles/web/tasks/main.yml": TASKS,
        "roles/web/README.md": PROSE,
        "roles/other_role/meta/argument_specs.yml":
            "---\nargument_specs:\n  main:\n    options:\n      other_role_flag: {type: bool, default: false}\n",
        "roles/other_role/README.md": "# other\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    role_readme_check.write(str(tmp_path))
    return tmp_path


def test_generated_tables_pass_and_list_every_option(tree, capsys):
    assert role_readme_check.problems(str(tree)) == []
    assert role_readme_check.main(["--root", str(tree)]) == 0
    readme = (tree / "roles/web/README.md").read_text()
    assert readme.startswith(PROSE)
    assert "| `web_port` | main, reload | int | `8080` | The port, `8080` by default. |" in readme
    assert "| `web_name` | main | str | required | The name, is required. |" in readme
    assert "| `web_signal` | reload | str | `HUP` | Signal \\| sent. |" in readme
    assert "| `other_role_flag` | main | bool | `false` |  |" in (tree / "roles/other_role/README.md").read_text()
    # A second --write changes nothing.
    assert role_readme_check.write(str(tree)) == []


def test_an_option_added_to_argument_specs_fails_naming_role_and_option(tree, capsys):
    specs = tree / "roles/web/meta/argument_specs.yml"
    specs.write_text(SPECS + "      web_timeout:\n        type: int\n        default: 5\n")
    found = role_readme_check.problems(str(tree))
    assert "web: README.md does not mention web_timeout (entry point reload)" in found
    assert any(line.startswith("web: README.md's variables table differs") for line in found)
    assert role_readme_check.main(["--root", str(tree)]) == 1
    assert "web_timeout" in capsys.readouterr().out
    # --write fixes it.
    assert role_readme_check.main(["--root", str(tree), "--write"]) == 0


def test_a_stray_variable_in_the_prose_fails_naming_it(tree):
    readme = tree / "roles/web/README.md"
    readme.write_text(readme.read_text().replace("Set `web_name`", "Set `web_name` and `web_listen`"))
    assert role_readme_check.problems(str(tree)) == [
        "web: README.md mentions web_listen, which no entry point declares"]


def test_a_hand_edited_table_fails(tree):
    readme = tree / "roles/web/README.md"
    readme.write_text(readme.read_text().replace("`HUP`", "`TERM`"))
    assert role_readme_check.problems(str(tree)) == [
        "web: README.md's variables table differs from argument_specs (scripts/role-readme-check.py --write)"]


def test_a_role_without_readme_or_table_fails(tree):
    (tree / "roles/other_role/README.md").unlink()
    web = tree / "roles/web/README.md"
    web.write_text(PROSE)
    assert role_readme_check.problems(str(tree)) == [
        "other_role: no README.md",
        "web: README.md has no generated variables table (scripts/role-readme-check.py --write)",
        "web: README.md does not mention web_port (entry point main)",
        "web: README.md does not mention web_port (entry point reload)",
        "web: README.md does not mention web_signal (entry point reload)",
    ]


def test_the_collection_readmes_pass():
    assert role_readme_check.problems(str(ROOT)) == []
