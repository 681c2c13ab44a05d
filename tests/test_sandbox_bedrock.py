"""The seed, end to end on the sandbox's Bedrock runtime endpoint.

The sandbox server runs in this process on 127.0.0.1 (port 0: a free one)
and is shut down after each test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from regionguard.controlscp import render_control_scp
from regionguard.orgmodel import CONTROL_SCP_NAME
from regionguard.sandbox.seed import LANDING_ZONE_POLICY_NAME, organizations_backend
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import SandboxSettings, load_sandbox_settings
from regionguard.settings import load_settings

pytestmark = pytest.mark.sandbox

ENV = Path(__file__).resolve().parent.parent / "envs" / "local"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PERMITTED, OTHER = "100000000001", "100000000002"


@pytest.fixture
def sandbox() -> Iterator[tuple[str, SandboxSettings]]:
    settings = load_sandbox_settings(ENV, landing_zone_region_deny=True)
    server = serve(SandboxApp(settings), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", settings
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def client(endpoint: str, account: str, region: str = "us-east-2") -> object:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=account,
        aws_secret_access_key="sandbox",
    )


def stream(endpoint: str, account: str, region: str = "us-east-2") -> str:
    reply = client(endpoint, account, region).invoke_model_with_response_stream(  # type: ignore[attr-defined]
        modelId=MODEL, body=b'{"messages": []}'
    )
    return "".join(event["chunk"]["bytes"].decode() for event in reply["body"])


def migrate(settings: SandboxSettings) -> None:
    """What `make apply` and the console step do: the OU control and the SCP on every
    first-tier OU, then the landing-zone Region deny turned off."""
    env = load_settings(ENV)
    backend = organizations_backend(settings)
    from regionguard.render import render_scp

    scp = backend.create_policy(
        Name="bedrock-cross-region-inference", Description="", Type="SERVICE_CONTROL_POLICY",
        Content=render_scp(env, ["100000000001", "100000000003"]),
    )["Policy"]["PolicySummary"]["Id"]  # fmt: skip
    control = backend.create_policy(
        Name=CONTROL_SCP_NAME, Description="", Type="SERVICE_CONTROL_POLICY",
        Content=render_control_scp(env.allowed_regions, env.exempted_actions, []),
    )["Policy"]["PolicySummary"]["Id"]  # fmt: skip
    lz = next(p for p in backend.policies if p.name == LANDING_ZONE_POLICY_NAME)
    assert backend.org is not None
    for ou in backend.ou:
        if (
            getattr(ou, "parent_id", None) == backend.org.root_id
            and ou.type == "ORGANIZATIONAL_UNIT"
        ):
            backend.attach_policy(PolicyId=scp, TargetId=ou.id)
            backend.attach_policy(PolicyId=control, TargetId=ou.id)
            backend.detach_policy(PolicyId=lz.id, TargetId=ou.id)


SEED_MESSAGE = (
    "User: arn:aws:sts::{account}:assumed-role/WorkloadRole/sandbox is not authorized to "
    "perform: bedrock:InvokeModelWithResponseStream on resource: "
    f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an explicit deny in a service "
    "control policy"
)


def test_landing_zone_deny_fails_the_permitted_account_in_us_east_2_as_in_the_seed(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, _ = sandbox
    with pytest.raises(ClientError) as info:
        stream(endpoint, PERMITTED)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert info.value.response["Error"]["Message"] == SEED_MESSAGE.format(account=PERMITTED)


def test_after_the_migration_the_permitted_account_streams_in_us_east_2(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    assert (
        stream(endpoint, PERMITTED)
        == '{"type": "text", "text": "Hello from the regionguard sandbox."}'
    )


def test_after_the_migration_another_account_still_fails_in_us_east_2(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    with pytest.raises(ClientError) as info:
        stream(endpoint, OTHER)
    assert info.value.response["Error"]["Message"] == SEED_MESSAGE.format(account=OTHER)


def test_after_the_migration_any_account_converses_in_an_allowed_region(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    reply = client(endpoint, OTHER, "us-east-1").converse(  # type: ignore[attr-defined]
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )
    assert reply["output"]["message"]["content"] == [
        {"text": "Hello from the regionguard sandbox."}
    ]


def invoke_as(endpoint: str, principal_arn: str, region: str = "us-east-2") -> dict[str, object]:
    """InvokeModel in ``region`` by ``principal_arn`` (the sandbox's caller header)."""
    bedrock = client(endpoint, principal_arn.split(":")[4], region)

    def add_principal(request: object, **_: object) -> None:
        request.headers["X-Regionguard-Principal-Arn"] = principal_arn  # type: ignore[attr-defined]

    bedrock.meta.events.register("before-sign.bedrock-runtime.*", add_principal)  # type: ignore[attr-defined]
    reply: dict[str, object] = bedrock.invoke_model(modelId=MODEL, body=b"{}")  # type: ignore[attr-defined]
    return reply


# The landing-zone Region deny the sandbox attaches is AWS's GRREGIONDENY, whose only
# exempted principal is arn:aws:iam::*:role/AWSControlTowerExecution (AWS Control Tower
# Controls Reference Guide, "Deny access to AWS based on the requested AWS Region",
# https://docs.aws.amazon.com/controltower/latest/controlreference/primary-region-deny-policy.html).
def test_the_sandbox_landing_zone_deny_spares_the_control_tower_execution_role(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, _ = sandbox
    reply = invoke_as(endpoint, f"arn:aws:iam::{OTHER}:role/AWSControlTowerExecution")
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200  # type: ignore[index]


@pytest.mark.parametrize(
    "role", ["aws-controltower-ConfigRecorderRole", "AWSControlTower_VPCFlowLogsRole"]
)
def test_the_sandbox_landing_zone_deny_denies_the_other_control_tower_roles(
    sandbox: tuple[str, SandboxSettings], role: str
) -> None:
    endpoint, _ = sandbox
    principal = f"arn:aws:iam::{OTHER}:role/{role}"
    with pytest.raises(ClientError) as info:
        invoke_as(endpoint, principal)
    assert info.value.response["Error"]["Message"] == (
        f"User: {principal} is not authorized to perform: bedrock:InvokeModel on resource: "
        f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an explicit deny in a "
        "service control policy"
    )


# Through a us. profile called from an allowed Region (us-east-1), as the seed's caller did:
# the call is authorized on the profile in us-east-1 and on the model in every US Region
# it may reach ("Geographic cross-Region inference",
# https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html),
# and fails on us-east-2 with AWS's words.
US_PROFILE = f"us.{MODEL}"


def stream_profile(endpoint: str, account: str, region: str = "us-east-1") -> str:
    reply = client(endpoint, account, region).invoke_model_with_response_stream(  # type: ignore[attr-defined]
        modelId=US_PROFILE, body=b'{"messages": []}'
    )
    return "".join(event["chunk"]["bytes"].decode() for event in reply["body"])


def test_the_seed_through_a_us_profile_from_us_east_1_fails_in_us_east_2(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, _ = sandbox
    with pytest.raises(ClientError) as info:
        stream_profile(endpoint, PERMITTED)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert info.value.response["Error"]["Message"] == SEED_MESSAGE.format(account=PERMITTED)


def test_after_the_migration_the_permitted_account_streams_through_the_us_profile(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    assert (
        stream_profile(endpoint, PERMITTED)
        == '{"type": "text", "text": "Hello from the regionguard sandbox."}'
    )


def test_after_the_migration_another_account_fails_through_the_us_profile_in_us_east_2(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    with pytest.raises(ClientError) as info:
        stream_profile(endpoint, OTHER)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert info.value.response["Error"]["Message"] == SEED_MESSAGE.format(account=OTHER)


def test_converse_through_the_us_profile_is_denied_as_invoke_model(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    # Converse is authorized as bedrock:InvokeModel ("Carry out a conversation with the
    # Converse API operations", Bedrock User Guide).
    endpoint, settings = sandbox
    migrate(settings)
    with pytest.raises(ClientError) as info:
        client(endpoint, OTHER, "us-east-1").converse(  # type: ignore[attr-defined]
            modelId=US_PROFILE, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
    assert info.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{OTHER}:assumed-role/WorkloadRole/sandbox is not authorized to "
        "perform: bedrock:InvokeModel on resource: "
        f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an explicit deny in a "
        "service control policy"
    )


def test_a_us_profile_called_from_london_is_a_validation_error(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, _ = sandbox
    with pytest.raises(ClientError) as info:
        stream_profile(endpoint, PERMITTED, "eu-west-2")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    # The source Regions of AWS's table for the profile ("Supported Regions and models for
    # inference profiles").
    assert info.value.response["Error"]["Message"].startswith(
        f"inference profile '{US_PROFILE}' is called from ca-central-1, us-east-1, us-east-2, "
        "us-west-1, us-west-2 (AWS's table for the profile: "
    )
    assert info.value.response["Error"]["Message"].endswith("), not eu-west-2")


def test_the_environment_s_profile_override_routes_the_sandbox_s_calls(
    tmp_path: Path, local_env_copier: Callable[..., Path]
) -> None:
    # A us. profile that, for this environment, only reaches us-east-1 (an
    # allowed Region): the landing-zone deny no longer meets any leg.
    env_dir = local_env_copier(tmp_path)
    (env_dir / "inference_profiles.yaml").write_text(
        f"profiles:\n  {US_PROFILE}:\n    us-east-1: [us-east-1]\n"
    )
    settings = load_sandbox_settings(env_dir, landing_zone_region_deny=True)
    server = serve(SandboxApp(settings), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        assert stream_profile(endpoint, PERMITTED).startswith('{"type": "text"')
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# StartAsyncInvoke is authorized as bedrock:InvokeModel ("This operation requires permission
# for the bedrock:InvokeModel action",
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_StartAsyncInvoke.html),
# on the model its body names.
def start_async(endpoint: str, account: str) -> dict[str, object]:
    reply: dict[str, object] = client(endpoint, account).start_async_invoke(  # type: ignore[attr-defined]
        modelId=MODEL,
        modelInput={},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://sandbox/out/"}},
    )
    return reply


def test_start_async_invoke_is_allowed_as_invoke_model_for_the_permitted_account(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    reply = start_async(endpoint, PERMITTED)
    assert reply["invocationArn"] == f"arn:aws:bedrock:us-east-2:{PERMITTED}:async-invoke/sandbox"


def test_start_async_invoke_is_denied_as_invoke_model_for_another_account(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    endpoint, settings = sandbox
    migrate(settings)
    with pytest.raises(ClientError) as info:
        start_async(endpoint, OTHER)
    assert info.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{OTHER}:assumed-role/WorkloadRole/sandbox is not authorized to "
        "perform: bedrock:InvokeModel on resource: "
        f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an explicit deny in a "
        "service control policy"
    )


def test_list_async_invokes_outside_the_allowed_regions_is_denied_by_the_control(
    sandbox: tuple[str, SandboxSettings],
) -> None:
    # bedrock:ListAsyncInvokes has no resource type (Resource *) and is not among the
    # control's ExemptedActions: CT.MULTISERVICE.PV.1 denies it in us-east-2 to everyone.
    endpoint, settings = sandbox
    migrate(settings)
    with pytest.raises(ClientError) as info:
        client(endpoint, PERMITTED).list_async_invokes()  # type: ignore[attr-defined]
    assert info.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{PERMITTED}:assumed-role/WorkloadRole/sandbox is not authorized to "
        "perform: bedrock:ListAsyncInvokes on resource: * with an explicit deny in a service "
        "control policy"
    )
    allowed = client(endpoint, PERMITTED, "us-east-1").list_async_invokes()  # type: ignore[attr-defined]
    assert allowed["asyncInvokeSummaries"] == []
