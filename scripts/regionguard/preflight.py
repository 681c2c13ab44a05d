"""`regionguard preflight`: read-only checks of an organization before the first plan.

Each check has an id, a status (pass, warn or fail), a message and the fix.
The checks read AWS with boto3 (the caller's credentials) or the local
sandbox (the default for ``local``), and never write to AWS:

- ``backend``, ``management-account-id``: what ``make plan`` needs for an
  environment with an S3 backend (staging, prod); :func:`check_backend` and
  :func:`check_management_account_id` raise :class:`InputError` for callers
  that must stop;
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

``--write-tfvars`` records the unregistered first-tier OUs in
``unregistered_ous.auto.tfvars.json``; Terraform leaves them out of the
targets and names them as not covered, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.controlscp import LANDING_ZONE_SID as LANDING_ZONE_REGION_DENY_SID
from regionguard.deployment import OrgUnit, select_targets
from regionguard.environment import UNREGISTERED_TFVARS, Environment
from regionguard.envs import (
    add_env_arguments,
    relative_to_cwd,
    repo_root,
    resolve_env_dir,
    today_utc,
)
from regionguard.errors import InputError
from regionguard.inputfile import read_small_text
from regionguard.review_format import md_escape
from regionguard.rules import statements
from regionguard.scp import ScpDecodeError, decode_scp
from regionguard.settings import Settings, load_settings

__all__ = [
    "CONTROL_ALIAS",
    "SCP_QUOTA",
    "UNREGISTERED_TFVARS",
    "Check",
    "check_backend",
    "check_management_account_id",
    "is_placeholder_account_id",
    "main_checks",
    "register",
]

CONTROL_ALIAS = "CT.MULTISERVICE.PV.1"
BASELINE_NAME = "AWSControlTowerBaseline"

SCP_QUOTA = 10
SECURITY_OU_LAST_RESTRICTED_VERSION = (3, 3)
BACKEND_FILE = "backend.hcl"
BACKEND_EXAMPLE = "backend.hcl.example"
# Account ids that documentation and samples use, never a real organization's.
PLACEHOLDER_ACCOUNT_IDS = frozenset({"123456789012", "012345678901", "210987654321"})
STATUSES = ("pass", "warn", "fail")
CONSOLE_REGION_DENY_OFF = (
    "Control Tower console > Landing zone settings > Modify settings > Region deny: "
    "Not enabled (a console step; no API or Terraform can do it)"
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


# ---------------------------------------------------------------- env checks


def check_backend(env_dir: Path) -> None:
    """Refuse an environment with an S3 backend but no usable backend.hcl (InputError, exit 2).

    An environment whose folder holds ``backend.hcl.example`` keeps its state
    in S3 and needs ``backend.hcl`` beside it: without it, ``terraform init``
    fails with "bucket is required" and no word about the example.
    """
    example = env_dir / BACKEND_EXAMPLE
    backend = env_dir / BACKEND_FILE
    if not example.is_file():
        return
    where = relative_to_cwd(backend)
    if not os.path.lexists(backend):
        raise InputError(
            f"{where}: missing; this environment keeps its state in S3. Copy "
            f"{relative_to_cwd(example)} to {where}, set bucket and region to your state "
            "bucket (docs/adopt.md, Backend), then run the command again"
        )
    if read_small_text(backend).strip() == read_small_text(example).strip():
        raise InputError(
            f"{where}: still the example of {BACKEND_EXAMPLE} (bucket "
            "example-org-terraform-state); set bucket and region to your state bucket"
        )


def is_placeholder_account_id(account_id: str) -> bool:
    """True for the ids samples use: all one digit (111111111111), or a known sample id."""
    return len(set(account_id)) == 1 or account_id in PLACEHOLDER_ACCOUNT_IDS


def check_management_account_id(env_dir: Path, settings: Settings | None = None) -> None:
    """Refuse a placeholder management_account_id (InputError, exit 2).

    Applies to environments that declare ``management_account_id`` (staging,
    prod): the provider refuses every real credential while it is a sample id.
    """
    settings = settings if settings is not None else load_settings(env_dir)
    value = settings.extra.get("management_account_id")
    if not isinstance(value, str) or not is_placeholder_account_id(value):
        return
    raise InputError(
        f"{relative_to_cwd(settings.path or env_dir / 'terraform.tfvars')}: "
        f"management_account_id {value!r} is a placeholder; set it to the id of your "
        "organization's management account (aws sts get-caller-identity --query Account, "
        "with the management account's credentials), and replace the sample accounts of "
        f"{relative_to_cwd(env_dir / 'accounts.yaml')} with your own"
    )


def _env_checks(env_dir: Path, settings: Settings) -> list[Check]:
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


# ------------------------------------------------------------------ AWS side


class AwsCallError(Exception):
    """A call AWS refused: the operation, the error code and its message."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code


@dataclass(frozen=True)
class Ou:
    id: str
    arn: str
    name: str


class Aws:
    """The read-only calls preflight makes, through boto3."""

    def __init__(self, region: str, endpoint: str | None) -> None:
        import boto3

        options: dict[str, Any] = {"region_name": region}
        if endpoint is not None:
            options.update(
                endpoint_url=endpoint, aws_access_key_id="sandbox", aws_secret_access_key="sandbox"
            )
        session = boto3.session.Session()
        self._clients = {
            name: session.client(name, **options)
            for name in ("sts", "organizations", "controltower", "controlcatalog")
        }

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
        )

        client = self._clients[service]
        try:
            result: dict[str, Any] = getattr(client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AwsCallError(
                exc.operation_name, str(error.get("Code")), str(error.get("Message"))
            ) from None
        except (NoCredentialsError, NoRegionError) as exc:
            raise InputError(
                f"AWS credentials: {exc}; run with the management account's credentials "
                "(AWS_PROFILE or the plan role, docs/adopt.md)"
            ) from None
        except EndpointConnectionError as exc:
            raise InputError(f"{exc}; check the network, or the sandbox endpoint") from None
        return result

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item of ``key`` over the pages of a list call."""
        items: list[Any] = []
        token_in, token_out = _TOKENS[service]
        while True:
            page = self.call(service, operation, **kwargs)
            items.extend(page.get(key, []))
            token = page.get(token_out)
            if not token:
                return items
            kwargs[token_in] = token


_TOKENS = {
    "organizations": ("NextToken", "NextToken"),
    "controlcatalog": ("NextToken", "NextToken"),
    "controltower": ("nextToken", "nextToken"),
}


@dataclass(frozen=True)
class LandingZoneFacts:
    arn: str
    version: str
    status: str
    drift: str
    home_region: str
    governed_regions: tuple[str, ...]
    security_ou: str | None


@dataclass(frozen=True)
class OuFacts:
    """What preflight knows of one first-tier OU."""

    ou: Ou
    registered: bool
    targeted: bool
    scps: tuple[tuple[str, str], ...]  # (policy id, name) directly attached
    lz_region_deny: bool
    control_enabled: bool


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
    import hcl2

    path = root / "modules" / "region-deny-control" / "variables.tf"
    data = hcl2.loads(path.read_text(encoding="utf-8"))
    for block in data.get("variable", []):
        for name, body in block.items():
            if name.strip('"') == "control_identifier" and "default" in body:
                return str(body["default"]).strip('"')
    raise InputError(f"{path}: variable control_identifier has no default")


def unregistered_tfvars_text(unregistered: Mapping[str, str]) -> str:
    """The bytes of unregistered_ous.auto.tfvars.json, sorted by OU id."""
    body = {"unregistered_ous": dict(sorted(unregistered.items()))}
    return json.dumps(body, indent=2) + "\n"


class Preflight:
    """Gathers the facts once, then derives each check from them."""

    def __init__(
        self,
        env_dir: Path,
        settings: Settings,
        aws: Aws,
        *,
        expected_account: str | None,
        control_default: str,
    ) -> None:
        self.env_dir = env_dir
        self.settings = settings
        self.aws = aws
        self.expected_account = expected_account
        self.control_setting = settings.control_identifier or control_default
        self.unregistered_file = Environment(env_dir, today_utc()).unregistered_ous
        self.checks: list[Check] = []
        self.landing_zone: LandingZoneFacts | None = None
        self.control_arn: str | None = None
        self.ous: list[OuFacts] | None = None

    def run(self) -> list[Check]:
        steps: Sequence[Callable[[], None]] = (
            self._credentials,
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

    def _credentials(self) -> None:
        try:
            identity = self.aws.call("sts", "get_caller_identity")
        except AwsCallError as exc:
            self.add(
                "credentials-account", "fail", str(exc), _fix_iam(exc, "sts:GetCallerIdentity")
            )
            return
        account = str(identity.get("Account"))
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

    # ----------------------------------------------------------- landing zone

    def _landing_zone(self) -> None:
        try:
            zones = self.aws.pages("controltower", "list_landing_zones", "landingZones")
            if not zones:
                self.add(
                    "landing-zone",
                    "fail",
                    "no Control Tower landing zone is found in this account and Region "
                    f"({self.settings.home_region})",
                    "run in the landing zone's home Region, with credentials of its management "
                    "account, or set up Control Tower first",
                )
                return
            arn = zones[0]["arn"]
            zone = self.aws.call("controltower", "get_landing_zone", landingZoneIdentifier=arn)[
                "landingZone"
            ]
        except AwsCallError as exc:
            self.add("landing-zone", "fail", str(exc), _fix_iam(exc, "controltower:GetLandingZone"))
            return
        manifest = zone.get("manifest") or {}
        security = ((manifest.get("organizationStructure") or {}).get("security") or {}).get("name")
        facts = LandingZoneFacts(
            arn=arn,
            version=str(zone.get("version")),
            status=str(zone.get("status")),
            drift=str((zone.get("driftStatus") or {}).get("status")),
            home_region=arn.split(":")[3],
            governed_regions=tuple(manifest.get("governedRegions") or ()),
            security_ou=security,
        )
        self.landing_zone = facts
        summary = (
            f"landing zone {facts.version}, {facts.status}, drift {facts.drift}, home Region "
            f"{facts.home_region}, governed Regions {', '.join(facts.governed_regions) or 'none'}"
        )
        latest = zone.get("latestAvailableVersion")
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
            controls = self.aws.pages("controlcatalog", "list_controls", "Controls")
            found = [c for c in controls if CONTROL_ALIAS in (c.get("Aliases") or [])]
            if len(found) != 1:
                self.add(
                    "control-identifier",
                    "fail",
                    f"the Control Catalog lists {len(found)} controls with the alias "
                    f"{CONTROL_ALIAS}",
                    "run preflight in the landing zone's home Region",
                )
                return
            arn = str(found[0]["Arn"])
            control = self.aws.call("controlcatalog", "get_control", ControlArn=arn)
        except AwsCallError as exc:
            self.add(
                "control-identifier",
                "fail",
                str(exc),
                _fix_iam(exc, "controlcatalog:ListControls and controlcatalog:GetControl"),
            )
            return
        self.control_arn = arn
        parameters = sorted(str(p.get("Name")) for p in control.get("Parameters") or [])
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
            roots = self.aws.pages("organizations", "list_roots", "Roots")
            children = self.aws.pages(
                "organizations",
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ParentId=roots[0]["Id"],
            )
            ous = [Ou(c["Id"], c["Arn"], c["Name"]) for c in children]
            baseline_arns = {
                b["arn"]
                for b in self.aws.pages("controltower", "list_baselines", "baselines")
                if b.get("name") == BASELINE_NAME
            }
            enabled = self.aws.pages("controltower", "list_enabled_baselines", "enabledBaselines")
            registered_arns = {
                b["targetIdentifier"]
                for b in enabled
                if b.get("baselineIdentifier") in baseline_arns
                and (b.get("statusSummary") or {}).get("status") == "SUCCEEDED"
            }
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
                scps = [
                    (p["Id"], p["Name"])
                    for p in self.aws.pages(
                        "organizations",
                        "list_policies_for_target",
                        "Policies",
                        TargetId=ou.id,
                        Filter="SERVICE_CONTROL_POLICY",
                    )
                ]
                lz_deny = any(self._is_lz_region_deny(pid, name) for pid, name in scps)
                control_on = registered and self._control_enabled(ou)
                facts.append(
                    OuFacts(ou, registered, ou.id in targets, tuple(scps), lz_deny, control_on)
                )
        except AwsCallError as exc:
            self.add(
                "ou-registration",
                "fail",
                str(exc),
                _fix_iam(exc, f"the action of {exc.operation} (iam/plan-role.json)"),
            )
            return
        self.ous = facts

    def _is_lz_region_deny(self, policy_id: str, name: str) -> bool:
        if not name.startswith("aws-guardrails-"):
            return False
        content = self.aws.call("organizations", "describe_policy", PolicyId=policy_id)
        try:
            document = decode_scp(content["Policy"]["Content"])
        except (KeyError, ScpDecodeError):
            return False
        if not isinstance(document, dict):
            return False
        return any(
            isinstance(s, dict) and s.get("Sid") == LANDING_ZONE_REGION_DENY_SID
            for s in statements(document)
        )

    def _control_enabled(self, ou: Ou) -> bool:
        wanted = {self.control_setting, self.control_arn} - {None}
        controls = self.aws.pages(
            "controltower", "list_enabled_controls", "enabledControls", targetIdentifier=ou.arn
        )
        return any(
            c.get("controlIdentifier") in wanted
            and (c.get("statusSummary") or {}).get("status") == "SUCCEEDED"
            for c in controls
        )

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
                f"organizational unit), or leave them out: regionguard preflight --env {env} "
                f"--write-tfvars records them in {tfvars}, and the plan names them as not "
                "covered",
            )
        elif stale:
            names = ", ".join(f"{o.name} ({o.id})" for o in stale)
            self.add(
                "ou-registration",
                "warn",
                f"{tfvars} lists OUs that are registered now: {names}; they stay uncovered",
                f"regionguard preflight --env {env} --write-tfvars",
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
            if not any(name == ours or name.startswith(ours + "-") for _, name in f.scps):
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


# ----------------------------------------------------------------- command


def _sandbox_endpoint(env_dir: Path, explicit: str | None) -> str | None:
    if explicit is not None:
        return explicit
    if env_dir.name != "local" or not (env_dir / "sandbox.yaml").is_file():
        return None
    from regionguard.sandbox import process

    info = process.status(repo_root() / ".sandbox")
    if info is None:
        raise InputError(
            "the local sandbox is not running; start it with make sandbox-up (or pass "
            "--sandbox-endpoint URL)"
        )
    return info.endpoint


def _expected_account(env_dir: Path, settings: Settings, sandboxed: bool) -> str | None:
    value = settings.extra.get("management_account_id")
    if isinstance(value, str):
        return value
    if sandboxed and (env_dir / "sandbox.yaml").is_file():
        from regionguard.sandbox.settings import load_settings as load_sandbox

        return load_sandbox(env_dir).management_account_id
    return None


def _preflight(env_dir: Path, settings: Settings, endpoint: str | None) -> Preflight:
    aws = Aws(settings.home_region, endpoint)
    try:
        root = repo_root(env_dir)
    except InputError:
        root = repo_root()
    return Preflight(
        env_dir,
        settings,
        aws,
        expected_account=_expected_account(env_dir, settings, endpoint is not None),
        control_default=module_default_control_identifier(root),
    )


def record_unregistered(env_dir: Path, settings: Settings, endpoint: str | None) -> bool | None:
    """Write the first-tier OUs not registered with Control Tower to UNREGISTERED_TFVARS.

    Returns True when the file changed, False when it was up to date, None when
    the organization could not be read (the file is left as it is).
    """
    run = _preflight(env_dir, settings, endpoint)
    run.run()  # the facts, to know the unregistered OUs
    if run.ous is None:
        return None
    unregistered = {f.ou.id: f.ou.name for f in run.ous if not f.registered}
    path = env_dir / UNREGISTERED_TFVARS
    text = unregistered_tfvars_text(unregistered)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if not unregistered and not path.exists():
        return False
    write_atomic(path, text)
    print(f"regionguard preflight: wrote {relative_to_cwd(path)}", file=sys.stderr)
    return True


def main_checks(
    env_dir: Path, settings: Settings, endpoint: str | None, *, write_tfvars: bool = False
) -> list[Check]:
    """Run every check against AWS (``endpoint`` None) or the sandbox at ``endpoint``."""
    checks = _env_checks(env_dir, settings)
    if write_tfvars:
        record_unregistered(env_dir, settings, endpoint)
    # the checks, with the file as Terraform will read it
    return [*checks, *_preflight(env_dir, settings, endpoint).run()]


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
        f"preflight {verdict}: {counts['pass']} passed, {counts['warn']} warnings, "
        f"{counts['fail']} failed"
    )


def run(args: argparse.Namespace) -> int:
    env_dir = resolve_env_dir(args)
    settings = load_settings(env_dir)
    endpoint = _sandbox_endpoint(env_dir, args.sandbox_endpoint)
    checks = main_checks(env_dir, settings, endpoint, write_tfvars=args.write_tfvars)
    sys.stdout.write(render(checks, args.format))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _endpoint(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(:[0-9]+)?/?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL such as http://127.0.0.1:4580")
    return text.rstrip("/")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="read-only checks of the organization before the first plan",
        description=(
            "Check, read-only, what the plan and the apply need from the organization: the "
            "landing zone, the control identifier, the registration of the first-tier OUs, "
            "the Regions, the SCP quota, the landing-zone Region deny and the migration step. "
            "Runs against AWS with the caller's credentials, or against the local sandbox "
            "(the default for the local environment)."
        ),
        epilog="exit codes: 0 no check fails, 1 a check fails, 2 usage or input error",
    )
    add_env_arguments(parser)
    parser.add_argument(
        "--sandbox-endpoint",
        type=_endpoint,
        default=None,
        help="URL of a sandbox to check instead of AWS (default for local: the running sandbox)",
    )
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument(
        "--write-tfvars",
        action="store_true",
        help=f"record the unregistered first-tier OUs in {UNREGISTERED_TFVARS}",
    )
    parser.set_defaults(func=run)
