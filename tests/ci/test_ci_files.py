"""The pipeline files are valid for the engines that run them (offline validators)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_CONFIG = REPO_ROOT / "docs/atlantis/repos.yaml"
CODEOWNERS = REPO_ROOT / ".github/CODEOWNERS"
# The tag each pinned commit was found under (git show-ref in the actions'
# repositories; docs/decisions.md, Pipelines: pinned actions).
PINS = {
    "actions/checkout": ("fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "v5.1.0"),
    "hashicorp/setup-terraform": ("b9cd54a3c349d3f38e8881555d616ced269862dd", "v3.1.2"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
    "aws-actions/configure-aws-credentials": (
        "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        "v6.2.3",
    ),
    "actions/github-script": ("ed597411d8f924073f98dfc5c65a23a2325f34cd", "v8.0.0"),
    "github/codeql-action/upload-sarif": ("8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
    "actions/upload-artifact": ("b7c566a772e6b6bfb58ed0dc250532a479d7789f", "v6.0.0"),
    "actions/download-artifact": ("37930b1c2abaa49bbe596cd826c3c89aef350131", "v7.0.0"),
    "peter-evans/create-pull-request": ("5f6978faf089d4d20b00c7766989d076bb2fc7f1", "v8.1.1"),
}
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
        missing(f"{path}: not installed; run `make check` once to create .venv-checkov")
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.tools
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.tools
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    done = run(tool("actionlint"), "-no-color", str(workflow))
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


@pytest.mark.tools
def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [", 1))
    done = run(tool("actionlint"), "-no-color", str(broken))
    assert done.returncode == 1


@pytest.mark.tools
def test_atlantis_file_matches_the_repo_config_schema() -> None:
    done = run(tool("check-jsonschema"), "--schemafile", str(ATLANTIS_SCHEMA), str(ATLANTIS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.tools
def test_atlantis_schema_refuses_an_unknown_key(tmp_path: Path) -> None:
    broken = tmp_path / "atlantis.yaml"
    text = ATLANTIS.read_text()
    assert "    autoplan:\n" in text
    broken.write_text(text.replace("    autoplan:\n", "    autoplans:\n", 1))
    done = run(tool("check-jsonschema"), "--schemafile", str(ATLANTIS_SCHEMA), str(broken))
    assert done.returncode == 1


def _commands(steps: list[dict[str, str]]) -> list[str]:
    return [line.strip() for step in steps for line in step.get("run", "").splitlines()]


def test_workflows_call_only_the_make_entry_points() -> None:
    """The GitHub workflows run the chain through make targets, nothing else."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    schedule = yaml.safe_load(SCHEDULE.read_text())["jobs"]
    assert jobs["review"]["strategy"]["matrix"]["env"] == ["staging", "prod"]
    commands = {name: _commands(job["steps"]) for name, job in [*jobs.items(), *schedule.items()]}
    everything = "\n".join(c for cs in commands.values() for c in cs)
    assert 'make review ENV="$REGIONGUARD_ENV" || status=$?' in commands["review"]
    assert 'make review ENV="$REGIONGUARD_ENV"' in commands["plan"]
    assert 'make apply ENV="$REGIONGUARD_ENV"' in commands["apply"]
    assert 'make drift ENV="$REGIONGUARD_ENV" || status=$?' in commands["drift"]
    assert 'make tfvars ENV="$REGIONGUARD_ENV"' in commands["permits"]
    assert commands["report"] == []
    for other in ("regionguard ", "terraform ", "plan-diff", "|| true"):
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
        "report": [],
        "plan": [plan_role],
        "apply": ["${{ vars[format('AWS_APPLY_ROLE_ARN_{0}', matrix.env)] }}"],
        "drift": [plan_role],
        "permits": [],
    }


def test_no_job_that_runs_pull_request_code_can_write() -> None:
    jobs = {
        **yaml.safe_load(WORKFLOW.read_text())["jobs"],
        **yaml.safe_load(SCHEDULE.read_text())["jobs"],
    }
    writes = {
        name: sorted(k for k, v in job["permissions"].items() if v == "write")
        for name, job in jobs.items()
    }
    # review runs the pull request's code: it may only request its OIDC token
    # (which only the plan role trusts); report, which posts the comment and
    # the SARIF log, runs none of it.
    assert writes == {
        "review": ["id-token"],
        "report": ["pull-requests", "security-events"],
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


# ---------------------------------------------------------------- pins and checkouts


def _steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, step)
        for path in WORKFLOWS
        for name, job in yaml.safe_load(path.read_text())["jobs"].items()
        for step in job["steps"]
    ]


def test_every_action_is_pinned_by_commit_with_its_tag_in_a_comment() -> None:
    lines = [
        line.strip()
        for path in WORKFLOWS
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    assert lines
    for line in lines:
        match = re.fullmatch(r"(?:- )?uses: ([\w./-]+)@([0-9a-f]{40}) # (v[\d.]+)", line)
        assert match, line
        action, sha, tag = match.groups()
        assert PINS[action] == (sha, tag), line


def test_every_checkout_keeps_no_credentials() -> None:
    checkouts = [
        (workflow, job, step)
        for workflow, job, step in _steps()
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) == 5
    for workflow, job, step in checkouts:
        assert step.get("with") == {"persist-credentials": False}, (workflow, job)


def test_no_run_step_expands_an_expression() -> None:
    """Values reach shell commands through env:, never spliced into the script."""
    for workflow, job, step in _steps():
        assert "${{" not in step.get("run", ""), (workflow, job, step.get("name"))


@pytest.mark.tools
def test_zizmor_finds_nothing_offline() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"  # the dev extra of the running venv
    done = run(str(zizmor), "--offline", "--no-progress", ".github/workflows")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report." in done.stdout


@pytest.mark.tools
def test_zizmor_reports_an_unpinned_action_and_a_kept_credential(tmp_path: Path) -> None:
    zizmor = Path(sys.executable).parent / "zizmor"  # the dev extra of the running venv
    text = WORKFLOW.read_text()
    broken = text.replace(
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0", "actions/checkout@v5"
    ).replace("        with:\n          persist-credentials: false\n", "")
    (tmp_path / "regionguard.yml").write_text(broken)
    done = run(
        str(zizmor),
        "--offline",
        "--no-progress",
        "--format",
        "json",
        str(tmp_path / "regionguard.yml"),
    )
    assert done.returncode != 0
    found = {f["ident"] for f in json.loads(done.stdout)}
    assert {"unpinned-uses", "artipacked"} <= found, found


# ---------------------------------------------------------------- atlantis: what the repo may ask

# Atlantis, Server Side Repo Config (Reference, Repo): the keys an atlantis.yaml
# may set only when the server lists them in allowed_overrides, and custom
# workflows, which need allow_custom_workflows.
RESTRICTED_PROJECT_KEYS = {
    "workflow",
    "plan_requirements",
    "apply_requirements",
    "import_requirements",
    "delete_source_branch_on_merge",
    "repo_locking",
    "repo_locks",
    "custom_policy_check",
}


def test_the_repo_file_requests_nothing_the_server_must_allow() -> None:
    config = yaml.safe_load(ATLANTIS.read_text())
    assert "workflows" not in config
    assert set(config) <= {"version", "automerge", "parallel_plan", "parallel_apply", "projects"}
    assert [p["name"] for p in config["projects"]] == ["staging", "prod"]
    for project in config["projects"]:
        assert not set(project) & RESTRICTED_PROJECT_KEYS, project["name"]
        assert set(project) == {"name", "dir", "autoplan"}


def test_the_server_allows_no_override_and_no_custom_workflow() -> None:
    from workflow_runner import server_repo_settings

    server = yaml.safe_load(SERVER_CONFIG.read_text())
    settings = server_repo_settings(server, "github.com/OWNER/REPO")
    assert settings["allowed_overrides"] == []
    assert settings["allow_custom_workflows"] is False
    assert settings["workflow"] == "regionguard"
    assert settings["allowed_workflows"] == ["regionguard"]
    # (c) apply needs an approved, mergeable (the branch protection's required
    # reviews, Code Owners included) and undiverged pull request.
    assert settings["apply_requirements"] == ["approved", "mergeable", "undiverged"]
    assert settings["import_requirements"] == ["approved", "mergeable", "undiverged"]
    # Another repository gets Atlantis's defaults, not this workflow.
    assert server_repo_settings(server, "github.com/OWNER/OTHER")["workflow"] == "default"


def _stage_text(stage: dict[str, Any]) -> str:
    return yaml.safe_dump(stage["steps"])


def test_the_server_workflow_plans_with_the_plan_profile_and_never_the_apply_role() -> None:
    workflow = yaml.safe_load(SERVER_CONFIG.read_text())["workflows"]["regionguard"]
    assert set(workflow) == {"plan", "apply", "import", "state_rm"}

    def env_steps(stage: str) -> dict[str, str]:
        return {s["env"]["name"]: s["env"]["value"] for s in workflow[stage]["steps"] if "env" in s}

    assert env_steps("plan") == {
        "REGIONGUARD_HOME": "/opt/regionguard",
        "AWS_PROFILE": "regionguard-plan",
    }
    # The plan role cannot write the S3 lock object: the review plans without it.
    assert 'review --env "$PROJECT_NAME" --no-state-lock' in _stage_text(workflow["plan"])
    assert env_steps("apply") == {
        "REGIONGUARD_HOME": "/opt/regionguard",
        "AWS_PROFILE": "regionguard-apply",
    }
    plan = _stage_text(workflow["plan"])
    # (b) nothing in the plan stage names the apply role or its profile.
    assert "apply" not in plan.replace("regionguard apply", "")
    assert "regionguard apply" not in plan
    # The env steps come first: no run step runs before the profile is set.
    for stage in ("plan", "apply"):
        kinds = ["env" if "env" in s else "run" for s in workflow[stage]["steps"]]
        assert kinds == sorted(kinds), stage
    # Imports and state removals are refused.
    for stage in ("import", "state_rm"):
        [step] = workflow[stage]["steps"]
        assert step["run"].endswith("exit 1")


def test_the_server_workflow_runs_nothing_from_the_checkout() -> None:
    """No make, no script of the checkout, no checkov check of the checkout:
    the tool and the checks are the pinned installation's."""
    workflow = yaml.safe_load(SERVER_CONFIG.read_text())["workflows"]["regionguard"]
    commands = [
        s["run"] if isinstance(s["run"], str) else s["run"]["command"]
        for stage in ("plan", "apply")
        for s in workflow[stage]["steps"]
        if "run" in s
    ]
    text = "\n".join(commands)
    assert "make " not in text and "scripts/" not in text and ".venv" not in text
    for tool in re.findall(r'"(\$REGIONGUARD_HOME/[^"]+)"', text):
        assert tool.startswith(
            (
                "$REGIONGUARD_HOME/venv/bin/regionguard",
                "$REGIONGUARD_HOME/checkov/bin/checkov",
                "$REGIONGUARD_HOME/src/.checkov.yaml",
                "$REGIONGUARD_HOME/src/policies/checkov",
            )
        ), tool
    assert text.count('--external-checks-dir "$REGIONGUARD_HOME/src/policies/checkov"') == 1


def test_the_server_checkov_flags_are_the_makefile_ones() -> None:
    """The server's checkov command and make check's scan of an environment use the same flags."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    match = re.search(r"^CHECKOV_FLAGS := (.*)$", makefile, re.M)
    assert match
    make_flags = match.group(1).split()
    workflow = yaml.safe_load(SERVER_CONFIG.read_text())["workflows"]["regionguard"]
    checkov = next(s["run"] for s in workflow["plan"]["steps"] if "checkov" in str(s.get("run")))
    server_flags = checkov.replace('"$REGIONGUARD_HOME/src/', "").replace('"', "").split()
    for flag in make_flags:
        assert server_flags.count(flag) == 1, flag


def test_the_server_writes_the_backend_file_make_backend_config_writes(tmp_path: Path) -> None:
    workflow = yaml.safe_load(SERVER_CONFIG.read_text())["workflows"]["regionguard"]
    [plan_cmd] = [s["run"] for s in workflow["plan"]["steps"] if "backend.hcl" in str(s.get("run"))]
    [apply_cmd] = [
        s["run"] for s in workflow["apply"]["steps"] if "backend.hcl" in str(s.get("run"))
    ]
    assert plan_cmd == apply_cmd
    env = {
        "PATH": os.environ["PATH"],
        "BACKEND_BUCKET": "example-org-terraform-state",
        "BACKEND_REGION": "ap-northeast-1",
        "DIR": str(tmp_path),
    }
    done = subprocess.run(
        ["sh", "-c", plan_cmd], env=env, capture_output=True, text=True, check=False, timeout=30
    )
    assert done.returncode == 0, done.stderr
    # The Makefile's target, run in a folder of its own (it writes envs/<env>/).
    other = tmp_path / "make"
    (other / "envs/staging").mkdir(parents=True)
    (other / "envs/staging/backend.tf").write_text("")
    made = subprocess.run(
        ["make", "-s", "-f", str(REPO_ROOT / "Makefile"), "backend-config", "ENV=staging"],
        cwd=other,
        env={**env, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    expected = (other / "envs/staging/backend.hcl").read_text()
    assert (tmp_path / "backend.hcl").read_text() == expected
    unset = subprocess.run(
        ["sh", "-c", plan_cmd],
        env={"PATH": os.environ["PATH"], "DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert unset.returncode != 0 and "set BACKEND_BUCKET" in unset.stderr


# ---------------------------------------------------------------- code owners


def _codeowners() -> list[tuple[Any, list[str]]]:
    from pathspec.patterns.gitignore.basic import GitIgnoreBasicPattern

    rules = []
    for line in CODEOWNERS.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, *owners = line.split()
        rules.append((GitIgnoreBasicPattern(pattern), owners))
    return rules


def owners_of(path: str, rules: list[tuple[Any, list[str]]]) -> list[str]:
    """GitHub's rule: the last pattern that matches the path gives its owners."""
    found: list[str] = []
    for pattern, owners in rules:
        if pattern.match_file(path):
            found = owners
    return found


# Every file that can change what the gate decides, what the pipelines run,
# or with which credentials: the tool, its checks and dependencies, the
# Terraform under review (the provider lock files too), the facts, the IAM
# policies, the pipelines and their server config, and the tests.
DECIDING = re.compile(
    r"^(scripts/|policies/|modules/|envs/_shared/|envs/[^/]+/[^/]+\.tf$"
    r"|envs/[^/]+/expectations\.yaml$|envs/[^/]+/\.terraform\.lock\.hcl$|envs/[^/]+/tests/"
    r"|envs/local/sandbox\.yaml$|iam/|\.github/|atlantis\.yaml$|docs/atlantis/|Makefile$"
    r"|pyproject\.toml$|requirements\.lock$|\.ci/|\.checkov\.yaml$|\.pre-commit-config\.yaml$"
    r"|tests/|bench/)"
)
MAINTAINERS = ["@OWNER/regionguard-maintainers"]


def test_every_file_that_can_change_the_verdict_needs_the_maintainers() -> None:
    rules = _codeowners()
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # The new files of this change, before they are committed, count too.
    files += [str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "iam").rglob("*.json")]
    deciding = sorted({f for f in files if DECIDING.match(f)})
    assert {"Makefile", "envs/prod/expectations.yaml", "iam/apply-role.json"} <= set(deciding)
    assert [f for f in deciding if owners_of(f, rules) != MAINTAINERS] == []
    # Everything else has an owner too: the registry is the platform team's.
    for data in ("envs/prod/accounts.yaml", "envs/prod/terraform.tfvars", "README.md"):
        assert owners_of(data, rules) == ["@OWNER/platform"]
    assert all(owners_of(f, rules) for f in files)


def test_codeowners_matching_follows_the_last_pattern() -> None:
    rules = _codeowners()
    assert owners_of("envs/prod/main.tf", rules) == MAINTAINERS
    assert owners_of("envs/prod/accounts.auto.tfvars.json", rules) == ["@OWNER/platform"]
    assert owners_of("docs/adopt.md", rules) == ["@OWNER/platform"]
    assert owners_of("docs/atlantis/repos.yaml", rules) == MAINTAINERS
