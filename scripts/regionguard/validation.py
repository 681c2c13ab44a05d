"""Validation of an environment: everything that would fail at apply time, or silently open access.

:func:`validate_documents` is pure (no file reading) and checks the two
documents Terraform sends: the Bedrock inference SCP and the Region deny
control's parameters. :func:`validate_env` adds what only an environment
folder can tell (expired permits, a stale generated file) and checks the
deployment rendered from its settings (:func:`regionguard.checks.check_deployment`).

Each rule's id, levels and title: :mod:`regionguard.catalogue`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from regionguard import catalogue
from regionguard import deployment as dep
from regionguard.checks import check_deployment
from regionguard.environment import Environment
from regionguard.findings import Finding
from regionguard.inputs import check_targets, is_placeholder_account_id
from regionguard.render import render_scp
from regionguard.settings import DEFAULT_SCP_SIZE_LIMIT, GENERATED_TFVARS
from regionguard.words import count, noun

__all__ = ["validate_documents", "validate_env"]


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
    check_targets(env)
    registry_file = str(env.registry_path)
    findings: list[Finding] = []
    for index, account in env.generated.expired:
        findings.append(
            Finding(
                catalogue.REG_EXPIRED.id,
                "warning",
                f"permit of {account.id} expired on {account.expires}; it is left out",
                file=registry_file,
                entry=f"accounts[{index}] ({account.name})",
            )
        )
    for index, account in env.generated.expiring:
        findings.append(
            Finding(
                catalogue.REG_EXPIRING.id,
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
                catalogue.SETTINGS_PLACEHOLDER.id,
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
                catalogue.TFVARS_STALE.id,
                "error",
                f"{GENERATED_TFVARS} {state}; {env.tfvars_fix}",
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
                catalogue.SCP_LAYOUT.id,
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
                    catalogue.SCP_LAYOUT.id,
                    "warning",
                    f"{count(len(unplaced), 'permitted account')} "
                    f"{noun(len(unplaced), 'has', 'have')} no ou in the registry: {shown}"
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
