"""The organization as AWS reports it, each part read once: the one reader of a live organization.

Preflight, drift, the plan's registration stage, ``verify`` against the
sandbox or AWS, and apply's check afterwards read the organization through
:class:`OrgFacts`. Every part is read on first use and kept, so a command
that needs one part makes only the calls for it, and two consumers of the
same part in one command share one read. A part AWS refuses raises
:class:`~regionguard.aws.AwsCallError` each time it is asked for; the caller
decides what a refusal means (preflight reports it as a failed check).

Reads only; the calls are those of ``iam/plan-role.json``.

- Landing zone: ``ListLandingZones``, ``GetLandingZone`` (Control Tower).
- Control Catalog: ``ListControls``, ``GetControl``.
- Structure: ``DescribeOrganization``, ``ListRoots``,
  ``ListOrganizationalUnitsForParent``, ``ListAccountsForParent``.
- Registration: ``ListBaselines``, ``ListEnabledBaselines`` (an OU is
  registered when ``AWSControlTowerBaseline`` is enabled on it and
  SUCCEEDED).
- SCP attachments: ``ListPolicies`` and ``ListTargetsForPolicy`` per SCP
  (one reader for every target: an organization of 5,000 accounts costs a
  call per SCP and page, not one per account), ``DescribePolicy`` for the
  contents that are needed. Where the landing-zone Region deny is on, only
  Control Tower's SCPs are described and only those carrying it have their
  targets listed.
- Enabled controls: ``ListEnabledControls`` per OU, ``GetEnabledControl``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from regionguard.aws import Aws, AwsCallError
from regionguard.controlscp import LANDING_ZONE_SID
from regionguard.rules import statements
from regionguard.scp import ScpDecodeError, decode_scp

__all__ = [
    "BASELINE_NAME",
    "CONTROL_TOWER_SCP_PREFIX",
    "AccountSummary",
    "AwsCallError",
    "LandingZoneFacts",
    "OrgFacts",
    "Ou",
    "PolicySummary",
]

BASELINE_NAME = "AWSControlTowerBaseline"
# Control Tower names the SCPs it manages aws-guardrails-<random> (both the
# landing-zone controls and the OU-level controls it deploys as SCPs).
CONTROL_TOWER_SCP_PREFIX = "aws-guardrails-"
SCP_FILTER = "SERVICE_CONTROL_POLICY"


@dataclass(frozen=True)
class Ou:
    id: str
    arn: str
    name: str


@dataclass(frozen=True)
class AccountSummary:
    id: str
    name: str


@dataclass(frozen=True)
class PolicySummary:
    id: str
    name: str


@dataclass(frozen=True)
class LandingZoneFacts:
    arn: str
    version: str
    latest_version: str | None
    status: str
    drift: str
    home_region: str
    governed_regions: tuple[str, ...]
    security_ou: str | None


@dataclass(frozen=True)
class Organization:
    id: str
    management_account_id: str
    root_id: str


class OrgFacts:
    """The organization behind one :class:`~regionguard.aws.Aws`, read part by part, once."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self._children: dict[str, tuple[Ou, ...]] = {}
        self._accounts: dict[str, tuple[AccountSummary, ...]] = {}
        self._contents: dict[str, str] = {}
        self._enabled_controls: dict[str, tuple[Mapping[str, Any], ...]] = {}

    # ------------------------------------------------------------ identity

    @functools.cached_property
    def caller_account(self) -> str:
        return str(self.aws.call("sts", "get_caller_identity").get("Account"))

    # ------------------------------------------------------------ landing zone

    @functools.cached_property
    def landing_zone(self) -> LandingZoneFacts | None:
        """The landing zone of this account and Region; None when there is none."""
        zones = self.aws.pages("controltower", "list_landing_zones", "landingZones")
        if not zones:
            return None
        arn = str(zones[0]["arn"])
        zone = self.aws.call("controltower", "get_landing_zone", landingZoneIdentifier=arn)[
            "landingZone"
        ]
        manifest = zone.get("manifest") or {}
        security = ((manifest.get("organizationStructure") or {}).get("security") or {}).get("name")
        latest = zone.get("latestAvailableVersion")
        return LandingZoneFacts(
            arn=arn,
            version=str(zone.get("version")),
            latest_version=str(latest) if latest else None,
            status=str(zone.get("status")),
            drift=str((zone.get("driftStatus") or {}).get("status")),
            home_region=arn.split(":")[3],
            governed_regions=tuple(manifest.get("governedRegions") or ()),
            security_ou=security,
        )

    # ------------------------------------------------------------ control catalog

    def controls_with_alias(self, alias: str) -> tuple[str, ...]:
        """ARNs of the Control Catalog's controls that carry ``alias``."""
        return tuple(str(c["Arn"]) for c in self._catalog if alias in (c.get("Aliases") or []))

    @functools.cached_property
    def _catalog(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.aws.pages("controlcatalog", "list_controls", "Controls"))

    @functools.cache  # noqa: B019 - one OrgFacts per command
    def control_parameters(self, control_arn: str) -> tuple[str, ...]:
        """The parameter names of one control of the Control Catalog, sorted."""
        control = self.aws.call("controlcatalog", "get_control", ControlArn=control_arn)
        return tuple(sorted(str(p.get("Name")) for p in control.get("Parameters") or []))

    # ------------------------------------------------------------ structure

    @functools.cached_property
    def root_id(self) -> str:
        return str(self.aws.pages("organizations", "list_roots", "Roots")[0]["Id"])

    @functools.cached_property
    def organization(self) -> Organization:
        described = self.aws.call("organizations", "describe_organization")["Organization"]
        return Organization(str(described["Id"]), str(described["MasterAccountId"]), self.root_id)

    def children(self, parent_id: str) -> tuple[Ou, ...]:
        """The OUs directly under a root or OU."""
        if parent_id not in self._children:
            self._children[parent_id] = tuple(
                Ou(str(c["Id"]), str(c["Arn"]), str(c["Name"]))
                for c in self.aws.pages(
                    "organizations",
                    "list_organizational_units_for_parent",
                    "OrganizationalUnits",
                    ParentId=parent_id,
                )
            )
        return self._children[parent_id]

    @property
    def first_tier(self) -> tuple[Ou, ...]:
        return self.children(self.root_id)

    def accounts_under(self, parent_id: str) -> tuple[AccountSummary, ...]:
        """The accounts directly under a root or OU."""
        if parent_id not in self._accounts:
            self._accounts[parent_id] = tuple(
                AccountSummary(str(a["Id"]), str(a["Name"]))
                for a in self.aws.pages(
                    "organizations", "list_accounts_for_parent", "Accounts", ParentId=parent_id
                )
            )
        return self._accounts[parent_id]

    # ------------------------------------------------------------ registration

    @functools.cached_property
    def registered_ou_arns(self) -> frozenset[str]:
        """ARNs of the OUs registered with Control Tower (its baseline enabled and SUCCEEDED)."""
        baseline_arns = {
            b["arn"]
            for b in self.aws.pages("controltower", "list_baselines", "baselines")
            if b.get("name") == BASELINE_NAME
        }
        enabled = self.aws.pages("controltower", "list_enabled_baselines", "enabledBaselines")
        return frozenset(
            str(b["targetIdentifier"])
            for b in enabled
            if b.get("baselineIdentifier") in baseline_arns
            and (b.get("statusSummary") or {}).get("status") == "SUCCEEDED"
        )

    # ------------------------------------------------------------ SCPs

    @functools.cached_property
    def scps(self) -> tuple[PolicySummary, ...]:
        """Every SCP of the organization (ListPolicies)."""
        return tuple(
            PolicySummary(str(policy["Id"]), str(policy["Name"]))
            for policy in self.aws.pages(
                "organizations", "list_policies", "Policies", Filter=SCP_FILTER
            )
        )

    @functools.cache  # noqa: B019 - one OrgFacts per command
    def targets_of(self, policy_id: str) -> tuple[str, ...]:
        """The ids of the roots, OUs and accounts one SCP is attached to directly."""
        return tuple(
            str(target["TargetId"])
            for target in self.aws.pages(
                "organizations", "list_targets_for_policy", "Targets", PolicyId=policy_id
            )
        )

    @functools.cached_property
    def attachments(self) -> Mapping[str, tuple[PolicySummary, ...]]:
        """Target id (root, OU or account) -> the SCPs attached directly to it."""
        return _by_target(self.scps, self.targets_of)

    def scps_of(self, target_id: str) -> tuple[PolicySummary, ...]:
        return self.attachments.get(target_id, ())

    def policy_content(self, policy_id: str) -> str:
        if policy_id not in self._contents:
            described = self.aws.call("organizations", "describe_policy", PolicyId=policy_id)
            self._contents[policy_id] = str(described["Policy"]["Content"])
        return self._contents[policy_id]

    def is_landing_zone_region_deny(self, policy: PolicySummary) -> bool:
        """True for Control Tower's SCP carrying the landing-zone Region deny (Sid GRREGIONDENY)."""
        if not policy.name.startswith(CONTROL_TOWER_SCP_PREFIX):
            return False
        try:
            document = decode_scp(self.policy_content(policy.id))
        except ScpDecodeError:
            return False
        if not isinstance(document, dict):
            return False
        return any(
            isinstance(s, dict) and s.get("Sid") == LANDING_ZONE_SID for s in statements(document)
        )

    @functools.cached_property
    def _landing_zone_region_deny(self) -> Mapping[str, tuple[PolicySummary, ...]]:
        # Only Control Tower's SCPs are read (DescribePolicy) and only those
        # carrying GRREGIONDENY have their targets listed: a plan pays for the
        # few SCPs on OUs, not for FullAWSAccess on every account.
        deny = [p for p in self.scps if self.is_landing_zone_region_deny(p)]
        return _by_target(deny, self.targets_of)

    def landing_zone_region_deny_scps(self, target_id: str) -> tuple[PolicySummary, ...]:
        """The SCPs attached to ``target_id`` that carry the landing-zone Region deny."""
        return self._landing_zone_region_deny.get(target_id, ())

    def landing_zone_region_deny_on(self, targets: Iterable[str]) -> tuple[str, ...]:
        """Of ``targets`` (OU ids), those carrying the landing-zone Region deny."""
        return tuple(t for t in targets if self.landing_zone_region_deny_scps(t))

    # ------------------------------------------------------------ controls

    def enabled_controls(self, target_arn: str) -> tuple[Mapping[str, Any], ...]:
        if target_arn not in self._enabled_controls:
            self._enabled_controls[target_arn] = tuple(
                self.aws.pages(
                    "controltower",
                    "list_enabled_controls",
                    "enabledControls",
                    targetIdentifier=target_arn,
                )
            )
        return self._enabled_controls[target_arn]

    def control_enabled(self, ou: Ou, identifiers: Iterable[str | None]) -> bool:
        """True when one of ``identifiers`` is enabled on ``ou`` and SUCCEEDED."""
        wanted = {i for i in identifiers if i}
        return any(
            c.get("controlIdentifier") in wanted
            and (c.get("statusSummary") or {}).get("status") == "SUCCEEDED"
            for c in self.enabled_controls(ou.arn)
        )

    def enabled_control_drift(self, enabled_control_arn: str) -> str:
        """Control Tower's drift status of one enabled control (IN_SYNC, DRIFTED, ...)."""
        details = self.aws.call(
            "controltower", "get_enabled_control", enabledControlIdentifier=enabled_control_arn
        ).get("enabledControlDetails", {})
        return str((details.get("driftStatusSummary") or {}).get("driftStatus"))


def _by_target(
    policies: Iterable[PolicySummary], targets_of: Callable[[str], tuple[str, ...]]
) -> dict[str, tuple[PolicySummary, ...]]:
    out: dict[str, list[PolicySummary]] = {}
    for policy in policies:
        for target in targets_of(policy.id):
            out.setdefault(target, []).append(policy)
    return {target: tuple(found) for target, found in out.items()}
