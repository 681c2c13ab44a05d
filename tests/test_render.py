from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from regionguard.render import jsonencode, render_control_parameters, render_scp
from regionguard.settings import Settings

SEED = Settings(
    home_region="ap-northeast-1",
    allowed_regions=("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"),
    exempted_actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
)


def test_jsonencode_sorts_keys_minifies_and_escapes_like_terraform() -> None:
    value = {"b": ["<a&b>", "caf\u00e9", "\u2028", 'q"\\\n\t'], "a": True}
    assert jsonencode(value) == (
        '{"a":true,"b":["\\u003ca\\u0026b\\u003e","caf\u00e9","\\u2028","q\\"\\\\\\n\\t"]}'
    )


def test_seed_inputs_render_the_bytes_the_module_test_expects(repo_root: Path) -> None:
    seed = json.loads(
        (repo_root / "modules/bedrock-inference-scp/tests/seed_policy.json").read_text()
    )
    rendered = render_scp(SEED, ["111122223333", "444455556666"])
    assert json.loads(rendered) == seed
    assert rendered == (
        '{"Statement":[{"Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],'
        '"Condition":{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","444455556666"],'
        '"aws:RequestedRegion":["ap-northeast-1","ap-northeast-3","us-east-1","eu-west-2"]}},'
        '"Effect":"Deny","Resource":"*",'
        '"Sid":"DenyBedrockInferenceExceptAllowRegionSpecificAccounts"}],"Version":"2012-10-17"}'
    )
    assert len(rendered) == 377


def test_no_permitted_account_leaves_the_account_key_out() -> None:
    statement = json.loads(render_scp(SEED, []))["Statement"][0]
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": list(SEED.allowed_regions)}
    }


def test_options_add_their_statements_in_module_order() -> None:
    settings = dataclasses.replace(SEED, global_inference="none", require_inference_profile=True)
    sids = [s["Sid"] for s in json.loads(render_scp(settings, ["111122223333"]))["Statement"]]
    assert sids == [
        "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
        "DenyGlobalInferenceProfiles",
        "DenyOutOfRegionInferenceWithoutProfile",
    ]


def test_control_parameters_leave_out_empty_lists() -> None:
    assert render_control_parameters(dataclasses.replace(SEED, exempted_actions=())) == {
        "AllowedRegions": '["ap-northeast-1","ap-northeast-3","us-east-1","eu-west-2"]'
    }


def test_control_parameters_are_json_encoded_lists() -> None:
    settings = dataclasses.replace(SEED, exempted_principal_arns=("arn:aws:iam::*:role/A&B",))
    assert render_control_parameters(settings) == {
        "AllowedRegions": '["ap-northeast-1","ap-northeast-3","us-east-1","eu-west-2"]',
        "ExemptedActions": '["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"]',
        "ExemptedPrincipalArns": '["arn:aws:iam::*:role/A\\u0026B"]',
    }
