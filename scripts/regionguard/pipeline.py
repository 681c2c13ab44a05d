"""`regionguard plan`, `apply` and `destroy`: the whole chain, one stage after another.

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
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from regionguard.environment import Environment
from regionguard.envs import add_env_arguments, add_today_argument, environment_from_args
from regionguard.errors import FindingsError, InputError
from regionguard.findings import has_errors
from regionguard.gaterecord import PlanFiles, check_record, write_record
from regionguard.planfile import parse_plan
from regionguard.review import review_plan
from regionguard.review_format import format_review
from regionguard.terraform import Terraform, TerraformError

__all__ = ["register"]

DEFAULT_SANDBOX_PORT = 4580
LOCK_TIMEOUT = "120s"
REGISTRY_HOST = "registry.terraform.io"
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
            "Apply envs/<env>/tfplan when its gate record matches the plan and every input; "
            "then, for an environment with a sandbox, check expectations.yaml against it. "
            "Exit 0 applied, 1 the facts do not hold afterwards, 2 refused."
        ),
    )
    _common(apply)
    apply.set_defaults(func=run_apply)

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

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
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
        tf.init(backend_config=_backend_config(env))
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


def _record_unregistered(env: Environment, endpoint: str | None) -> None:
    """Record the first-tier OUs Control Tower has not registered, as preflight does.

    Control Tower refuses controls on them, and no data source of the aws
    provider lists them, so Terraform reads them from
    ``unregistered_ous.auto.tfvars.json`` and leaves them out; the review
    names them as not covered, with the reason.
    """
    from regionguard.preflight import record_unregistered

    changed = record_unregistered(env.dir, env.settings, endpoint)
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
    """Permitted accounts from the registry only, through the committed generated file."""
    env.check_single_source()
    if env.stale:
        raise FindingsError(
            f"{env.tfvars_path} is not what {env.registry_path} generates today; run "
            f"`make tfvars ENV={env.name}` (regionguard tfvars --env-dir {env.dir}) and commit it"
        )


def run_plan(args: argparse.Namespace) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text
    from regionguard.validate import validate_env

    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = _Stages("plan", env)
    files.clear()
    endpoint = None
    if env.has_sandbox:
        with stages.stage("sandbox"):
            endpoint = _sandbox_endpoint(env, args.sandbox_port)
    with stages.stage("inputs"):
        _check_inputs(env)
    with stages.stage("registration"):
        _record_unregistered(env, endpoint)
    with stages.stage("single source"):
        _check_single_source(env)
    with stages.stage("validate"):
        findings = validate_env(env)
        for f in findings:
            if f.level != "note":
                print(f"  {f.level}: {f.entry + ': ' if f.entry else ''}{f.message} [{f.rule_id}]")
        if has_errors(findings):
            raise FindingsError(f"validate {env.dir}: fix the errors above")
    tf = _terraform(env, args, endpoint)
    with _terminate_as_interrupt():
        with stages.stage("terraform init"):
            _init(tf, env)
        with stages.stage("terraform plan"):
            tf.plan(files.plan.resolve(), lock_timeout=LOCK_TIMEOUT)
        with stages.stage("terraform show"):
            text = tf.show_json_text(files.plan.resolve())
    plan = parse_plan(text, str(files.json))
    from regionguard.atomic import write_atomic

    write_atomic(files.json, text)
    with stages.stage("review and gate"):
        review = review_plan(
            plan, allow_destroy=args.allow_destroy, account_names=env.account_names
        )
        write_atomic(files.review, format_review(review, "markdown"))
        sys.stdout.write(format_review(review, "text"))
    with stages.stage("expectations"):
        runs = verify_runs(env, env.expectations_path, plan=plan, rendered=False)
        print(verify_text(env.expectations_path, runs))
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
    )
    print(
        f"plan {env.dir}: passed; review in {files.review}; "
        f"`make apply ENV={env.name}` applies exactly {files.plan}"
    )
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from regionguard.simulate import broken_facts, verify_runs, verify_text

    env = environment_from_args(args)
    files = PlanFiles(env.dir)
    stages = _Stages("apply", env)
    with stages.stage("gate record"):
        problems = check_record(files, env)
        if problems:
            raise InputError("\n".join(problems))
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
    with _terminate_as_interrupt(), stages.stage("terraform apply"):
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
