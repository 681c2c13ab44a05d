"""The Python rendering equals Terraform's, byte for byte.

Terraform renders through the repository's own wiring: a copy of envs/local
(the shared root, envs/_shared/main.tf, calling both modules) runs one
``terraform test`` plan per case against the mocked organization of
envs/local/tests/targets.tftest.hcl. Each run asserts that the root's
``scp_content`` output equals the file Python wrote for that case, and that
``jsonencode`` of its ``control_parameters`` equals Python's. The module
input the environments leave at its default (``inference_profile_arn_patterns``)
is checked on a copy of modules/bedrock-inference-scp run as a root. Plan-mode
runs suffice because both values depend on variables only; the mock provider
keeps it offline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conftest import copy_local_env, copy_module, mocked_organization, terraform_test
from regionguard.render import jsonencode, render_control_parameters, render_scp
from regionguard.settings import DEFAULT_INFERENCE_PROFILE_ARN_PATTERNS, Settings, load_settings

pytestmark = pytest.mark.terraform

SEED = Settings(
    home_region="ap-northeast-1",
    allowed_regions=("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"),
    exempted_actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
)
SEED_IDS = ("111122223333", "444455556666")
OU = "ou-ab12-workload1"
# The root's variables a case sets; the others keep envs/local's values.
ROOT_VARIABLES = (
    "home_region",
    "allowed_regions",
    "guarded_actions",
    "global_inference",
    "require_inference_profile",
    "exempted_actions",
    "exempted_principal_arns",
    "allow_wildcard_principal_exemptions",
    "scp_layout",
    "scp_size_limit",
)
# Characters jsonencode escapes, and non-ASCII ones it keeps.
ESCAPED = ("<us&eu>", 'caf\u00e9\u2028\u2029"quote"\\back')


Case = tuple[Settings, tuple[str, ...]]


def root_cases(repo_root: Path) -> dict[str, Case]:
    """Settings an environment can hold, with its permitted accounts."""
    all_options = dataclasses.replace(
        SEED,
        global_inference="none",
        require_inference_profile=True,
        guarded_actions=(
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:CreateModelInvocationJob",
        ),
        exempted_actions=("bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"),
        exempted_principal_arns=(
            "arn:aws:iam::*:role/Admin",
            "arn:aws:sts::*:assumed-role/Admin/*",
        ),
        allow_wildcard_principal_exemptions=True,
    )
    escaped = dataclasses.replace(
        SEED, exempted_principal_arns=tuple(f"arn:aws:iam::111122223333:role/{e}" for e in ESCAPED)
    )
    found: dict[str, Case] = {
        "seed": (SEED, SEED_IDS),
        "empty_permitted_list": (SEED, ()),
        "no_exemptions_one_region": (
            Settings(home_region="us-east-1", allowed_regions=("us-east-1",)),
            ("012345678901",),
        ),
        "global_inference_none": (dataclasses.replace(SEED, global_inference="none"), SEED_IDS),
        "require_inference_profile": (
            dataclasses.replace(SEED, require_inference_profile=True),
            SEED_IDS,
        ),
        "all_options": (all_options, SEED_IDS),
        "escaped_principal_arns": (escaped, SEED_IDS),
    }
    for env in ("local", "staging", "prod"):
        env_dir = repo_root / "envs" / env
        ids = json.loads((env_dir / "accounts.auto.tfvars.json").read_text())
        found[f"env_{env}"] = (load_settings(env_dir), tuple(ids["bedrock_permitted_account_ids"]))
    return found


# The module input no environment sets: the SCP with characters jsonencode escapes.
ESCAPED_PATTERNS: Case = (
    dataclasses.replace(
        SEED,
        require_inference_profile=True,
        inference_profile_arn_patterns=tuple(
            f"arn:aws:bedrock:*:*:inference-profile/{e}" for e in ESCAPED
        ),
    ),
    SEED_IDS,
)


def hcl(value: object) -> str:
    # JSON literals are HCL literals; only template sequences need escaping.
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def run_block(name: str, variables: dict[str, object], asserts: dict[str, str]) -> str:
    """A plan-mode run that sets ``variables`` and asserts each expression equals its file."""
    lines = "\n".join(f"    {k} = {hcl(v)}" for k, v in variables.items())
    checks = "".join(
        f"""
  assert {{
    condition     = {expression} == file("cases/{name}/{file}")
    error_message = "{name}: {expression} differs from the Python rendering in {file}."
  }}
"""
        for expression, file in asserts.items()
    )
    return f"""
run "{name}" {{
  command = plan

  variables {{
{lines}
  }}
{checks}}}
"""


def write_case(folder: Path, name: str, case: Case) -> None:
    settings, ids = case
    case_dir = folder / "cases" / name
    case_dir.mkdir(parents=True)
    (case_dir / "content.json").write_bytes(render_scp(settings, ids).encode())
    parameters = jsonencode(render_control_parameters(settings))
    (case_dir / "params.json").write_bytes(parameters.encode())


def test_the_shared_root_sends_what_python_renders(repo_root: Path, tmp_path: Path) -> None:
    env = copy_local_env(tmp_path)
    cases = root_cases(repo_root)
    blocks = [mocked_organization()]
    for name, (settings, ids) in cases.items():
        # The root cannot set the profile patterns: Python must render the module's default.
        assert settings.inference_profile_arn_patterns == DEFAULT_INFERENCE_PROFILE_ARN_PATTERNS
        write_case(env, name, (settings, ids))
        variables: dict[str, object] = {v: getattr(settings, v) for v in ROOT_VARIABLES} | {
            "bedrock_permitted_account_ids": ids
        }
        blocks.append(
            run_block(
                name,
                {k: list(v) if isinstance(v, tuple) else v for k, v in variables.items()},
                {
                    "output.scp_content": "content.json",
                    "jsonencode(output.control_parameters)": "params.json",
                },
            )
        )
    (env / "tests").mkdir()
    (env / "tests" / "render.tftest.hcl").write_text("".join(blocks))
    terraform_test(env, list(cases))


def test_the_module_renders_profile_patterns_as_python_does(tmp_path: Path) -> None:
    module = copy_module(tmp_path, "bedrock-inference-scp")
    settings, ids = ESCAPED_PATTERNS
    write_case(module, "escaped_patterns", ESCAPED_PATTERNS)
    variables = {
        "allowed_regions": list(settings.allowed_regions),
        "bedrock_permitted_account_ids": list(ids),
        "guarded_actions": list(settings.guarded_actions),
        "global_inference": settings.global_inference,
        "require_inference_profile": settings.require_inference_profile,
        "inference_profile_arn_patterns": list(settings.inference_profile_arn_patterns),
        "target_ids": [OU],
    }
    (module / "tests" / "render.tftest.hcl").write_text(
        'mock_provider "aws" {}\n'
        + run_block("escaped_patterns", variables, {"output.content": "content.json"})
    )
    terraform_test(module, ["escaped_patterns"])


def test_the_escaped_cases_really_carry_characters_jsonencode_escapes(repo_root: Path) -> None:
    content = render_scp(*ESCAPED_PATTERNS)
    settings, _ids = root_cases(repo_root)["escaped_principal_arns"]
    parameters = jsonencode(render_control_parameters(settings))
    for text in (content, parameters):
        for escaped in ("\\u003c", "\\u003e", "\\u0026", "\\u2028", "\\u2029", '\\"', "\\\\"):
            assert escaped in text
        assert "caf\u00e9" in text
