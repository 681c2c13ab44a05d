"""The door into Terraform: what passes it, and the scanner bound to python-hcl2."""

from __future__ import annotations

import datetime
from pathlib import Path

import hcl2
import pytest

from regionguard import door
from regionguard.door import (
    _module_manifest_problems,
    _module_sources,
    cli_config_files,
    door_problems,
)
from regionguard.environment import Environment
from regionguard.settings import declared_variables

REPO = Path(__file__).resolve().parent.parent
TF_FILES = sorted(p for p in REPO.glob("**/*.tf") if ".terraform" not in p.parts)


@pytest.mark.parametrize("path", TF_FILES, ids=[str(p.relative_to(REPO)) for p in TF_FILES])
def test_the_scanner_finds_the_module_sources_python_hcl2_finds(path: Path) -> None:
    text = path.read_text()
    parsed = hcl2.loads(text)
    expected = [
        (label.strip('"'), body["source"].strip('"'))
        for block in parsed.get("module", [])
        for label, body in block.items()
    ]
    assert _module_sources(text, is_json=False) == expected


def test_the_scanner_skips_comments_strings_and_nested_blocks() -> None:
    text = """
# module "commented" { source = "git::https://example.com/x.git" }
/* module "blocked" {
  source = "git::https://example.com/y.git"
} */
locals { text = "module \\"quoted\\" { source = \\"./nowhere\\" }" }
module "real" {
  providers = { aws = aws.other }
  settings {
    source = "not the module's"
  }
  source = "./modules/real"
}
"""
    assert _module_sources(text, is_json=False) == [("real", "./modules/real")]


def test_json_configuration_module_sources_are_read() -> None:
    text = '{"module": {"a": {"source": "./a"}, "b": {"source": "hashicorp/x/aws"}}}'
    assert _module_sources(text, is_json=True) == [("a", "./a"), ("b", "hashicorp/x/aws")]


def test_the_repository_environments_pass_the_door(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "TF_IN_AUTOMATION": "1"}
    for name in ("local", "staging", "prod"):
        env_dir = REPO / "envs" / name
        assert door_problems(env_dir, environ, declared_variables(env_dir)) == []


def test_the_makefile_mirror_configuration_passes(tmp_path: Path) -> None:
    config = tmp_path / "cli.tfrc"
    # What `make tf-config` writes (Makefile, $(TF_RC)).
    config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "/opt/tf-plugins"\n  }\n}\n'
        f'plugin_cache_dir = "{tmp_path}/plugins"\n'
    )
    environ = {"TF_CLI_CONFIG_FILE": str(config), "HOME": str(tmp_path)}
    env_dir = REPO / "envs" / "local"
    assert door_problems(env_dir, environ, declared_variables(env_dir)) == []


def test_terraform_reads_the_cli_configuration_where_its_loader_does(tmp_path: Path) -> None:
    (tmp_path / ".terraformrc").write_text("")
    (tmp_path / ".terraform.d").mkdir()
    (tmp_path / ".terraform.d" / "a.tfrc").write_text("")
    (tmp_path / ".terraform.d" / "b.tfrc.json").write_text("{}")
    (tmp_path / ".terraform.d" / "notes.txt").write_text("")
    home = {"HOME": str(tmp_path)}
    assert cli_config_files(home) == [
        tmp_path / ".terraformrc",
        tmp_path / ".terraform.d" / "a.tfrc",
        tmp_path / ".terraform.d" / "b.tfrc.json",
    ]
    # An override names the only file; a missing one is skipped, as Terraform does.
    assert cli_config_files({**home, "TF_CLI_CONFIG_FILE": str(tmp_path / "a.tfrc")}) == []
    assert cli_config_files({**home, "TERRAFORM_CONFIG": str(tmp_path / ".terraformrc")}) == [
        tmp_path / ".terraformrc"
    ]


def test_empty_and_default_values_pass(tmp_path: Path) -> None:
    env = Environment(REPO / "envs" / "local", datetime.date(2026, 11, 30))
    env.check_single_source(
        {
            "HOME": str(tmp_path),
            "TF_CLI_ARGS": " ",
            "TF_WORKSPACE": "default",
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "0",
            "TF_PLUGIN_CACHE_DIR": str(tmp_path),
            "TF_VAR_not_declared_anywhere": "x",
        }
    )


# The manifest terraform init (1.11) writes for envs/local, and one with a
# nested call, as its module installer records local modules: the parent's
# folder joined with the source.
WRITTEN_BY_INIT = (
    '{"Modules":[{"Key":"","Source":"","Dir":"."},'
    '{"Key":"bedrock_inference_scp","Source":"../../modules/bedrock-inference-scp",'
    '"Dir":"../../modules/bedrock-inference-scp"},'
    '{"Key":"region_deny_control","Source":"../../modules/region-deny-control",'
    '"Dir":"../../modules/region-deny-control"}]}'
)
NESTED = (
    '{"Modules":[{"Key":"","Source":"","Dir":"."},'
    '{"Key":"outer","Source":"./outer","Dir":"outer"},'
    '{"Key":"outer.inner","Source":"../inner","Dir":"inner"}]}'
)


@pytest.mark.parametrize("manifest", [WRITTEN_BY_INIT, NESTED], ids=["envs-local", "nested"])
def test_a_module_manifest_as_terraform_init_writes_it_passes(
    tmp_path: Path, manifest: str
) -> None:
    folder = tmp_path / ".terraform" / "modules"
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text(manifest)
    assert list(_module_manifest_problems(tmp_path)) == []


def test_a_nested_module_mapped_elsewhere_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / ".terraform" / "modules"
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text(NESTED.replace('"Dir":"inner"', '"Dir":"outer/inner"'))
    [problem] = _module_manifest_problems(tmp_path)
    assert "module outer.inner is loaded from 'outer/inner', not from its source 'inner'" in problem
    assert problem.endswith(f"delete {folder} and run `terraform init` in {tmp_path}")


def test_a_relative_cli_configuration_is_read_from_the_folder_terraform_runs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """regionguard runs Terraform in the environment folder: a relative path starts there."""
    env_dir = tmp_path / "envs" / "prod"
    env_dir.mkdir(parents=True)
    (env_dir / "dev.tfrc").write_text("provider_installation {\n  dev_overrides {}\n}\n")
    monkeypatch.chdir(tmp_path)
    assert cli_config_files({"TF_CLI_CONFIG_FILE": "dev.tfrc"}, env_dir) == [env_dir / "dev.tfrc"]
    problems = list(door._cli_config_problems({"TF_CLI_CONFIG_FILE": "dev.tfrc"}, env_dir))
    assert problems and "dev_overrides in provider_installation" in problems[0]


def test_without_home_the_user_s_home_of_the_password_database_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform's homeDir falls back to user.Current().HomeDir when HOME is empty."""
    (tmp_path / ".terraformrc").write_text("disable_checkpoint = true\n")
    monkeypatch.setattr(door, "_password_home", lambda: str(tmp_path))
    assert cli_config_files({"HOME": ""}) == [tmp_path / ".terraformrc"]
    assert cli_config_files({}) == [tmp_path / ".terraformrc"]
