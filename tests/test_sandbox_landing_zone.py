"""The sandbox's landing zone, baselines, Control Catalog, unregistered OUs and SCP quota."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from regionguard.aws import sandbox_client
from regionguard.errors import InputError
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_sandbox_settings

CONTROL = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
SANDBOX_YAML = """\
management_account_id: "111111111111"
registry: accounts.yaml
organizational_units:
  - Security
  - {name: Suspended, registered: false}
landing_zone:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1, us-east-1]
  region_deny: false
  version: "3.3"
operation_seconds: 0
"""
ACCOUNTS = """\
accounts:
  - id: "100000000001"
    name: parked
    ou: Suspended/Old
    bedrock_cross_region_inference: false
"""
ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


@dataclass
class Sandbox:
    app: SandboxApp
    endpoint: str

    def client(self, service: str) -> Any:
        return sandbox_client(service, self.endpoint)

    def ous(self) -> dict[str, dict[str, str]]:
        org = self.client("organizations")
        root = org.list_roots()["Roots"][0]["Id"]
        children = org.list_organizational_units_for_parent(ParentId=root)
        return {o["Name"]: o for o in children["OrganizationalUnits"]}


@pytest.fixture(scope="module")
def sandbox_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    env = tmp_path_factory.mktemp("lz") / "env"
    env.mkdir()
    (env / "sandbox.yaml").write_text(SANDBOX_YAML)
    (env / "accounts.yaml").write_text(ACCOUNTS)
    app = SandboxApp(load_sandbox_settings(env))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Sandbox(app, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sandbox(sandbox_module: Sandbox) -> Sandbox:
    sandbox_module.app.reset()
    return sandbox_module


def test_settings_read_an_unregistered_ou_entry(sandbox: Sandbox) -> None:
    settings = sandbox.app.settings
    assert settings.first_tier_ous == ("Security", "Suspended")
    assert settings.registered_ous == ("Security",)
    assert settings.unregistered_ous == ("Suspended",)


def test_an_ou_listed_twice_is_refused_naming_the_entry(tmp_path: Path) -> None:
    (tmp_path / "sandbox.yaml").write_text(
        SANDBOX_YAML.replace("  - Security\n", "  - Security\n  - {name: Security}\n")
    )
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    with pytest.raises(InputError, match=r"organizational_units\[1\]: 'Security' is listed twice"):
        load_sandbox_settings(tmp_path)


def test_get_landing_zone_reports_version_status_drift_and_governed_regions(
    sandbox: Sandbox,
) -> None:
    ct = sandbox.client("controltower")
    (summary,) = ct.list_landing_zones()["landingZones"]
    zone = ct.get_landing_zone(landingZoneIdentifier=summary["arn"])["landingZone"]
    assert zone["arn"].startswith("arn:aws:controltower:ap-northeast-1:111111111111:landingzone/")
    assert (zone["version"], zone["status"], zone["driftStatus"]) == (
        "3.3",
        "ACTIVE",
        {"status": "IN_SYNC"},
    )
    assert zone["manifest"]["governedRegions"] == ["ap-northeast-1", "us-east-1"]
    assert zone["manifest"]["organizationStructure"] == {"security": {"name": "Security"}}


def test_get_landing_zone_of_an_unknown_arn_is_not_found(sandbox: Sandbox) -> None:
    ct = sandbox.client("controltower")
    with pytest.raises(ClientError) as caught:
        ct.get_landing_zone(
            landingZoneIdentifier="arn:aws:controltower:ap-northeast-1:111111111111:landingzone/X"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_enabled_baselines_list_the_registered_ous_only(sandbox: Sandbox) -> None:
    ct = sandbox.client("controltower")
    (baseline,) = ct.list_baselines()["baselines"]
    assert baseline["name"] == "AWSControlTowerBaseline"
    enabled = ct.list_enabled_baselines()["enabledBaselines"]
    ous = sandbox.ous()
    assert [(b["targetIdentifier"], b["baselineIdentifier"]) for b in enabled] == [
        (ous["Security"]["Arn"], baseline["arn"])
    ]
    filtered = ct.list_enabled_baselines(filter={"targetIdentifiers": [ous["Suspended"]["Arn"]]})
    assert filtered["enabledBaselines"] == []


def test_control_catalog_resolves_the_alias_to_the_arn_and_its_parameters(
    sandbox: Sandbox,
) -> None:
    catalog = sandbox.client("controlcatalog")
    controls = catalog.list_controls()["Controls"]
    assert [(c["Arn"], c["Aliases"]) for c in controls] == [(CONTROL, ["CT.MULTISERVICE.PV.1"])]
    control = catalog.get_control(ControlArn=CONTROL)
    assert control["Behavior"] == "PREVENTIVE"
    assert control["Parameters"] == [
        {"Name": "AllowedRegions", "Requirement": "REQUIRED"},
        {"Name": "ExemptedActions", "Requirement": "OPTIONAL"},
        {"Name": "ExemptedPrincipalArns", "Requirement": "OPTIONAL"},
    ]
    with pytest.raises(ClientError) as caught:
        catalog.get_control(ControlArn="arn:aws:controlcatalog:::control/nope")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("ou", ["Suspended", "Suspended/Old"])
def test_enable_control_on_an_unregistered_ou_fails_as_aws_fails(sandbox: Sandbox, ou: str) -> None:
    ct = sandbox.client("controltower")
    org = sandbox.client("organizations")
    target = sandbox.ous()["Suspended"]
    if ou == "Suspended/Old":
        (target,) = org.list_organizational_units_for_parent(ParentId=target["Id"])[
            "OrganizationalUnits"
        ]
    with pytest.raises(ClientError) as caught:
        ct.enable_control(
            controlIdentifier=CONTROL,
            targetIdentifier=target["Arn"],
            parameters=[{"key": "AllowedRegions", "value": ["ap-northeast-1"]}],
        )
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert (error["Code"], error["Message"]) == (
        "ResourceNotFoundException",
        f"Organizational unit {target['Id']} is not registered with AWS Control Tower.",
    )


def test_list_enabled_controls_on_an_unregistered_ou_fails_as_aws_fails(sandbox: Sandbox) -> None:
    ct = sandbox.client("controltower")
    with pytest.raises(ClientError) as caught:
        ct.list_enabled_controls(targetIdentifier=sandbox.ous()["Suspended"]["Arn"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # A registered OU answers as before.
    registered = ct.list_enabled_controls(targetIdentifier=sandbox.ous()["Security"]["Arn"])
    assert registered["enabledControls"] == []


def test_allowed_regions_outside_the_governed_regions_are_accepted_as_aws_documents_no_refusal(
    sandbox: Sandbox,
) -> None:
    ct = sandbox.client("controltower")
    reply = ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous()["Security"]["Arn"],
        parameters=[{"key": "AllowedRegions", "value": ["ap-northeast-1", "sa-east-1"]}],
    )
    operation = ct.get_control_operation(operationIdentifier=reply["operationIdentifier"])
    assert operation["controlOperation"]["status"] == "SUCCEEDED"


def test_an_eleventh_scp_on_one_target_is_refused_with_the_quota_reason(sandbox: Sandbox) -> None:
    org = sandbox.client("organizations")
    target = sandbox.ous()["Security"]["Id"]
    policies = [
        org.create_policy(
            Name=f"p{i}", Description="", Type="SERVICE_CONTROL_POLICY", Content=ALLOW_ALL
        )["Policy"]["PolicySummary"]["Id"]
        for i in range(10)
    ]
    for policy in policies[:9]:  # FullAWSAccess + 9 = 10
        org.attach_policy(PolicyId=policy, TargetId=target)
    with pytest.raises(ClientError) as caught:
        org.attach_policy(PolicyId=policies[9], TargetId=target)
    error = caught.value.response["Error"]
    assert error["Code"] == "ConstraintViolationException"
    assert caught.value.response["Reason"] == "POLICY_NUMBER_LIMIT_EXCEEDED"
    attached = org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")
    assert len(attached["Policies"]) == 10
