"""The plan review as text (the terminal), markdown (the pull-request comment) or JSON.

The markdown goes to two places on GitHub, each with a size limit:
:func:`comment_markdown` is the pull-request comment, within
:data:`COMMENT_LIMIT` characters (the verdict and the counts first, then as
much of the review as fits, then where the whole review is);
:func:`fit_markdown` with :data:`SUMMARY_LIMIT` bytes keeps the review
within a step's job summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from regionguard.markdown import md_escape
from regionguard.review import (
    AccountRef,
    ControlDiff,
    OuRef,
    ParameterDiff,
    PlanReview,
    ScpDiff,
    Widening,
)
from regionguard.words import count

__all__ = [
    "COMMENT_LIMIT",
    "FORMATS",
    "SUMMARY_LIMIT",
    "TEXT_LIST_LIMIT",
    "comment_markdown",
    "fit_markdown",
    "format_review",
    "to_json",
    "utf8_size",
]

FORMATS = ("text", "markdown", "json")

# In text (the terminal), a list longer than this shows its first items, how
# many there are in all, and where every one of them is; markdown and JSON
# keep every item.
TEXT_LIST_LIMIT = 20
# In text, a finding's message is cut after this many characters.
TEXT_MESSAGE_LIMIT = 600
# GitHub refuses a pull-request (issue) comment whose body is over 65,536
# characters ("Body is too long (maximum is 65536 characters)", the REST
# API's answer; GitHub's documentation does not state the number). The
# workflow puts a marker and a heading of its own before the review, so the
# review's comment stays within this many characters.
COMMENT_LIMIT = 60_000
# A step's job summary is at most 1 MiB; above it GitHub does not upload it
# and writes an error annotation instead (GitHub Docs, "Workflow commands for
# GitHub Actions", "Step isolation and limits"). Bytes of UTF-8, with room left.
SUMMARY_LIMIT = 1_000_000
# Where the whole review is, when the text shortens a list.
FULL_REVIEW = "the markdown or JSON review (--format markdown or --format json)"


def format_review(review: PlanReview, fmt: str, *, full_review: str = FULL_REVIEW) -> str:
    """The review as ``text``, ``markdown`` or ``json``.

    ``full_review`` says where every item of a list the text shortens is
    (``regionguard plan`` names its ``tfplan.md``).
    """
    if fmt == "json":
        return json.dumps(to_json(review), indent=2, sort_keys=False) + "\n"
    if fmt == "markdown":
        return _markdown(review)
    return _text(review, full_review)


def _first(items: Sequence[str], noun: str, where: str) -> list[str]:
    """The first TEXT_LIST_LIMIT items, then how many more there are and where they all are."""
    if len(items) <= TEXT_LIST_LIMIT:
        return list(items)
    return [*items[:TEXT_LIST_LIMIT], _more(len(items), noun, where)]


def _widening_text(w: Widening, where: str) -> str:
    """A widening change; one on many OUs names the first TEXT_LIST_LIMIT of them."""
    if w.change is None or len(w.ous) <= TEXT_LIST_LIMIT:
        return w.message
    shown = ", ".join(w.ous[:TEXT_LIST_LIMIT])
    return f"{w.change} on {len(w.ous):,} OUs: {shown} {_more(len(w.ous), 'OU', where)}"


def _clipped(message: str, where: str) -> str:
    """A message of a finding, cut after TEXT_MESSAGE_LIMIT characters (one naming many OUs)."""
    if len(message) <= TEXT_MESSAGE_LIMIT:
        return message
    return (
        f"{message[:TEXT_MESSAGE_LIMIT]} … ({len(message):,} characters; the whole of it in "
        f"{where})"
    )


def _more(total: int, noun: str, where: str) -> str:
    rest = total - TEXT_LIST_LIMIT
    return (
        f"… and {rest:,} more {noun}{'' if rest == 1 else 's'} "
        f"({total:,} in all; every one in {where})"
    )


def to_json(review: PlanReview) -> dict[str, Any]:
    def accounts(items: Iterable[AccountRef]) -> list[dict[str, Any]]:
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
                # What the SCP is after apply, whole (a new SCP's description).
                "after": None
                if s.after is None
                else {
                    "permitted": accounts(s.permitted),
                    "allowed_regions": list(s.after.allowed_regions),
                    "guarded_actions": list(s.after.guarded_actions),
                    "global_inference_profiles": s.after.global_option,
                    "out_of_region_calls": s.after.profile_option,
                },
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


def _scp_lines(s: ScpDiff, where: str | None = None) -> list[str]:
    """Plain sentences describing one SCP change (shared by text and markdown).

    With ``where`` (the text), the lists of accounts changed are shortened
    to TEXT_LIST_LIMIT and say where every one is.
    """
    lines: list[str] = []
    if s.after_unknown:
        lines.append("Content: unknown until apply (cannot be reviewed)")
    if s.action == "delete":
        lines.append("Deleted: its denies stop applying")

    def accts(items: tuple[AccountRef, ...], limit: int | None = None) -> str:
        shown = items if limit is None else items[:limit]
        text = ", ".join(a.label() for a in shown)
        if len(shown) < len(items):
            text += f" … and {len(items) - len(shown):,} more ({len(items):,} in all"
            text += f"; every one in {where})" if where and limit != LISTED_ACCOUNTS else ")"
        return text

    changed = None if where is None else TEXT_LIST_LIMIT
    if s.accounts_added:
        lines.append(f"Accounts newly permitted: {accts(s.accounts_added, changed)}")
    if s.accounts_removed:
        lines.append(f"Accounts no longer permitted: {accts(s.accounts_removed, changed)}")
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


def _text(review: PlanReview, where: str) -> str:
    out: list[str] = [f"Plan review of {review.source}: gate {_verdict(review)}"]

    def listed(items: Sequence[str], noun: str, indent: str = "  ") -> None:
        out.extend(indent + line for line in _first(items, noun, where))

    listed(
        [f"REASON: {_clipped(f.message, where)} [{f.rule_id}]" for f in review.reasons], "reason"
    )
    if review.widening:
        out.append("Widening changes (review before approving):")
        listed(
            [f"WIDENING: {_widening_text(w, where)}" for w in review.widening], "widening change"
        )
    if review.layout:
        out.append(f"SCP layout: {review.layout}")
    listed([f"PERMIT MOVES: {m}" for m in review.moves], "permit move", "")
    out.append(f"Resources: {_resource_counts(review)}")
    addresses = [f"{a}: {address}" for a, items in review.resources.items() for address in items]
    listed(addresses, "resource")
    for s in review.scps[:TEXT_LIST_LIMIT]:
        out.append(f"SCP {s.address} ({s.action}):")
        out.extend(f"  {line}" for line in _scp_lines(s, where))
    if len(review.scps) > TEXT_LIST_LIMIT:
        out.append(_more(len(review.scps), "SCP", where))
    if review.controls:
        out.append("Region deny control per OU:")
        listed([f"{c.ou_label()} ({c.action}): {_control_text(c)}" for c in review.controls], "OU")
    not_covered = review.not_covered
    if not_covered is not None and len(not_covered) > TEXT_LIST_LIMIT:
        shown = _ou_list(not_covered[:TEXT_LIST_LIMIT])
        out.append(f"First-tier OUs not covered: {shown} {_more(len(not_covered), 'OU', where)}")
    else:
        out.append(f"First-tier OUs not covered: {_ou_list(not_covered)}")
    if review.unknowns:
        out.append("Unknown until apply (cannot be reviewed):")
        listed([f"{u.address}: {u.attribute}" for u in review.unknowns], "unknown value")
    listed(
        [f"WARNING: {_clipped(f.message, where)} [{f.rule_id}]" for f in review.warnings], "warning"
    )
    if review.drift:
        out.append("Changed outside Terraform:")
        listed(review.drift, "change")
    return "\n".join(out) + "\n"


def _ou_list(ous: tuple[OuRef, ...] | None) -> str:
    if ous is None:
        return "unknown (the plan has no untargeted_first_tier_ous output)"
    return ", ".join(o.label() + (f": {o.reason}" if o.reason else "") for o in ous) or "none"


def _section(out: list[str], title: str, items: Sequence[str]) -> None:
    """A heading and a list of ``items``, each line a ``- `` item; nothing when there is none."""
    if items:
        out += [f"### {title}", "", *(f"- {item}" for item in items), ""]


def _markdown(review: PlanReview) -> str:
    out: list[str] = []
    status = "passed" if review.passed else "**failed**"
    out.append(f"## Plan review: gate {status}")
    out.append("")
    if not review.has_changes:
        out.append("No changes to the Region deny control, the SCP or their attachments.")
        out.append("")
    _section(
        out,
        f"Gate failed: {count(len(review.reasons), 'reason')}",
        [f"{md_escape(f.message)} `{f.rule_id}`" for f in review.reasons],
    )
    _section(
        out,
        "Widening changes: review before approving",
        [f":warning: {md_escape(w.message)}" for w in review.widening],
    )
    if review.layout:
        out.append(f"**SCP layout**: {md_escape(review.layout)}")
        out.append("")
    _section(out, "Permits moving with their accounts", [md_escape(m) for m in review.moves])
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
        _section(
            out, f"SCP `{s.address}` ({s.action})", [md_escape(line) for line in _scp_lines(s)]
        )
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
    _section(
        out,
        "Unknown until apply",
        [f"`{u.address}`: {md_escape(u.attribute)}" for u in review.unknowns],
    )
    _section(out, "Warnings", [f"{md_escape(f.message)} `{f.rule_id}`" for f in review.warnings])
    _section(out, "Changed outside Terraform", [md_escape(d) for d in review.drift])
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- size limits


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8: how GitHub counts a job summary."""
    return len(text.encode("utf-8"))


def _prefix(line: str, room: int, size: Callable[[str], int]) -> str:
    """The longest beginning of ``line`` that takes at most ``room`` (by ``size``)."""
    if size is len:
        return line[: max(room, 0)]
    return line.encode("utf-8")[: max(room, 0)].decode("utf-8", errors="ignore")


# A line longer than this that does not fit is cut inside; a shorter one is left out whole.
LONG_LINE = 2_000


def fit_markdown(text: str, limit: int, cut_note: str, *, size: Callable[[str], int] = len) -> str:
    """``text`` whole when it fits in ``limit``; else its first lines and then ``cut_note``.

    Cut at a line boundary (a line longer than LONG_LINE is cut inside), an
    open ``<details>`` block closed, so the result renders as the
    beginning of the review. ``size`` counts characters (``len``) or bytes
    (:func:`utf8_size`).
    """
    if size(text) <= limit:
        return text
    closing = "\n\n</details>"
    budget = limit - size(cut_note) - size(closing) - size("\n\n\n")
    kept: list[str] = []
    used = 0
    open_details = False
    for line in text.split("\n"):
        cost = size(line) + 1
        if used + cost > budget:
            if cost > LONG_LINE:  # one long list on a line: show its beginning
                kept.append(_prefix(line, budget - used - size(" …") - 1, size) + " …")
            break
        kept.append(line)
        used += cost
        if line.startswith("<details"):
            open_details = True
        elif line.startswith("</details>"):
            open_details = False
    out = "\n".join(kept).rstrip("\n")
    if open_details:
        out += closing
    return out + "\n\n" + cut_note + "\n"


def _summary_lines(review: PlanReview) -> list[str]:
    """The verdict and the counts: what a comment starts with, whatever its size."""
    status = "passed" if review.passed else "**failed**"
    lines = [f"## Plan review: gate {status}", ""]
    if review.reasons:
        rules: dict[str, int] = {}
        for f in review.reasons:
            rules[f.rule_id] = rules.get(f.rule_id, 0) + 1
        by_rule = ", ".join(f"{n} `{rule}`" for rule, n in rules.items())
        lines.append(f"- **Gate**: failed, {count(len(review.reasons), 'reason')}: {by_rule}")
    else:
        lines.append("- **Gate**: passed")
    lines.append(f"- **Widening changes**: {len(review.widening):,}")
    lines.append(f"- **Resources**: {_resource_counts(review)}")
    lines.append(f"- **Warnings**: {len(review.warnings):,}")
    return lines


def comment_markdown(
    review: PlanReview | None,
    markdown: str,
    *,
    notes: Sequence[str] = (),
    full_review: str,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The pull-request comment: within ``limit`` characters at any size of the plan.

    With a ``review``: its verdict and counts and the ``notes`` first, then
    the review's ``markdown`` (the gate's reasons first) as far as it fits,
    then a line saying where the whole review is (``full_review``). Without
    one (the chain stopped before the plan was reviewed): ``markdown`` as far
    as it fits.
    """
    if review is None:
        text = markdown
    else:
        head = _summary_lines(review)
        head += [f"- {n}" for n in notes]
        body = markdown.split("\n", 1)[1] if markdown.startswith("## ") else markdown
        text = "\n".join(head) + "\n" + body
    note = (
        f"**This comment shows the beginning of the review** ({limit:,} characters at most); "
        f"the whole review is in {full_review}."
    )
    return fit_markdown(text, limit, note)
