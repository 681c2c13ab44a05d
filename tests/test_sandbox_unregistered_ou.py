"""A first-tier OU not registered with Control Tower, end to end with real terraform.

On a copy of envs/local whose sandbox has `{name: Suspended, registered: false}`:
the plan fails as it fails against AWS (ListEnabledControls on the OU answers
ResourceNotFoundException); once `regionguard preflight --write-tfvars` has
recorded the OU, the plan succeeds, leaves it out of the targets and names it
as not covered with the reason, in the outputs and in the plan review.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from regionguard.cli import main
from regionguard.local_sandbox import terraform_environment
from regionguard.sandbox import process
from regionguard.terraform import Terraform, TerraformError

pytestmark = [pytest.mark.sandbox, pytest.mark.terraform]

REASON = (
    "not registered with AWS Control Tower, which refuses controls on it; register it, "
    "then run regionguard preflight --write-tfvars"
)


@dataclass
class Stack:
    env_dir: Path
    tf: Terraform
    endpoint: str


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, local_env_copier: Callable[..., Path]
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("unregistered")
    env_dir = local_env_copier(root, unregistered_ou=True)
    state_dir = root / "sandbox"
    info, _ = process.up(state_dir, env_dir, port=0)
    try:
        variables = terraform_environment(info.endpoint, os.environ)
        tf = Terraform(env_dir, timeout=240, env=variables)
        tf.init()
        yield Stack(env_dir, tf, info.endpoint)
    finally:
        process.down(state_dir)


def test_without_the_record_the_plan_fails_as_against_aws(stack: Stack) -> None:
    with pytest.raises(TerraformError) as caught:
        stack.tf.plan()
    assert caught.value.result is not None
    assert "reading ControlTower Controls" in caught.value.result.stderr
    assert "couldn't find resource" in caught.value.result.stderr


def test_with_the_record_the_plan_leaves_the_ou_out_and_names_it_with_the_reason(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = main(
        [
            "preflight",
            "--env-dir",
            str(stack.env_dir),
            "--sandbox-endpoint",
            stack.endpoint,
            "--write-tfvars",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {c["id"]: c["status"] for c in report["checks"]}["ou-registration"] == "warn"
    recorded = json.loads((stack.env_dir / "unregistered_ous.auto.tfvars.json").read_text())
    (suspended,) = recorded["unregistered_ous"]

    plan_file = stack.env_dir / "tfplan"
    assert stack.tf.plan(plan_file) is True
    plan = stack.tf.show_json(plan_file)
    outputs = {k: v["value"] for k, v in plan["planned_values"]["outputs"].items() if "value" in v}
    assert outputs["not_covered_first_tier_ous"] == {
        suspended: {"name": "Suspended", "reason": REASON}
    }
    assert outputs["untargeted_first_tier_ous"] == {suspended: "Suspended"}
    assert sorted(outputs["targets"].values()) == ["Sandbox", "Security", "Workloads"]

    plan_json = stack.env_dir / "tfplan.json"
    plan_json.write_text(json.dumps(plan))
    monkeypatch.chdir(stack.env_dir)
    code = main(["plan-diff", str(plan_json)])
    review = capsys.readouterr().out
    assert code == 0
    assert f"First-tier OUs not covered: {suspended} (Suspended)" in review


def test_make_plan_records_the_unregistered_ou_and_the_review_names_it_with_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    local_env_copier: Callable[..., Path],
) -> None:
    """`regionguard plan` (what `make plan` runs) needs no preflight run before it."""
    env_dir = local_env_copier(tmp_path, unregistered_ou=True)
    monkeypatch.setenv("REGIONGUARD_ROOT", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        code = main(["plan", "--env-dir", str(env_dir), "--sandbox-port", str(port)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        review = (env_dir / "tfplan.md").read_text()
        assert re.search(
            r"First-tier OUs not covered: ou-\S+ \(Suspended\): not registered", review
        )
        assert (env_dir / "tfplan.gate.json").is_file()
        assert (
            "unregistered_ous.auto.tfvars.json"
            in json.loads((env_dir / "tfplan.gate.json").read_text())["inputs"]
        )
    finally:
        process.down(tmp_path / ".sandbox")
