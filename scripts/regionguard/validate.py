"""`regionguard validate`: everything that would fail at apply time, or silently open access.

:func:`validate_documents` is pure (no file reading) and checks the two
documents Terraform sends: the Bedrock inference SCP and the Region deny
control's parameters. :func:`validate_env` adds what only an environment
folder can tell (expired permits, a stale generated file) and feeds the
documents rendered from its settings to :func:`validate_documents`.

Rule ids are stable; see ``RULES``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from regionguard import deployment as dep
from regionguard import sarif
from regionguard.checks import RULES as DEPLOYMENT_RULES
from regionguard.checks import check_deployment
from regionguard.environment import Environment
from regionguard.envs import add_env_arguments, add_today_argument, environment_from_args
from regionguard.findings import Finding, has_errors
from regionguard.preflight import is_placeholder_account_id
from regionguard.render import render_scp
from regionguard.settings import DEFAULT_SCP_SIZE_LIMIT, GENERATED_TFVARS

__all__ = ["RULES", "validate_documents", "validate_env"]

RULES: Mapping[str, str] = {
    **DEPLOYMENT_RULES,
    "RG-REG-EXPIRED": "Expired permits are left out of the generated file.",
    "RG-REG-EXPIRING": "Permits ending within 30 days.",
    "RG-TFVARS-STALE": "The committed accounts.auto.tfvars.json is what the registry generates.",
    "RG-SETTINGS-PLACEHOLDER": "management_account_id is not a sample id (staging, prod).",
    "RG-SCP-LAYOUT": (
        "The SCP layout and why; under per_ou, every permitted account has an ou to size by."
    ),
}


def validate_documents(
    scp_content: str,
    control_parameters: Mapping[str, Any],
    *,
    home_region: str | None,
    size_limit: int = DEFAULT_SCP_SIZE_LIMIT,
    allow_wildcard_exemptions: bool = False,
    allow_wildcard_principal_exemptions: bool = False,
    scp_file: str | None = None,
    control_file: str | None = None,
) -> list[Finding]:
    """Check one SCP and the control parameters applied beside it on every target.

    ``control_parameters`` values may be the JSON strings Terraform sends or
    decoded lists. Pure: reads no file and touches no network.
    """
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in control_parameters.items()}
    stand_in = dep.OuDeployment(
        dep.OrgUnit(None, dep.EVERY_TARGET),
        (dep.ScpDoc("scp", scp_content),),
        dep.control_values(raw),
        raw,
    )
    return check_deployment(
        dep.Deployment("documents", (stand_in,)),
        home_region=home_region,
        size_limit=size_limit,
        allow_wildcard_exemptions=allow_wildcard_exemptions,
        allow_wildcard_principal_exemptions=allow_wildcard_principal_exemptions,
        scp_file=scp_file,
        control_file=control_file,
    )


def validate_env(env: Environment) -> list[Finding]:
    """Validate an environment: its registry, settings, generated file and what it deploys.

    Raises InputError (exit 2) for input that cannot be used at all (bad
    registry, bad settings, unknown Region, empty allowed Regions, a second
    source of guarded variables).
    """
    settings = env.settings
    env.check_single_source()
    env.check_targets()
    registry_file = str(env.registry_path)
    findings: list[Finding] = []
    for index, account in env.generated.expired:
        findings.append(
            Finding(
                "RG-REG-EXPIRED",
                "warning",
                f"permit of {account.id} expired on {account.expires}; it is left out",
                file=registry_file,
                entry=f"accounts[{index}] ({account.name})",
            )
        )
    for index, account in env.generated.expiring:
        findings.append(
            Finding(
                "RG-REG-EXPIRING",
                "warning",
                f"permit of {account.id} ends on {account.expires}; renew expires if it must go on",
                file=registry_file,
                entry=f"accounts[{index}] ({account.name})",
            )
        )
    management = settings.extra.get("management_account_id")
    if isinstance(management, str) and is_placeholder_account_id(management):
        findings.append(
            Finding(
                "RG-SETTINGS-PLACEHOLDER",
                "warning",
                f"management_account_id {management!r} is a sample id; set it to your "
                "organization's management account (the provider refuses any other "
                "credentials), and replace the sample accounts of the registry",
                file=settings.file,
                entry="management_account_id",
            )
        )
    if env.stale:
        state = (
            "is missing or unreadable" if env.committed.ids is None else "differs from the registry"
        )
        findings.append(
            Finding(
                "RG-TFVARS-STALE",
                "error",
                f"{GENERATED_TFVARS} {state}; run `regionguard tfvars --env-dir {env.dir}` and "
                "commit it (Terraform deploys the committed file)",
                file=str(env.tfvars_path),
            )
        )
    # Terraform deploys the committed ids; the registry's stand in when they are unusable.
    ids = env.committed.ids if env.committed.ids is not None else env.generated.permitted_ids
    deployment = dep.from_environment(env, permitted_ids=ids)
    layout = deployment.layout
    if layout is not None:
        findings.append(
            Finding(
                "RG-SCP-LAYOUT",
                "note",
                f"SCP layout {layout.kind} ({layout.reason}); validate places accounts by the "
                "registry's ou, Terraform as AWS Organizations does (docs/scale.md)",
                file=settings.file,
                entry="scp_layout",
            )
        )
        permitted = set(ids)
        unplaced = [a for a in env.registry.accounts if a.id in permitted and not a.ou]
        if layout.kind == "per_ou" and unplaced:
            shown = ", ".join(f"{a.name} ({a.id})" for a in unplaced[:10])
            more = f" and {len(unplaced) - 10} more" if len(unplaced) > 10 else ""
            worst = len(render_scp(settings, [a.id for a in unplaced]))
            fits = "fits" if worst <= settings.scp_size_limit else "does not fit"
            findings.append(
                Finding(
                    "RG-SCP-LAYOUT",
                    "warning",
                    f"{len(unplaced)} permitted account(s) have no ou in the registry: {shown}"
                    f"{more}; validate cannot size the SCP of their OU (the plan gate does: "
                    f"if they are all under one OU, its SCP is {worst:,} characters and "
                    f"{fits} the {settings.scp_size_limit:,} limit); add ou to each",
                    file=registry_file,
                    entry="accounts",
                )
            )
    findings.extend(
        check_deployment(
            deployment,
            home_region=settings.home_region,
            size_limit=settings.scp_size_limit,
            allow_wildcard_exemptions=settings.allow_wildcard_exemptions,
            allow_wildcard_principal_exemptions=settings.allow_wildcard_principal_exemptions,
            scp_file=str(env.tfvars_path),
            control_file=settings.file,
        )
    )
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _text(finding: Finding) -> str:
    where = f"{finding.file}: " if finding.file else ""
    entry = f"{finding.entry}: " if finding.entry else ""
    return f"{where}{finding.level}: {entry}{finding.message} [{finding.rule_id}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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
        tally = ", ".join(_plural(counts[k + "s"], k) for k in ("error", "warning", "note"))
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
