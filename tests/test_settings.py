from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from regionguard.errors import InputError
from regionguard.settings import (
    GLOBAL_INFERENCE_VALUES,
    REQUIRED,
    SCP_LAYOUT_VALUES,
    SHARED_DEFAULTS,
    Settings,
    declared_variables,
    load_settings,
)

HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def shared_variables(repo_root: Path) -> dict[str, dict[str, Any]]:
    text = (repo_root / "envs" / "_shared" / "variables.tf").read_text()
    parsed = hcl2.loads(text, serialization_options=HCL)
    return {name: body for block in parsed["variable"] for name, body in block.items()}


def as_python(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def test_defaults_are_those_of_the_shared_variables(repo_root: Path) -> None:
    variables = shared_variables(repo_root)
    defaults = {k: as_python(v["default"]) for k, v in variables.items() if "default" in v}
    assert defaults == dict(SHARED_DEFAULTS)
    assert sorted(k for k, v in variables.items() if "default" not in v) == sorted(REQUIRED)


def allowed_values(path: Path, variable: str) -> tuple[str, ...]:
    """The list of a ``contains([...], var.<variable>)`` validation in a variables.tf."""
    text = path.read_text()
    block = text[text.index(f'variable "{variable}"') :]
    match = re.search(r"contains\(\[([^\]]*)\], var\." + variable + r"\)", block)
    assert match, (path, variable)
    return tuple(re.findall(r'"([^"]*)"', match.group(1)))


@pytest.mark.parametrize(
    ("setting", "module_variable", "values", "shared_validates"),
    [
        ("scp_layout", "layout", SCP_LAYOUT_VALUES, True),
        ("global_inference", "global_inference", GLOBAL_INFERENCE_VALUES, False),
    ],
)
def test_the_allowed_values_are_those_terraform_validates(
    repo_root: Path,
    setting: str,
    module_variable: str,
    values: tuple[str, ...],
    shared_validates: bool,
) -> None:
    # Terraform keeps its own copy of each list (variable validation); bind them.
    module = repo_root / "modules" / "bedrock-inference-scp" / "variables.tf"
    assert allowed_values(module, module_variable) == values
    if shared_validates:
        shared = repo_root / "envs" / "_shared" / "variables.tf"
        assert allowed_values(shared, setting) == values


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "terraform.tfvars").write_text(text)
    return tmp_path


def test_missing_settings_take_the_shared_defaults(tmp_path: Path) -> None:
    env = write(tmp_path, 'home_region = "us-east-1"\nallowed_regions = ["us-east-1"]\n')
    assert load_settings(env) == Settings(
        home_region="us-east-1",
        allowed_regions=("us-east-1",),
        path=env / "terraform.tfvars",
    )


def test_every_setting_is_read(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        """\
home_region               = "eu-west-2"
allowed_regions           = ["eu-west-2", "us-east-1"]
exempted_actions          = ["bedrock:InvokeModel"]
exempted_principal_arns   = ["arn:aws:iam::*:role/Admin"]
guarded_actions           = ["bedrock:InvokeModel", "bedrock:Converse"]
global_inference          = "none"
require_inference_profile = true
control_identifier        = "arn:aws:controlcatalog:::control/abc"
target_ou_include         = ["Workloads"]
target_ou_exclude         = ["Sandbox"]
scp_name                  = "bedrock"
tags                      = { team = "platform" }
scp_size_limit            = 5120
allow_wildcard_exemptions = true
""",
    )
    assert load_settings(env) == Settings(
        home_region="eu-west-2",
        allowed_regions=("eu-west-2", "us-east-1"),
        exempted_actions=("bedrock:InvokeModel",),
        exempted_principal_arns=("arn:aws:iam::*:role/Admin",),
        guarded_actions=("bedrock:InvokeModel", "bedrock:Converse"),
        global_inference="none",
        require_inference_profile=True,
        control_identifier="arn:aws:controlcatalog:::control/abc",
        target_ou_include=("Workloads",),
        target_ou_exclude=("Sandbox",),
        scp_name="bedrock",
        tags={"team": "platform"},
        scp_size_limit=5120,
        allow_wildcard_exemptions=True,
        path=env / "terraform.tfvars",
    )


def test_variables_an_environment_declares_are_kept_apart(repo_root: Path) -> None:
    settings = load_settings(repo_root / "envs" / "prod")
    assert settings.extra == {"management_account_id": "111111111111"}
    assert "management_account_id" in declared_variables(repo_root / "envs" / "prod")


def test_undeclared_setting_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        'home_region = "us-east-1"\nallowed_regions = ["us-east-1"]\nglobal_inferance = "none"\n',
    )
    with pytest.raises(InputError) as err:
        load_settings(env)
    assert str(err.value) == (
        f"{env / 'terraform.tfvars'}: global_inferance: no variable of that name is declared; "
        "did you mean 'global_inference'?"
    )


def test_wrong_types_and_missing_required_settings_are_all_reported(tmp_path: Path) -> None:
    env = write(tmp_path, 'allowed_regions = "us-east-1"\nrequire_inference_profile = "yes"\n')
    with pytest.raises(InputError) as err:
        load_settings(env)
    where = env / "terraform.tfvars"
    assert str(err.value).splitlines() == [
        f"{where}: allowed_regions is 'us-east-1'; it must be a list of strings such as "
        '["a", "b"]',
        f"{where}: require_inference_profile is 'yes'; write true or false",
        f"{where}: home_region: required setting is missing; add it",
    ]


def test_settings_that_are_not_hcl_are_refused(tmp_path: Path) -> None:
    env = write(tmp_path, "home_region = \n")
    with pytest.raises(InputError, match=r"terraform.tfvars: not valid HCL: .*; fix the syntax"):
        load_settings(env)
