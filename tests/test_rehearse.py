"""The rehearsal's copy of an environment (.rehearse/<env>), and what docs/adopt.md shows of it.

`make rehearse` itself runs in tests/test_rehearse_e2e.py; these tests need
no Terraform and no sandbox process.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from regionguard.cli import build_parser
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.rehearsal import REHEARSAL_MANAGEMENT_ACCOUNT_ID, prepare
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2026, 12, 1)
GOLDEN = Path(__file__).parent / "fixtures" / "rehearse" / "staging.out"


def _repo(dest: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "backend.hcl", "tests")
    shutil.copytree(REPO_ROOT / "modules", dest / "modules", ignore=ignore)
    for name in ("_shared", "local", "staging"):
        shutil.copytree(
            REPO_ROOT / "envs" / name, dest / "envs" / name, symlinks=True, ignore=ignore
        )
    monkeypatch.setenv("REGIONGUARD_ROOT", str(dest))
    monkeypatch.chdir(dest)
    return dest


def test_adopt_md_shows_what_make_rehearse_prints() -> None:
    text = (REPO_ROOT / "docs" / "adopt.md").read_text()
    section = text[text.index("## 0. Rehearse it first") : text.index("## 1. Prerequisites")]
    match = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert match is not None
    assert match.group(1) == GOLDEN.read_text()


def test_each_command_to_run_against_aws_is_one_a_user_can_run() -> None:
    # After `make venv`, as README.md and docs/adopt.md write them: a make
    # target, `.venv/bin/regionguard ...` with options its parser accepts, or
    # a console step.
    makefile = (REPO_ROOT / "Makefile").read_text()
    commands = re.findall(r"^ +against AWS: (.*)$", GOLDEN.read_text(), re.MULTILINE)
    kinds = []
    for command in commands:
        words = command.split()
        if command.startswith("Control Tower console > "):
            kinds.append("console")
        elif words[0] == "make":
            assert re.search(rf"^{re.escape(words[1])}:", makefile, re.MULTILINE), command
            kinds.append("make")
        else:
            assert words[0] == ".venv/bin/regionguard", command
            build_parser().parse_args(words[1:])
            kinds.append("regionguard")
    assert sorted(set(kinds)) == ["console", "make", "regionguard"], commands


def test_the_copy_is_an_environment_of_its_own_on_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path, monkeypatch)
    staging = root / "envs" / "staging"
    before = {p.name: p.read_bytes() for p in staging.iterdir() if p.is_file()}
    rehearsal = prepare(Environment(Path("envs/staging"), TODAY))
    copy = root / ".rehearse" / "staging"
    assert rehearsal.env.dir == Path(".rehearse/staging")
    assert (rehearsal.management_account_id, rehearsal.replaced_management_id) == (
        REHEARSAL_MANAGEMENT_ACCOUNT_ID,
        "222222222222",
    )
    assert {p.name: p.read_bytes() for p in staging.iterdir() if p.is_file()} == before

    # The settings with the rehearsal's management account; the rest copied or linked.
    settings = load_settings(copy)
    assert settings.extra["management_account_id"] == REHEARSAL_MANAGEMENT_ACCOUNT_ID
    assert (copy / "terraform.tfvars").read_text() == (
        staging / "terraform.tfvars"
    ).read_text().replace('"222222222222"', f'"{REHEARSAL_MANAGEMENT_ACCOUNT_ID}"')
    for name in ("accounts.yaml", "accounts.auto.tfvars.json", "expectations.yaml"):
        assert (copy / name).read_bytes() == (staging / name).read_bytes()
    for name in ("main.tf", "variables.tf", "outputs.tf", "adopt.tf"):
        assert (copy / name).resolve() == (root / "envs" / "_shared" / name).resolve()

    # The sandbox's provider and local backend of envs/local, staging's own variable.
    local = root / "envs" / "local"
    providers = (copy / "providers.tf").read_text()
    local_providers = (local / "providers.tf").read_text()
    provider = local_providers[local_providers.index('provider "aws" {') :]
    assert provider.replace('"environment" = "local"', '"environment" = "staging"') in providers
    assert local_providers[: local_providers.index('provider "aws" {')] in providers
    assert 'variable "management_account_id" {' in providers
    assert "allowed_account_ids" not in providers
    assert (copy / "backend.tf").read_bytes() == (local / "backend.tf").read_bytes()

    # The organization as it is before the migration.
    sandbox = load_sandbox_settings(copy)
    assert (
        sandbox.management_account_id,
        sandbox.first_tier_ous,
        sandbox.unregistered_ous,
        sandbox.home_region,
        sandbox.governed_regions,
        sandbox.landing_zone_region_deny,
    ) == (
        REHEARSAL_MANAGEMENT_ACCOUNT_ID,
        ("Workloads",),
        (),
        "ap-northeast-1",
        ("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"),
        True,
    )
    # The one door lets the copy through: no override file, no second variable source.
    rehearsal.env.check_single_source({})


def test_recorded_unregistered_ous_are_seeded_as_not_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path, monkeypatch)
    (root / "envs" / "staging" / "unregistered_ous.auto.tfvars.json").write_text(
        json.dumps({"unregistered_ous": {"ou-ab12-suspend1": "Suspended"}}, indent=2) + "\n"
    )
    rehearsal = prepare(Environment(Path("envs/staging"), TODAY))
    sandbox = load_sandbox_settings(root / ".rehearse" / "staging")
    assert (sandbox.first_tier_ous, sandbox.unregistered_ous) == (
        ("Workloads", "Suspended"),
        ("Suspended",),
    )
    assert rehearsal.unregistered == ("Suspended",)
    # Recorded again by the rehearsal from its sandbox, with the sandbox's ids.
    assert not (root / ".rehearse" / "staging" / "unregistered_ous.auto.tfvars.json").exists()


def test_a_providers_tf_without_a_top_level_provider_block_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path, monkeypatch)
    providers = root / "envs" / "staging" / "providers.tf"
    providers.write_text(providers.read_text().replace('provider "aws" {', 'provider "aws"  {'))
    with pytest.raises(InputError) as refused:
        prepare(Environment(Path("envs/staging"), TODAY))
    assert str(refused.value) == (
        'envs/staging/providers.tf: no provider "aws" block at the top level, as terraform fmt '
        "writes it; the rehearsal builds its provider from it (run `make fmt`)"
    )


DRY_RUN = ("make", "-n", "--no-print-directory", "-C", str(REPO_ROOT))


@pytest.mark.parametrize(
    ("given", "flag"), [(["SANDBOX_PORT=4710"], "--sandbox-port 4710"), ([], None)]
)
def test_make_rehearse_runs_its_sandbox_on_sandbox_port_only_when_it_is_set(
    given: list[str], flag: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env.pop("SANDBOX_PORT", None)
    result = subprocess.run(
        [*DRY_RUN, "rehearse", "ENV=staging", *given],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    command = result.stdout[result.stdout.index("regionguard rehearse") :].split()
    assert command[:6] == ["regionguard", "rehearse", "--env", "staging", "--timeout", "900"]
    assert " ".join(command[7:]) == (flag or ""), result.stdout
