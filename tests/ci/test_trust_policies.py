"""Who may assume the plan and apply roles: iam/trust/ evaluated against real OIDC claims.

The claims are those GitHub would put in the token of each job of
.github/workflows/regionguard.yml (workflow_runner.oidc_claims, after GitHub's
OpenID Connect reference); the trust policies are evaluated by principalmapper
(regionguard.oracle.trust_allows), not read. They condition on the ``aud``
and ``sub`` claims only (GitHub, "Configuring OpenID Connect in Amazon Web
Services": custom claims are unavailable in AWS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from trust import ACCOUNT, github_may_assume, trust_policy
from workflow_runner import Evaluator, oidc_claims, substitute

from regionguard.oracle import role_allows, trust_allows

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = yaml.safe_load((REPO_ROOT / ".github/workflows/regionguard.yml").read_text())
SCHEDULE = yaml.safe_load((REPO_ROOT / ".github/workflows/regionguard-schedule.yml").read_text())
REPO = "example/regionguard"


def claims(
    job: str,
    event: str,
    *,
    ref: str = "refs/heads/main",
    repository: str = REPO,
    env: str = "prod",
    workflow: dict[str, Any] = WORKFLOW,
    edit: dict[str, Any] | None = None,
) -> dict[str, str] | None:
    """The claims of ``job``'s token for ``event``; ``edit``: keys a pull request sets on it."""
    definition = {**workflow["jobs"][job], **(edit or {})}
    environment = definition.get("environment")
    if environment is not None:
        contexts = {"matrix": {"env": env}}
        environment = substitute(str(environment), Evaluator(contexts, "success", REPO_ROOT))
    github = {
        "repository": repository,
        "event_name": event,
        "ref": ref,
        "workflow_permissions": workflow.get("permissions"),
    }
    return oidc_claims(definition, github, environment)


PLAN = trust_policy("github-plan-role.json")
APPLY = {
    env: trust_policy("github-apply-role.json", environment=env) for env in ("staging", "prod")
}

# (case, claims, may assume the plan role, may assume prod's apply role)
MATRIX: list[tuple[str, dict[str, str] | None, bool, bool]] = [
    (
        "(a) pull request: review job",
        claims("review", "pull_request", ref="refs/pull/7/merge"),
        True,
        False,
    ),
    (
        "(a) pull request: report job (no id-token)",
        claims("report", "pull_request", ref="refs/pull/7/merge"),
        False,
        False,
    ),
    ("(b) push to main: plan job, no environment", claims("plan", "push"), True, False),
    (
        "(b) schedule on main: drift job",
        claims("drift", "schedule", workflow=SCHEDULE),
        True,
        False,
    ),
    ("(c) apply job, environment prod", claims("apply", "push"), False, True),
    # GitHub gives a pull request from a fork a read-only GITHUB_TOKEN and no
    # OIDC token; a private repository that sends write tokens to fork
    # workflows gives it the token of (a), whose subject is the same.
    ("(d) fork pull request (default: no token)", None, False, False),
    (
        "(d) fork pull request, write tokens sent to forks",
        claims("review", "pull_request", ref="refs/pull/8/merge"),
        True,
        False,
    ),
    (
        "(e) another repository: review job",
        claims("review", "pull_request", repository="attacker/regionguard"),
        False,
        False,
    ),
    (
        "(e) another repository: plan job on main",
        claims("plan", "push", repository="attacker/regionguard"),
        False,
        False,
    ),
    (
        "(e) another repository: apply job, environment prod",
        claims("apply", "push", repository="attacker/regionguard"),
        False,
        False,
    ),
    ("apply job of staging", claims("apply", "push", env="staging"), False, False),
    (
        "dispatch from another branch: plan job",
        claims("plan", "workflow_dispatch", ref="refs/heads/feature"),
        False,
        False,
    ),
    ("pull_request_target (base branch ref)", claims("review", "pull_request_target"), True, False),
]


@pytest.mark.parametrize(("case", "token", "plan", "apply"), MATRIX, ids=[m[0] for m in MATRIX])
def test_who_may_assume_which_role(
    case: str, token: dict[str, str] | None, plan: bool, apply: bool
) -> None:
    assert (github_may_assume(PLAN, token), github_may_assume(APPLY["prod"], token)) == (
        plan,
        apply,
    ), (case, token)


def test_the_subjects_of_the_workflow_jobs() -> None:
    assert claims("review", "pull_request")["sub"] == f"repo:{REPO}:pull_request"  # type: ignore[index]
    assert claims("plan", "push")["sub"] == f"repo:{REPO}:ref:refs/heads/main"  # type: ignore[index]
    assert claims("apply", "push")["sub"] == f"repo:{REPO}:environment:prod"  # type: ignore[index]
    assert claims("report", "pull_request") is None


def test_only_the_apply_job_names_an_environment() -> None:
    jobs = {**WORKFLOW["jobs"], **SCHEDULE["jobs"]}
    assert [name for name, job in jobs.items() if "environment" in job] == ["apply"]


def test_an_environment_in_a_pull_request_job_is_stopped_by_github_not_by_the_trust_policy() -> (
    None
):
    """A pull request that adds ``environment: prod`` to its own job gets prod's
    subject, which the apply role trusts: GitHub must refuse to run that job,
    which it does when prod's deployment branches are limited to the default
    branch, and then wait for prod's required reviewers (docs/adopt.md, step 2)."""
    forged = claims("review", "pull_request", edit={"environment": "prod"})
    assert forged is not None and forged["sub"] == f"repo:{REPO}:environment:prod"
    assert github_may_assume(APPLY["prod"], forged)


def test_the_trust_policies_name_only_sub_and_aud_and_no_wildcard() -> None:
    for name in ("github-plan-role.json", "github-apply-role.json"):
        [statement] = json.loads((REPO_ROOT / "iam/trust" / name).read_text())["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert list(statement["Condition"]) == ["StringEquals"]
        keys = statement["Condition"]["StringEquals"]
        assert sorted(keys) == [
            "token.actions.githubusercontent.com:aud",
            "token.actions.githubusercontent.com:sub",
        ]
        assert "*" not in json.dumps(keys) and "?" not in json.dumps(keys)


def test_a_token_for_another_audience_is_refused() -> None:
    token = claims("apply", "push")
    assert token is not None
    assert not github_may_assume(APPLY["prod"], {**token, "aud": "https://github.com/example"})


def test_another_oidc_provider_is_refused() -> None:
    token = claims("apply", "push")
    assert token is not None
    context = {
        "token.actions.githubusercontent.com:sub": token["sub"],
        "token.actions.githubusercontent.com:aud": token["aud"],
    }
    other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com"
    assert not trust_allows(
        APPLY["prod"], "Federated", other, "sts:AssumeRoleWithWebIdentity", context
    )


# ---------------------------------------------------------------- atlantis

SERVER = f"arn:aws:iam::{ACCOUNT}:role/atlantis-server"


def test_atlantis_roles_trust_only_the_server_role() -> None:
    roles = trust_policy("atlantis-roles.json")
    assert trust_allows(roles, "AWS", SERVER, "sts:AssumeRole", {})
    assert not trust_allows(
        roles, "AWS", f"arn:aws:iam::{ACCOUNT}:role/someone-else", "sts:AssumeRole", {}
    )
    assert not trust_allows(
        roles,
        "Federated",
        "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com",
        "sts:AssumeRoleWithWebIdentity",
        {},
    )


def test_the_atlantis_server_may_only_assume_the_plan_and_apply_roles() -> None:
    text = (REPO_ROOT / "iam/atlantis-server.json").read_text()
    for placeholder, value in (
        ("ACCOUNT_ID", ACCOUNT),
        ("PLAN_ROLE", "regionguard-plan"),
        ("APPLY_ROLE", "regionguard-apply"),
    ):
        text = text.replace(placeholder, value)
    server = [json.loads(text)]
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    assert role_allows(server, "sts:AssumeRole", role + "regionguard-plan", {})
    assert role_allows(server, "sts:AssumeRole", role + "regionguard-apply", {})
    assert not role_allows(server, "sts:AssumeRole", role + "OrganizationAccountAccessRole", {})
    for action in ("organizations:DetachPolicy", "s3:GetObject", "controltower:EnableControl"):
        assert not role_allows(server, action, "*", {})
