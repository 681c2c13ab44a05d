"""Seeding moto's organization from the sandbox settings, idempotently.

Creates what is missing and corrects what differs: the organization (with
SCPs enabled on the root), the first-tier OUs, each registry account with its
exact id in its OU, ``FullAWSAccess`` on every root, OU and account, and,
when the settings ask for it, the landing-zone Region deny on every
registered OU. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict
from moto.moto_api._internal import mock_random
from moto.organizations import utils as org_utils
from moto.organizations.models import (
    FakeAccount,
    FakeOrganizationalUnit,
    OrganizationsBackend,
    organizations_backends,
)

from regionguard.controlscp import render_landing_zone_deny
from regionguard.sandbox.controltower import GUARDRAIL_POLICY_PREFIX
from regionguard.sandbox.settings import SandboxSettings

FULL_ACCESS_POLICY_ID = org_utils.DEFAULT_SCP_POLICY_ID
LANDING_ZONE_POLICY_NAME = GUARDRAIL_POLICY_PREFIX + "landing-zone-region-deny"


@dataclass(frozen=True)
class SeedReport:
    """What one seeding pass created or changed (empty lists: nothing to do)."""

    organization_id: str
    root_id: str
    created: tuple[str, ...]
    changed: tuple[str, ...]


def reset_backends() -> None:
    """Forget every emulated AWS resource of this process."""
    BackendDict.reset()
    organizations_backends.master_accounts.clear()


def organizations_backend(settings: SandboxSettings) -> OrganizationsBackend:
    backend: OrganizationsBackend = organizations_backends[settings.management_account_id]["aws"]
    return backend


def seed(settings: SandboxSettings) -> SeedReport:
    """Bring the emulated organization in line with ``settings``."""
    backend = organizations_backend(settings)
    created: list[str] = []
    changed: list[str] = []
    if backend.org is None:
        # Ids come from moto's random generator: seeding it from the
        # management account id gives the same organization, root and OU ids
        # on every start, so local state survives a sandbox restart.
        mock_random.seed(zlib.crc32(settings.management_account_id.encode()))
        backend.create_organization(region=settings.home_region, FeatureSet="ALL")
        created.append("organization")
    org = backend.org
    assert org is not None
    root = backend._get_root_by_id(org.root_id)
    if not any(t["Type"] == "SERVICE_CONTROL_POLICY" for t in root.policy_types):
        root.add_policy_type("SERVICE_CONTROL_POLICY")
        changed.append("root: SERVICE_CONTROL_POLICY enabled")

    ou_ids: dict[str, str] = {}
    for path in (*settings.first_tier_ous, *(a.ou for a in settings.accounts if a.ou)):
        ou_ids[path] = _ensure_ou_path(backend, org.root_id, path, created)

    for account in settings.accounts:
        parent = ou_ids[account.ou] if account.ou else org.root_id
        _ensure_account(backend, settings, account.id, account.name, parent, created, changed)

    for target_id in [
        org.root_id,
        *(ou.id for ou in backend.ou),
        *(a.id for a in backend.accounts),
    ]:
        if not _attached(backend, FULL_ACCESS_POLICY_ID, target_id):
            backend.attach_policy(PolicyId=FULL_ACCESS_POLICY_ID, TargetId=target_id)
            changed.append(f"{target_id}: FullAWSAccess attached")

    registered = [ou_ids[name] for name in settings.registered_ous]
    _landing_zone_region_deny(backend, settings, registered, created, changed)
    return SeedReport(org.id, org.root_id, tuple(created), tuple(changed))


def _ensure_ou_path(
    backend: OrganizationsBackend, root_id: str, path: str, created: list[str]
) -> str:
    parent = root_id
    for name in path.split("/"):
        existing = next(
            (ou for ou in backend.ou if ou.parent_id == parent and ou.name == name), None
        )
        if existing is None:
            described = backend.create_organizational_unit(Name=name, ParentId=parent)
            parent = described["OrganizationalUnit"]["Id"]
            created.append(f"ou {path}")
        else:
            parent = existing.id
    return parent


def _ensure_account(
    backend: OrganizationsBackend,
    settings: SandboxSettings,
    account_id: str,
    name: str,
    parent_id: str,
    created: list[str],
    changed: list[str],
) -> None:
    existing = next((a for a in backend.accounts if a.id == account_id), None)
    if existing is None:
        assert backend.org is not None
        account = FakeAccount(backend.org, AccountName=name, Email=f"{name}@example.com")
        account.id = account_id
        account.parent_id = parent_id
        backend.accounts.append(account)
        for policy_id in (org_utils.DEFAULT_SCP_POLICY_ID, org_utils.DEFAULT_RCP_POLICY_ID):
            backend.attach_policy(PolicyId=policy_id, TargetId=account_id)
        organizations_backends.master_accounts[account_id] = (
            settings.management_account_id,
            backend.partition,
        )
        created.append(f"account {account_id} ({name})")
        return
    if existing.name != name:
        existing.name = name
        changed.append(f"account {account_id}: renamed {name}")
    if existing.parent_id != parent_id:
        existing.parent_id = parent_id
        changed.append(f"account {account_id}: moved to {parent_id}")


def _attached(backend: OrganizationsBackend, policy_id: str, target_id: str) -> bool:
    targets: list[Any] = [*backend.ou, *backend.accounts]
    target = next((t for t in targets if t.id == target_id), None)
    return target is not None and any(p.id == policy_id for p in target.attached_policies)


def _landing_zone_region_deny(
    backend: OrganizationsBackend,
    settings: SandboxSettings,
    registered: list[str],
    created: list[str],
    changed: list[str],
) -> None:
    policy = next((p for p in backend.policies if p.name == LANDING_ZONE_POLICY_NAME), None)
    if not settings.landing_zone_region_deny:
        if policy is not None:
            for target in list(policy.attachments):
                backend.detach_policy(PolicyId=policy.id, TargetId=target.id)
            backend.delete_policy(PolicyId=policy.id)
            changed.append(f"{LANDING_ZONE_POLICY_NAME}: removed")
        return
    content = render_landing_zone_deny(settings.governed_regions)
    if policy is None:
        described = backend.create_policy(
            Name=LANDING_ZONE_POLICY_NAME,
            Description="Control Tower landing zone Region deny",
            Type="SERVICE_CONTROL_POLICY",
            Content=content,
        )
        policy_id: str = described["Policy"]["PolicySummary"]["Id"]
        created.append(LANDING_ZONE_POLICY_NAME)
    else:
        policy_id = policy.id
        if policy.content != content:
            backend.update_policy(PolicyId=policy_id, Content=content)
            changed.append(f"{LANDING_ZONE_POLICY_NAME}: content")
    for ou_id in registered:
        if not _attached(backend, policy_id, ou_id):
            backend.attach_policy(PolicyId=policy_id, TargetId=ou_id)
            changed.append(f"{ou_id}: {LANDING_ZONE_POLICY_NAME} attached")


def first_tier_ous(settings: SandboxSettings) -> dict[str, FakeOrganizationalUnit]:
    """The first-tier OUs by name, registered or not (after seeding)."""
    backend = organizations_backend(settings)
    assert backend.org is not None
    return {
        ou.name: ou
        for ou in backend.ou
        if ou.parent_id == backend.org.root_id and ou.type == "ORGANIZATIONAL_UNIT" and ou.name
    }
