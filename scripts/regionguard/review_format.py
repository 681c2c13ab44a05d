"""The plan review as text (the terminal), markdown (the pull-request comment) or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from regionguard.markdown import md_escape
from regionguard.review import (
    Account,
    ControlDiff,
    OuRef,
    ParameterDiff,
    PlanReview,
    ScpDiff,
)
from regionguard.words import count

__all__ = ["FORMATS", "format_review", "to_json"]

FORMATS = ("text", "markdown", "json")


def format_review(review: PlanReview, fmt: str) -> str:
    """The review as ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(to_json(review), indent=2, sort_keys=False) + "\n"
    if fmt == "markdown":
        return _markdown(review)
    return _text(review)


def to_json(review: PlanReview) -> dict[str, Any]:
    def accounts(items: Iterable[Account]) -> list[dict[str, Any]]:
        return [{"id": a.id, "name": a.name} for a in items]

    return {
        "plan": review.source,
        "format_version": review.format_version,
        "terraform_version": review.terraform_version,
        "home_region": review.home_region,
        "gate": {
            "passed": review.passed,
            "allow_destroy": review.allow_destroy,
            "reasons": [f.to_dict() for f in review.reasons],
        },
        "widening": [{"subject": w.subject, "message": w.message} for w in review.widening],
        "resources": {k: list(v) for k, v in review.resources.items()},
        "scps": [
            {
                "address": s.address,
                "action": s.action,
                "content_unknown": s.after_unknown,
                "accounts_added": accounts(s.accounts_added),
                "accounts_removed": accounts(s.accounts_removed),
                "regions_added": list(s.regions_added),
                "regions_removed": list(s.regions_removed),
                "actions_added": list(s.actions_added),
                "actions_removed": list(s.actions_removed),
                "options": [{"option": o, "before": b, "after": a} for o, b, a in s.options],
                "statements_added": list(s.statements_added),
                "statements_removed": list(s.statements_removed),
                "size_before": s.before.size if s.before else None,
                "size_after": s.after.size if s.after else None,
                "size_limit": s.size_limit,
                "headroom": s.headroom,
                "room_for_accounts": s.room_for_accounts,
            }
            for s in review.scps
        ],
        "controls": [
            {
                "address": c.address,
                "action": c.action,
                "ou_id": c.ou_id,
                "ou_name": c.ou_name,
                "unknown": list(c.after_unknown),
                "parameters": [
                    {
                        "key": p.key,
                        "before": None if p.before is None else list(p.before),
                        "after": None if p.after is None else list(p.after),
                        "added": list(p.added),
                        "removed": list(p.removed),
                    }
                    for p in c.parameters
                ],
            }
            for c in review.controls
        ],
        "coverage": {
            "not_covered": None
            if review.not_covered is None
            else [{"id": o.id, "name": o.name, "reason": o.reason} for o in review.not_covered],
            "newly_not_covered": [{"id": o.id, "name": o.name} for o in review.newly_not_covered],
        },
        "unknown": [{"address": u.address, "attribute": u.attribute} for u in review.unknowns],
        "warnings": [f.to_dict() for f in review.warnings],
        "drift": list(review.drift),
        "layout": review.layout,
        "moves": list(review.moves),
    }


def _verdict(review: PlanReview) -> str:
    if review.passed:
        return "passed"
    return f"FAILED ({count(len(review.reasons), 'reason')})"


def _resource_counts(review: PlanReview) -> str:
    parts = [
        f"{len(review.resources.get(a, ()))} to {a}"
        for a in ("create", "update", "replace", "delete")
    ]
    extra = [
        f"{len(v)} to {k}"
        for k, v in review.resources.items()
        if k not in ("create", "update", "replace", "delete") and v
    ]
    return ", ".join(parts + extra)


# A new SCP's whole list is cut after this many accounts; changes are listed in full.
LISTED_ACCOUNTS = 25


def _scp_lines(s: ScpDiff) -> list[str]:
    """Plain sentences describing one SCP change (shared by text and markdown)."""
    lines: list[str] = []
    if s.after_unknown:
        lines.append("Content: unknown until apply (cannot be reviewed)")
    if s.action == "delete":
        lines.append("Deleted: its denies stop applying")

    def accts(items: tuple[Account, ...], limit: int | None = None) -> str:
        shown = items if limit is None else items[:limit]
        text = ", ".join(a.label() for a in shown)
        if len(shown) < len(items):
            text += f" … and {len(items) - len(shown):,} more ({len(items):,} in all)"
        return text

    if s.accounts_added:
        lines.append(f"Accounts newly permitted: {accts(s.accounts_added)}")
    if s.accounts_removed:
        lines.append(f"Accounts no longer permitted: {accts(s.accounts_removed)}")
    if s.before is None and s.after is not None:
        everyone = "none (the deny applies to every account)"
        lines.append(f"Accounts permitted: {accts(s.permitted, LISTED_ACCOUNTS) or everyone}")
        lines.append(f"Allowed Regions: {', '.join(s.after.allowed_regions) or 'none'}")
        lines.append(f"Guarded actions: {', '.join(s.after.guarded_actions) or 'none'}")
        lines.append(f"Global inference profiles allowed for: {s.after.global_option}")
        lines.append(f"Inference profile for out-of-Region calls: {s.after.profile_option}")
    if s.regions_added:
        lines.append(f"Regions added: {', '.join(s.regions_added)}")
    if s.regions_removed:
        lines.append(f"Regions removed: {', '.join(s.regions_removed)}")
    if s.actions_added:
        lines.append(f"Actions added: {', '.join(s.actions_added)}")
    if s.actions_removed:
        lines.append(f"Actions removed: {', '.join(s.actions_removed)}")
    for label, old, new in s.options:
        lines.append(f"{label}: {old} → {new}")
    if s.statements_added:
        lines.append(f"Statements added: {', '.join(s.statements_added)}")
    if s.statements_removed:
        lines.append(f"Statements removed: {', '.join(s.statements_removed)}")
    if s.after is None:
        state = "unknown until apply" if s.after_unknown else "none after apply"
        size = f"Size: {state} (limit {s.size_limit:,} characters)"
    else:
        before = f"{s.before.size:,} → " if s.before else ""
        size = f"Size: {before}{s.after.size:,} of {s.size_limit:,} characters"
        room = s.size_limit - s.after.size
        if room < 0:
            size += f" ({-room:,} over the limit)"
        elif s.room_for_accounts is not None:
            more = count(s.room_for_accounts, "more account", thousands=True)
            size += f" ({room:,} left: room for about {more})"
        else:
            size += f" ({room:,} left)"
    lines.append(size)
    return lines


def _parameter_text(p: ParameterDiff) -> str:
    if p.unknown:
        return f"{p.key} unknown until apply"
    if p.after is None:
        return f"{p.key} removed (was {', '.join(p.before or ()) or 'empty'})"
    if p.before is None:
        return f"{p.key} = {', '.join(p.after) or '(empty)'}"
    parts = [f"+{v}" for v in p.added] + [f"-{v}" for v in p.removed]
    return f"{p.key} {' '.join(parts)}" if parts else f"{p.key} reordered"


def _control_text(c: ControlDiff) -> str:
    if c.action in ("delete", "forget"):
        return (
            "Region deny control removed"
            if c.action == "delete"
            else "leaves Terraform's management"
        )
    items = [_parameter_text(p) for p in c.parameters]
    if c.after_unknown and not items:
        items = [f"{', '.join(c.after_unknown)} unknown until apply"]
    return "; ".join(items) or "no parameter change"


def _text(review: PlanReview) -> str:
    out: list[str] = [f"Plan review of {review.source}: gate {_verdict(review)}"]
    for f in review.reasons:
        out.append(f"  REASON: {f.message} [{f.rule_id}]")
    if review.widening:
        out.append("Widening changes (review before approving):")
        out.extend(f"  WIDENING: {w.message}" for w in review.widening)
    if review.layout:
        out.append(f"SCP layout: {review.layout}")
    out.extend(f"PERMIT MOVES: {m}" for m in review.moves)
    out.append(f"Resources: {_resource_counts(review)}")
    for action in review.resources:
        for address in review.resources[action]:
            out.append(f"  {action}: {address}")
    for s in review.scps:
        out.append(f"SCP {s.address} ({s.action}):")
        out.extend(f"  {line}" for line in _scp_lines(s))
    if review.controls:
        out.append("Region deny control per OU:")
        out.extend(f"  {c.ou_label()} ({c.action}): {_control_text(c)}" for c in review.controls)
    out.append(f"First-tier OUs not covered: {_ou_list(review.not_covered)}")
    if review.unknowns:
        out.append("Unknown until apply (cannot be reviewed):")
        out.extend(f"  {u.address}: {u.attribute}" for u in review.unknowns)
    for f in review.warnings:
        out.append(f"  WARNING: {f.message} [{f.rule_id}]")
    if review.drift:
        out.append("Changed outside Terraform:")
        out.extend(f"  {d}" for d in review.drift)
    return "\n".join(out) + "\n"


def _ou_list(ous: tuple[OuRef, ...] | None) -> str:
    if ous is None:
        return "unknown (the plan has no untargeted_first_tier_ous output)"
    return ", ".join(o.label() + (f": {o.reason}" if o.reason else "") for o in ous) or "none"


def _markdown(review: PlanReview) -> str:
    out: list[str] = []
    status = "passed" if review.passed else "**failed**"
    out.append(f"## Plan review: gate {status}")
    out.append("")
    if not review.has_changes:
        out.append("No changes to the Region deny control, the SCP or their attachments.")
        out.append("")
    if review.reasons:
        out.append(f"### Gate failed: {count(len(review.reasons), 'reason')}")
        out.append("")
        out.extend(f"- {md_escape(f.message)} `{f.rule_id}`" for f in review.reasons)
        out.append("")
    if review.widening:
        out.append("### Widening changes: review before approving")
        out.append("")
        out.extend(f"- :warning: {md_escape(w.message)}" for w in review.widening)
        out.append("")
    if review.layout:
        out.append(f"**SCP layout**: {md_escape(review.layout)}")
        out.append("")
    if review.moves:
        out.append("### Permits moving with their accounts")
        out.append("")
        out.extend(f"- {md_escape(m)}" for m in review.moves)
        out.append("")
    if review.has_changes:
        out.append("### Resources")
        out.append("")
        out.append("| Action | Count |")
        out.append("|---|---:|")
        for action, addresses in review.resources.items():
            if action in ("create", "update", "replace", "delete") or addresses:
                out.append(f"| {action} | {len(addresses)} |")
        out.append("")
        out.append("<details><summary>Addresses</summary>")
        out.append("")
        for action, addresses in review.resources.items():
            out.extend(f"- {action} `{a}`" for a in addresses)
        out.append("")
        out.append("</details>")
        out.append("")
    for s in review.scps:
        out.append(f"### SCP `{s.address}` ({s.action})")
        out.append("")
        out.extend(f"- {md_escape(line)}" for line in _scp_lines(s))
        out.append("")
    if review.controls:
        out.append("### Region deny control per OU")
        out.append("")
        out.append("| OU | Action | Parameters |")
        out.append("|---|---|---|")
        for c in review.controls:
            out.append(
                f"| {md_escape(c.ou_label())} | {c.action} | {md_escape(_control_text(c))} |"
            )
        out.append("")
    out.append("### Coverage")
    out.append("")
    out.append(f"- First-tier OUs not covered: {md_escape(_ou_list(review.not_covered))}")
    if review.newly_not_covered:
        newly = ", ".join(o.label() for o in review.newly_not_covered)
        out.append(f"- Newly not covered: {md_escape(newly)}")
    out.append("")
    if review.unknowns:
        out.append("### Unknown until apply")
        out.append("")
        out.extend(f"- `{u.address}`: {md_escape(u.attribute)}" for u in review.unknowns)
        out.append("")
    if review.warnings:
        out.append("### Warnings")
        out.append("")
        out.extend(f"- {md_escape(f.message)} `{f.rule_id}`" for f in review.warnings)
        out.append("")
    if review.drift:
        out.append("### Changed outside Terraform")
        out.append("")
        out.extend(f"- {md_escape(d)}" for d in review.drift)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
