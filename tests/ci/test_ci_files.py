"""The pipeline files are valid for the engines that run them (offline validators)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github/workflows/regionguard.yml"
ATLANTIS = REPO_ROOT / "atlantis.yaml"
ATLANTIS_SCHEMA = REPO_ROOT / "tests/ci/schemas/atlantis-repo-config.schema.json"


def tool(name: str) -> str:
    """A validator of .venv-checkov: $REGIONGUARD_TOOLS_BIN (set by the Makefile) or the default."""
    folder = Path(os.environ.get("REGIONGUARD_TOOLS_BIN") or REPO_ROOT / ".venv-checkov/bin")
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not installed; run `make check` once to create it")
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_workflow_matches_the_github_workflow_schema() -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_passes_actionlint() -> None:
    done = run(tool("actionlint"), "-no-color", str(WORKFLOW))
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [", 1))
    done = run(tool("actionlint"), "-no-color", str(broken))
    assert done.returncode == 1


def test_atlantis_file_matches_the_repo_config_schema() -> None:
    done = run(tool("check-jsonschema"), "--schemafile", str(ATLANTIS_SCHEMA), str(ATLANTIS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_atlantis_schema_refuses_an_unknown_step(tmp_path: Path) -> None:
    broken = tmp_path / "atlantis.yaml"
    text = ATLANTIS.read_text()
    assert "        - run: cd" in text
    broken.write_text(text.replace("        - run: cd", "        - runs: cd", 1))
    done = run(tool("check-jsonschema"), "--schemafile", str(ATLANTIS_SCHEMA), str(broken))
    assert done.returncode == 1


def _commands(steps: list[dict[str, str]]) -> list[str]:
    return [line.strip() for step in steps for line in step.get("run", "").splitlines()]


def test_pipelines_call_only_the_make_entry_points() -> None:
    """Workflow and Atlantis run the chain through make plan / make apply, nothing else."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert jobs["plan"]["strategy"]["matrix"]["env"] == ["staging", "prod"]
    plan = _commands(jobs["plan"]["steps"])
    apply = _commands(jobs["apply"]["steps"])
    atlantis = yaml.safe_load((REPO_ROOT / "atlantis.yaml").read_text())["workflows"]
    atlantis_steps = [
        s["run"] if isinstance(s["run"], str) else s["run"]["command"]
        for stage in ("plan", "apply")
        for s in atlantis["regionguard"][stage]["steps"]
        if isinstance(s, dict)
    ]
    everything = "\n".join([*plan, *apply, *atlantis_steps])
    assert 'make plan ENV="${{ matrix.env }}" || status=$?' in plan
    assert 'make apply ENV="${{ matrix.env }}"' in apply
    assert any('make plan ENV="$PROJECT_NAME"' in s for s in atlantis_steps)
    assert any('make apply ENV="$PROJECT_NAME"' in s for s in atlantis_steps)
    for other in (
        "regionguard tfvars",
        "regionguard validate",
        "regionguard plan-diff",
        "terraform ",
    ):
        assert other not in everything


def test_apply_runs_behind_a_protected_environment_one_at_a_time_per_environment() -> None:
    apply = yaml.safe_load(WORKFLOW.read_text())["jobs"]["apply"]
    assert apply["environment"] == "${{ matrix.env }}"
    assert apply["concurrency"] == {
        "group": "regionguard-apply-${{ matrix.env }}",
        "cancel-in-progress": False,
    }


def test_plan_and_apply_assume_different_roles() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    roles = {
        name: [
            s["with"]["role-to-assume"]
            for s in job["steps"]
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        for name, job in jobs.items()
    }
    assert roles == {
        "plan": ["${{ vars[format('AWS_PLAN_ROLE_ARN_{0}', matrix.env)] }}"],
        "apply": ["${{ vars[format('AWS_APPLY_ROLE_ARN_{0}', matrix.env)] }}"],
    }


def test_pre_commit_runs_the_agreed_hooks() -> None:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    ids = [hook["id"] for repo in config["repos"] for hook in repo["hooks"]]
    assert ids == [
        "terraform-fmt",
        "terraform-validate",
        "ruff",
        "ruff-format",
        "mypy",
        "regionguard-tfvars",
    ]
