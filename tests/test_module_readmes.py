"""Each module's README documents its interface as its .tf files declare it.

The tables between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` are
written by ``tools/module_docs.py`` (``make docs``); a README whose tables are
not what the tool writes now fails here. The tables are also read back and
compared with the .tf files through this test's own reading: one row per
variable with its type and its default exactly as declared (an empty cell
and "yes" under required for a variable without one), one row per output, and
no row for anything else. Defaults are read back with python-hcl2, the parser
that reads the .tf files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOL = REPO_ROOT / "tools" / "module_docs.py"
MODULES = sorted(p.name for p in (REPO_ROOT / "modules").iterdir() if (p / "versions.tf").is_file())
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
ROW = re.compile(r"^\|(.*)\|\s*$")
CODE = re.compile(r"^`([^`]*)`$")
CELL_SPLIT = re.compile(r"(?<!\\)\|")


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
            rows.append([cell.strip() for cell in CELL_SPLIT.split(match.group(1))])
        elif rows:
            break
    assert len(rows) >= 2, f"{readme}: no table under '## {heading}'"
    assert set(rows[1]) <= {"---", ":---", "---:", ":---:"}, f"{readme}: '{heading}' has no header"
    return rows[2:]


def text(cell: str) -> str:
    """A table cell's text: markdown escapes (``\\_``, ``\\<``, ``\\|``) undone."""
    return re.sub(r"\\(.)", r"\1", cell)


def code(cell: str, where: str) -> str:
    match = CODE.match(cell)
    assert match, f"{where}: write {cell!r} as one `code` span"
    return match.group(1)


def hcl_value(literal: str) -> Any:
    """An HCL literal as python-hcl2 reads it in a .tf file."""
    return hcl2.loads(f"x = {literal}\n", serialization_options=HCL)["x"]


def documented_inputs(readme: Path) -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = {}
    for name_cell, description, type_cell, default_cell, required in table(readme, "Inputs"):
        name = code(name_cell, f"{readme} Inputs")
        where = f"{readme} Inputs {name}"
        entry: dict[str, Any] = {"type": code(type_cell, where), "description": text(description)}
        if default_cell:
            entry["default"] = hcl_value(code(default_cell, where))
        assert required == ("no" if default_cell else "yes"), f"{where}: required is {required}"
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
        entry: dict[str, Any] = {"type": type_expr, "description": body["description"]}
        if "default" in body:
            entry["default"] = body["default"]
        inputs[name] = entry
    return inputs


def run_tool(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_every_module_has_a_readme() -> None:
    assert MODULES == ["bedrock-inference-scp", "region-deny-control"]
    for module in MODULES:
        assert (REPO_ROOT / "modules" / module / "README.md").is_file(), module


def test_every_readme_holds_the_tables_the_tool_writes_now() -> None:
    result = run_tool("--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("module", MODULES)
def test_inputs_table_lists_each_variable_with_its_declared_type_and_default(module: str) -> None:
    readme = REPO_ROOT / "modules" / module / "README.md"
    assert documented_inputs(readme) == declared_inputs(module)


@pytest.mark.parametrize("module", MODULES)
def test_outputs_table_lists_each_declared_output_and_nothing_else(module: str) -> None:
    readme = REPO_ROOT / "modules" / module / "README.md"
    rows = table(readme, "Outputs")
    documented = {code(row[0], f"{readme} Outputs"): text(row[1]) for row in rows}
    outputs = declared(REPO_ROOT / "modules" / module / "outputs.tf", "output")
    assert documented == {name: body["description"] for name, body in outputs.items()}
    assert len(rows) == len(documented), f"{readme}: an output is listed twice"


@pytest.mark.parametrize("module", MODULES)
def test_resources_table_lists_each_resource_and_data_source(module: str) -> None:
    readme = REPO_ROOT / "modules" / module / "README.md"
    main = REPO_ROOT / "modules" / module / "main.tf"
    parsed = hcl2.loads(main.read_text(encoding="utf-8"), serialization_options=HCL)
    expected = {
        f"{prefix}{type_name}.{name}": label
        for kind, prefix, label in (("resource", "", "resource"), ("data", "data.", "data source"))
        for block in parsed.get(kind, [])
        for type_name, named in block.items()
        for name in named
    }
    rows = table(readme, "Resources")
    assert {code(r[0], f"{readme} Resources"): r[1] for r in rows} == expected


def copy_module(tmp_path: Path, module: str = "bedrock-inference-scp") -> Path:
    target = tmp_path / module
    shutil.copytree(REPO_ROOT / "modules" / module, target, ignore=shutil.ignore_patterns(".*"))
    return target


def test_a_changed_default_makes_the_readme_stale_until_make_docs(tmp_path: Path) -> None:
    module = copy_module(tmp_path)
    variables = module / "variables.tf"
    text = variables.read_text()
    assert text.count("default     = 10240") == 1
    variables.write_text(text.replace("default     = 10240", "default     = 5120"))
    readme = module / "README.md"
    before = readme.read_text()

    stale = run_tool("--check", str(module), cwd=tmp_path)
    assert stale.returncode == 1
    assert stale.stderr == (
        f"module_docs: {Path('bedrock-inference-scp/README.md')}: the tables are not those of "
        "the module's .tf files; run `make docs` and commit the README\n"
    )
    assert readme.read_text() == before

    written = run_tool(str(module), cwd=tmp_path)
    assert (written.returncode, written.stdout) == (0, "bedrock-inference-scp/README.md: updated\n")
    after = readme.read_text()
    assert "| `size_limit` |" in after
    assert documented_inputs(readme)["size_limit"]["default"] == 5120
    # Only the generated part changed: the prose around the markers is kept.
    head = before.split("<!-- BEGIN_TF_DOCS -->")[0]
    tail = before.split("<!-- END_TF_DOCS -->")[1]
    assert after.startswith(head + "<!-- BEGIN_TF_DOCS -->")
    assert after.endswith("<!-- END_TF_DOCS -->" + tail)
    assert run_tool("--check", str(module), cwd=tmp_path).returncode == 0


def test_a_variable_without_description_is_refused_and_nothing_written(tmp_path: Path) -> None:
    module = copy_module(tmp_path)
    (module / "extra.tf").write_text('variable "owner" {\n  type = string\n}\n')
    readme = module / "README.md"
    before = readme.read_text()
    result = run_tool(str(module), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"module_docs: {Path('bedrock-inference-scp/extra.tf')}: variable 'owner' has no "
        "description; add one sentence that says what it is (the README's table is made "
        "from it)\n"
    )
    assert readme.read_text() == before


def test_a_readme_without_the_markers_is_refused(tmp_path: Path) -> None:
    module = copy_module(tmp_path, "region-deny-control")
    readme = module / "README.md"
    readme.write_text("# region-deny-control\n\n## Inputs\n")
    result = run_tool("--check", str(module), cwd=tmp_path)
    assert result.returncode == 2
    assert "region-deny-control/README.md: needs the line <!-- BEGIN_TF_DOCS -->" in result.stderr


def test_a_wrong_default_a_wrong_type_and_a_stray_row_are_told_apart(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# m\n\n## Inputs\n\n"
        "| name | description | type | default | required |\n|---|---|---|---|---|\n"
        '| `guarded_actions` | d | `list(string)` | `["bedrock:InvokeModel"]` | no |\n'
        "| `require_inference_profile` | d | `string` | `false` | no |\n"
        "| `tags` | d | `map(string)` | | yes |\n"
        "| `stray` | d | `string` | | yes |\n"
    )
    declared_ = declared_inputs("bedrock-inference-scp")
    documented = documented_inputs(readme)
    wrong = {n for n in documented if documented[n] != declared_.get(n)}
    assert wrong == {"guarded_actions", "require_inference_profile", "tags", "stray"}
    assert documented["tags"] == {"type": "map(string)", "description": "d"}
    assert declared_["tags"] == {
        "type": "map(string)",
        "description": (
            "Tags applied to the service control policies, beside the regionguard:managed "
            "tag the module sets."
        ),
        "default": {},
    }
    assert documented["require_inference_profile"]["default"] is False
