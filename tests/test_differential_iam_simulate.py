"""Differential test: whole calls decided by regionguard and by @cloud-copilot/iam-simulate.

regionguard answers each call as ``explain`` does (:func:`regionguard.orgmodel.
scenario_from_env`, :func:`regionguard.request.build_request`, :func:`regionguard.request.decide`).
The other answer comes from an IAM simulator nobody here wrote, the npm package
``@cloud-copilot/iam-simulate`` (a development dependency, ``tests/differential``), asked
about every authorization of the call. The harness below builds those authorizations from
its own tables, each rule with the AWS page it follows, and imports nothing of
``regionguard.request``:

- the SCPs: those the environment renders (the Bedrock inference SCP and the
  CT.MULTISERVICE.PV.1 SCP, placed as the scenario places them, with FullAWSAccess on every
  level) and, with the landing-zone Region deny on, the text AWS publishes for GRREGIONDENY
  (``tests/differential/grregiondeny.published.json``) on every first-tier OU, its governed
  Regions the environment's allowed Regions;
- the IAM action of each Bedrock Runtime operation (OPERATIONS), the legs of a call through
  an inference profile (PROFILES and ``harness_legs``), the requests AWS never makes
  (``harness_refusal``) and the value of ``aws:PrincipalArn``.

Where the simulator does not model AWS, the harness says so and models it explicitly, and a
test pins the gap: SCPs do not affect the management account nor service-linked roles
(the harness asks with no SCP), and the simulator rejects the Region-less ARN of the global
foundation model (the harness asks about the model in us-east-1 with ``aws:RequestedRegion``
= ``unspecified``, which decides alike because every statement of every SCP set here has
``Resource: "*"``, asserted for each set).

The calls are drawn with a fixed seed: environments (envs/local, staging, prod and two made
for this test), accounts (permitted, not permitted, expired, the management account, a
nested OU, under the root), principals (role paths, IAM Identity Center, service-linked,
the Control Tower roles, users, root, sessions with their role path), every Bedrock Runtime
operation and other services' actions, Regions (allowed, not, opt-in, unspecified),
profiles (each geography, global, unlisted ones, direct calls) and the landing-zone Region
deny on and off. Every disagreement fails the test, naming the call and both answers.

Outside CI (no ``CI`` variable) the test is skipped, with the reason, when node or the npm
package is missing; in CI that is a failure. ``make differential-deps`` installs the package.
"""

from __future__ import annotations

import datetime
import json
import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import missing
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, Evaluator
from regionguard.orgmodel import Scenario, scenario_from_env
from regionguard.request import build_request, decide, load_profile_data

pytestmark = [pytest.mark.slow, pytest.mark.tools]

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "differential"
SIMULATE = NODE_DIR / "simulate.mjs"
PACKAGE = NODE_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json"
PUBLISHED_LANDING_ZONE = NODE_DIR / "grregiondeny.published.json"
TODAY = datetime.date(2026, 12, 6)
SEED = 20261206
CALLS_PER_SCENARIO = 110
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"

# ---------------------------------------------------------------- the harness's tables

INVOKE, STREAM = "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"
# Each Bedrock Runtime operation: (the IAM action AWS authorizes it as, the kind of resource
# it is authorized on, whether it takes an inference profile). The action is the one the
# operation's page names ("This operation requires permission for the ... action",
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_<Operation>.html), else
# the action of the same name ("Actions, resources, and condition keys for Amazon Bedrock",
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html,
# whose resource types give the resource kind). The operations that take a profile are those
# of "Use an inference profile in model invocation"
# (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-use.html).
OPERATIONS: dict[str, tuple[str, str | None, bool]] = {
    "bedrock:InvokeModel": (INVOKE, "model", True),
    "bedrock:InvokeModelWithResponseStream": (STREAM, "model", True),
    "bedrock:Converse": (INVOKE, "model", True),
    "bedrock:ConverseStream": (STREAM, "model", True),
    "bedrock:StartAsyncInvoke": (INVOKE, "model", False),
    "bedrock:InvokeModelWithBidirectionalStream": (INVOKE, "model", False),
    "bedrock:CountTokens": ("bedrock:CountTokens", "model", False),
    "bedrock:ApplyGuardrail": ("bedrock:ApplyGuardrail", "guardrail", False),
    "bedrock:GetAsyncInvoke": ("bedrock:GetAsyncInvoke", "async-invoke", False),
    "bedrock:ListAsyncInvokes": ("bedrock:ListAsyncInvokes", None, False),
    "bedrock:InvokeGuardrailChecks": ("bedrock:InvokeGuardrailChecks", None, False),
}
# Other services' actions (Service Authorization Reference): Regional ones the Region deny
# meets (one on Resource "*" only), ones its NotAction spares (iam:*, kms:*,
# s3:ListAllMyBuckets) and one it does not (s3:GetObject). (sts:GetCallerIdentity is left
# out: the simulator answers it without its SCP analysis, as AWS never denies it.)
OTHER_ACTIONS: dict[str, str | None] = {
    "ec2:RunInstances": "instance",
    "ec2:DescribeInstances": None,
    "s3:GetObject": "object",
    "s3:ListAllMyBuckets": None,
    "iam:CreateRole": "role",
    "kms:Decrypt": "key",
}


def resource_of(kind: str | None, region: str, account: str) -> str:
    """A resource of each kind in ``region``, as the Service Authorization Reference writes ARNs."""
    if kind is None:
        return "*"
    where = "" if region == "unspecified" else region
    return {
        "model": f"arn:aws:bedrock:{where}::foundation-model/{MODEL}",
        "guardrail": f"arn:aws:bedrock:{where}:{account}:guardrail/gr0123456789",
        "async-invoke": f"arn:aws:bedrock:{where}:{account}:async-invoke/ai0123456789",
        "instance": f"arn:aws:ec2:{where}:{account}:instance/i-0123456789abcdef0",
        "object": "arn:aws:s3:::example-bucket/reports/2026.csv",
        "role": f"arn:aws:iam::{account}:role/NewRole",
        "key": f"arn:aws:kms:{where}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    }[kind]


# Source Region -> destination Regions of system-defined profiles, from AWS's tables in
# "Supported Regions and models for inference profiles"
# (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html),
# read 2026-12-06; "commercial" is a global profile's "Commercial AWS Regions".
US3 = ["us-east-1", "us-east-2", "us-west-2"]
EU6 = ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]
APAC8 = [
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-4",
]  # fmt: skip
APAC9 = [*APAC8[:7], "ap-southeast-3", "ap-southeast-4"]
PROFILES: dict[str, dict[str, Any]] = {
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "ca-central-1": ["ca-central-1", *US3],
        "us-east-1": US3,
        "us-east-2": US3,
        "us-west-1": ["us-east-1", "us-east-2", "us-west-1", "us-west-2"],
        "us-west-2": US3,
    },
    "us.anthropic.claude-3-haiku-20240307-v1:0": {
        "us-east-1": ["us-east-1", "us-west-2"],
        "us-east-2": US3,
        "us-west-2": ["us-east-1", "us-west-2"],
    },
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "eu-central-1": EU6,
        "eu-central-2": [*EU6[:1], "eu-central-2", *EU6[1:]],
        "eu-north-1": EU6,
        "eu-south-1": EU6,
        "eu-south-2": EU6,
        "eu-west-1": EU6,
        "eu-west-2": [*EU6[:5], "eu-west-2", "eu-west-3"],
        "eu-west-3": EU6,
    },
    "apac.anthropic.claude-sonnet-4-20250514-v1:0": {
        "ap-east-2": ["ap-east-2", *APAC9],
        **{s: APAC8 for s in APAC8[:7]},
        "ap-southeast-3": APAC9,
        "ap-southeast-4": APAC8,
        "ap-southeast-5": [*APAC9, "ap-southeast-5"],
        "ap-southeast-7": [*APAC9, "ap-southeast-7"],
        "me-central-1": [*APAC9, "me-central-1"],
    },
    "jp.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "ap-northeast-1": ["ap-northeast-1", "ap-northeast-3"],
        "ap-northeast-3": ["ap-northeast-1", "ap-northeast-3"],
    },
    "au.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "ap-southeast-2": ["ap-southeast-2", "ap-southeast-4"],
        "ap-southeast-4": ["ap-southeast-2", "ap-southeast-4"],
    },
    "ca.amazon.nova-lite-v1:0": {
        "ca-central-1": ["ca-central-1", "ca-west-1"],
        "ca-west-1": ["ca-central-1", "ca-west-1"],
    },
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        s: "commercial"
        for s in [
            "af-south-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "me-central-1",
            "il-central-1",
        ]
    },
    "global.anthropic.claude-sonnet-4-20250514-v1:0": {
        s: "commercial"
        for s in ["ap-northeast-1", "eu-west-1", "us-east-1", "us-east-2", "us-west-2"]
    },
}
# A profile AWS's table does not list reaches, at most, every Region the table's profiles of
# its geography reach (sources and destinations): the call is allowed only if all are.
UNLISTED = {
    "us.example.unlisted-v1:0": [
        "ca-central-1", "ca-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    ],
    "eu.example.unlisted-v1:0": [
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
        "eu-west-2", "eu-west-3", "il-central-1",
    ],
    "global.example.unlisted-v1:0": "commercial",
}  # fmt: skip

COMMERCIAL = [
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
]  # fmt: skip
# Regions an account must opt in to ("Enable or disable AWS Regions in your account").
OPT_IN = [
    "af-south-1",
    "ap-east-2",
    "ap-southeast-5",
    "il-central-1",
    "me-central-1",
    "mx-central-1",
]


def profile_sources(profile: str) -> list[str]:
    if profile in PROFILES:
        return list(PROFILES[profile])
    reach = UNLISTED[profile]
    return COMMERCIAL if reach == "commercial" else list(reach)


def harness_refusal(call: Call) -> str | None:
    """Why AWS never makes the request, or None when it does."""
    _, _, takes_profile = OPERATIONS.get(call.operation, (call.operation, None, False))
    if call.profile is not None:
        if not takes_profile:
            return "the operation does not take an inference profile"
        if call.region not in profile_sources(call.profile):
            return "the profile is not called from this Region"
    elif call.region == "unspecified" and not takes_profile:
        # aws:RequestedRegion is unspecified only for the global model of a global profile
        # call ("Global cross-Region inference",
        # https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html).
        return "only the global model's request is Region-less"
    return None


def harness_legs(call: Call) -> list[tuple[str, str, str | None]]:
    """(aws:RequestedRegion, resource, bedrock:InferenceProfileArn) of each authorization.

    A direct call is one authorization in its Region. A call through a profile is authorized
    on the profile in the source Region, on the foundation model in the source Region and in
    every destination Region, or for a global profile on the Region-less global model with
    aws:RequestedRegion = unspecified ("Geographic cross-Region inference",
    https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html;
    "Global cross-Region inference"); bedrock:InferenceProfileArn is present on the model
    legs only (AWS is silent about the profile's own authorization).
    """
    if call.profile is None:
        return [(call.region, call.resource, None)]
    model = call.profile.split(".", 1)[1]
    profile_arn = f"arn:aws:bedrock:{call.region}:{call.account}:inference-profile/{call.profile}"
    out: list[tuple[str, str, str | None]] = [
        (call.region, profile_arn, None),
        (call.region, f"arn:aws:bedrock:{call.region}::foundation-model/{model}", profile_arn),
    ]
    reach = (
        PROFILES[call.profile][call.region] if call.profile in PROFILES else UNLISTED[call.profile]
    )
    if reach == "commercial":
        out.append(("unspecified", f"arn:aws:bedrock:::foundation-model/{model}", profile_arn))
    else:
        for region in reach:
            if region != call.region:
                out.append(
                    (region, f"arn:aws:bedrock:{region}::foundation-model/{model}", profile_arn)
                )
    return out


# aws:PrincipalArn is the role's ARN with its path for a role and its sessions, the user's
# ARN for a user, the root user's for root ("AWS global condition context keys",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
# (kind, role path or None, name)
PRINCIPALS: list[tuple[str, str | None, str]] = [
    ("role", "/", "WorkloadRole"),
    ("role", "/team/app/", "Deployer"),
    ("role", "/aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_Admin_0123456789abcdef"),
    ("role", "/aws-reserved/sso.amazonaws.com/eu-west-1/", "AWSReservedSSO_ReadOnly_0123456789"),
    ("role", "/aws-service-role/bedrock.amazonaws.com/", "AWSServiceRoleForAmazonBedrock"),
    ("role", "/", "AWSControlTowerExecution"),
    ("role", "/", "aws-controltower-ConfigRecorderRole"),
    ("role", "/", "aws-controltower-ForwardSnsNotificationRole"),
    ("role", "/", "AWSControlTower_VPCFlowLogsRole"),
    ("role", "/", "BreakGlass"),
    ("session", "/team/app/", "Deployer"),
    ("session", "/aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_Admin_0123456789abcdef"),
    ("user", None, "alice"),
    ("root", None, "root"),
]


@dataclass(frozen=True)
class Call:
    scenario: str
    account: str
    principal: tuple[str, str | None, str]
    operation: str
    region: str
    profile: str | None
    resource: str

    def caller(self) -> tuple[str, str | None]:
        """(the ARN regionguard is given, the role path it is told)."""
        kind, path, name = self.principal
        if kind == "role":
            return f"arn:aws:iam::{self.account}:role{path}{name}", None
        if kind == "session":
            return f"arn:aws:sts::{self.account}:assumed-role/{name}/differential", path
        if kind == "user":
            return f"arn:aws:iam::{self.account}:user/{name}", None
        return f"arn:aws:iam::{self.account}:root", None

    def principal_arn(self) -> str:
        kind, path, name = self.principal
        if kind in ("role", "session"):
            return f"arn:aws:iam::{self.account}:role{path}{name}"
        return self.caller()[0]

    def service_linked(self) -> bool:
        # Service-linked roles live under /aws-service-role/ ("Using service-linked roles",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
        return self.principal[1] is not None and self.principal[1].startswith("/aws-service-role/")


# ---------------------------------------------------------------- the environments

SYNTHETIC_REGISTRY = """\
accounts:
  - {id: "310000000001", name: permitted, ou: Workloads,
     bedrock_cross_region_inference: true}
  - {id: "310000000002", name: nested-permitted, ou: Workloads/ML/Deep,
     bedrock_cross_region_inference: true}
  - {id: "310000000003", name: not-permitted, ou: Workloads,
     bedrock_cross_region_inference: false}
  - {id: "310000000004", name: expired, ou: Sandbox, bedrock_cross_region_inference: true,
     expires: "2026-01-31"}
  - {id: "310000000005", name: root-permitted, bedrock_cross_region_inference: true}
  - {id: "310000000006", name: root-not-permitted, bedrock_cross_region_inference: false}
  - {id: "310000000007", name: security, ou: Security, bedrock_cross_region_inference: false}
"""
SYNTHETIC_SETTINGS = {
    # The seed's Sonnet 4.5 case: every destination of the us. profile allowed; global
    # inference denied to everyone; outside the allowed Regions only through profiles.
    "us-three": """\
management_account_id = "319999999999"
home_region = "us-east-1"
allowed_regions = ["us-east-1", "us-east-2", "us-west-2"]
exempted_actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
exempted_principal_arns = []
global_inference = "none"
require_inference_profile = true
""",
    # An exempted principal pattern (IAM Identity Center administrators) and Europe.
    "eu-sso": """\
management_account_id = "319999999999"
home_region = "eu-west-1"
allowed_regions = ["eu-west-1", "eu-central-1", "ap-northeast-1"]
exempted_actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
exempted_principal_arns = [
  "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*",
]
allow_wildcard_principal_exemptions = true
""",
}  # fmt: skip


def make_environments(folder: Path) -> dict[str, Environment]:
    """envs/local, staging and prod as committed, and two environments made here."""
    out = {}
    for name in ("local", "staging", "prod"):
        target = folder / name
        shutil.copytree(
            ROOT / "envs" / name,
            target,
            ignore=shutil.ignore_patterns(".terraform*", "tfplan*", "tests"),
        )
        out[name] = Environment(target, TODAY)
    for name, settings in SYNTHETIC_SETTINGS.items():
        target = folder / name
        shutil.copytree(
            ROOT / "envs" / "prod",
            target,
            ignore=shutil.ignore_patterns(
                ".terraform*", "tfplan*", "*.tfvars*", "accounts.yaml", "expectations.yaml"
            ),
        )
        (target / "terraform.tfvars").write_text(settings)
        (target / "accounts.yaml").write_text(SYNTHETIC_REGISTRY)
        env = Environment(target, TODAY)
        permitted = sorted(env.registry.permitted_ids(TODAY))
        (target / "accounts.auto.tfvars.json").write_text(
            json.dumps({"bedrock_permitted_account_ids": permitted}, indent=2) + "\n"
        )
        out[name] = Environment(target, TODAY)
    return out  # fmt: skip


# ---------------------------------------------------------------- the simulator


def simulator_or_skip() -> str:
    """node's path; skip outside CI, fail in CI, when node or the package is missing."""
    node = shutil.which("node")
    lacking = None
    if node is None:
        lacking = "node is not on PATH; install Node.js"
    elif not PACKAGE.is_file():
        lacking = (
            "@cloud-copilot/iam-simulate is not installed in tests/differential; "
            "run `make differential-deps` (npm ci)"
        )
    if lacking is not None:
        missing(f"differential test against iam-simulate: {lacking}")
    assert node is not None
    return node


def run_simulator(node: str, messages: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ask every question in one node process; answers by question id."""
    stdin = "".join(json.dumps(m) + "\n" for m in messages)
    done = subprocess.run(
        [node, str(SIMULATE)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return {a["id"]: a for a in answers}


def published_landing_zone_deny(governed_regions: Sequence[str]) -> dict[str, Any]:
    """GRREGIONDENY as AWS prints it, with Control Tower's governed Regions filled in."""
    policy: dict[str, Any] = json.loads(PUBLISHED_LANDING_ZONE.read_text())["policy"]
    policy["Statement"][0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"] = list(
        governed_regions
    )
    return policy


def scp_levels(path: AccountPath, landing_zone: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The SCPs of each level of the account's path, root first, for the simulator."""
    levels: list[dict[str, Any]] = []
    for depth, node in enumerate(path.levels):
        policies: list[dict[str, Any]] = [
            {"name": p.name, "policy": json.loads(p.document)} for p in node.policies
        ]
        if landing_zone is not None and depth == 1 and node.kind == "ou":
            policies.append(
                {"name": "aws-guardrails-landing-zone-region-deny", "policy": landing_zone}
            )
        levels.append({"orgIdentifier": node.node_id or path.account_id, "policies": policies})
    for level in levels:
        for entry in level["policies"]:
            statements = entry["policy"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                # The global-model workaround below holds only while no SCP names a resource.
                assert statement.get("Resource") == "*", (entry["name"], statement)
    return levels


# ---------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    calls: int = 0
    agreements: int = 0
    disagreements: list[str] = field(default_factory=list)
    covered: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class World:
    name: str
    env: Environment
    landing_zone: bool
    scenario: Scenario

    def accounts(self) -> list[str]:
        return [a.account_id for a in self.scenario.org.accounts]


def draw_call(rng: random.Random, world: World) -> Call:
    account = rng.choice(world.accounts())
    principal = rng.choice(PRINCIPALS)
    allowed = list(world.scenario.allowed_regions)
    if rng.random() < 0.42:
        profile = rng.choice([*PROFILES, *UNLISTED])
        operation = rng.choice(
            [
                "bedrock:InvokeModel",
                "bedrock:InvokeModelWithResponseStream",
                "bedrock:Converse",
                "bedrock:ConverseStream",
            ]
            * 6
            + [*OPERATIONS][4:]
        )
        region = (
            rng.choice(profile_sources(profile)) if rng.random() < 0.9 else rng.choice(COMMERCIAL)
        )
        return Call(world.name, account, principal, operation, region, profile, "*")
    operation = rng.choice([*OPERATIONS, *OPERATIONS, *OTHER_ACTIONS])
    pick = rng.random()
    if pick < 0.3:
        region = rng.choice(allowed)
    elif pick < 0.75:
        region = rng.choice(COMMERCIAL)
    elif pick < 0.88:
        region = rng.choice(OPT_IN)
    else:
        region = "unspecified"
    kind = OPERATIONS[operation][1] if operation in OPERATIONS else OTHER_ACTIONS[operation]
    if region == "unspecified" and kind not in ("model", None):
        kind = None
    resource = resource_of(kind, region, account)
    return Call(world.name, account, principal, operation, region, None, resource)


def ours(world: World, evaluator: Evaluator, call: Call) -> str:
    """regionguard's answer: ALLOW, DENY, or REFUSED (an input error, exit 2)."""
    caller, role_path = call.caller()
    try:
        request = build_request(
            call.account,
            call.operation,
            call.region,
            principal_arn=caller,
            role_path=role_path,
            inference_profile=call.profile,
            resource=call.resource,
            profile_data=load_profile_data(world.env.dir),
        )
        return decide(evaluator, request).effect
    except InputError:
        return "REFUSED"


def compare(node: str, worlds: Sequence[World], calls_per_world: int, seed: int) -> Comparison:
    rng = random.Random(seed)
    result = Comparison()
    messages: list[dict[str, Any]] = []
    questions: dict[tuple[Any, ...], str] = {}
    drawn: list[tuple[World, Evaluator, Call, str, list[str] | None]] = []
    for world in worlds:
        evaluator = Evaluator(world.scenario.org)
        landing_zone = (
            published_landing_zone_deny(world.env.settings.allowed_regions)
            if world.landing_zone
            else None
        )
        sets: dict[str, str] = {}
        for path in world.scenario.org.accounts:
            set_id = f"{world.name}/{path.account_id}"
            messages.append({"op": "scps", "id": set_id, "levels": scp_levels(path, landing_zone)})
            sets[path.account_id] = set_id
        for _ in range(calls_per_world):
            call = draw_call(rng, world)
            answer = ours(world, evaluator, call)
            if harness_refusal(call) is not None:
                drawn.append((world, evaluator, call, answer, None))
                continue
            # SCPs do not affect the management account nor service-linked roles ("Service
            # control policies (SCPs)", https://docs.aws.amazon.com/organizations/latest/
            # userguide/orgs_manage_policies_scps.html); the simulator applies whatever SCPs
            # it is given, so it is given none.
            exempt = (
                call.account == world.scenario.org.management_account_id or call.service_linked()
            )
            scps = None if exempt else sets[call.account]
            ids: list[str] = []
            for region, resource, profile_arn in harness_legs(call):
                context: dict[str, Any] = {
                    "aws:RequestedRegion": region,
                    "aws:PrincipalArn": call.principal_arn(),
                    "aws:PrincipalAccount": call.account,
                }
                if profile_arn is not None:
                    context["bedrock:InferenceProfileArn"] = profile_arn
                if resource.startswith("arn:aws:bedrock:::"):
                    # The simulator has no resource type for the Region-less global model
                    # (test_the_simulator_rejects_the_regionless_global_model): the same model
                    # in us-east-1 decides alike, every SCP statement being Resource "*".
                    resource = resource.replace("arn:aws:bedrock:::", "arn:aws:bedrock:us-east-1::")
                action = OPERATIONS.get(call.operation, (call.operation, None, False))[0]
                key = (
                    scps,
                    call.principal_arn(),
                    action,
                    resource,
                    json.dumps(context, sort_keys=True),
                )
                if key not in questions:
                    questions[key] = f"q{len(questions)}"
                    messages.append({
                        "op": "ask", "id": questions[key], "scps": scps,
                        "principal": call.principal_arn(), "action": action, "resource": resource,
                        "account": call.account, "context": context,
                    })  # fmt: skip
                ids.append(questions[key])
            drawn.append((world, evaluator, call, answer, ids))
    answers = run_simulator(node, messages)
    for world, _, call, answer, asked in drawn:
        result.calls += 1
        if asked is None:
            theirs = "REFUSED"
            why = harness_refusal(call) or ""
        else:
            legs = [answers[i] for i in asked]
            errors = [a for a in legs if "error" in a or a["ignoredContextKeys"]]
            if errors:
                result.disagreements.append(f"{call}: the simulator could not answer: {errors}")
                continue
            # The SCPs' verdict: what regionguard decides (identity, resource and key policies
            # are out of its scope; the simulator's overall verdict adds them).
            theirs = "ALLOW" if all(a["scp"] == "Allowed" for a in legs) else "DENY"
            why = ", ".join(
                f"{leg[0]} {a['scp']}" for leg, a in zip(harness_legs(call), legs, strict=True)
            )
        if answer == theirs:
            result.agreements += 1
        else:
            result.disagreements.append(
                f"{call}: regionguard {answer}, iam-simulate {theirs} ({why})"
            )
        result.covered.update(
            [
                f"scenario:{world.name}/lz={world.landing_zone}",
                f"operation:{call.operation}",
                f"principal:{call.principal[0]}:{call.principal[2]}",
                f"profile:{call.profile}",
                f"answer:{theirs}",
                f"region:{region_class(call.region, world.scenario.allowed_regions)}",
                "account:management"
                if call.account == world.scenario.org.management_account_id
                else f"account:{world.scenario.account_names.get(call.account, call.account)}",
            ]
        )  # fmt: skip
    return result


def region_class(region: str, allowed: Sequence[str]) -> str:
    if region == "unspecified":
        return "unspecified"
    if region in OPT_IN:
        return "opt-in"
    return "allowed" if region in allowed else "not-allowed"


@pytest.fixture(scope="module")
def node() -> str:
    return simulator_or_skip()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[World]]:
    envs = make_environments(tmp_path_factory.mktemp("differential"))
    yield [
        World(f"{name}", env, landing_zone, scenario_from_env(env, landing_zone_deny=landing_zone))
        for name, env in envs.items()
        for landing_zone in (False, True)
    ]


def test_regionguard_agrees_with_iam_simulate_on_every_generated_call(
    node: str, worlds: list[World]
) -> None:
    result = compare(node, worlds, CALLS_PER_SCENARIO, SEED)
    shown = "\n".join(result.disagreements[:25])
    assert not result.disagreements, (
        f"{len(result.disagreements)} of {result.calls} calls disagree:\n{shown}"
    )
    assert result.calls >= 1000
    covered = result.covered
    assert {f"operation:{o}" for o in [*OPERATIONS, *OTHER_ACTIONS]} <= set(covered)
    assert {f"profile:{p}" for p in [*PROFILES, *UNLISTED, None]} <= set(covered)
    assert {f"principal:{k}:{n}" for k, _, n in PRINCIPALS} <= set(covered)
    assert {"region:unspecified", "region:opt-in", "region:allowed", "region:not-allowed"} <= set(
        covered
    )
    assert {"answer:ALLOW", "answer:DENY", "answer:REFUSED"} <= set(covered)
    assert len([k for k in covered if k.startswith("scenario:")]) == 10
    names = {
        "permitted",
        "nested-permitted",
        "not-permitted",
        "expired",
        "root-permitted",
        "root-not-permitted",
        "management",
    }
    assert {f"account:{n}" for n in names} <= set(covered)  # fmt: skip


# ---------------------------------------------------------------- where the simulator is not AWS

DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
}
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def ask(node: str, principal: str, resource: str, account: str = "111111111111") -> dict[str, Any]:
    levels = [{"orgIdentifier": "r-root", "policies": [{"name": "deny", "policy": DENY_ALL}]}]
    answers = run_simulator(
        node,
        [
            {"op": "scps", "id": "S", "levels": levels},
            {
                "op": "ask", "id": "q", "scps": "S", "principal": principal, "action": INVOKE,
                "resource": resource, "account": account,
                "context": {"aws:RequestedRegion": "unspecified", "aws:PrincipalArn": principal},
            },
        ],
    )  # fmt: skip
    return answers["q"]


def test_the_simulator_rejects_the_regionless_global_model(node: str) -> None:
    # Why the harness asks about the global leg on a Regional model ARN.
    answer = ask(
        node, "arn:aws:iam::111111111111:role/R", f"arn:aws:bedrock:::foundation-model/{MODEL}"
    )
    assert answer["error"] == {"message": "no.resource.types"}


def test_the_simulator_applies_scps_to_service_linked_roles(node: str) -> None:
    # Why the harness gives it no SCP for them: AWS does not apply SCPs to service-linked roles.
    role = (
        "arn:aws:iam::111111111111:role/aws-service-role/bedrock.amazonaws.com/"
        "AWSServiceRoleForAmazonBedrock"
    )
    answer = ask(node, role, f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}")
    assert (answer["scp"], answer["result"]) == ("ExplicitlyDenied", "ExplicitlyDenied")


def test_the_simulator_has_no_notion_of_the_management_account(node: str) -> None:
    # The request carries no organization, so the SCPs it is given apply to any account:
    # the harness gives none for the management account, which SCPs do not affect.
    answer = ask(
        node,
        "arn:aws:iam::319999999999:role/R",
        f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}",
        "319999999999",
    )
    assert (answer["scp"], answer["result"]) == ("ExplicitlyDenied", "ExplicitlyDenied")
