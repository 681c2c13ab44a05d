"""The scheduled workflow's steps: drift, the permits report and the webhook notice.

:func:`drift` (a plan with ``-detailed-exitcode`` and the Control Tower
drift status of each enabled control), :func:`permits` (the permits that
ended or end soon) and :func:`notify` (a webhook message). They reuse the
chain's stages of :mod:`regionguard.pipeline`.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from regionguard import local_sandbox
from regionguard.atomic import write_atomic
from regionguard.aws import Aws, AwsCallError
from regionguard.deployment import parameter_values, sent_parameters
from regionguard.environment import Environment
from regionguard.errors import FindingsError, InputError
from regionguard.inputfile import read_small_text
from regionguard.inputs import as_planned, permits_variable
from regionguard.loopback import is_loopback
from regionguard.markdown import md_line
from regionguard.orgfacts import OrgFacts
from regionguard.pipeline import (
    LOCK_TIMEOUT,
    RunOptions,
    Stages,
    run_initialized,
    terraform_for,
)
from regionguard.planfile import ATTACHMENT_TYPE, CONTROL_TYPE, POLICY_TYPE, field, parse_plan
from regionguard.registry import Account
from regionguard.review import review_plan
from regionguard.scp import read_scp
from regionguard.terraform import terminate_as_interrupt
from regionguard.words import count

__all__ = ["DRIFT_FILE", "PERMITS_FILE", "WEBHOOK_VARIABLE", "drift", "notify", "permits"]

DRIFT_FILE = "drift.md"
PERMITS_FILE = "permits.md"
WEBHOOK_VARIABLE = "REGIONGUARD_WEBHOOK_URL"
# Slack cuts a message's text at 40,000 characters; a notice stays far shorter.
WEBHOOK_MAX_CHARS = 3500


def drift(env: Environment, options: RunOptions) -> None:
    """Read-only: what Terraform would change, Control Tower's drift, expired permits.

    Writes ``drift.md``; FindingsError (exit 1) when anything drifted.
    """
    stages = Stages("drift", env)
    found: list[str] = []
    with stages.stage("inputs"):
        _ = env.settings
        env.check_single_source()
        env, lingering = as_planned(env)
        for account_id in lingering:
            found.append(
                f"permit of {account_id} ({env.account_names.get(account_id, '?')}) has expired "
                f"but {env.tfvars_path} still permits it: merge the pull request that "
                f"regenerates it (`make tfvars ENV={env.name}`) and apply"
            )
    endpoint = local_sandbox.start(env, options.sandbox_port) if env.has_sandbox else None
    tf = terraform_for(env, options, endpoint)
    saved = env.dir / "drift.tfplan"
    try:
        with terminate_as_interrupt():
            changed = run_initialized(
                tf,
                env,
                stages,
                "terraform plan -detailed-exitcode",
                lambda: tf.plan(
                    saved.resolve(),
                    variables=permits_variable(env, lingering),
                    lock_timeout=LOCK_TIMEOUT,
                    lock=options.state_lock,
                ),
            )
            with stages.stage("terraform show"):
                text = tf.show_json_text(saved.resolve())
    finally:
        saved.unlink(missing_ok=True)
    plan = parse_plan(text, f"terraform plan of {env.dir}")
    for item in plan.data.get("resource_drift") or []:
        change = item.get("change") if isinstance(item, dict) else None
        if isinstance(change, dict) and _differs(change.get("before"), change.get("after")):
            what = describe_drift(item, plan.ou_names, env.account_names)
            found.append(f"{item.get('address')}: changed outside Terraform: {what}")
    if changed:
        # Under the per_ou layout an account moved to another OU out of band
        # has lost its permit; the next apply moves the permit after it.
        for move in review_plan(plan, account_names=dict(env.account_names)).moves:
            found.append(f"account moved out of band: {move}")
        for change in plan.changes:
            if not change.unchanged:
                found.append(f"{change.address}: the next apply would {change.action} it")
    controls: list[tuple[str, str]] = []
    with stages.stage("Control Tower drift"):
        arns = [
            str((res.get("values") or {}).get("arn"))
            for res in plan.prior_resources()
            if res.get("type") == CONTROL_TYPE and (res.get("values") or {}).get("arn")
        ]
        facts = OrgFacts(Aws(env.settings.home_region, endpoint)) if arns else None
        for arn in sorted(arns):
            assert facts is not None
            try:
                status = facts.enabled_control_drift(arn)
            except AwsCallError as exc:
                status = f"unreadable ({exc})"
            controls.append((arn, status))
            if status != "IN_SYNC":
                found.append(f"enabled control {arn}: Control Tower drift status {status}")
    report = _drift_report(env, found, controls)
    write_atomic(env.dir / DRIFT_FILE, report)
    sys.stdout.write(report)
    if found:
        raise FindingsError(
            f"drift {env.dir}: {count(len(found), 'finding')}, see {env.dir / DRIFT_FILE}"
        )


def describe_drift(
    item: Mapping[str, Any], ou_names: Mapping[str, str], account_names: Mapping[str, str]
) -> str:
    """What changed outside Terraform, in the reviewer's terms: accounts, Regions, OUs.

    Values of a shape the provider does not write are described, never read as
    something else: "its attributes changed".
    """
    change = item.get("change")
    if not isinstance(change, dict):
        return "its attributes changed"
    before, after = change.get("before"), change.get("after")
    kind = item.get("type")
    if after is None:
        gone = {POLICY_TYPE: "the SCP", ATTACHMENT_TYPE: "the attachment"}.get(
            str(kind), "the resource"
        )
        where = _ou_label(before, ou_names) if kind == ATTACHMENT_TYPE else None
        return f"{gone} was removed" + (f" (from {where})" if where else "")
    if kind == POLICY_TYPE and isinstance(before, dict) and isinstance(after, dict):
        return _scp_drift(before, after, account_names)
    if kind == ATTACHMENT_TYPE and isinstance(after, dict):
        return f"the attachment of {_ou_label(after, ou_names)} changed"
    if kind == CONTROL_TYPE and isinstance(before, dict) and isinstance(after, dict):
        return _control_drift(before, after)
    return "its attributes changed"


def _ou_label(values: Any, ou_names: Mapping[str, str]) -> str:
    target = str(field(values, "target_id") or "?")
    name = ou_names.get(target)
    return f"{name} ({target})" if name else target


def _named(ids: Sequence[str], names: Mapping[str, str]) -> list[str]:
    return [f"{i} ({names[i]})" if i in names else i for i in ids]


def _listed(label: str, items: Sequence[str]) -> str:
    return f"{label} {', '.join(items)}"


def _scp_drift(
    before: Mapping[str, Any], after: Mapping[str, Any], names: Mapping[str, str]
) -> str:
    old = read_scp(str(before.get("content") or ""))
    new = read_scp(str(after.get("content") or ""))
    if new.error:
        return f"its document is not an SCP this project wrote ({new.error})"
    parts = []
    added = sorted(new.permitted_accounts - old.permitted_accounts)
    dropped = sorted(old.permitted_accounts - new.permitted_accounts)
    if added:
        parts.append(
            _listed(f"{count(len(added), 'account')} newly permitted:", _named(added, names))
        )
    if dropped:
        gone = f"{count(len(dropped), 'account')} no longer permitted:"
        parts.append(_listed(gone, _named(dropped, names)))
    regions_added = [r for r in new.allowed_regions if r not in old.allowed_regions]
    regions_dropped = [r for r in old.allowed_regions if r not in new.allowed_regions]
    if regions_added:
        parts.append(_listed("Regions allowed besides:", regions_added))
    if regions_dropped:
        parts.append(_listed("Regions no longer allowed:", regions_dropped))
    if before.get("name") != after.get("name"):
        parts.append(f"renamed {before.get('name')} -> {after.get('name')}")
    return "; ".join(parts) if parts else "its document changed (not its accounts nor Regions)"


def _control_drift(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    old = parameter_values(sent_parameters(before.get("parameters")))
    new = parameter_values(sent_parameters(after.get("parameters")))
    parts = []
    for key in sorted(set(old) | set(new)):
        gained = [v for v in new.get(key, ()) if v not in old.get(key, ())]
        lost = [v for v in old.get(key, ()) if v not in new.get(key, ())]
        if gained:
            parts.append(_listed(f"{key} gained", gained))
        if lost:
            parts.append(_listed(f"{key} lost", lost))
    return "; ".join(parts) if parts else "its attributes changed (not its parameters)"


def _differs(before: Any, after: Any) -> bool:
    """True when a refreshed object changed in more than null against empty (tags: null -> {})."""
    if isinstance(before, dict) and isinstance(after, dict):
        return any(_differs(before.get(k), after.get(k)) for k in set(before) | set(after))
    if before in (None, {}, [], "") and after in (None, {}, [], ""):
        return False
    return bool(before != after)


def _drift_report(
    env: Environment, found: Sequence[str], controls: Sequence[tuple[str, str]]
) -> str:
    verdict = f"**{count(len(found), 'finding')}**" if found else "none"
    lines = [f"## Drift of {env.name} on {env.today}: {verdict}", ""]
    lines += [f"- {md_line(f)}" for f in found]
    if found:
        lines.append("")
    lines += ["| Enabled control | Drift status |", "|---|---|"]
    lines += [f"| `{arn}` | {md_line(status)} |" for arn, status in controls]
    if not controls:
        lines.append("| (none in the state) | |")
    return "\n".join(lines) + "\n"


def permits(env: Environment, within: int) -> str:
    """Permits that have ended, and those ending within ``within`` days, as markdown.

    Writes ``permits.md`` and returns it.
    """
    if within < 0:
        raise InputError(f"--within {within}: give a number of days, 0 or more")
    registry = env.registry
    committed = set(env.committed.ids or ())
    expired = registry.expired(env.today)
    ending = registry.expiring(env.today, within)

    def item(account: Account) -> str:
        owner = account.owner or "?"
        return f"{account.id} ({account.name}), owner {owner}, expires {account.expires}"

    lines = [f"## Permits of {env.name} on {env.today}", ""]
    still = [a for a in expired if a.id in committed]
    if still:
        lines += [
            f"### Expired, still in {env.tfvars_path.name}: regenerate it "
            f"(`make tfvars ENV={env.name}`) and apply",
            "",
        ]
        lines += [f"- {md_line(item(a))}" for a in still]
        lines.append("")
    gone = [a for a in expired if a.id not in committed]
    if gone:
        lines += ["### Expired, left out of the generated file", ""]
        lines += [f"- {md_line(item(a))}" for a in gone]
        lines.append("")
    if ending:
        lines += [f"### Ending within {count(within, 'day')}: renew `expires` if they must go on"]
        lines.append("")
        for a in ending:
            assert a.expires is not None
            days = (a.expires - env.today).days
            when = "today" if days == 0 else f"in {count(days, 'day')}"
            lines.append(f"- {md_line(item(a))}: {when}")
        lines.append("")
    if not (expired or ending):
        lines += [f"No permit has expired or ends within {count(within, 'day')}.", ""]
    report = "\n".join(lines).rstrip("\n") + "\n"
    write_atomic(env.dir / PERMITS_FILE, report)
    return report


def notify(title: str, files: Sequence[Path], url: str) -> str:
    """POST {"text": ...} to the webhook ``url`` (the value of $REGIONGUARD_WEBHOOK_URL).

    Returns what to tell the user; FindingsError when the webhook refuses it.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
        # The URL is a secret: name the variable, never its value.
        raise InputError(
            f"${WEBHOOK_VARIABLE} is not an https:// URL; set it to the Slack or Teams "
            "incoming webhook URL"
        )
    text = title
    for path in files:
        try:
            text += "\n\n" + read_small_text(path)
        except InputError as exc:
            text += f"\n\n({path}: not readable: {str(exc).split(': ', 1)[-1]})"
    if len(text) > WEBHOOK_MAX_CHARS:
        text = text[: WEBHOOK_MAX_CHARS - 40] + "\n... (cut; the job summary has it all)"
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # scheme checked above
            status = response.status
    except urllib.error.HTTPError as exc:
        raise FindingsError(f"notify: the webhook refused the message (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FindingsError(f"notify: the webhook cannot be reached ({reason})") from None
    return f"notify: sent {len(text)} characters (HTTP {status})"
