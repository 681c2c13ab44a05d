"""`regionguard plan`, `review`, `apply` and `destroy`: the chain of :mod:`regionguard.pipeline`."""

from __future__ import annotations

import argparse
from typing import Any

from regionguard import pipeline
from regionguard.commands._args import (
    add_run_arguments,
    add_state_lock_argument,
    add_today_argument,
    environment_from_args,
)

__all__ = ["register"]


def _options(args: argparse.Namespace) -> pipeline.RunOptions:
    return pipeline.RunOptions(
        timeout=args.timeout,
        sandbox_port=args.sandbox_port,
        allow_destroy=getattr(args, "allow_destroy", False),
        state_lock=getattr(args, "state_lock", True),
    )


def run_plan(args: argparse.Namespace) -> int:
    pipeline.plan(environment_from_args(args), _options(args))
    return 0


def run_review(args: argparse.Namespace) -> int:
    pipeline.review(environment_from_args(args), _options(args))
    return 0


def run_apply(args: argparse.Namespace) -> int:
    pipeline.apply(environment_from_args(args), _options(args))
    return 0


def run_destroy(args: argparse.Namespace) -> int:
    pipeline.destroy(
        environment_from_args(args),
        _options(args),
        confirm=args.confirm,
        allow_no_region_deny=args.allow_no_region_deny,
    )
    return 0


def _allow_destroy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
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
    add_run_arguments(plan)
    _allow_destroy(plan)
    add_state_lock_argument(plan)
    add_today_argument(plan)
    plan.set_defaults(func=run_plan)

    apply = subparsers.add_parser(
        "apply",
        help="apply the saved plan that `regionguard plan` passed, and nothing else",
        description=(
            "Apply envs/<env>/tfplan when its gate record matches the plan and every input and "
            "every account it permits still holds its permit today; then check the facts of "
            "expectations.yaml against the organization, read-only with the same credentials "
            "(the sandbox for an environment that has one). While the landing-zone Region deny "
            "is on, a fact that holds only once it is off waits for migration step 4 and does "
            "not fail. Exit 0 applied, 1 a fact does not hold afterwards or could not be "
            "checked, 2 refused."
        ),
    )
    add_run_arguments(apply)
    add_today_argument(apply)
    apply.set_defaults(func=run_apply)

    review = subparsers.add_parser(
        "review",
        help="plan for a pull request: always write the review (tfplan.md) and a SARIF log",
        description=(
            "Run `regionguard plan` and, whatever its outcome, write envs/<env>/tfplan.md (the "
            "review, or the stage that stopped the chain and why), envs/<env>/tfplan.comment.md "
            "(the pull-request comment: the verdict and counts first, within GitHub's limit) "
            "and envs/<env>/tfplan.sarif "
            "(SARIF 2.1.0: validate's findings, the gate's reasons and warnings, broken facts). "
            "Exit as plan: 0 passed, 1 a stage found problems, 2 bad input."
        ),
    )
    add_run_arguments(review)
    _allow_destroy(review)
    add_state_lock_argument(review)
    add_today_argument(review)
    review.set_defaults(func=run_review)

    destroy = subparsers.add_parser(
        "destroy",
        help="destroy what an environment manages (any but local needs --confirm ENV)",
        description=(
            "Destroy the SCPs, their attachments and the Region deny controls the environment "
            "manages. Refused while a target OU lacks the landing-zone Region deny, which "
            "docs/adopt.md's rollback turns back on first: destroying would leave that OU "
            "without any Region deny. Exit 0 destroyed, 1 terraform failed, 2 refused."
        ),
    )
    add_run_arguments(destroy)
    destroy.add_argument("--confirm", metavar="ENV", help="the environment's name, to confirm")
    destroy.add_argument(
        "--allow-no-region-deny",
        action="store_true",
        help="destroy even where the landing-zone Region deny is off (or cannot be read), "
        "leaving those OUs without any Region deny",
    )
    destroy.set_defaults(func=run_destroy)
