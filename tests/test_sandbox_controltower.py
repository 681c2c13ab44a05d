"""The Control Tower emulator, call by call, through boto3 and on the wire."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import botocore.config
import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from regionguard.aws import sandbox_client
from regionguard.controlscp import render_control_scp
from regionguard.sandbox.faults import make_fault
from regionguard.sandbox.server import SandboxApp, signing_service

CONTROL = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
REGIONS = ["ap-northeast-1", "us-east-1"]
ACTIONS = ["bedrock:InvokeModel"]


@dataclass
class Sandbox:
    app: SandboxApp
    ct: Any
    org: Any
    ous: dict[str, dict[str, str]]

    def wait(self, operation_id: str) -> dict[str, Any]:
        for _ in range(200):
            operation: dict[str, Any] = self.ct.get_control_operation(
                operationIdentifier=operation_id
            )["controlOperation"]
            if operation["status"] != "IN_PROGRESS":
                return operation
            time.sleep(0.02)
        raise AssertionError(f"operation {operation_id} did not end")

    def enable(self, ou: str = "Security", parameters: list[dict[str, Any]] | None = None) -> str:
        reply = self.ct.enable_control(
            controlIdentifier=CONTROL,
            targetIdentifier=self.ous[ou]["Arn"],
            parameters=parameters if parameters is not None else params(REGIONS),
        )
        assert self.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"
        arn: str = reply["arn"]
        return arn

    def scps(self, ou: str) -> dict[str, str]:
        ou_id = self.ous[ou]["Id"]
        policies = self.org.list_policies_for_target(
            TargetId=ou_id, Filter="SERVICE_CONTROL_POLICY"
        )["Policies"]
        return {
            p["Name"]: self.org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]
            for p in policies
        }


def params(regions: list[str], actions: list[str] | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"key": "AllowedRegions", "value": regions}]
    if actions:
        out.append({"key": "ExemptedActions", "value": actions})
    return out


@pytest.fixture
def sandbox(sandbox_server: tuple[SandboxApp, str]) -> Sandbox:
    app, endpoint = sandbox_server
    app.faults.clear()
    app.reset()
    config = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    ct = sandbox_client("controltower", endpoint, config=config)
    org = sandbox_client("organizations", endpoint, config=config)
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {
        ou["Name"]: ou
        for ou in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    }
    return Sandbox(app, ct, org, ous)


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def raw(app: SandboxApp, path: str, body: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` to the application directly (WSGI), as bytes on the wire."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = Client(app).post(path, data=data, headers=headers, content_type="application/json")
    return response.status_code, dict(response.headers), json.loads(response.get_data())


# ------------------------------------------------------------------ dispatch


def test_signing_service_is_read_from_the_credential_scope() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=sandbox/20261127/ap-northeast-1/controltower/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert signing_service(header) == "controltower"
    assert signing_service("Bearer x") is None
    assert signing_service(None) is None


def test_organizations_calls_reach_moto_as_the_management_account(sandbox: Sandbox) -> None:
    organization = sandbox.org.describe_organization()["Organization"]
    assert organization["MasterAccountId"] == "111111111111"
    assert sorted(sandbox.ous) == ["Research", "Security", "Workloads"]


def test_attaching_a_policy_twice_to_one_target_is_refused_as_by_aws(sandbox: Sandbox) -> None:
    policy = sandbox.org.create_policy(
        Name="twice",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}',
    )["Policy"]["PolicySummary"]["Id"]
    target = sandbox.ous["Workloads"]["Id"]
    sandbox.org.attach_policy(PolicyId=policy, TargetId=target)
    assert error_of(sandbox.org.attach_policy, PolicyId=policy, TargetId=target) == (
        400,
        "DuplicatePolicyAttachmentException",
        "The selected policy is already attached to the specified target.",
    )
    sandbox.org.attach_policy(PolicyId=policy, TargetId=sandbox.ous["Security"]["Id"])
    attached = sandbox.org.list_targets_for_policy(PolicyId=policy)["Targets"]
    assert sorted(t["TargetId"] for t in attached) == sorted(
        [target, sandbox.ous["Security"]["Id"]]
    )


def scp_of_size(size: int) -> str:
    head = '{"Version":"2012-10-17","Statement":[{"Sid":"'
    tail = '","Effect":"Deny","Action":"s3:*","Resource":"*"}]}'
    return head + "S" * (size - len(head) - len(tail)) + tail


def test_an_scp_over_10240_characters_is_refused_as_by_aws(sandbox: Sandbox) -> None:
    oversize = scp_of_size(10_241)
    assert len(oversize) == 10_241
    with pytest.raises(ClientError) as caught:
        sandbox.org.create_policy(
            Name="big", Description="", Type="SERVICE_CONTROL_POLICY", Content=oversize
        )
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        400,
        "ConstraintViolationException",
    )
    assert error["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"
    assert error["Error"]["Message"] == (
        "The policy content is 10,241 characters; a service control policy may have at most 10,240."
    )
    names = [
        p["Name"] for p in sandbox.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    ]
    assert "big" not in names

    policy = sandbox.org.create_policy(
        Name="at-limit", Description="", Type="SERVICE_CONTROL_POLICY", Content=scp_of_size(10_240)
    )["Policy"]["PolicySummary"]["Id"]
    assert error_of(sandbox.org.update_policy, PolicyId=policy, Content=oversize) == (
        400,
        "ConstraintViolationException",
        "The policy content is 10,241 characters; a service control policy may have at "
        "most 10,240.",
    )
    content = sandbox.org.describe_policy(PolicyId=policy)["Policy"]["Content"]
    assert len(content) == 10_240
    sandbox.org.update_policy(PolicyId=policy, Name="renamed")  # no Content: not a size change


# ------------------------------------------------------------------ admin calls


def admin_call(
    app: SandboxApp, method: str, path: str, headers: dict[str, str], body: bytes = b"{}"
) -> tuple[int, Any]:
    response = Client(app).open(path, method=method, data=body, headers=headers)
    return response.status_code, json.loads(response.get_data())


TOKEN_REFUSAL = {
    "message": "admin calls need the sandbox's token in the X-Regionguard-Token header "
    "(the server writes it to sandbox.token in its state folder)"
}
HOST_REFUSAL = {
    "message": "admin calls answer only requests to a loopback Host (127.0.0.1, localhost)"
}


def test_cross_origin_text_plain_post_without_the_token_is_refused(sandbox: Sandbox) -> None:
    # What a web page can send to 127.0.0.1 without a CORS preflight.
    headers = {
        "Host": "127.0.0.1:4580",
        "Origin": "https://attacker.example",
        "Content-Type": "text/plain",
    }
    body = b'{"kind": "fail", "count": 5}'
    assert admin_call(sandbox.app, "POST", "/regionguard/faults", headers, body) == (
        403,
        TOKEN_REFUSAL,
    )
    for path in ("/regionguard/reset", "/regionguard/seed"):
        assert admin_call(sandbox.app, "POST", path, headers) == (403, TOKEN_REFUSAL)
    assert sandbox.app.faults.armed() == []


def test_admin_calls_with_a_wrong_or_missing_token_are_refused(sandbox: Sandbox) -> None:
    for headers in ({"Host": "127.0.0.1"}, {"Host": "127.0.0.1", "X-Regionguard-Token": "x"}):
        assert admin_call(sandbox.app, "GET", "/regionguard/faults", headers) == (
            403,
            TOKEN_REFUSAL,
        )


def test_admin_calls_to_a_name_that_is_not_loopback_are_refused(sandbox: Sandbox) -> None:
    # DNS rebinding: the page's own name now points at 127.0.0.1.
    token = sandbox.app.admin_token
    for host in ("attacker.example:4580", "127.0.0.1.attacker.example", "10.0.0.1"):
        headers = {"Host": host, "X-Regionguard-Token": token}
        assert admin_call(sandbox.app, "GET", "/regionguard/faults", headers) == (
            403,
            HOST_REFUSAL,
        )
        assert admin_call(sandbox.app, "GET", "/regionguard/health", headers) == (
            403,
            HOST_REFUSAL,
        )


def test_admin_calls_with_the_token_on_loopback_are_answered(sandbox: Sandbox) -> None:
    token = sandbox.app.admin_token
    for host in ("127.0.0.1:4580", "localhost:4580", "[::1]:4580", "127.0.0.2"):
        headers = {"Host": host, "X-Regionguard-Token": token}
        assert admin_call(sandbox.app, "GET", "/regionguard/faults", headers) == (
            200,
            {"faults": []},
        )
    status, health = admin_call(sandbox.app, "GET", "/regionguard/health", {"Host": "127.0.0.1"})
    assert (status, health["service"]) == (200, "regionguard-sandbox")


# -------------------------------------------------------------- enable-control


def test_enable_control_creates_and_attaches_the_guardrail_scp(sandbox: Sandbox) -> None:
    reply = sandbox.ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS, ACTIONS),
    )
    first = sandbox.ct.get_control_operation(operationIdentifier=reply["operationIdentifier"])
    assert first["controlOperation"]["status"] == "IN_PROGRESS"
    assert first["controlOperation"]["operationType"] == "ENABLE_CONTROL"
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"
    scps = sandbox.scps("Security")
    (guardrail,) = (name for name in scps if name.startswith("aws-guardrails-"))
    assert scps[guardrail] == render_control_scp(REGIONS, ACTIONS, [])
    assert sorted(scps) == sorted(["FullAWSAccess", guardrail])
    assert sandbox.scps("Workloads").keys() == {"FullAWSAccess"}


def test_enable_control_answers_the_enabled_control_arn(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    assert arn.startswith("arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/")


def test_enabling_an_enabled_control_fails(sandbox: Sandbox) -> None:
    sandbox.enable()
    status, code, message = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    assert (status, code) == (400, "ValidationException")
    assert (
        message == f"The control {CONTROL} is already enabled on {sandbox.ous['Security']['Arn']}."
    )


def test_enable_control_on_a_missing_ou_is_not_found(sandbox: Sandbox) -> None:
    missing = sandbox.ous["Security"]["Arn"].rsplit("/", 1)[0] + "/ou-abcd-zzzzzzzz"
    status, code, message = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=missing,
        parameters=params(REGIONS),
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The organizational unit {missing} does not exist in the organization."


@pytest.mark.parametrize("target", ["root", "account", "garbage"])
def test_enable_control_on_anything_but_an_ou_is_invalid(sandbox: Sandbox, target: str) -> None:
    org = sandbox.org.describe_organization()["Organization"]
    arns = {
        "root": sandbox.org.list_roots()["Roots"][0]["Arn"],
        "account": f"arn:aws:organizations::111111111111:account/{org['Id']}/100000000002",
        "garbage": "arn:aws:organizations::111111111111:ou/nothing",
    }
    status, code, message = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=arns[target],
        parameters=params(REGIONS),
    )
    assert (status, code) == (400, "ValidationException")
    assert "is not the ARN of an organizational unit" in message


def test_enable_control_of_an_unknown_control_is_not_found(sandbox: Sandbox) -> None:
    status, code, _ = error_of(
        sandbox.ct.enable_control,
        controlIdentifier="arn:aws:controlcatalog:::control/doesnotexist",
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    assert (status, code) == (404, "ResourceNotFoundException")


def test_legacy_control_arn_names_the_same_control(sandbox: Sandbox) -> None:
    reply = sandbox.ct.enable_control(
        controlIdentifier="arn:aws:controltower:ap-northeast-1::control/CT.MULTISERVICE.PV.1",
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([], "Parameter AllowedRegions is required for CT.MULTISERVICE.PV.1."),
        (
            [{"key": "ExemptedActions", "value": ACTIONS}],
            "Parameter AllowedRegions is required for CT.MULTISERVICE.PV.1.",
        ),
        (params([]), "Parameter AllowedRegions must not be empty."),
        (
            [{"key": "AllowedRegions", "value": "us-east-1"}],
            "Parameter AllowedRegions must be a list of non-empty strings.",
        ),
        (params(["mars-1"]), "AllowedRegions: 'mars-1' is not a Region code."),
        (params(["us-east-1", "us-east-1"]), "Parameter AllowedRegions lists a value twice."),
        (
            [*params(REGIONS), {"key": "Colour", "value": ["red"]}],
            "Parameter Colour is not a parameter of CT.MULTISERVICE.PV.1; its parameters are "
            "AllowedRegions, ExemptedActions, ExemptedPrincipalArns.",
        ),
        ([*params(REGIONS), *params(REGIONS)], "Parameter AllowedRegions is given twice."),
    ],
)
def test_enable_control_rejects_bad_parameters(
    sandbox: Sandbox, parameters: list[dict[str, Any]], message: str
) -> None:
    status, code, answer = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=parameters,
    )
    assert (status, code, answer) == (400, "ValidationException", message)
    assert sandbox.scps("Security").keys() == {"FullAWSAccess"}


def test_enable_control_whose_scp_exceeds_the_size_limit_is_rejected(sandbox: Sandbox) -> None:
    principals = [f"arn:aws:iam::*:role/exempted-role-{i:04d}" for i in range(400)]
    status, code, message = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=[*params(REGIONS), {"key": "ExemptedPrincipalArns", "value": principals}],
    )
    assert (status, code) == (400, "ValidationException")
    assert "AWS Organizations allows 10240" in message


def test_enable_control_while_an_operation_runs_on_the_target_conflicts(sandbox: Sandbox) -> None:
    sandbox.app.controltower.operation_seconds = 30
    try:
        sandbox.ct.enable_control(
            controlIdentifier=CONTROL,
            targetIdentifier=sandbox.ous["Security"]["Arn"],
            parameters=params(REGIONS),
        )
        status, code, _ = error_of(
            sandbox.ct.enable_control,
            controlIdentifier=CONTROL,
            targetIdentifier=sandbox.ous["Security"]["Arn"],
            parameters=params(REGIONS),
        )
    finally:
        sandbox.app.controltower.operation_seconds = 0.05
    assert (status, code) == (409, "ConflictException")


def test_enable_control_without_a_target_is_invalid(sandbox: Sandbox) -> None:
    status, headers, body = raw(sandbox.app, "/enable-control", {"controlIdentifier": CONTROL})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert body == {"message": "targetIdentifier is required and must be a string."}


# ------------------------------------------------------- get-control-operation


def test_operation_timestamps_are_iso_8601_strings_on_the_wire(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    operation_id = sandbox.ct.get_enabled_control(enabledControlIdentifier=arn)[
        "enabledControlDetails"
    ]["statusSummary"]["lastOperationIdentifier"]
    status, _, body = raw(
        sandbox.app, "/get-control-operation", {"operationIdentifier": operation_id}
    )
    operation = body["controlOperation"]
    assert status == 200
    pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
    assert re.match(pattern, operation["startTime"])
    assert re.match(pattern, operation["endTime"])
    assert operation["startTime"] <= operation["endTime"]
    assert "statusMessage" not in operation


def test_unknown_operation_is_not_found(sandbox: Sandbox) -> None:
    status, code, message = error_of(
        sandbox.ct.get_control_operation, operationIdentifier="00000000-0000-0000-0000-000000000000"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "The operation 00000000-0000-0000-0000-000000000000 does not exist."


# --------------------------------------------------------- get-enabled-control


def test_parameter_values_come_back_as_the_json_values_sent(sandbox: Sandbox) -> None:
    sent = [
        {"key": "AllowedRegions", "value": ["us-east-1", "ap-northeast-1"]},
        {"key": "ExemptedActions", "value": ["bedrock:InvokeModel", "bedrock:Converse"]},
        {"key": "ExemptedPrincipalArns", "value": ["arn:aws:iam::*:role/Admin"]},
    ]
    arn = sandbox.enable(parameters=sent)
    status, _, body = raw(sandbox.app, "/get-enabled-control", {"enabledControlIdentifier": arn})
    assert status == 200
    details = body["enabledControlDetails"]
    assert details["parameters"] == sent
    assert details["targetRegions"] == [{"name": "ap-northeast-1"}]
    assert details["statusSummary"]["status"] == "SUCCEEDED"
    assert details["driftStatusSummary"] == {"driftStatus": "IN_SYNC"}
    assert details["controlIdentifier"] == CONTROL
    assert details["targetIdentifier"] == sandbox.ous["Security"]["Arn"]


def test_get_enabled_control_of_an_unknown_arn_is_not_found(sandbox: Sandbox) -> None:
    arn = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/0123456789ABCDEF"
    status, code, message = error_of(sandbox.ct.get_enabled_control, enabledControlIdentifier=arn)
    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"The enabled control {arn} does not exist.",
    )


def test_get_enabled_control_of_a_malformed_arn_is_invalid(sandbox: Sandbox) -> None:
    status, code, _ = error_of(
        sandbox.ct.get_enabled_control, enabledControlIdentifier="arn:aws:s3:::some-bucket-name"
    )
    assert (status, code) == (400, "ValidationException")


def test_detaching_the_guardrail_out_of_band_shows_drift(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    policy_id = sandbox.app.controltower.guardrail_policy_ids()[arn]
    sandbox.org.detach_policy(PolicyId=policy_id, TargetId=sandbox.ous["Security"]["Id"])
    details = sandbox.ct.get_enabled_control(enabledControlIdentifier=arn)["enabledControlDetails"]
    assert details["driftStatusSummary"] == {"driftStatus": "DRIFTED"}


# ------------------------------------------------------ update-enabled-control


def test_update_changes_the_parameters_and_the_scp_in_place(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    before = {n for n in sandbox.scps("Security") if n.startswith("aws-guardrails-")}
    reply = sandbox.ct.update_enabled_control(
        enabledControlIdentifier=arn, parameters=params(REGIONS, ACTIONS)
    )
    operation = sandbox.wait(reply["operationIdentifier"])
    assert (operation["operationType"], operation["status"]) == (
        "UPDATE_ENABLED_CONTROL",
        "SUCCEEDED",
    )
    scps = sandbox.scps("Security")
    assert {n for n in scps if n.startswith("aws-guardrails-")} == before
    assert scps[before.pop()] == render_control_scp(REGIONS, ACTIONS, [])
    details = sandbox.ct.get_enabled_control(enabledControlIdentifier=arn)["enabledControlDetails"]
    assert details["parameters"] == params(REGIONS, ACTIONS)


def test_update_with_unchanged_parameters_is_rejected(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    status, code, message = error_of(
        sandbox.ct.update_enabled_control, enabledControlIdentifier=arn, parameters=params(REGIONS)
    )
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "The parameters are unchanged; an update must change at least one parameter."
    )


def test_update_without_allowed_regions_is_rejected(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    status, code, message = error_of(
        sandbox.ct.update_enabled_control,
        enabledControlIdentifier=arn,
        parameters=[{"key": "ExemptedActions", "value": ACTIONS}],
    )
    assert (status, code, message) == (
        400,
        "ValidationException",
        "Parameter AllowedRegions is required for CT.MULTISERVICE.PV.1.",
    )


def test_update_of_an_unknown_control_is_not_found(sandbox: Sandbox) -> None:
    arn = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/0123456789ABCDEF"
    status, code, _ = error_of(
        sandbox.ct.update_enabled_control, enabledControlIdentifier=arn, parameters=params(REGIONS)
    )
    assert (status, code) == (404, "ResourceNotFoundException")


def test_update_without_parameters_is_invalid(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    status, headers, body = raw(
        sandbox.app, "/update-enabled-control", {"enabledControlIdentifier": arn}
    )
    assert (status, headers["x-amzn-ErrorType"], body) == (
        400,
        "ValidationException",
        {"message": "parameters is required."},
    )


def test_update_while_an_operation_runs_conflicts(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    sandbox.app.controltower.operation_seconds = 30
    try:
        sandbox.ct.update_enabled_control(
            enabledControlIdentifier=arn, parameters=params(REGIONS, ACTIONS)
        )
        status, code, _ = error_of(
            sandbox.ct.update_enabled_control,
            enabledControlIdentifier=arn,
            parameters=params(["us-east-1"]),
        )
    finally:
        sandbox.app.controltower.operation_seconds = 0.05
    assert (status, code) == (409, "ConflictException")


# ------------------------------------------------------------- disable-control


def test_disable_control_detaches_and_deletes_the_guardrail(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    policy_id = sandbox.app.controltower.guardrail_policy_ids()[arn]
    reply = sandbox.ct.disable_control(
        controlIdentifier=CONTROL, targetIdentifier=sandbox.ous["Security"]["Arn"]
    )
    operation = sandbox.wait(reply["operationIdentifier"])
    assert (operation["operationType"], operation["status"]) == ("DISABLE_CONTROL", "SUCCEEDED")
    assert sandbox.scps("Security").keys() == {"FullAWSAccess"}
    policies = sandbox.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert policy_id not in {p["Id"] for p in policies}
    status, code, _ = error_of(sandbox.ct.get_enabled_control, enabledControlIdentifier=arn)
    assert (status, code) == (404, "ResourceNotFoundException")


def test_disable_control_by_enabled_control_arn(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    reply = sandbox.ct.disable_control(enabledControlIdentifier=arn)
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"
    assert sandbox.scps("Security").keys() == {"FullAWSAccess"}


def test_disable_control_that_is_not_enabled_is_not_found(sandbox: Sandbox) -> None:
    target = sandbox.ous["Security"]["Arn"]
    status, code, message = error_of(
        sandbox.ct.disable_control, controlIdentifier=CONTROL, targetIdentifier=target
    )
    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"The control {CONTROL} is not enabled on {target}.",
    )


def test_disable_control_survives_a_guardrail_deleted_out_of_band(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    policy_id = sandbox.app.controltower.guardrail_policy_ids()[arn]
    sandbox.org.detach_policy(PolicyId=policy_id, TargetId=sandbox.ous["Security"]["Id"])
    sandbox.org.delete_policy(PolicyId=policy_id)
    reply = sandbox.ct.disable_control(enabledControlIdentifier=arn)
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"


# ------------------------------------------------------- list-enabled-controls


def test_list_enabled_controls_by_target(sandbox: Sandbox) -> None:
    security = sandbox.enable("Security")
    workloads = sandbox.enable("Workloads")
    listed = sandbox.ct.list_enabled_controls(targetIdentifier=sandbox.ous["Workloads"]["Arn"])
    assert [c["arn"] for c in listed["enabledControls"]] == [workloads]
    assert listed["enabledControls"][0]["statusSummary"]["status"] == "SUCCEEDED"
    everything = sandbox.ct.list_enabled_controls()["enabledControls"]
    assert sorted(c["arn"] for c in everything) == sorted([security, workloads])


def test_list_enabled_controls_pages(sandbox: Sandbox) -> None:
    arns = sorted([sandbox.enable("Security"), sandbox.enable("Workloads")])
    first = sandbox.ct.list_enabled_controls(maxResults=1)
    second = sandbox.ct.list_enabled_controls(maxResults=1, nextToken=first["nextToken"])
    assert [c["arn"] for c in first["enabledControls"] + second["enabledControls"]] == arns
    assert "nextToken" not in second


def test_list_enabled_controls_of_a_missing_ou_is_not_found(sandbox: Sandbox) -> None:
    missing = sandbox.ous["Security"]["Arn"].rsplit("/", 1)[0] + "/ou-abcd-zzzzzzzz"
    status, code, _ = error_of(sandbox.ct.list_enabled_controls, targetIdentifier=missing)
    assert (status, code) == (404, "ResourceNotFoundException")


def test_list_control_operations_lists_every_operation(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    sandbox.wait(sandbox.ct.disable_control(enabledControlIdentifier=arn)["operationIdentifier"])
    operations = sandbox.ct.list_control_operations()["controlOperations"]
    assert [o["operationType"] for o in operations] == ["ENABLE_CONTROL", "DISABLE_CONTROL"]


# ---------------------------------------------------------------- the wire


def test_a_body_that_is_not_json_is_a_serialization_error(sandbox: Sandbox) -> None:
    status, headers, body = raw(sandbox.app, "/enable-control", b"{not json")
    assert (status, headers["x-amzn-ErrorType"], body) == (
        400,
        "SerializationException",
        {"message": "The body is not JSON."},
    )


def test_an_unknown_operation_signed_for_control_tower_is_a_typed_404(sandbox: Sandbox) -> None:
    authorization = (
        "AWS4-HMAC-SHA256 Credential=sandbox/20261127/ap-northeast-1/controltower/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    status, headers, body = raw(sandbox.app, "/reset-landing-zone", {}, Authorization=authorization)
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert body == {"message": "/reset-landing-zone is not an operation of this service."}


# -------------------------------------------------------------------- faults


def test_throttle_fault_answers_429_throttling(sandbox: Sandbox) -> None:
    sandbox.app.faults.arm(make_fault("throttle", "list-enabled-controls", 1))
    status, code, _ = error_of(sandbox.ct.list_enabled_controls)
    assert (status, code) == (429, "ThrottlingException")
    assert sandbox.ct.list_enabled_controls()["enabledControls"] == []


def test_conflict_fault_answers_409_and_changes_nothing(sandbox: Sandbox) -> None:
    sandbox.app.faults.arm(make_fault("conflict", "enable-control", 1))
    status, code, _ = error_of(
        sandbox.ct.enable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    assert (status, code) == (409, "ConflictException")
    assert sandbox.ct.list_enabled_controls()["enabledControls"] == []
    assert sandbox.app.faults.armed() == []


def test_fail_fault_ends_the_operation_failed_without_a_guardrail(sandbox: Sandbox) -> None:
    sandbox.app.faults.arm(make_fault("fail", "enable-control", 1))
    reply = sandbox.ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    operation = sandbox.wait(reply["operationIdentifier"])
    assert operation["status"] == "FAILED"
    assert operation["statusMessage"] == "The ENABLE_CONTROL operation failed (injected fault)."
    assert sandbox.scps("Security").keys() == {"FullAWSAccess"}
    status, code, _ = error_of(
        sandbox.ct.get_enabled_control, enabledControlIdentifier=reply["arn"]
    )
    assert (status, code) == (404, "ResourceNotFoundException")


def test_failed_update_keeps_the_previous_parameters_and_scp(sandbox: Sandbox) -> None:
    arn = sandbox.enable()
    sandbox.app.faults.arm(make_fault("fail", "update-enabled-control", 1))
    reply = sandbox.ct.update_enabled_control(
        enabledControlIdentifier=arn, parameters=params(REGIONS, ACTIONS)
    )
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "FAILED"
    details = sandbox.ct.get_enabled_control(enabledControlIdentifier=arn)["enabledControlDetails"]
    assert details["parameters"] == params(REGIONS)
    assert details["statusSummary"]["status"] == "FAILED"
    guardrails = [c for n, c in sandbox.scps("Security").items() if n.startswith("aws-guardrails-")]
    assert guardrails == [render_control_scp(REGIONS, [], [])]


# ------------------------------------------------------ pace and the quota


def test_the_hundred_and_first_operation_in_progress_is_refused_with_the_quota_error(
    sandbox: Sandbox,
) -> None:
    # AWS allows 100 control operations in progress; the limit is lowered to 2
    # here so that three OUs reach it. The refusal is HTTP 402
    # ServiceQuotaExceededException, as the EnableControl API reference lists.
    ct = sandbox.app.controltower
    assert ct.operations_limit == 100
    ct.operations_limit = 2
    ct.operation_seconds = 30
    first = sandbox.ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    sandbox.ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Workloads"]["Arn"],
        parameters=params(REGIONS),
    )
    status, headers, body = raw(
        sandbox.app,
        "/enable-control",
        {
            "controlIdentifier": CONTROL,
            "targetIdentifier": sandbox.ous["Research"]["Arn"],
            "parameters": params(REGIONS),
        },
    )
    assert (status, headers["x-amzn-ErrorType"]) == (402, "ServiceQuotaExceededException")
    assert body == {
        "message": "The request would cause a service quota to be exceeded. "
        "The limit is 2 concurrent operations."
    }
    assert error_of(
        sandbox.ct.disable_control,
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
    )[:2] == (409, "ConflictException")
    # Nothing was started for the refused call; once one operation ends, it goes through.
    assert len(sandbox.app.controltower.operations) == 2
    ct.set_operation_seconds(0.05)
    assert sandbox.wait(first["operationIdentifier"])["status"] == "SUCCEEDED"
    sandbox.enable("Research")


def test_update_and_disable_count_against_the_quota(sandbox: Sandbox) -> None:
    security = sandbox.enable("Security")
    workloads = sandbox.enable("Workloads")
    ct = sandbox.app.controltower
    ct.operations_limit = 1
    ct.operation_seconds = 30
    sandbox.ct.update_enabled_control(
        enabledControlIdentifier=security, parameters=params(["ap-northeast-1"])
    )
    assert error_of(
        sandbox.ct.update_enabled_control,
        enabledControlIdentifier=workloads,
        parameters=params(["ap-northeast-1"]),
    )[:2] == (402, "ServiceQuotaExceededException")
    assert error_of(sandbox.ct.disable_control, enabledControlIdentifier=workloads)[:2] == (
        402,
        "ServiceQuotaExceededException",
    )


def test_the_time_scale_shortens_operations_and_the_timings_record_the_polls(
    sandbox: Sandbox,
) -> None:
    # 60 simulated seconds at 600 simulated seconds per real second: 0.1 s.
    ct = sandbox.app.controltower
    ct.set_operation_seconds(60, time_scale=600)
    assert ct.real_operation_seconds == pytest.approx(0.1)
    reply = sandbox.ct.enable_control(
        controlIdentifier=CONTROL,
        targetIdentifier=sandbox.ous["Security"]["Arn"],
        parameters=params(REGIONS),
    )
    assert sandbox.wait(reply["operationIdentifier"])["status"] == "SUCCEEDED"
    token = sandbox.app.admin_token
    reply_admin = Client(sandbox.app).get(
        "/regionguard/operations",
        headers={"Host": "127.0.0.1", "X-Regionguard-Token": token},
    )
    timings = json.loads(reply_admin.get_data())
    assert (timings["operationSeconds"], timings["timeScale"], timings["operationsLimit"]) == (
        60,
        600,
        100,
    )
    (operation,) = timings["operations"]
    assert operation["operationIdentifier"] == reply["operationIdentifier"]
    assert operation["due"] == pytest.approx(operation["start"] + 0.1)
    assert operation["end"] >= operation["due"]
    # The last poll is the one that saw SUCCEEDED; every earlier one saw IN_PROGRESS.
    assert operation["observed"] == operation["polls"][-1]
    assert all(poll < operation["end"] for poll in operation["polls"][:-1])
