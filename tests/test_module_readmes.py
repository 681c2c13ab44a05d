"""Each module's README documents its interface as variables.tf and outputs.tf declare it.

The "Inputs" table of ``modules/<name>/README.md`` has one row per variable:
its name, its type and its default exactly as declared (an empty cell for a
required variable), and no row for anything else. The "Outputs" table has one
row per output, and no other. Defaults are written as HCL literals and read
back with python-hcl2, the parser that reads the .tf files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.name for p in (REPO_ROOT / "modules").iterdir() if (p / "versions.tf").is_file())
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
ROW = re.compile(r"^\|(.*)\|\s*$")
CODE = re.compile(r"^`([^`]*)`$")


def declared(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Blocks of ``kind`` (variable or output) in a .tf file, by name."""
    parsed = hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=HCL)
    return {name: body for block in parsed.get(kind, []) for name, body in block.items()}


def table(readme: Path, heading: str) -> list[list[str]]:
    """Body rows of the first table under ``## heading``, each a list of cells."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}") + 1
    rows: list[list[str]] = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        match = ROW.match(line)
        if match:
            rows.append([cell.strip() for cell in match.group(1).split("|")])
        elif rows:
            break
    assert len(rows) >= 2, f"{readme}: no table under '## {heading}'"
    assert set(rows[1]) <= {"---", ":---", "---:", ":---:"}, f"{readme}: '{heading}' has no header"
    return rows[2:]


def code(cell: str, where: str) -> str:
    match = CODE.match(cell)
    assert match, f"{where}: write {cell!r} as one `code` span"
    return match.group(1)


def hcl_value(literal: str) -> Any:
    """An HCL literal as python-hcl2 reads it in a .tf file."""
    return hcl2.loads(f"x = {literal}\n", serialization_options=HCL)["x"]


def documented_inputs(readme: Path) -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = {}
    for name_cell, type_cell, default_cell, *_ in table(readme, "Inputs"):
        name = code(name_cell, f"{readme} Inputs")
        entry: dict[str, Any] = {"type": code(type_cell, f"{readme} Inputs {name}")}
        if default_cell:
            entry["default"] = hcl_value(code(default_cell, f"{readme} Inputs {name}"))
        assert name not in inputs, f"{readme}: input {name} listed twice"
        inputs[name] = entry
    return inputs


def declared_inputs(module: str) -> dict[str, dict[str, Any]]:
    variables = declared(REPO_ROOT / "modules" / module / "variables.tf", "variable")
    inputs: dict[str, dict[str, Any]] = {}
    for name, body in variables.items():
        type_expr = str(body["type"])
        if type_expr.startswith("${") and type_expr.endswith("}"):
            type_expr = type_expr[2:-1]
        entry: dict[str, Any] = {"type": type_expr}
        if "default" in body:
            entry["default"] = body["default"]
        inputs[name] = entry
    return inputs


def test_every_module_has_a_readme() -> None:
    assert MODULES == ["bedrock-inference-scp", "region-deny-control"]
    for module in MODULES:
        assert (REPO_ROOT / "modules" / module / "README.md").is_file(), module


@pytest.mark.parametrize("module", MODULES)
def test_inputs_table_lists_each_variable_with_its_declared_type_and_default(module: str) -> None:
    readme = REPO_ROOT / "modules" / module / "README.md"
    assert documented_inputs(readme) == declared_inputs(module)


@pytest.mark.parametrize("module", MODULES)
def test_outputs_table_lists_each_declared_output_and_nothing_else(module: str) -> None:
    readme = REPO_ROOT / "modules" / module / "README.md"
    rows = table(readme, "Outputs")
    documented = [code(row[0], f"{readme} Outputs") for row in rows]
    outputs = declared(REPO_ROOT / "modules" / module / "outputs.tf", "output")
    assert sorted(documented) == sorted(outputs)
    assert len(documented) == len(set(documented)), f"{readme}: an output is listed twice"
    assert all(row[1] for row in rows), f"{readme}: every output needs a description"


def test_a_wrong_default_a_wrong_type_and_a_stray_row_are_told_apart(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# m\n\n## Inputs\n\n"
        "| name | type | default | description |\n|---|---|---|---|\n"
        '| `guarded_actions` | `list(string)` | `["bedrock:InvokeModel"]` | Actions. |\n'
        "| `require_inference_profile` | `string` | `false` | Option. |\n"
        "| `tags` | `map(string)` | | Tags. |\n"
        "| `stray` | `string` | | Not declared. |\n"
    )
    declared_ = declared_inputs("bedrock-inference-scp")
    documented = documented_inputs(readme)
    wrong = {n for n in documented if documented[n] != declared_.get(n)}
    assert wrong == {"guarded_actions", "require_inference_profile", "tags", "stray"}
    assert documented["tags"] == {"type": "map(string)"}
    assert declared_["tags"] == {"type": "map(string)", "default": {}}
    assert documented["require_inference_profile"] == {"type": "string", "default": False}
