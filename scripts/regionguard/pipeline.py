"""`regionguard plan`, `review`, `apply` and `destroy`: the whole chain, one stage after another.

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
exits as ``plan`` would. The scheduled workflow's steps are in
:mod:`regionguard.schedule`.

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
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from regionguard import sarif
from regionguard.atomic import write_atomic
from regionguard.environment import TFVARS_KEY, CommittedTfvars, Environment, render_tfvars
from regionguard.envs import add_env_arguments, add_today_argument, environment_from_args
from regionguard.errors import FindingsError, InputError, RegionguardError
from regionguard.findings import Finding, has_errors
from regionguard.gaterecord import PlanFiles, check_record, write_record
from regionguard.planfile import parse_plan
from regionguard.review import review_plan
from regionguard.review_format import format_review, md_escape
from regionguard.terraform import Terraform, TerraformError, terminate_as_interrupt

__all__ = ["register"]

DEFAULT_SANDBOX_PORT = 4580
LOCK_TIMEOUT = "120s"
REGISTRY_HOST = "registry.terraform.io"
SARIF_FILE = "tfplan.sarif"
# Rule ids of the pipeline's own findings (validate's and the gate's keep theirs).
RULE_EXPIRED_COMMITTED = "RG-TFVARS-EXPIRED-PERMIT"
RULE_FACT_BROKEN = "RG-FACT-BROKEN"
RULE_STOPPED = "RG-PIPELINE-STOPPED"
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
    common_arguments(plan)
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
    common_arguments(apply)
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
    common_arguments(review)
    review.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
    )
    add_today_argument(review)
    review.set_defaults(func=run_review)

    destroy = subparsers.add_parser(
        "destroy",
        help="destroy what an environment manages (any but local needs --confirm ENV)",
    )
    common_arguments(destroy)
    destroy.add_argument("--confirm", metavar="ENV", help="the environment's name, to confirm")
    destroy.set_defaults(func=run_destroy)


def common_arguments(parser: argparse.ArgumentParser) -> None:
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


class Stages:
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


def sandbox_endpoint(env: Environment, port: int) -> str:
    """Start the environment's sandbox unless it runs, and return its endpoint."""
    from regionguard.envs import repo_root
    from regionguard.sandbox import process

    if not 0 < port < 65536:
        raise InputError(f"--sandbox-port {port} is not a TCP port; use 1 to 65535")
    info, _started = process.up(repo_root() / ".sandbox", env.dir.resolve(), port=port)
    return info.endpoint


def terraform_for(env: Environment, args: argparse.Namespace, endpoint: str | None) -> Terraform:
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


def init_terraform(tf: Terraform, env: Environment) -> None:
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


def expired_in_committed(env: Environment) -> tuple[str, ...]:
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
    if env.stale and not expired_in_committed(env):
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


def permits_variable(env: Environment, lingering: Sequence[str]) -> dict[str, str] | None:
    """``-var`` of the permitted accounts where expired permits linger, else None.

    What the registry generates today, so that an expired permit is never
    planned; without lingering permits Terraform reads the committed file.
    """
    if not lingering:
        return None
    return {TFVARS_KEY: json.dumps(list(env.generated.permitted_ids))}


def as_planned(env: Environment) -> tuple[Environment, tuple[str, ...]]:
    """``env`` as the plan sees it, and the expired permits it leaves out (see the module doc)."""
    lingering = expired_in_committed(env)
    if not lingering:
        return env, ()
    return _PlannedEnvironment(env.dir, env.today), lingering


def _plan_chain(env: Environment, args: argparse.Namespace, out: _Outcome, stages: Stages) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text
    from regionguard.validate import validate_env

    files = PlanFiles(env.dir)
    files.clear()
    with stages.stage("inputs"):
        _check_inputs(env)
        _check_single_source(env)
        env, lingering = as_planned(env)
    endpoint = None
    if env.has_sandbox:
        with stages.stage("sandbox"):
            endpoint = sandbox_endpoint(env, args.sandbox_port)
    with stages.stage("registration"):
        _record_unregistered(env, endpoint)
    findings: list[Finding] = []
    if lingering:
        warning = _expiry_warning(env, lingering)
        out.notes.append(f":warning: {md_line(warning)}")
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
    tf = terraform_for(env, args, endpoint)
    variables = permits_variable(env, lingering)
    with terminate_as_interrupt():
        with stages.stage("terraform init"):
            init_terraform(tf, env)
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


def md_line(text: str) -> str:
    """One markdown list item: line breaks folded, HTML and table characters escaped."""
    return md_escape(" ".join(text.split()))


def run_plan(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    return _plan_chain(env, args, _Outcome(), Stages("plan", env))


def run_review(args: argparse.Namespace) -> int:
    """The chain of ``plan``; the review and the SARIF log are written whatever happens."""
    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = Stages("review", env)
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
            out.notes.append(f"**Stopped at {stages.current}**: {md_line(message)}")
        else:
            out.notes.append(f"**Failed**: {md_line(message)}")
        raise
    finally:
        write_atomic(files.review, _failure_review(env, out, stages))
        write_atomic(sarif_path, sarif.dumps(out.findings))
        print(f"review {env.dir}: {files.review} and {sarif_path} written", file=sys.stderr)


def _failure_review(env: Environment, out: _Outcome, stages: Stages) -> str:
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
            f"- {md_line((f.entry + ': ' if f.entry else '') + f.message)} `{f.rule_id}`"
            for f in errors
        ]
        lines.append("")
    warnings = [f for f in out.findings if f.level == "warning"]
    if warnings:
        lines += ["### Warnings", ""]
        lines += [
            f"- {md_line((f.entry + ': ' if f.entry else '') + f.message)} `{f.rule_id}`"
            for f in warnings
        ]
        lines.append("")
    return _with_notes("\n".join(lines).rstrip("\n") + "\n", out.notes)


def run_apply(args: argparse.Namespace) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text

    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = Stages("apply", env)
    with stages.stage("gate record"):
        problems = check_record(files, env)
        if problems:
            raise InputError("\n".join(problems))
        env, _lingering = as_planned(env)
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
    tf = terraform_for(env, args, endpoint)
    with terminate_as_interrupt():
        if not (env.dir / ".terraform").is_dir():
            # A fresh checkout (the apply job of the workflow): the saved plan
            # came as an artifact, the providers and the backend did not.
            with stages.stage("terraform init"):
                init_terraform(tf, env)
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
    endpoint = sandbox_endpoint(env, args.sandbox_port) if env.has_sandbox else None
    tf = terraform_for(env, args, endpoint)
    stages = Stages("destroy", env)
    with terminate_as_interrupt():
        with stages.stage("terraform init"):
            init_terraform(tf, env)
        with stages.stage("terraform destroy"):
            tf.destroy(lock_timeout=LOCK_TIMEOUT)
    PlanFiles(env.dir).clear()
    print(f"destroy {env.dir}: destroyed")
    return 0


# ---------------------------------------------------------------- schedule
