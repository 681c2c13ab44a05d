"""Preflight: read-only checks of an organization before the first plan, and their report.

Each check has an id, a status (pass, warn or fail), a message and the fix.
The environment's own files are checked first, with no credentials; then the
organization, read once through :class:`~regionguard.orgfacts.OrgFacts`
(AWS with the caller's credentials, or the local sandbox). Nothing is
written to AWS.

- ``backend``, ``management-account-id``: what ``make plan`` needs for an
  environment with an S3 backend (staging, prod);
- ``credentials``: AWS credentials can be found (a failure here skips the
  checks that read the organization, and says so);
- ``credentials-account``: the credentials belong to the management account;
- ``landing-zone``: GetLandingZone: version, status, drift, governed Regions;
- ``home-region``, ``allowed-regions``: the settings against the landing zone;
- ``landing-zone-region-deny``: whether the landing-zone Region deny is on,
  the migration step the organization is at, and the next one;
- ``control-identifier``: CT.MULTISERVICE.PV.1 resolved from the Control
  Catalog by its alias, against the setting;
- ``ou-registration``: the first-tier OUs registered with Control Tower
  (AWSControlTowerBaseline enabled) against the targets;
- ``scp-quota``: SCPs directly attached per target, plus the new ones,
  against the quota of 10;
- ``security-ou``: SCP-based controls on the Security OU, landing zone <= 3.3.

:func:`record_unregistered` records the unregistered first-tier OUs in
``unregistered_ous.auto.tfvars.json``; Terraform leaves them out of the
targets and names them as not covered, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import hclfile
from regionguard.atomic import write_atomic
from regionguard.aws import AwsCallError, NoCredentials
from regionguard.checks import SCP_ATTACHMENT_QUOTA
from regionguard.deployment import OrgUnit, select_targets
from regionguard.environment import UNREGISTERED_TFVARS, Environment
from regionguard.errors import InputError
from regionguard.inputs import (
    BACKEND_EXAMPLE,
    BACKEND_FILE,
    check_backend,
    check_management_account_id,
)
from regionguard.markdown import md_escape
from regionguard.orgfacts import LandingZoneFacts, OrgFacts, Ou, PolicySummary
from regionguard.repo import command, relative_to_cwd, repo_root
from regionguard.settings import Settings
from regionguard.words import count

__all__ = [
    "CONSOLE_REGION_DENY_OFF",
    "CONSOLE_REGION_DENY_ON",
    "CONTROL_ALIAS",
    "SCP_QUOTA",
    "Check",
    "OuFacts",
    "Preflight",
    "env_checks",
    "module_default_control_identifier",
    "record_unregistered",
    "render",
    "run_preflight",
    "unregistered_tfvars_text",
]

CONTROL_ALIAS = "CT.MULTISERVICE.PV.1"

# AWS Organizations' quota of SCPs attached to one target, as validate and the gate count it.
SCP_QUOTA = SCP_ATTACHMENT_QUOTA
SECURITY_OU_LAST_RESTRICTED_VERSION = (3, 3)
STATUSES = ("pass", "warn", "fail")
CONSOLE_REGION_DENY_OFF = (
    "Control Tower console > Landing zone settings > Modify settings > Region deny: "
    "Not enabled (a console step; no API or Terraform can do it)"
)
CONSOLE_REGION_DENY_ON = (
    "Control Tower console > Landing zone settings > Modify settings > Region deny: "
    "Enabled (a console step; no API or Terraform can do it)"
)


@dataclass(frozen=True)
class Check:
    """One named check and its outcome."""

    id: str
    status: str
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class OuFacts:
    """What preflight knows of one first-tier OU."""

    ou: Ou
    registered: bool
    targeted: bool
    scps: tuple[PolicySummary, ...]  # directly attached
    lz_region_deny: bool
    control_enabled: bool


# ---------------------------------------------------------------- env checks


def env_checks(env_dir: Path, settings: Settings) -> list[Check]:
    """The checks of the environment's own files: they need no credentials."""
    checks: list[Check] = []
    if (env_dir / BACKEND_EXAMPLE).is_file():
        try:
            check_backend(env_dir)
            checks.append(Check("backend", "pass", f"{BACKEND_FILE} is present"))
        except InputError as exc:
            message, _, fix = str(exc).partition("; ")
            checks.append(Check("backend", "fail", message, fix))
    if "management_account_id" in settings.extra:
        try:
            check_management_account_id(env_dir, settings)
            checks.append(
                Check(
                    "management-account-id",
                    "pass",
                    f"management_account_id is {settings.extra['management_account_id']}",
                )
            )
        except InputError as exc:
            message, _, fix = str(exc).partition("; ")
            checks.append(Check("management-account-id", "fail", message, fix))
    return checks


# ------------------------------------------------------------------- checks


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return (0,)


def _fix_iam(exc: AwsCallError, action: str) -> str:
    if exc.code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return f"grant {action} to the role preflight runs as (iam/plan-role.json)"
    return f"see the {exc.operation} error above and retry"


def module_default_control_identifier(root: Path) -> str:
    """The default of control_identifier in modules/region-deny-control/variables.tf."""
    path = root / "modules" / "region-deny-control" / "variables.tf"
    try:
        data = hclfile.loads(path.read_text(encoding="utf-8"))
    except hclfile.HclError as exc:
        raise InputError(f"{path}: not valid HCL: {exc}; fix the syntax") from None
    for block in data.get("variable", []):
        for name, body in block.items():
            if name.strip('"') == "control_identifier" and "default" in body:
                return str(body["default"]).strip('"')
    raise InputError(f"{path}: variable control_identifier has no default")


def unregistered_tfvars_text(unregistered: Mapping[str, str]) -> str:
    """The bytes of unregistered_ous.auto.tfvars.json, sorted by OU id."""
    body = {"unregistered_ous": dict(sorted(unregistered.items()))}
    return json.dumps(body, indent=2) + "\n"


def unregistered_first_tier(facts: OrgFacts) -> dict[str, str]:
    """OU id -> name of the first-tier OUs not registered with Control Tower."""
    registered = facts.registered_ou_arns
    return {ou.id: ou.name for ou in facts.first_tier if ou.arn not in registered}


def record_unregistered(env_dir: Path, facts: OrgFacts) -> bool:
    """Write the first-tier OUs not registered with Control Tower to UNREGISTERED_TFVARS.

    Returns True when the file changed, False when it was up to date. Raises
    AwsCallError when the organization cannot be read (the file is left as
    it is).
    """
    text = unregistered_tfvars_text(unregistered_first_tier(facts))
    path = env_dir / UNREGISTERED_TFVARS
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if text == unregistered_tfvars_text({}) and not path.exists():
        return False
    write_atomic(path, text)
    return True


class Preflight:
    """Derives each check from the organization's facts, read once."""

    def __init__(
        self,
        env_dir: Path,
        settings: Settings,
        facts: OrgFacts,
        *,
        expected_account: str | None,
        control_default: str,
        unregistered: Mapping[str, str],
    ) -> None:
        self.env_dir = env_dir
        self.settings = settings
        self.facts = facts
        self.expected_account = expected_account
        self.control_setting = settings.control_identifier or control_default
        self.unregistered_file = unregistered
        self.checks: list[Check] = []
        self.landing_zone: LandingZoneFacts | None = None
        self.control_arn: str | None = None
        self.ous: list[OuFacts] | None = None

    def run(self) -> list[Check]:
        if not self._credentials():
            return self.checks
        steps: Sequence[Callable[[], None]] = (
            self._landing_zone,
            self._control_identifier,
            self._organization,
            self._registration,
            self._region_deny,
            self._quota,
            self._security_ou,
        )
        for step in steps:
            step()
        return self.checks

    def add(self, check_id: str, status: str, message: str, fix: str | None = None) -> None:
        self.checks.append(Check(check_id, status, message, fix))

    # ----------------------------------------------------------- credentials

    def _credentials(self) -> bool:
        """The caller's account; False (the organization's checks skipped) without credentials."""
        try:
            account = self.facts.caller_account
        except NoCredentials as exc:
            self.add(
                "credentials",
                "fail",
                f"{exc}; the checks that read the organization did not run",
                "export AWS_PROFILE (or the plan role's credentials) for the management account, "
                "then run preflight again",
            )
            return False
        except AwsCallError as exc:
            self.add(
                "credentials-account", "fail", str(exc), _fix_iam(exc, "sts:GetCallerIdentity")
            )
            return False
        if self.expected_account is None:
            self.add(
                "credentials-account",
                "warn",
                f"the credentials are of account {account}; the settings name no management "
                "account to compare with",
                "set management_account_id in terraform.tfvars",
            )
        elif account != self.expected_account:
            self.add(
                "credentials-account",
                "fail",
                f"the credentials are of account {account}, not of the management account "
                f"{self.expected_account} of the settings",
                "run with credentials of the management account, or correct "
                "management_account_id in terraform.tfvars",
            )
        else:
            self.add(
                "credentials-account",
                "pass",
                f"the credentials are of the management account {account}",
            )
        return True

    # ----------------------------------------------------------- landing zone

    def _landing_zone(self) -> None:
        try:
            facts = self.facts.landing_zone
        except AwsCallError as exc:
            self.add("landing-zone", "fail", str(exc), _fix_iam(exc, "controltower:GetLandingZone"))
            return
        if facts is None:
            self.add(
                "landing-zone",
                "fail",
                "no Control Tower landing zone is found in this account and Region "
                f"({self.settings.home_region})",
                "run in the landing zone's home Region, with credentials of its management "
                "account, or set up Control Tower first",
            )
            return
        self.landing_zone = facts
        summary = (
            f"landing zone {facts.version}, {facts.status}, drift {facts.drift}, home Region "
            f"{facts.home_region}, governed Regions {', '.join(facts.governed_regions) or 'none'}"
        )
        latest = facts.latest_version
        if facts.status != "ACTIVE":
            self.add(
                "landing-zone",
                "fail",
                summary,
                "wait until the landing zone operation ends (status ACTIVE); if it FAILED, "
                "fix it in the Control Tower console first",
            )
        elif facts.drift != "IN_SYNC":
            self.add(
                "landing-zone",
                "fail",
                summary,
                "resolve the drift: Control Tower console > Landing zone settings > Reset "
                "(ResetLandingZone), then run preflight again",
            )
        elif latest and _version(str(latest)) > _version(facts.version):
            self.add(
                "landing-zone",
                "warn",
                f"{summary}; version {latest} is available",
                f"update the landing zone to {latest} when convenient",
            )
        else:
            self.add("landing-zone", "pass", summary)
        self._regions(facts)

    def _regions(self, lz: LandingZoneFacts) -> None:
        where = relative_to_cwd(self.settings.path or self.env_dir / "terraform.tfvars")
        if self.settings.home_region == lz.home_region:
            self.add("home-region", "pass", f"home_region {lz.home_region} is the home Region")
        else:
            self.add(
                "home-region",
                "fail",
                f"home_region is {self.settings.home_region}; the landing zone's home Region "
                f"is {lz.home_region}",
                f'set home_region = "{lz.home_region}" in {where}',
            )
        outside = [r for r in self.settings.allowed_regions if r not in lz.governed_regions]
        if not outside:
            self.add(
                "allowed-regions",
                "pass",
                "every Region of allowed_regions is governed by the landing zone",
            )
        else:
            self.add(
                "allowed-regions",
                "fail",
                f"allowed_regions lists Regions the landing zone does not govern: "
                f"{', '.join(outside)}; CT.MULTISERVICE.PV.1 applies to a subset of the "
                "governed Regions",
                f"remove {', '.join(outside)} from allowed_regions in {where}, or add them to "
                "the landing zone's governed Regions (Landing zone settings > Modify settings)",
            )

    # ------------------------------------------------------- control catalog

    def _control_identifier(self) -> None:
        try:
            found = self.facts.controls_with_alias(CONTROL_ALIAS)
            if len(found) != 1:
                self.add(
                    "control-identifier",
                    "fail",
                    f"the Control Catalog lists {len(found)} controls with the alias "
                    f"{CONTROL_ALIAS}",
                    "run preflight in the landing zone's home Region",
                )
                return
            arn = found[0]
            parameters = self.facts.control_parameters(arn)
        except AwsCallError as exc:
            self.add(
                "control-identifier",
                "fail",
                str(exc),
                _fix_iam(exc, "controlcatalog:ListControls and controlcatalog:GetControl"),
            )
            return
        self.control_arn = arn
        described = f"{CONTROL_ALIAS} is {arn} (parameters: {', '.join(parameters) or 'none'})"
        if self.control_setting == arn:
            self.add("control-identifier", "pass", described)
        else:
            self.add(
                "control-identifier",
                "fail",
                f"{described}; the settings use {self.control_setting}",
                f'set control_identifier = "{arn}" in '
                f"{relative_to_cwd(self.settings.path or self.env_dir / 'terraform.tfvars')}",
            )

    # ---------------------------------------------------------- organization

    def _organization(self) -> None:
        try:
            ous = self.facts.first_tier
            registered_arns = self.facts.registered_ou_arns
            selection = select_targets(
                [OrgUnit(ou.id, ou.name) for ou in ous],
                self.settings.target_ou_include,
                self.settings.target_ou_exclude,
                self.unregistered_file,
            )
            targets = {ou.id for ou in selection.targets}
            facts: list[OuFacts] = []
            for ou in ous:
                registered = ou.arn in registered_arns
                scps = self.facts.scps_of(ou.id)
                lz_deny = bool(self.facts.landing_zone_region_deny_scps(ou.id))
                control_on = registered and self.facts.control_enabled(
                    ou, (self.control_setting, self.control_arn)
                )
                facts.append(OuFacts(ou, registered, ou.id in targets, scps, lz_deny, control_on))
        except AwsCallError as exc:
            self.add(
                "ou-registration",
                "fail",
                str(exc),
                _fix_iam(exc, f"the action of {exc.operation} (iam/plan-role.json)"),
            )
            return
        self.ous = facts

    def _registration(self) -> None:
        if self.ous is None:
            return
        env = self.env_dir.name
        failing = [f.ou for f in self.ous if f.targeted and not f.registered]
        left_out = [f.ou for f in self.ous if not f.targeted and not f.registered]
        stale = [f.ou for f in self.ous if f.registered and f.ou.id in self.unregistered_file]
        tfvars = relative_to_cwd(self.env_dir / UNREGISTERED_TFVARS)
        if failing:
            names = ", ".join(f"{o.name} ({o.id})" for o in failing)
            self.add(
                "ou-registration",
                "fail",
                f"first-tier OUs not registered with Control Tower are targets: {names}; "
                "Control Tower refuses to enable controls on them (ResourceNotFoundException), "
                "so the plan and the apply fail",
                f"register them (Control Tower console > Organization > the OU > Register "
                f"organizational unit), or leave them out: "
                f"{command(f'preflight --env {env} --write-tfvars')} records them in {tfvars}, "
                "and the plan names them as not covered",
            )
        elif stale:
            names = ", ".join(f"{o.name} ({o.id})" for o in stale)
            self.add(
                "ou-registration",
                "warn",
                f"{tfvars} lists OUs that are registered now: {names}; they stay uncovered",
                command(f"preflight --env {env} --write-tfvars"),
            )
        elif left_out:
            names = ", ".join(f"{o.name} ({o.id})" for o in left_out)
            self.add(
                "ou-registration",
                "warn",
                f"first-tier OUs not registered with Control Tower are left out and not "
                f"covered by the Region deny control nor the SCP: {names}",
                "register them with Control Tower, then run preflight --write-tfvars again",
            )
        else:
            self.add(
                "ou-registration",
                "pass",
                f"every first-tier OU is registered with Control Tower ({len(self.ous)})",
            )

    # ------------------------------------------------------- region deny

    def _region_deny(self) -> None:
        if self.ous is None:
            return
        registered = [f for f in self.ous if f.registered]
        denied = [f.ou.name for f in registered if f.lz_region_deny]
        targets = [f for f in self.ous if f.targeted]
        missing = [f.ou.name for f in targets if not f.control_enabled]
        alternative = (
            "AWS's alternative: add the inference destination Regions to the landing zone's "
            "governed Regions instead (opens those Regions to every service, docs/adopt.md)"
        )
        if denied and missing:
            self.add(
                "landing-zone-region-deny",
                "fail",
                f"the landing-zone Region deny is on ({', '.join(denied)}); migration step 1-2: "
                f"CT.MULTISERVICE.PV.1 is not yet enabled on {', '.join(missing)}. While the "
                "landing-zone Region deny is on, no exemption can re-open a Region it denies",
                f"make plan ENV={self.env_dir.name} && make apply ENV={self.env_dir.name}, run "
                f"preflight again, then turn the landing-zone Region deny off: "
                f"{CONSOLE_REGION_DENY_OFF}. {alternative}",
            )
        elif denied:
            self.add(
                "landing-zone-region-deny",
                "fail",
                f"the landing-zone Region deny is on ({', '.join(denied)}); migration step 4: "
                "CT.MULTISERVICE.PV.1 is enabled on every target, so it can be turned off now",
                f"turn the landing-zone Region deny off: {CONSOLE_REGION_DENY_OFF}; then run "
                "preflight again. " + alternative,
            )
        elif missing:
            self.add(
                "landing-zone-region-deny",
                "warn",
                "the landing-zone Region deny is off and CT.MULTISERVICE.PV.1 is not enabled on "
                f"{', '.join(missing)}: no Region deny applies there",
                f"make plan ENV={self.env_dir.name} && make apply ENV={self.env_dir.name}",
            )
        else:
            self.add(
                "landing-zone-region-deny",
                "pass",
                "the landing-zone Region deny is off and CT.MULTISERVICE.PV.1 is enabled on "
                "every target: migration done (step 5: verify from a permitted account)",
            )

    # ---------------------------------------------------------------- quota

    def _quota(self) -> None:
        if self.ous is None:
            return
        over: list[str] = []
        counts: list[str] = []
        for f in self.ous:
            if not f.targeted:
                continue
            new = 0
            ours = self.settings.scp_name
            if not any(p.name == ours or p.name.startswith(ours + "-") for p in f.scps):
                new += 1  # the single SCP, or the OU's own under the per_ou layout
            if not f.control_enabled:
                new += 1  # the control's aws-guardrails-* SCP
            total = len(f.scps) + new
            counts.append(f"{f.ou.name} {len(f.scps)}+{new}")
            if total > SCP_QUOTA:
                over.append(f"{f.ou.name} ({len(f.scps)} attached + {new} new = {total})")
        if over:
            self.add(
                "scp-quota",
                "fail",
                f"targets would exceed {SCP_QUOTA} directly attached SCPs: {', '.join(over)}",
                "detach or merge SCPs on those OUs (AWS Organizations allows 10 per target), "
                "or leave them out with target_ou_exclude",
            )
        else:
            self.add(
                "scp-quota",
                "pass",
                f"SCPs attached + new per target, within {SCP_QUOTA}: "
                f"{', '.join(counts) or 'none'}",
            )

    # ---------------------------------------------------------- security OU

    def _security_ou(self) -> None:
        lz = self.landing_zone
        if lz is None or self.ous is None:
            return
        security = next((f for f in self.ous if f.ou.name == lz.security_ou), None)
        restricted = _version(lz.version) <= SECURITY_OU_LAST_RESTRICTED_VERSION
        if security is not None and security.targeted and restricted:
            self.add(
                "security-ou",
                "warn",
                f"landing zone {lz.version}: up to 3.3, Control Tower may refuse SCP-based "
                f"controls on the Security OU {security.ou.name} ({security.ou.id}), a target",
                f'if enable-control fails there, add "{security.ou.name}" to target_ou_exclude, '
                "or update the landing zone to a later version",
            )
        else:
            self.add(
                "security-ou",
                "pass",
                "no SCP-based control constraint on the Security OU applies",
            )


# ----------------------------------------------------------------- report


def render(checks: Sequence[Check], fmt: str) -> str:
    passed = not any(c.status == "fail" for c in checks)
    if fmt == "json":
        body = {"checks": [c.to_dict() for c in checks], "passed": passed}
        return json.dumps(body, indent=2) + "\n"
    if fmt == "markdown":
        lines = ["| check | status | message | fix |", "|---|---|---|---|"]
        lines += [
            f"| `{c.id}` | {c.status} | {md_escape(c.message)} | {md_escape(c.fix or '')} |"
            for c in checks
        ]
        lines.append("")
        lines.append(_summary(checks))
        return "\n".join(lines) + "\n"
    out: list[str] = []
    for c in checks:
        out.append(f"{c.status.upper():<5} {c.id}: {c.message}")
        if c.fix and c.status != "pass":
            out.append(f"      fix: {c.fix}")
    out.append(_summary(checks))
    return "\n".join(out) + "\n"


def _summary(checks: Iterable[Check]) -> str:
    counts = {s: 0 for s in STATUSES}
    for c in checks:
        counts[c.status] += 1
    verdict = "failed" if counts["fail"] else "passed"
    return (
        f"preflight {verdict}: {counts['pass']} passed, {count(counts['warn'], 'warning')}, "
        f"{counts['fail']} failed"
    )


# ----------------------------------------------------------------- the run


def run_preflight(env: Environment, facts: OrgFacts) -> list[Check]:
    """Every check: the environment's files first, then the organization behind ``facts``."""
    try:
        root = repo_root(env.dir)
    except InputError:
        root = repo_root()
    preflight = Preflight(
        env.dir,
        env.settings,
        facts,
        expected_account=env.management_account_id,
        control_default=module_default_control_identifier(root),
        unregistered=env.unregistered_ous,
    )
    return [*env_checks(env.dir, env.settings), *preflight.run()]
