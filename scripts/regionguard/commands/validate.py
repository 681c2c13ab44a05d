"""`regionguard validate`: the validation of an environment, as text, JSON or SARIF."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from regionguard import sarif
from regionguard.commands._args import add_env_arguments, add_today_argument, environment_from_args
from regionguard.findings import Finding, has_errors
from regionguard.validation import validate_env
from regionguard.words import count

__all__ = ["register"]


def _text(finding: Finding) -> str:
    where = f"{finding.file}: " if finding.file else ""
    entry = f"{finding.entry}: " if finding.entry else ""
    return f"{where}{finding.level}: {entry}{finding.message} [{finding.rule_id}]"


def _summary(findings: Sequence[Finding]) -> dict[str, int]:
    return {
        level + "s": sum(1 for f in findings if f.level == level)
        for level in ("error", "warning", "note")
    }


def run(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    env_dir = env.dir
    findings = validate_env(env)
    counts = _summary(findings)
    if args.format == "json":
        report = {
            "env_dir": str(env_dir),
            "passed": not has_errors(findings),
            "summary": counts,
            "findings": [f.to_dict() for f in findings],
        }
        print(json.dumps(report, indent=2))
    elif args.format == "sarif":
        sys.stdout.write(sarif.dumps(findings))
    else:
        for finding in findings:
            print(_text(finding))
        verdict = "failed" if has_errors(findings) else "passed"
        tally = ", ".join(count(counts[k + "s"], k) for k in ("error", "warning", "note"))
        print(f"validate {env_dir}: {verdict}: {tally}")
    if has_errors(findings):
        print(f"regionguard: validate {env_dir}: fix the errors above", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check what Terraform will deploy, before it reaches AWS",
        description=(
            "Validate an environment: the registry, the settings, the generated tfvars, and "
            "the SCP and control parameters exactly as Terraform will send them (grammar, "
            "size, Regions, principals, action names, exemptions guarded by the SCP, and the "
            "control's own SCP size). Exit 0 passed (warnings allowed), 1 errors found, "
            "2 bad input."
        ),
    )
    add_env_arguments(parser)
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    add_today_argument(parser)
    parser.set_defaults(func=run)
