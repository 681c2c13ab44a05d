"""`regionguard drift`, `permits` and `notify`: the scheduled workflow's steps."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from regionguard import schedule
from regionguard.commands._args import (
    add_env_arguments,
    add_run_arguments,
    add_state_lock_argument,
    add_today_argument,
    environment_from_args,
    path_argument,
    whole_number,
)
from regionguard.pipeline import RunOptions
from regionguard.registry import EXPIRY_WARNING_DAYS
from regionguard.schedule import WEBHOOK_VARIABLE

__all__ = ["register"]


def run_drift(args: argparse.Namespace) -> int:
    options = RunOptions(
        timeout=args.timeout, sandbox_port=args.sandbox_port, state_lock=args.state_lock
    )
    schedule.drift(environment_from_args(args), options)
    return 0


def run_permits(args: argparse.Namespace) -> int:
    sys.stdout.write(schedule.permits(environment_from_args(args), args.within))
    return 0


def run_notify(args: argparse.Namespace) -> int:
    url = os.environ.get(WEBHOOK_VARIABLE, "").strip()
    if not url:
        print(f"notify: ${WEBHOOK_VARIABLE} is not set; no message sent")
        return 0
    print(schedule.notify(args.title, args.file, url))
    return 0


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
    add_run_arguments(drift)
    add_state_lock_argument(drift)
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
        type=whole_number(0, 36_500, "a number of days"),
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
    notify.add_argument(
        "--file", type=path_argument, action="append", default=[], help="file to include"
    )
    notify.set_defaults(func=run_notify)
