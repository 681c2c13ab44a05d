"""The scheduled workflow's steps: `regionguard drift`, `permits` and `notify`.

``drift`` (a plan with ``-detailed-exitcode`` and the Control Tower drift
status of each enabled control), ``permits`` (the permits that ended or end
soon) and ``notify`` (a webhook message). They reuse the chain's stages of
:mod:`regionguard.pipeline`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.environment import Environment
from regionguard.envs import add_env_arguments, add_today_argument, environment_from_args
from regionguard.errors import FindingsError, InputError
from regionguard.pipeline import (
    LOCK_TIMEOUT,
    Stages,
    as_planned,
    common_arguments,
    init_terraform,
    md_line,
    permits_variable,
    sandbox_endpoint,
    terraform_for,
)
from regionguard.planfile import parse_plan
from regionguard.registry import EXPIRY_WARNING_DAYS, Account
from regionguard.terraform import terminate_as_interrupt

__all__ = ["register"]

DRIFT_FILE = "drift.md"


PERMITS_FILE = "permits.md"


WEBHOOK_VARIABLE = "REGIONGUARD_WEBHOOK_URL"


# Slack cuts a message's text at 40,000 characters; a notice stays far shorter.
WEBHOOK_MAX_CHARS = 3500


def register(subparsers: Any) -> None:
    drift = subparsers.add_parser(
        "drift",
        help="read-only: changes outside Terraform, Control Tower drift, expired permits",
        description=(
            "terraform plan -detailed-exitcode of the environment (nothing saved), the "
            "driftStatusSummary of each control the state enables (GetEnabledControl) and any "
            "expired permit the committed tfvars still holds; writes envs/<env>/drift.md. "
            "Exit 0 no drift, 1 drift found, 2 bad input."
        ),
    )
    common_arguments(drift)
    add_today_argument(drift)
    drift.set_defaults(func=run_drift)

    permits = subparsers.add_parser(
        "permits",
        help="permits that have expired or end within N days (markdown report)",
        description=(
            "Report the permits of the registry that have expired (and whether the committed "
            "accounts.auto.tfvars.json still holds them) and those ending within --within days; "
            "writes envs/<env>/permits.md. Exit 0 (a report: `make tfvars` regenerates the file "
            "and `regionguard drift` fails on an expired permit still deployed), 2 bad input."
        ),
    )
    add_env_arguments(permits)
    permits.add_argument(
        "--within",
        type=int,
        default=EXPIRY_WARNING_DAYS,
        metavar="DAYS",
        help=f"report permits ending within DAYS days (default {EXPIRY_WARNING_DAYS})",
    )
    add_today_argument(permits)
    permits.set_defaults(func=run_permits)

    notify = subparsers.add_parser(
        "notify",
        help=f"post a file to the webhook in ${WEBHOOK_VARIABLE} (Slack or Teams)",
        description=(
            f'POST {{"text": TITLE and the file}} to the URL in ${WEBHOOK_VARIABLE} '
            "(a Slack or Teams incoming webhook). Without the variable, say so and exit 0. "
            "Exit 1 when the webhook refuses the message, 2 bad input."
        ),
    )
    notify.add_argument("--title", required=True, help="first line of the message")
    notify.add_argument("--file", type=Path, action="append", default=[], help="file to include")
    notify.set_defaults(func=run_notify)


def run_drift(args: argparse.Namespace) -> int:
    """Read-only: what Terraform would change, Control Tower's drift, expired permits."""
    from regionguard.planfile import CONTROL_TYPE
    from regionguard.preflight import Aws, AwsCallError

    env = environment_from_args(args)
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
    endpoint = sandbox_endpoint(env, args.sandbox_port) if env.has_sandbox else None
    tf = terraform_for(env, args, endpoint)
    saved = env.dir / "drift.tfplan"
    try:
        with terminate_as_interrupt():
            with stages.stage("terraform init"):
                init_terraform(tf, env)
            with stages.stage("terraform plan -detailed-exitcode"):
                changed = tf.plan(
                    saved.resolve(),
                    variables=permits_variable(env, lingering),
                    lock_timeout=LOCK_TIMEOUT,
                )
            with stages.stage("terraform show"):
                text = tf.show_json_text(saved.resolve())
    finally:
        saved.unlink(missing_ok=True)
    plan = parse_plan(text, f"terraform plan of {env.dir}")
    for item in plan.data.get("resource_drift") or []:
        change = item.get("change") if isinstance(item, dict) else None
        if isinstance(change, dict) and _differs(change.get("before"), change.get("after")):
            found.append(f"{item.get('address')}: changed outside Terraform")
    if changed:
        from regionguard.review import review_plan

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
        aws = Aws(env.settings.home_region, endpoint) if arns else None
        for arn in sorted(arns):
            assert aws is not None
            try:
                details = aws.call(
                    "controltower", "get_enabled_control", enabledControlIdentifier=arn
                ).get("enabledControlDetails", {})
                status = str((details.get("driftStatusSummary") or {}).get("driftStatus"))
            except AwsCallError as exc:
                status = f"unreadable ({exc})"
            controls.append((arn, status))
            if status != "IN_SYNC":
                found.append(f"enabled control {arn}: Control Tower drift status {status}")
    report = _drift_report(env, found, controls)
    write_atomic(env.dir / DRIFT_FILE, report)
    sys.stdout.write(report)
    if found:
        raise FindingsError(f"drift {env.dir}: {len(found)} finding(s), see {env.dir / DRIFT_FILE}")
    return 0


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
    verdict = f"**{len(found)} finding(s)**" if found else "none"
    lines = [f"## Drift of {env.name} on {env.today}: {verdict}", ""]
    lines += [f"- {md_line(f)}" for f in found]
    if found:
        lines.append("")
    lines += ["| Enabled control | Drift status |", "|---|---|"]
    lines += [f"| `{arn}` | {md_line(status)} |" for arn, status in controls]
    if not controls:
        lines.append("| (none in the state) | |")
    return "\n".join(lines) + "\n"


def run_permits(args: argparse.Namespace) -> int:
    """Permits that have ended, and those ending within --within days, as markdown."""
    env = environment_from_args(args)
    if args.within < 0:
        raise InputError(f"--within {args.within}: give a number of days, 0 or more")
    registry = env.registry
    committed = set(env.committed.ids or ())
    expired = registry.expired(env.today)
    ending = registry.expiring(env.today, args.within)

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
        lines += [f"### Ending within {args.within} days: renew `expires` if they must go on", ""]
        for a in ending:
            assert a.expires is not None
            days = (a.expires - env.today).days
            lines.append(f"- {md_line(item(a))}: {'today' if days == 0 else f'in {days} days'}")
        lines.append("")
    if not (expired or ending):
        lines += [f"No permit has expired or ends within {args.within} days.", ""]
    report = "\n".join(lines).rstrip("\n") + "\n"
    write_atomic(env.dir / PERMITS_FILE, report)
    sys.stdout.write(report)
    return 0


def run_notify(args: argparse.Namespace) -> int:
    """POST {"text": ...} to the webhook named by $REGIONGUARD_WEBHOOK_URL, if any."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = os.environ.get(WEBHOOK_VARIABLE, "").strip()
    if not url:
        print(f"notify: ${WEBHOOK_VARIABLE} is not set; no message sent")
        return 0
    parts = urllib.parse.urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not loopback:
        # The URL is a secret: name the variable, never its value.
        raise InputError(
            f"${WEBHOOK_VARIABLE} is not an https:// URL; set it to the Slack or Teams "
            "incoming webhook URL"
        )
    text = args.title
    for path in args.file:
        try:
            text += "\n\n" + path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            text += f"\n\n({path}: not readable: {exc.__class__.__name__})"
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
    print(f"notify: sent {len(text)} characters (HTTP {status})")
    return 0
