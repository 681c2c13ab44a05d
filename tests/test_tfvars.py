from __future__ import annotations

import datetime
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regionguard.cli import main
from regionguard.environment import Environment, render_tfvars

TODAY = datetime.date(2026, 11, 27)


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
def test_committed_generated_files_are_what_the_registries_generate(
    repo_root: Path, env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tfvars", "--env-dir", str(repo_root / "envs" / env), "--check"]) == 0
    assert " up to date (" in capsys.readouterr().out


@given(st.sets(st.from_regex(r"[0-9]{12}", fullmatch=True), max_size=30), st.randoms())
def test_generated_bytes_depend_only_on_the_set_of_ids(ids: set[str], rnd: random.Random) -> None:
    shuffled = list(ids)
    rnd.shuffle(shuffled)
    assert render_tfvars(shuffled + shuffled[:3]) == render_tfvars(sorted(ids))


def test_entry_order_in_the_registry_does_not_change_the_bytes(tmp_path: Path) -> None:
    entries = [
        f'  - id: "{i}00000000000"\n    name: a{i}\n    bedrock_cross_region_inference: true\n'
        for i in range(1, 10)
    ]
    (tmp_path / "accounts.yaml").write_text("accounts:\n" + "".join(entries))
    forward = Environment(tmp_path, TODAY).generated.content
    (tmp_path / "accounts.yaml").write_text("accounts:\n" + "".join(reversed(entries)))
    assert Environment(tmp_path, TODAY).generated.content == forward
    assert forward.startswith('{\n  "bedrock_permitted_account_ids": [\n    "100000000000",\n')
    assert forward.endswith('    "900000000000"\n  ]\n}\n')


def test_check_catches_a_hand_edit_of_a_committed_file(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "prod"
    shutil.copytree(repo_root / "envs" / "prod", env, symlinks=True)
    generated = env / "accounts.auto.tfvars.json"
    generated.write_text(generated.read_text().replace('"123456789012"', '"123456789013"'))
    assert main(["tfvars", "--env-dir", str(env), "--check"]) == 1
    assert "(added 123456789012; removed 123456789013)" in capsys.readouterr().err
    assert '"123456789013"' in generated.read_text()
    assert main(["tfvars", "--env-dir", str(env)]) == 0
    assert main(["tfvars", "--env-dir", str(env), "--check"]) == 0
    assert (
        generated.read_bytes() == (repo_root / "envs/prod/accounts.auto.tfvars.json").read_bytes()
    )
