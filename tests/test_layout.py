from __future__ import annotations

import json
import os
from pathlib import Path

import hcl2
import pytest

from regionguard.settings import load_settings

ENVS = ("local", "staging", "prod")
SHARED = ("main.tf", "variables.tf", "outputs.tf", "adopt.tf")


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", SHARED)
def test_every_environment_runs_the_same_root_code(repo_root: Path, env: str, name: str) -> None:
    path = repo_root / "envs" / env / name
    assert path.is_symlink()
    assert path.resolve() == (repo_root / "envs" / "_shared" / name).resolve()


@pytest.mark.parametrize("env", ENVS)
def test_the_links_of_an_environment_are_exactly_the_shared_files_by_relative_path(
    repo_root: Path, env: str
) -> None:
    shared = sorted(p.name for p in (repo_root / "envs" / "_shared").iterdir())
    env_dir = repo_root / "envs" / env
    links = {p.name: os.readlink(p) for p in env_dir.iterdir() if p.is_symlink()}
    assert shared == sorted(SHARED)
    assert links == {name: f"../_shared/{name}" for name in shared}


def module_wiring(root: Path) -> set[tuple[str, str, str]]:
    """(module, argument, value) of each module call's source and of what it takes from a module."""
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    parsed = hcl2.loads(
        (root / "main.tf").read_text(encoding="utf-8"), serialization_options=options
    )
    return {
        (name, argument, json.dumps(value))
        for call in parsed["module"]
        for name, body in call.items()
        for argument, value in body.items()
        if argument == "source" or "module." in json.dumps(value)
    }


def test_the_complete_example_wires_the_modules_as_the_environments_do(repo_root: Path) -> None:
    # The environments' root (envs/_shared/main.tf) is the original; the
    # example may take more from the SCP module (its guarded actions as the
    # exempted ones), never less or otherwise.
    shared = module_wiring(repo_root / "envs" / "_shared")
    example = module_wiring(repo_root / "examples" / "complete")
    assert {(m, a) for m, a, _v in shared} >= {
        ("region_deny_control", "guarded_actions"),
        ("region_deny_control", "scp_attachment_ids"),
        ("region_deny_control", "depends_on"),
    }
    assert shared <= example, shared - example
    assert example - shared == {
        (
            "region_deny_control",
            "exempted_actions",
            json.dumps("${module.bedrock_inference_scp.guarded_actions}"),
        )
    }


def test_every_folder_with_a_backend_is_an_environment_checked_here(repo_root: Path) -> None:
    envs = sorted(p.parent.name for p in (repo_root / "envs").glob("*/backend.tf"))
    assert envs == sorted(ENVS)


@pytest.mark.parametrize("env", ENVS)
def test_every_environment_has_its_settings_registry_and_generated_tfvars(
    repo_root: Path, env: str
) -> None:
    env_dir = repo_root / "envs" / env
    for name in ("backend.tf", "providers.tf", "versions.tf", "terraform.tfvars", "accounts.yaml"):
        assert (env_dir / name).is_file(), name
    generated = json.loads((env_dir / "accounts.auto.tfvars.json").read_text())
    assert list(generated) == ["bedrock_permitted_account_ids"]
    ids = generated["bedrock_permitted_account_ids"]
    assert ids == sorted(set(ids))
    assert all(isinstance(i, str) and len(i) == 12 and i.isdigit() for i in ids)


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_remote_environments_lock_state_natively_in_s3(repo_root: Path, env: str) -> None:
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    backend = hcl2.loads(
        (repo_root / "envs" / env / "backend.tf").read_text(), serialization_options=options
    )
    [terraform] = backend["terraform"]
    assert terraform["backend"] == [
        {"s3": {"key": f"regionguard/{env}.tfstate", "encrypt": True, "use_lockfile": True}}
    ]


def test_prod_carries_the_seed_regions_and_actions(repo_root: Path) -> None:
    settings = load_settings(repo_root / "envs" / "prod")
    assert set(settings.allowed_regions) >= {
        "ap-northeast-1",
        "ap-northeast-3",
        "us-east-1",
        "eu-west-2",
    }
    assert settings.home_region == "ap-northeast-1"
    assert settings.exempted_actions == (
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    )
