"""The pipeline files are valid for the engines that run them (offline validators)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github/workflows/regionguard.yml"
SCHEDULE = REPO_ROOT / ".github/workflows/regionguard-schedule.yml"
WORKFLOWS = (WORKFLOW, SCHEDULE)
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


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    done = run(tool("actionlint"), "-no-color", str(workflow))
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
    """Workflows and Atlantis run the chain through make targets, nothing else."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    schedule = yaml.safe_load(SCHEDULE.read_text())["jobs"]
    assert jobs["review"]["strategy"]["matrix"]["env"] == ["staging", "prod"]
    commands = {name: _commands(job["steps"]) for name, job in [*jobs.items(), *schedule.items()]}
    atlantis = yaml.safe_load((REPO_ROOT / "atlantis.yaml").read_text())["workflows"]
    atlantis_steps = [
        s["run"] if isinstance(s["run"], str) else s["run"]["command"]
        for stage in ("plan", "apply")
        for s in atlantis["regionguard"][stage]["steps"]
        if isinstance(s, dict) and "run" in s
    ]
    everything = "\n".join([*(c for cs in commands.values() for c in cs), *atlantis_steps])
    assert 'make review ENV="${{ matrix.env }}" || status=$?' in commands["review"]
    assert 'make review ENV="${{ matrix.env }}"' in commands["plan"]
    assert 'make apply ENV="${{ matrix.env }}"' in commands["apply"]
    assert 'make drift ENV="${{ matrix.env }}" || status=$?' in commands["drift"]
    assert 'make tfvars ENV="${{ matrix.env }}"' in commands["permits"]
    assert any('make review ENV="$PROJECT_NAME"' in s for s in atlantis_steps)
    assert any('make apply ENV="$PROJECT_NAME"' in s for s in atlantis_steps)
    for other in (
        "regionguard ",
        "terraform ",
        "plan-diff",
        "|| true",
    ):
        assert other not in everything


def test_apply_runs_behind_a_protected_environment_one_at_a_time_per_environment() -> None:
    apply = yaml.safe_load(WORKFLOW.read_text())["jobs"]["apply"]
    assert apply["environment"] == "${{ matrix.env }}"
    assert apply["needs"] == "plan"
    assert apply["concurrency"] == {
        "group": "regionguard-apply-${{ matrix.env }}",
        "cancel-in-progress": False,
    }


def test_plan_and_apply_assume_different_roles() -> None:
    jobs = {
        **yaml.safe_load(WORKFLOW.read_text())["jobs"],
        **yaml.safe_load(SCHEDULE.read_text())["jobs"],
    }
    roles = {
        name: [
            s["with"]["role-to-assume"]
            for s in job["steps"]
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        for name, job in jobs.items()
    }
    plan_role = "${{ vars[format('AWS_PLAN_ROLE_ARN_{0}', matrix.env)] }}"
    assert roles == {
        "review": [plan_role],
        "plan": [plan_role],
        "apply": ["${{ vars[format('AWS_APPLY_ROLE_ARN_{0}', matrix.env)] }}"],
        "drift": [plan_role],
        "permits": [],
    }


def test_only_the_apply_job_writes_and_only_the_permits_job_opens_pull_requests() -> None:
    jobs = {
        **yaml.safe_load(WORKFLOW.read_text())["jobs"],
        **yaml.safe_load(SCHEDULE.read_text())["jobs"],
    }
    writes = {
        name: sorted(k for k, v in job["permissions"].items() if v == "write")
        for name, job in jobs.items()
    }
    assert writes == {
        "review": ["id-token", "pull-requests", "security-events"],
        "plan": ["id-token"],
        "apply": ["id-token"],
        "drift": ["id-token"],
        "permits": ["contents", "pull-requests"],
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
