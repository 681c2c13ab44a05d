"""`regionguard plan`, `apply`, `destroy`, `review`; the schedule's `drift`, `permits`, `notify`.

``plan`` runs, for one environment and with one reading of its files:

1. inputs: settings, registry, the committed tfvars up to date, no second
   source of a guarded variable;
2. validate: every rule over what the environment deploys;
3. terraform init, plan (saved to ``tfplan``) and show (``tfplan.json``);
4. review and gate of the saved plan itself (``tfplan.md``);
5. expectations: the facts of ``expectations.yaml`` over the plan's result;
6. the gate record (``tfplan.gate.json``), written only when all passed.

``apply`` applies that saved plan and nothing else, only while the record
still matches the plan and every input, then, where the environment has a
sandbox, checks the facts against the emulated organization. The Makefile,
the CI workflow and Atlantis call these commands and nothing else.

``review`` is ``plan`` for a pull request: whatever happens, it leaves the
review (``tfplan.md``, naming the stage that stopped the chain) and a SARIF
2.1.0 log of validate's and the gate's findings (``tfplan.sarif``), then
exits as ``plan`` would. ``drift`` (a plan with ``-detailed-exitcode`` and
the Control Tower drift status of each enabled control), ``permits`` (the
permits that ended or end soon) and ``notify`` (a webhook message) are the
scheduled workflow's steps.

A permit that has expired is never planned: when the committed
``accounts.auto.tfvars.json`` differs from what the registry generates today
only by permits that have since expired, the plan leaves those accounts out
(``-var``), the review warns, and the pull request goes on; the gate record
names the accounts the plan permits, and ``apply`` refuses the plan once one
of those permits has expired (docs/decisions.md, Permit expiry).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from regionguard import sarif
from regionguard.atomic import write_atomic
from regionguard.environment import TFVARS_KEY, CommittedTfvars, Environment, render_tfvars
from regionguard.envs import add_env_arguments, add_today_argument, environment_from_args
from regionguard.errors import FindingsError, InputError, RegionguardError
from regionguard.findings import Finding, has_errors
from regionguard.gaterecord import PlanFiles, check_record, write_record
from regionguard.planfile import parse_plan
from regionguard.registry import EXPIRY_WARNING_DAYS, Account
from regionguard.review import review_plan
from regionguard.review_format import format_review
from regionguard.terraform import Terraform, TerraformError

__all__ = ["register"]

DEFAULT_SANDBOX_PORT = 4580
LOCK_TIMEOUT = "120s"
REGISTRY_HOST = "registry.terraform.io"
SARIF_FILE = "tfplan.sarif"
DRIFT_FILE = "drift.md"
PERMITS_FILE = "permits.md"
WEBHOOK_VARIABLE = "REGIONGUARD_WEBHOOK_URL"
# Rule ids of the pipeline's own findings (validate's and the gate's keep theirs).
RULE_EXPIRED_COMMITTED = "RG-TFVARS-EXPIRED-PERMIT"
RULE_FACT_BROKEN = "RG-FACT-BROKEN"
RULE_STOPPED = "RG-PIPELINE-STOPPED"
# Slack cuts a message's text at 40,000 characters; a notice stays far shorter.
WEBHOOK_MAX_CHARS = 3500
_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
)


def register(subparsers: Any) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="plan an environment: validate, terraform plan, review and gate, expectations",
        description=(
            "Run the whole chain for one environment: inputs, validate, terraform init/plan/"
            "show, the review and gate of the saved plan (tfplan.md), the facts of "
            "expectations.yaml, and the gate record that `regionguard apply` requires. "
            "Exit 0 when every stage passed, 1 when a stage found problems, 2 bad input."
        ),
    )
    _common(plan)
    plan.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
    )
    add_today_argument(plan)
    plan.set_defaults(func=run_plan)

    apply = subparsers.add_parser(
        "apply",
        help="apply the saved plan that `regionguard plan` passed, and nothing else",
        description=(
            "Apply envs/<env>/tfplan when its gate record matches the plan and every input and "
            "every account it permits still holds its permit today; then, for an environment "
            "with a sandbox, check expectations.yaml against it. "
            "Exit 0 applied, 1 the facts do not hold afterwards, 2 refused."
        ),
    )
    _common(apply)
    add_today_argument(apply)
    apply.set_defaults(func=run_apply)

    review = subparsers.add_parser(
        "review",
        help="plan for a pull request: always write the review (tfplan.md) and a SARIF log",
        description=(
            "Run `regionguard plan` and, whatever its outcome, write envs/<env>/tfplan.md (the "
            "review, or the stage that stopped the chain and why) and envs/<env>/tfplan.sarif "
            "(SARIF 2.1.0: validate's findings, the gate's reasons and warnings, broken facts). "
            "Exit as plan: 0 passed, 1 a stage found problems, 2 bad input."
        ),
    )
    _common(review)
    review.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
    )
    add_today_argument(review)
    review.set_defaults(func=run_review)

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
    _common(drift)
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

    destroy = subparsers.add_parser(
        "destroy",
        help="destroy what an environment manages (any but local needs --confirm ENV)",
    )
    _common(destroy)
    destroy.add_argument("--confirm", metavar="ENV", help="the environment's name, to confirm")
    destroy.set_defaults(func=run_destroy)


def _common(parser: argparse.ArgumentParser) -> None:
    add_env_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="seconds any one terraform command may run before it is interrupted (default 900)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=DEFAULT_SANDBOX_PORT,
        metavar="PORT",
        help=f"port of the local sandbox (default {DEFAULT_SANDBOX_PORT})",
    )


# ---------------------------------------------------------------- stages


class _Stages:
    """Progress lines on stderr: one per stage, with its time."""

    def __init__(self, verb: str, env: Environment) -> None:
        self.prefix = f"regionguard {verb} {env.dir}"
        self.current = "start"

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        print(f"{self.prefix}: {name} ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        yield
        took = time.monotonic() - start
        print(f"{self.prefix}: {name}: done ({took:.1f} s)", file=sys.stderr, flush=True)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the chain as Ctrl-C does: Terraform is interrupted and waited for."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sandbox_endpoint(env: Environment, port: int) -> str:
    """Start the environment's sandbox unless it runs, and return its endpoint."""
    from regionguard.envs import repo_root
    from regionguard.sandbox import process

    if not 0 < port < 65536:
        raise InputError(f"--sandbox-port {port} is not a TCP port; use 1 to 65535")
    info, _started = process.up(repo_root() / ".sandbox", env.dir.resolve(), port=port)
    return info.endpoint


def _terraform(env: Environment, args: argparse.Namespace, endpoint: str | None) -> Terraform:
    variables = dict(os.environ)
    variables["TF_IN_AUTOMATION"] = "1"
    variables["TF_INPUT"] = "0"
    if endpoint is not None:
        variables["TF_VAR_sandbox_endpoint"] = endpoint
    return Terraform(env.dir, timeout=args.timeout, env=variables)


def _backend_config(env: Environment) -> str | None:
    """``backend.hcl`` where the environment's backend needs one; InputError when it is missing."""
    from regionguard.preflight import BACKEND_FILE, check_backend

    check_backend(env.dir)
    return BACKEND_FILE if (env.dir / BACKEND_FILE).is_file() else None


def _init(tf: Terraform, env: Environment) -> None:
    try:
        tf.run(
            "init",
            input=False,
            backend=True,
            backend_config=_backend_config(env),
            lock_timeout=LOCK_TIMEOUT,
        )
    except TerraformError as exc:
        text = str(exc)
        if REGISTRY_HOST in text or "provider registry" in text.lower():
            found = [c for c in _MIRROR_CANDIDATES if Path(c, REGISTRY_HOST).is_dir()]
            hint = f" (this machine has one at {found[0]})" if found else ""
            raise InputError(
                f"terraform init in {env.dir} cannot reach {REGISTRY_HOST}: set "
                f"REGIONGUARD_TF_MIRROR to a provider filesystem mirror{hint}, e.g. "
                f"`export REGIONGUARD_TF_MIRROR={found[0] if found else '/path/to/mirror'}`"
            ) from None
        raise


def _expired_in_committed(env: Environment) -> tuple[str, ...]:
    """Accounts the committed tfvars still permits though their permit has expired.

    Empty unless that is the *only* difference between the committed file and
    what the registry generates today: any other difference is a stale file.
    """
    committed = env.committed
    if committed.ids is None or committed.text != render_tfvars(committed.ids):
        return ()
    expired = {account.id for _, account in env.generated.expired}
    lingering = tuple(sorted(set(committed.ids) & expired))
    rest = [i for i in committed.ids if i not in expired]
    if lingering and render_tfvars(rest) == env.generated.content:
        return lingering
    return ()


def _expiry_warning(env: Environment, lingering: Sequence[str]) -> str:
    names = env.account_names
    accounts = ", ".join(f"{i} ({names.get(i, '?')})" for i in lingering)
    return (
        f"{env.tfvars_path} still permits {accounts}, whose permit has expired "
        f"({env.registry_path}); this plan leaves them out, as `make tfvars ENV={env.name}` "
        "would, so applying it removes the expired permit. Commit the regenerated file (the "
        "scheduled workflow opens that pull request)"
    )


def _record_unregistered(env: Environment, endpoint: str | None) -> None:
    """Record the first-tier OUs Control Tower has not registered, as preflight does.

    Control Tower refuses controls on them, and no data source of the aws
    provider lists them, so Terraform reads them from
    ``unregistered_ous.auto.tfvars.json`` and leaves them out; the review
    names them as not covered, with the reason.
    """
    from regionguard.preflight import record_unregistered

    changed = record_unregistered(env.dir, env.settings, endpoint)
    if changed:
        vars(env).pop("unregistered_ous", None)  # read again, as Terraform will
    if changed is None:
        print(
            f"  warning: cannot read which OUs Control Tower registered; {env.dir} keeps its "
            "recorded list (run `make preflight` to see why)",
            file=sys.stderr,
        )
    elif changed:
        print(
            "  the unregistered OUs changed: commit unregistered_ous.auto.tfvars.json "
            "with this change",
            file=sys.stderr,
        )


def _check_inputs(env: Environment) -> None:
    """Settings usable, backend configured, no sample management account (exit 2)."""
    from regionguard.preflight import check_backend, check_management_account_id

    _ = env.settings  # parsed and checked: exit 2 when unusable
    check_backend(env.dir)
    check_management_account_id(env.dir, env.settings)


def _check_single_source(env: Environment) -> None:
    """Permitted accounts from the registry only, through the committed generated file.

    A stale committed tfvars passes only when expiry alone made it stale.
    """
    env.check_single_source()
    if env.stale and not _expired_in_committed(env):
        raise FindingsError(
            f"{env.tfvars_path} is not what {env.registry_path} generates today; run "
            f"`make tfvars ENV={env.name}` (regionguard tfvars --env-dir {env.dir}) and commit it"
        )


class _Outcome:
    """What one run of the chain found: the review and SARIF of `regionguard review`."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.review_markdown: str | None = None
        self.notes: list[str] = []


class _PlannedEnvironment(Environment):
    """The environment as a plan that leaves out expired permits sees it.

    Its committed tfvars are what the registry generates today, the value the
    plan passes to Terraform with ``-var``: validate, the review and the facts
    then judge what the plan deploys, not the stale file.
    """

    @functools.cached_property
    def committed(self) -> CommittedTfvars:
        generated = self.generated
        return CommittedTfvars(self.tfvars_path, generated.content, generated.permitted_ids)


def _permits_variable(env: Environment, lingering: Sequence[str]) -> dict[str, str] | None:
    """``-var`` of the permitted accounts where expired permits linger, else None.

    What the registry generates today, so that an expired permit is never
    planned; without lingering permits Terraform reads the committed file.
    """
    if not lingering:
        return None
    return {TFVARS_KEY: json.dumps(list(env.generated.permitted_ids))}


def _as_planned(env: Environment) -> tuple[Environment, tuple[str, ...]]:
    """``env`` as the plan sees it, and the expired permits it leaves out (see the module doc)."""
    lingering = _expired_in_committed(env)
    if not lingering:
        return env, ()
    return _PlannedEnvironment(env.dir, env.today), lingering


def _plan_chain(env: Environment, args: argparse.Namespace, out: _Outcome, stages: _Stages) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text
    from regionguard.validate import validate_env

    files = PlanFiles(env.dir)
    files.clear()
    with stages.stage("inputs"):
        _check_inputs(env)
        _check_single_source(env)
        env, lingering = _as_planned(env)
    endpoint = None
    if env.has_sandbox:
        with stages.stage("sandbox"):
            endpoint = _sandbox_endpoint(env, args.sandbox_port)
    with stages.stage("registration"):
        _record_unregistered(env, endpoint)
    findings: list[Finding] = []
    if lingering:
        warning = _expiry_warning(env, lingering)
        out.notes.append(f":warning: {_md_line(warning)}")
        findings.append(
            Finding(RULE_EXPIRED_COMMITTED, "warning", warning, file=str(env.tfvars_path))
        )
        print(f"regionguard: warning: {warning}", file=sys.stderr)
    with stages.stage("validate"):
        findings += validate_env(env)
        out.findings.extend(findings)
        for f in findings:
            if f.level != "note":
                print(f"  {f.level}: {f.entry + ': ' if f.entry else ''}{f.message} [{f.rule_id}]")
        if has_errors(findings):
            raise FindingsError(f"validate {env.dir}: fix the errors above")
    tf = _terraform(env, args, endpoint)
    variables = _permits_variable(env, lingering)
    with _terminate_as_interrupt():
        with stages.stage("terraform init"):
            _init(tf, env)
        with stages.stage("terraform plan"):
            tf.plan(files.plan.resolve(), variables=variables, lock_timeout=LOCK_TIMEOUT)
        with stages.stage("terraform show"):
            text = tf.show_json_text(files.plan.resolve())
    plan = parse_plan(text, str(files.json))
    write_atomic(files.json, text)
    with stages.stage("review and gate"):
        review = review_plan(
            plan, allow_destroy=args.allow_destroy, account_names=env.account_names
        )
        out.review_markdown = format_review(review, "markdown")
        out.findings.extend(review.reasons)
        out.findings.extend(review.warnings)
        write_atomic(files.review, _with_notes(out.review_markdown, out.notes))
        sys.stdout.write(format_review(review, "text"))
    with stages.stage("expectations"):
        runs = verify_runs(env, env.expectations_path, plan=plan, rendered=False)
        print(verify_text(env.expectations_path, runs))
    for _scenario, outcomes in runs:
        for o in outcomes:
            if not o.holds:
                out.findings.append(
                    Finding(
                        RULE_FACT_BROKEN,
                        "error",
                        f"{o.expectation.label()}: {len(o.breaches)} of {o.calls} calls are "
                        f"not {o.expectation.expect.upper()}",
                        file=str(env.expectations_path),
                    )
                )
    broken = broken_facts(runs)
    problems = []
    if not review.passed:
        problems.append(
            f"the plan gate failed ({len(review.reasons)} reason(s), see {files.review})"
        )
    if broken:
        problems.append(
            f"{env.expectations_path} does not hold for this plan ({broken} broken fact(s))"
        )
    if problems:
        raise FindingsError(
            f"plan {env.dir}: " + "; ".join(problems) + "; no gate record, so apply refuses it"
        )
    write_record(
        files,
        env,
        allow_destroy=args.allow_destroy,
        widening=[w.message for w in review.widening],
        facts=sum(len(o) for _, o in runs),
        permitted=env.generated.permitted_ids,
    )
    print(
        f"plan {env.dir}: passed; review in {files.review}; "
        f"`make apply ENV={env.name}` applies exactly {files.plan}"
    )
    return 0


def _with_notes(markdown: str, notes: Sequence[str]) -> str:
    if not notes:
        return markdown
    lines = [markdown.rstrip("\n"), "", "### Pipeline", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _md_line(text: str) -> str:
    """One markdown list item: line breaks folded, HTML and table characters escaped."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", " ".join(text.split()))


def run_plan(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    return _plan_chain(env, args, _Outcome(), _Stages("plan", env))


def run_review(args: argparse.Namespace) -> int:
    """The chain of ``plan``; the review and the SARIF log are written whatever happens."""
    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = _Stages("review", env)
    out = _Outcome()
    sarif_path = files.dir / SARIF_FILE
    sarif_path.unlink(missing_ok=True)
    try:
        return _plan_chain(env, args, out, stages)
    except (RegionguardError, KeyboardInterrupt) as exc:
        message = str(exc) if isinstance(exc, RegionguardError) else "interrupted"
        if out.review_markdown is None:
            out.findings.append(
                Finding(RULE_STOPPED, "error", f"{stages.current}: {message}", file=str(env.dir))
            )
            out.notes.append(f"**Stopped at {stages.current}**: {_md_line(message)}")
        else:
            out.notes.append(f"**Failed**: {_md_line(message)}")
        raise
    finally:
        write_atomic(files.review, _failure_review(env, out, stages))
        write_atomic(sarif_path, sarif.dumps(out.findings))
        print(f"review {env.dir}: {files.review} and {sarif_path} written", file=sys.stderr)


def _failure_review(env: Environment, out: _Outcome, stages: _Stages) -> str:
    """The review to post: the plan's review with the pipeline's notes, or what stopped it."""
    if out.review_markdown is not None:
        return _with_notes(out.review_markdown, out.notes)
    lines = [f"## Plan review: **failed** at {stages.current}", ""]
    lines.append(
        f"`regionguard plan` stopped before Terraform's plan of {env.dir} could be reviewed."
    )
    lines.append("")
    errors = [f for f in out.findings if f.level == "error"]
    if errors:
        lines += ["### Errors", ""]
        lines += [
            f"- {_md_line((f.entry + ': ' if f.entry else '') + f.message)} `{f.rule_id}`"
            for f in errors
        ]
        lines.append("")
    warnings = [f for f in out.findings if f.level == "warning"]
    if warnings:
        lines += ["### Warnings", ""]
        lines += [
            f"- {_md_line((f.entry + ': ' if f.entry else '') + f.message)} `{f.rule_id}`"
            for f in warnings
        ]
        lines.append("")
    return _with_notes("\n".join(lines).rstrip("\n") + "\n", out.notes)


def run_apply(args: argparse.Namespace) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text

    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = _Stages("apply", env)
    with stages.stage("gate record"):
        problems = check_record(files, env)
        if problems:
            raise InputError("\n".join(problems))
        env, _lingering = _as_planned(env)
    endpoint = None
    if env.has_sandbox:
        from regionguard.envs import repo_root
        from regionguard.sandbox import process

        info = process.status(repo_root() / ".sandbox")
        if info is None:
            raise InputError(
                f"apply {env.dir}: the sandbox is not running, so the saved plan has nothing "
                "to apply to; run `make plan` again"
            )
        endpoint = info.endpoint
    tf = _terraform(env, args, endpoint)
    with _terminate_as_interrupt():
        if not (env.dir / ".terraform").is_dir():
            # A fresh checkout (the apply job of the workflow): the saved plan
            # came as an artifact, the providers and the backend did not.
            with stages.stage("terraform init"):
                _init(tf, env)
        with stages.stage("terraform apply"):
            tf.apply(files.plan.resolve(), lock_timeout=LOCK_TIMEOUT)
    files.clear()
    if endpoint is None:
        print(f"apply {env.dir}: applied")
        return 0
    with stages.stage("expectations against the sandbox"):
        runs = verify_runs(env, env.expectations_path, endpoint=endpoint, rendered=False)
        print(verify_text(env.expectations_path, runs))
    if broken_facts(runs):
        raise FindingsError(f"apply {env.dir}: {env.expectations_path} does not hold after apply")
    print(f"apply {env.dir}: applied; the facts of {env.expectations_path} hold in the sandbox")
    return 0


def run_destroy(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    if not env.has_sandbox and args.confirm != env.name:
        raise InputError(
            f"destroy {env.dir} removes the Region deny control and the SCP from every target "
            f"OU; re-run with --confirm {env.name} (make destroy ENV={env.name} "
            f"CONFIRM={env.name})"
        )
    endpoint = _sandbox_endpoint(env, args.sandbox_port) if env.has_sandbox else None
    tf = _terraform(env, args, endpoint)
    stages = _Stages("destroy", env)
    with _terminate_as_interrupt():
        with stages.stage("terraform init"):
            _init(tf, env)
        with stages.stage("terraform destroy"):
            tf.destroy(lock_timeout=LOCK_TIMEOUT)
    PlanFiles(env.dir).clear()
    print(f"destroy {env.dir}: destroyed")
    return 0


# ---------------------------------------------------------------- schedule


def run_drift(args: argparse.Namespace) -> int:
    """Read-only: what Terraform would change, Control Tower's drift, expired permits."""
    from regionguard.planfile import CONTROL_TYPE
    from regionguard.preflight import Aws, AwsCallError

    env = environment_from_args(args)
    stages = _Stages("drift", env)
    found: list[str] = []
    with stages.stage("inputs"):
        _ = env.settings
        env.check_single_source()
        env, lingering = _as_planned(env)
        for account_id in lingering:
            found.append(
                f"permit of {account_id} ({env.account_names.get(account_id, '?')}) has expired "
                f"but {env.tfvars_path} still permits it: merge the pull request that "
                f"regenerates it (`make tfvars ENV={env.name}`) and apply"
            )
    endpoint = _sandbox_endpoint(env, args.sandbox_port) if env.has_sandbox else None
    tf = _terraform(env, args, endpoint)
    saved = env.dir / "drift.tfplan"
    try:
        with _terminate_as_interrupt():
            with stages.stage("terraform init"):
                _init(tf, env)
            with stages.stage("terraform plan -detailed-exitcode"):
                changed = tf.plan(
                    saved.resolve(),
                    variables=_permits_variable(env, lingering),
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
    lines += [f"- {_md_line(f)}" for f in found]
    if found:
        lines.append("")
    lines += ["| Enabled control | Drift status |", "|---|---|"]
    lines += [f"| `{arn}` | {_md_line(status)} |" for arn, status in controls]
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
        lines += [f"- {_md_line(item(a))}" for a in still]
        lines.append("")
    gone = [a for a in expired if a.id not in committed]
    if gone:
        lines += ["### Expired, left out of the generated file", ""]
        lines += [f"- {_md_line(item(a))}" for a in gone]
        lines.append("")
    if ending:
        lines += [f"### Ending within {args.within} days: renew `expires` if they must go on", ""]
        for a in ending:
            assert a.expires is not None
            days = (a.expires - env.today).days
            lines.append(f"- {_md_line(item(a))}: {'today' if days == 0 else f'in {days} days'}")
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
