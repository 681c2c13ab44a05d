from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from regionguard.cli import main
from regionguard.render import render_scp
from regionguard.settings import load_settings

ENVS = Path(__file__).resolve().parent.parent / "envs"
BEDROCK = "bedrock:InvokeModelWithResponseStream"


@pytest.fixture
def local_env(tmp_path: Path) -> Path:
    env = tmp_path / "local"
    shutil.copytree(ENVS / "local", env, ignore=shutil.ignore_patterns(".terraform*", "tfplan*"))
    return env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def explain(capsys: pytest.CaptureFixture[str], env: Path, *extra: str) -> dict[str, Any]:
    code, out, err = run(capsys, "explain", "--env-dir", str(env), "--format", "json", *extra)
    assert (code, err) == (0, "")
    result: dict[str, Any] = json.loads(out)
    return result


# ---------------------------------------------------------------- the seed's three rows: explain


def test_explain_allows_any_account_in_an_allowed_region(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    result = explain(
        capsys, local_env, "--account", "payments", "--action", BEDROCK, "--region", "us-east-1"
    )
    assert (result["decision"], result["basis"]) == ("ALLOW", "allowed")


def test_explain_allows_a_permitted_account_in_us_east_2(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    result = explain(
        capsys, local_env, "--account", "ml-platform", "--action", BEDROCK, "--region", "us-east-2"
    )
    assert result["decision"] == "ALLOW"
    assert [(n["sid"], n["because"]) for n in result["not_applied"]] == [
        (
            "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
            "aws:PrincipalAccount is one of [100000000001, 100000000003]",
        )
    ]


def test_explain_denies_other_accounts_in_us_east_2_in_words(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "explain", "--env-dir", str(local_env), "--account", "100000000002",
        "--action", BEDROCK, "--region", "us-east-2",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"DENY: {BEDROCK} in us-east-2 by payments (100000000002)",
        "principal: arn:aws:iam::100000000002:role/WorkloadRole",
        f"policies: rendered from {local_env}",
        "User: arn:aws:iam::100000000002:role/WorkloadRole is not authorized to perform: "
        f"{BEDROCK} on resource: * with an explicit deny in a service control policy",
        'Denied by statement "DenyBedrockInferenceExceptAllowRegionSpecificAccounts" of SCP '
        '"bedrock-cross-region-inference" attached to OU "Workloads": its Action covers '
        f"{BEDROCK}; aws:PrincipalAccount is not one of [100000000001, 100000000003]; "
        "aws:RequestedRegion is not one of [ap-northeast-1, ap-northeast-3, us-east-1, eu-west-2].",
    ]


def test_explain_with_the_landing_zone_deny_denies_the_permitted_account_as_in_the_seed(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    result = explain(
        capsys, local_env, "--account", "ml-platform", "--action", BEDROCK, "--region",
        "us-east-2", "--landing-zone-region-deny",
    )  # fmt: skip
    assert result["decision"] == "DENY"
    assert result["statement"]["policy"] == "aws-guardrails-landing-zone-region-deny"


def test_explain_unknown_account_is_an_input_error(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "explain", "--env-dir", str(local_env), "--account", "nobody",
        "--action", BEDROCK, "--region", "us-east-2",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        f"regionguard: --account nobody: no such account in rendered from {local_env}; known: "
        "ml-platform (100000000001), payments (100000000002), research (100000000003), "
        "log-archive (100000000004)\n"
    )


# ---------------------------------------------------------------- matrix


def test_matrix_json_holds_the_seed_rows(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, _ = run(
        capsys, "matrix", "--env-dir", str(local_env), "--regions", "us-east-1,us-east-2",
        "--actions", f"{BEDROCK},ec2:RunInstances", "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = {a["name"]: a["decisions"] for a in json.loads(out)["accounts"]}
    assert rows["ml-platform"] == {
        "us-east-1": {BEDROCK: "ALLOW", "ec2:RunInstances": "ALLOW"},
        "us-east-2": {BEDROCK: "ALLOW", "ec2:RunInstances": "DENY"},
    }
    assert rows["payments"] == {
        "us-east-1": {BEDROCK: "ALLOW", "ec2:RunInstances": "ALLOW"},
        "us-east-2": {BEDROCK: "DENY", "ec2:RunInstances": "DENY"},
    }


def test_matrix_markdown_is_one_table_per_action(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, _ = run(
        capsys, "matrix", "--env-dir", str(local_env), "--regions", "us-east-2",
        "--actions", "bedrock:InvokeModel",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        f"Who can call what, where (rendered from {local_env}); ✅ allowed, ❌ denied by SCPs.",
        "",
        "### bedrock:InvokeModel",
        "",
        "| account | us-east-2 |",
        "|---|---|",
        "| ml-platform (100000000001) | ✅ |",
        "| payments (100000000002) | ❌ |",
        "| research (100000000003) | ✅ |",
        "| log-archive (100000000004) | ❌ |",
    ]


def _plan(env: Path, before: list[str], after: list[str]) -> Path:
    """A plan JSON in the shape `terraform show -json` writes, changing the permitted list."""
    settings = load_settings(env)
    parameters = [
        {"key": "AllowedRegions", "value": json.dumps(list(settings.allowed_regions))},
        {"key": "ExemptedActions", "value": json.dumps(list(settings.exempted_actions))},
    ]
    control = {
        "parameters": parameters,
        "target_identifier": "arn:aws:organizations::x:ou/o-1/ou-1",
    }
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "module.bedrock_inference_scp.aws_organizations_policy.this",
                "change": {
                    "actions": ["update"],
                    "before": {"content": render_scp(settings, before)},
                    "after": {"content": render_scp(settings, after)},
                },
            },
            {
                "address": 'module.region_deny_control.aws_controltower_control.this["ou-1"]',
                "change": {"actions": ["no-op"], "before": control, "after": control},
            },
        ],
    }
    path = env / "tfplan.json"
    path.write_text(json.dumps(plan))
    return path


def test_matrix_with_a_plan_prints_only_the_cells_that_change(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    plan = _plan(local_env, ["100000000001"], ["100000000001", "100000000002"])
    code, out, _ = run(
        capsys, "matrix", "--env-dir", str(local_env), "--plan", str(plan),
        "--regions", "us-east-1,us-east-2,unspecified",
        "--actions", "bedrock:InvokeModel,ec2:RunInstances",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        f"Matrix delta ({plan} (after the change)): 2 cell(s) change.",
        "",
        "| account | Region | action | before | after |",
        "|---|---|---|---|---|",
        "| payments (100000000002) | unspecified | bedrock:InvokeModel | DENY | ALLOW |",
        "| payments (100000000002) | us-east-2 | bedrock:InvokeModel | DENY | ALLOW |",
    ]


# ---------------------------------------------------------------- verify


def test_verify_passes_for_every_environment(capsys: pytest.CaptureFixture[str]) -> None:
    for env in ("local", "staging", "prod"):
        code, out, _ = run(capsys, "verify", "--env-dir", str(ENVS / env), "--sandbox", "skip")
        assert code == 0, out
        assert "7 of 7 facts hold" in out.splitlines()[0]


def test_verify_names_each_broken_fact_and_exits_1(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    (local_env / "accounts.auto.tfvars.json").write_text(
        json.dumps(
            {"bedrock_permitted_account_ids": ["100000000001", "100000000002", "100000000003"]}
        )
    )
    code, out, err = run(capsys, "verify", "--env-dir", str(local_env), "--sandbox", "skip")
    assert code == 1
    broken = [line for line in out.splitlines() if "BROKEN" in line]
    assert broken == [
        '  BROKEN  expectations[3] "payments cannot invoke Bedrock in us-east-2": 2 of 2 calls '
        "are not DENY by DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
    ]
    assert err == f"regionguard: {local_env / 'expectations.yaml'}: 1 broken fact(s)\n"


def test_verify_against_a_plan_checks_the_planned_policies(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    plan = _plan(
        local_env,
        ["100000000001", "100000000003"],
        ["100000000001", "100000000002", "100000000003"],
    )
    code, out, _ = run(
        capsys, "verify", "--env-dir", str(local_env), "--plan", str(plan), "--sandbox", "skip"
    )
    assert code == 1
    summaries = [line for line in out.splitlines() if not line.startswith(" ")]
    assert summaries == [
        f"{local_env / 'expectations.yaml'}: 7 of 7 facts hold, rendered from {local_env}",
        f"{local_env / 'expectations.yaml'}: 5 of 7 facts hold, {plan} (after the change)",
    ]
    broken = [line.split(":")[0].strip() for line in out.splitlines() if "BROKEN" in line]
    assert broken == [
        'BROKEN  expectations[3] "payments cannot invoke Bedrock in us-east-2"',
        'BROKEN  expectations[4] "accounts not permitted cannot invoke Bedrock outside the '
        'allowed Regions"',
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("expectations: []\n", "expectations: [] should be non-empty"),
        (
            "expectations:\n  - fact: x\n    accounts: all\n    actions: [ec2:RunInstances]\n"
            "    regions: [us-east-2]\n    expect: maybe\n",
            "expectations[0].expect: 'maybe' is not one of ['allow', 'deny']",
        ),
        (
            "expectations:\n  - fact: x\n    accounts: [nobody]\n    actions: [ec2:RunInstances]\n"
            "    regions: [us-east-2]\n    expect: deny\n",
            "expectations[0] \"x\": account 'nobody' is not in the registry",
        ),
    ],
)
def test_verify_bad_expectations_is_an_input_error(
    capsys: pytest.CaptureFixture[str], local_env: Path, content: str, message: str
) -> None:
    (local_env / "expectations.yaml").write_text(content)
    code, out, err = run(capsys, "verify", "--env-dir", str(local_env), "--sandbox", "skip")
    assert (code, out) == (2, "")
    assert err.startswith(f"regionguard: {local_env / 'expectations.yaml'}: ")
    assert message in err
