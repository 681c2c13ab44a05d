"""Real terraform and the aws provider against a sandbox started for this module.

The tests form one story on one copy of envs/local and run in file order:
each starts from the converged state the previous one left (apply, then an
empty plan) and leaves it converged again. Terraform runs through
regionguard.terraform only; the sandbox listens on a free port and is
stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.config
import pytest

from regionguard.aws import sandbox_client
from regionguard.local_sandbox import terraform_environment
from regionguard.sandbox import process
from regionguard.terraform import Terraform, TerraformError

pytestmark = [pytest.mark.sandbox, pytest.mark.terraform]

CONTROL = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
SCP_NAME = "bedrock-cross-region-inference"
FIRST_TIER = ("Sandbox", "Security", "Workloads")


@dataclass
class Stack:
    env_dir: Path
    tf: Terraform
    endpoint: str
    token: str
    ct: Any
    org: Any
    ous: dict[str, dict[str, str]]

    def scps(self, ou: str) -> list[str]:
        policies = self.org.list_policies_for_target(
            TargetId=self.ous[ou]["Id"], Filter="SERVICE_CONTROL_POLICY"
        )["Policies"]
        return sorted(
            "aws-guardrails-*" if p["Name"].startswith("aws-guardrails-") else p["Name"]
            for p in policies
        )

    def enabled(self) -> dict[str, dict[str, Any]]:
        """OU name to its enabled control's details."""
        names = {ou["Arn"]: name for name, ou in self.ous.items()}
        out = {}
        for summary in self.ct.list_enabled_controls()["enabledControls"]:
            details = self.ct.get_enabled_control(enabledControlIdentifier=summary["arn"])
            out[names[summary["targetIdentifier"]]] = details["enabledControlDetails"]
        return out

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return process.admin(self.endpoint, method, path, body, token=self.token)

    def disable_out_of_band(self, ou: str) -> None:
        reply = self.ct.disable_control(
            controlIdentifier=CONTROL, targetIdentifier=self.ous[ou]["Arn"]
        )
        while (
            self.ct.get_control_operation(operationIdentifier=reply["operationIdentifier"])[
                "controlOperation"
            ]["status"]
            == "IN_PROGRESS"
        ):
            time.sleep(0.05)

    def assert_converged(self) -> None:
        assert self.tf.plan() is False, "the plan after apply must be empty"
        policies = self.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        assert sorted(p["Name"] for p in policies if not p["Name"].startswith("aws-")) == [
            "FullAWSAccess",
            SCP_NAME,
        ]
        for ou in FIRST_TIER:
            assert self.scps(ou) == ["FullAWSAccess", "aws-guardrails-*", SCP_NAME], ou
        assert sorted(self.enabled()) == list(FIRST_TIER)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, local_env_copier: Callable[..., Path]
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    env_dir = local_env_copier(root)
    state_dir = root / "sandbox"
    info, _ = process.up(state_dir, env_dir, port=0)
    try:
        variables = terraform_environment(info.endpoint, os.environ)
        tf = Terraform(env_dir, timeout=240, env=variables)
        tf.init()
        config = botocore.config.Config(retries={"total_max_attempts": 1})
        org = sandbox_client("organizations", info.endpoint, config=config)
        root_id = org.list_roots()["Roots"][0]["Id"]
        ous = {
            ou["Name"]: ou
            for ou in org.list_organizational_units_for_parent(ParentId=root_id)[
                "OrganizationalUnits"
            ]
        }
        yield Stack(
            env_dir,
            tf,
            info.endpoint,
            info.token,
            sandbox_client("controltower", info.endpoint, config=config),
            org,
            ous,
        )
    finally:
        process.down(state_dir)


ATTACHMENTS_ORDER = "module.bedrock_inference_scp.terraform_data.attachments"


def _changes(plan: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return sorted(
        (c["address"], c["change"]["actions"])
        for c in plan.get("resource_changes", [])
        if c["change"]["actions"] != ["no-op"]
    )


def test_apply_enables_the_control_and_attaches_the_scp_on_every_first_tier_ou(
    stack: Stack,
) -> None:
    assert stack.tf.plan(stack.env_dir / "tfplan") is True
    stack.tf.apply(stack.env_dir / "tfplan")
    for ou in FIRST_TIER:
        assert stack.scps(ou) == ["FullAWSAccess", "aws-guardrails-*", SCP_NAME], ou
    enabled = stack.enabled()
    assert sorted(enabled) == list(FIRST_TIER)
    assert enabled["Workloads"]["parameters"] == [
        {
            "key": "AllowedRegions",
            "value": ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"],
        },
        {
            "key": "ExemptedActions",
            "value": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        },
    ]


def test_the_plan_after_apply_is_empty(stack: Stack) -> None:
    assert stack.tf.plan() is False


def test_changing_one_permit_updates_only_the_scp_in_place(stack: Stack) -> None:
    tfvars = stack.env_dir / "accounts.auto.tfvars.json"
    tfvars.write_text(json.dumps({"bedrock_permitted_account_ids": ["100000000001"]}) + "\n")
    assert stack.tf.plan(stack.env_dir / "tfplan") is True
    assert _changes(stack.tf.show_json(stack.env_dir / "tfplan")) == [
        ('module.bedrock_inference_scp.aws_organizations_policy.this["single"]', ["update"]),
    ]
    stack.tf.apply(stack.env_dir / "tfplan")
    policy = next(
        p
        for p in stack.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == SCP_NAME
    )
    content = json.loads(stack.org.describe_policy(PolicyId=policy["Id"])["Policy"]["Content"])
    condition = content["Statement"][0]["Condition"]["StringNotEquals"]
    assert condition["aws:PrincipalAccount"] == ["100000000001"]
    stack.assert_converged()


def test_a_control_disabled_out_of_band_is_restored_by_the_next_apply(stack: Stack) -> None:
    stack.disable_out_of_band("Sandbox")
    assert stack.scps("Sandbox") == ["FullAWSAccess", SCP_NAME]
    stack.tf.apply()
    stack.assert_converged()


@pytest.mark.parametrize(
    ("kind", "count", "error"),
    [
        ("throttle", 20, "ThrottlingException"),
        ("conflict", 1, "ConflictException"),
        ("fail", 1, "unexpected state 'FAILED', wanted target 'SUCCEEDED'"),
    ],
    ids=["throttle", "conflict", "fail"],
)
def test_after_a_fault_the_next_apply_converges(
    stack: Stack, kind: str, count: int, error: str
) -> None:
    stack.disable_out_of_band("Security")
    stack.admin("POST", "faults", {"kind": kind, "action": "enable-control", "count": count})
    with pytest.raises(TerraformError) as failed:
        stack.tf.apply()
    assert error in failed.value.args[0]
    stack.admin("DELETE", "faults")
    stack.tf.apply()
    stack.assert_converged()


def test_past_the_control_operations_quota_the_apply_fails_and_the_next_converges(
    stack: Stack,
) -> None:
    # AWS allows 100 control operations in progress; with the quota at 1 the
    # three controls reach it. The provider does not retry HTTP 402
    # ServiceQuotaExceededException: the apply fails for the two refused.
    for ou in FIRST_TIER:
        stack.disable_out_of_band(ou)
    stack.admin("PUT", "operation-seconds", {"seconds": 5, "operationsLimit": 1})
    try:
        with pytest.raises(TerraformError) as failed:
            stack.tf.apply()
    finally:
        stack.admin("PUT", "operation-seconds", {"seconds": 0.3, "operationsLimit": 100})
    message = failed.value.args[0]
    assert message.count("ServiceQuotaExceededException") == 2
    assert "StatusCode: 402" in message
    assert "The limit is 1 concurrent operations." in message
    assert len(stack.enabled()) == 1
    stack.tf.apply()
    stack.assert_converged()


def test_a_failed_update_operation_converges_on_the_next_apply(stack: Stack) -> None:
    settings = stack.env_dir / "terraform.tfvars"
    settings.write_text(
        settings.read_text().replace('  "bedrock:InvokeModelWithResponseStream",\n', "", 1)
    )
    stack.admin("POST", "faults", {"kind": "fail", "action": "update-enabled-control", "count": 1})
    with pytest.raises(TerraformError) as failed:
        stack.tf.apply()
    assert "unexpected state 'FAILED', wanted target 'SUCCEEDED'" in failed.value.args[0]
    assert stack.admin("GET", "faults") == {"faults": []}
    stack.tf.apply()
    stack.assert_converged()
    for ou, details in stack.enabled().items():
        assert details["parameters"][1] == {
            "key": "ExemptedActions",
            "value": ["bedrock:InvokeModel"],
        }, ou


def test_a_second_apply_stops_on_the_state_lock_and_the_state_stays_intact(
    stack: Stack,
) -> None:
    stack.disable_out_of_band("Workloads")
    stack.admin("PUT", "operation-seconds", {"seconds": 6})
    lock = stack.env_dir / ".terraform.tfstate.lock.info"
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            outcome["first"] = stack.tf.apply()
        except TerraformError as exc:  # reported by the assertion below
            outcome["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.exists(), "the first apply never took the state lock"
        with pytest.raises(TerraformError) as second:
            stack.tf.apply()
    finally:
        thread.join()
        stack.admin("PUT", "operation-seconds", {"seconds": 0.3})
    assert "Error acquiring the state lock" in second.value.args[0]
    assert not isinstance(outcome["first"], TerraformError), outcome["first"]
    stack.assert_converged()


def _terraform_pids(env_dir: Path) -> list[int]:
    """Terraform processes working in env_dir (started by this module)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cwd == str(env_dir) and cmd and cmd[0].endswith(b"terraform"):
            pids.append(int(entry))
    return pids


def test_destroy_leaves_only_full_aws_access(stack: Stack) -> None:
    stack.tf.destroy()
    assert stack.ct.list_enabled_controls()["enabledControls"] == []
    policies = stack.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert [p["Name"] for p in policies] == ["FullAWSAccess"]
    for ou in FIRST_TIER:
        assert stack.scps(ou) == ["FullAWSAccess"], ou


def test_an_apply_killed_mid_way_converges_with_nothing_lost_or_duplicated(
    stack: Stack,
) -> None:
    # Runs after destroy: the apply creates everything and is killed while
    # Control Tower is still enabling the controls. By then the SCP and its
    # attachments may or may not exist in AWS, and may or may not be recorded
    # in the state (Terraform writes the state as resources complete): every
    # object that exists but is not recorded must be adopted, never created
    # twice (the sandbox refuses a second attachment as AWS does).
    assert stack.ct.list_enabled_controls()["enabledControls"] == []
    stack.admin("PUT", "operation-seconds", {"seconds": 30})
    killed: dict[str, Any] = {}

    def apply() -> None:
        try:
            stack.tf.apply()
        except TerraformError as exc:
            killed["error"] = exc

    thread = threading.Thread(target=apply)
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while len(stack.ct.list_enabled_controls()["enabledControls"]) < 3:
            assert time.monotonic() < deadline, "the apply never enabled the controls"
            time.sleep(0.1)
        for pid in _terraform_pids(stack.env_dir):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    finally:
        thread.join()
        stack.admin("PUT", "operation-seconds", {"seconds": 0.3})
    assert "error" in killed
    assert stack.tf.plan(stack.env_dir / "tfplan") is True
    plan = stack.tf.show_json(stack.env_dir / "tfplan")
    imported = {c["address"] for c in plan["resource_changes"] if c["change"].get("importing")}
    controls = {
        f'module.region_deny_control.aws_controltower_control.this["{stack.ous[ou]["Id"]}"]'
        for ou in FIRST_TIER
    }
    assert controls <= imported
    scp_in_aws = [
        p["Id"]
        for p in stack.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == SCP_NAME
    ]
    attached_in_aws = {
        t["TargetId"]
        for policy_id in scp_in_aws
        for t in stack.org.list_targets_for_policy(PolicyId=policy_id)["Targets"]
    }
    for address, actions in _changes(plan):
        if address in imported or address == ATTACHMENTS_ORDER:
            continue  # ATTACHMENTS_ORDER orders the attachments and calls no API
        # Only what does not exist in AWS yet may be created.
        assert actions == ["create"], (address, actions)
        if address == 'module.bedrock_inference_scp.aws_organizations_policy.this["single"]':
            assert scp_in_aws == []
        else:
            assert address.startswith(
                "module.bedrock_inference_scp.aws_organizations_policy_attachment.this["
            ), address
            assert address.split('"')[1] not in attached_in_aws, address
    stack.tf.apply(stack.env_dir / "tfplan")
    stack.assert_converged()
