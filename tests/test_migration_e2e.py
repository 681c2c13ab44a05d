"""Plan, apply and destroy on a sandbox whose landing-zone Region deny is on, then off.

A copy of envs/local against a real sandbox process with the landing-zone
Region deny on, driven through ``main([...])`` as `make` drives it:

- the plan names the facts that wait for migration step 4, on stdout and in
  the review, and passes;
- another team's SCP attached after the plan breaks a fact: apply applies,
  then its check of the facts against the organization fails (exit 1),
  naming the statement that breaks it, while the facts that wait name
  GRREGIONDENY;
- with the deny off, destroy refuses (exit 2) with the reason and the
  override, and the override destroys; where sandbox.yaml has no landing-zone
  Region deny at all (envs/local as shipped) destroy needs no override.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_local_env
from regionguard.aws import sandbox_client
from regionguard.cli import main
from regionguard.sandbox import process

pytestmark = [pytest.mark.terraform, pytest.mark.sandbox, pytest.mark.checkov]

STEP_4 = "migration step 4 (turn the landing-zone Region deny off)"
OTHER_TEAM_DENY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OtherTeamDeniesBedrockInTokyo",
            "Effect": "Deny",
            "Action": "bedrock:InvokeModel",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-northeast-1"}},
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, process.SandboxInfo]]:
    env_dir = copy_local_env(tmp_path)
    monkeypatch.setenv("REGIONGUARD_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    info, _ = process.up(
        tmp_path / ".sandbox", env_dir, port=_free_port(), landing_zone_region_deny=True
    )
    try:
        yield env_dir, info
    finally:
        process.down(tmp_path / ".sandbox")


def _organizations(endpoint: str) -> Any:
    return sandbox_client("organizations", endpoint, "us-east-1")


def test_plan_apply_and_destroy_know_where_the_migration_stands(
    stack: tuple[Path, process.SandboxInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir, info = stack
    run = ["--env-dir", "envs/local", "--sandbox-port", str(info.port)]

    code = main(["plan", *run])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    lines = out.splitlines()
    assert (
        "envs/local/expectations.yaml: 3 of 7 facts hold, 4 wait for migration step 4 (turn "
        "the landing-zone Region deny off), 0 broken; envs/local/tfplan.json (after the "
        "change), with the landing-zone Region deny on Sandbox, Security, Workloads"
    ) in lines
    assert lines[-1] == (
        f"plan envs/local: passed; 4 facts wait for {STEP_4}; review in envs/local/tfplan.md; "
        "`make apply ENV=local` applies exactly envs/local/tfplan"
    )
    review = (env_dir / "tfplan.md").read_text()
    assert (
        "- The landing-zone Region deny is on (Sandbox, Security, Workloads): 4 facts of "
        f"`envs/local/expectations.yaml` hold only after {STEP_4}, not right after this apply: "
        "`ml-platform can invoke Bedrock in us-east-2 through a us. cross-Region profile`; "
        "`permitted accounts can use global inference profiles`; `payments cannot invoke "
        "Bedrock in us-east-2`; `nobody can call ec2:RunInstances outside the allowed Regions`"
    ) in review.splitlines()

    # Between the plan and the apply another team denies Bedrock in Tokyo on Workloads.
    org = _organizations(info.endpoint)
    workloads = next(
        ou["Id"]
        for ou in org.list_organizational_units_for_parent(
            ParentId=org.list_roots()["Roots"][0]["Id"]
        )["OrganizationalUnits"]
        if ou["Name"] == "Workloads"
    )
    policy = org.create_policy(
        Name="other-team-deny",
        Description="another team's SCP",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(OTHER_TEAM_DENY),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=workloads)

    code = main(["apply", *run])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert err.splitlines()[-1] == (
        "regionguard: apply envs/local: applied (created 1 SCP, 3 SCP attachments, 3 Region "
        "deny controls); envs/local/expectations.yaml does not hold in the sandbox (1 broken "
        "fact)"
    )
    lines = out.splitlines()
    broken = lines.index(
        '  BROKEN  expectations[0] "every account can invoke Bedrock in the allowed Regions": '
        "2 of 32 calls are not ALLOW, also after migration step 4 (turn the landing-zone Region "
        "deny off)"
    )
    assert (
        'Denied by statement "OtherTeamDeniesBedrockInTokyo" of SCP "other-team-deny"'
        in (lines[broken + 1])
    )
    waits = [i for i, line in enumerate(lines) if line.startswith("  WAITS")]
    assert len(waits) == 4
    assert all('Denied by statement "GRREGIONDENY"' in lines[i + 1] for i in waits)

    # The rollback's order: with the landing-zone Region deny off, destroy refuses.
    sandbox_yaml = env_dir / "sandbox.yaml"
    sandbox_yaml.write_text(
        sandbox_yaml.read_text().replace("region_deny: false", "region_deny: true")
    )
    process.set_landing_zone_region_deny(info, False)
    code = main(["destroy", *run])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "regionguard: destroy envs/local: the landing-zone Region deny is off on Security, "
        "Sandbox, Workloads; destroying now would leave them without any Region deny. Turn it "
        "back on first (docs/adopt.md, Rollback: Control Tower console > Landing zone settings "
        "> Modify settings > Region deny: Enabled (a console step; no API or Terraform can do "
        "it)), check with `make preflight ENV=local` (migration step 4), then destroy; to "
        "destroy anyway, re-run with --allow-no-region-deny (make destroy ENV=local "
        "ALLOW_NO_REGION_DENY=1)\n"
    )
    code = main(["destroy", *run, "--allow-no-region-deny"])
    out, err = capsys.readouterr()
    assert (code, out.splitlines()[-1]) == (0, "destroy envs/local: destroyed"), err

    # envs/local as shipped emulates an organization without the landing-zone Region deny.
    sandbox_yaml.write_text(
        sandbox_yaml.read_text().replace("region_deny: true", "region_deny: false")
    )
    code = main(["destroy", *run])
    out, err = capsys.readouterr()
    assert (code, out.splitlines()[-1]) == (0, "destroy envs/local: destroyed"), err
