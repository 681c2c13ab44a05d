"""Settings of the local sandbox: envs/local/sandbox.yaml and the accounts registry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from regionguard.errors import InputError
from regionguard.inputfile import SANDBOX_SETTINGS, boundary_of
from regionguard.registry import load_registry
from regionguard.schemas import json_path, validator
from regionguard.yamlfile import read_yaml, schema_message, show

SETTINGS_FILE = "sandbox.yaml"
DEFAULT_OPERATION_SECONDS = 0.3
DEFAULT_TIME_SCALE = 1.0
# AWS: "Up to one hundred (100) control-related operations at a time can be in
# progress" (Control Tower user guide, Limitations and quotas).
CONTROL_OPERATIONS_LIMIT = 100
# No answer sooner than this after the request arrived (docs/sandbox.md,
# "Calls sent twice").
DEFAULT_MIN_RESPONSE_SECONDS = 0.01
DEFAULT_LANDING_ZONE_VERSION = "3.3"
DEFAULT_SECURITY_OU = "Security"


@dataclass(frozen=True)
class SeedAccount:
    """An account the sandbox creates with its exact id in the OU at ``ou``.

    ``ou`` is an OU path such as ``Workloads`` or ``Workloads/Prod``; None
    places the account directly under the root.
    """

    id: str
    name: str
    ou: str | None


@dataclass(frozen=True)
class SandboxSettings:
    """What the sandbox emulates: the organization and the landing zone."""

    env_dir: Path
    management_account_id: str
    home_region: str
    governed_regions: tuple[str, ...]
    landing_zone_region_deny: bool
    organizational_units: tuple[str, ...]
    accounts: tuple[SeedAccount, ...]
    operation_seconds: float
    # Simulated (AWS-pace) seconds that pass for the Control Tower operations
    # in one real second: an operation lasts operation_seconds / time_scale.
    time_scale: float = DEFAULT_TIME_SCALE
    control_operations_limit: int = CONTROL_OPERATIONS_LIMIT
    min_response_seconds: float = DEFAULT_MIN_RESPONSE_SECONDS
    # First-tier OUs of organizational_units given as {name, registered: false}.
    unregistered_ous: tuple[str, ...] = ()
    landing_zone_version: str = DEFAULT_LANDING_ZONE_VERSION
    security_ou: str = DEFAULT_SECURITY_OU
    landing_zone_drift_status: str = "IN_SYNC"

    @property
    def first_tier_ous(self) -> tuple[str, ...]:
        """First-tier OUs: the settings' list, then any first segment an account names."""
        names = list(self.organizational_units)
        for account in self.accounts:
            if account.ou is None:
                continue
            first = account.ou.split("/")[0]
            if first not in names:
                names.append(first)
        return tuple(names)

    @property
    def registered_ous(self) -> tuple[str, ...]:
        """The first-tier OUs registered with Control Tower (all but the unregistered ones)."""
        return tuple(n for n in self.first_tier_ous if n not in self.unregistered_ous)


def load_sandbox_settings(
    env_dir: Path, *, landing_zone_region_deny: bool | None = None
) -> SandboxSettings:
    """Read ``env_dir/sandbox.yaml`` and the registry it names; raise InputError on bad input."""
    path = env_dir / SETTINGS_FILE
    raw = read_yaml(
        path,
        missing="no sandbox settings; the sandbox emulates the organization described "
        "there (see docs/sandbox.md)",
        kind=SANDBOX_SETTINGS,
    )
    errors = sorted(validator("sandbox").iter_errors(raw), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = json_path(first.absolute_path) or "(top level)"
        raise InputError(f"{path}: {where}: {schema_message(first)}")
    landing_zone = raw["landing_zone"]
    home_region: str = landing_zone["home_region"]
    if home_region not in landing_zone["governed_regions"]:
        raise InputError(
            f"{path}: landing_zone.home_region {show(home_region)} is not in "
            "landing_zone.governed_regions; the home Region is always governed, add it"
        )
    registry_path = _registry_path(path, env_dir, raw.get("registry", "accounts.yaml"))
    accounts = _load_accounts(registry_path)
    management = raw["management_account_id"]
    for account in accounts:
        if account.id == management:
            raise InputError(
                f"{registry_path}: account {account.name} ({account.id}) is the sandbox's "
                f"management account ({path}: management_account_id); use another id"
            )
    deny = (
        landing_zone["region_deny"]
        if landing_zone_region_deny is None
        else landing_zone_region_deny
    )
    names: list[str] = []
    unregistered: list[str] = []
    for i, entry in enumerate(raw["organizational_units"]):
        name = entry if isinstance(entry, str) else entry["name"]
        if name in names:
            raise InputError(
                f"{path}: organizational_units[{i}]: {name!r} is listed twice; list it once"
            )
        names.append(name)
        if isinstance(entry, dict) and entry.get("registered") is False:
            unregistered.append(name)
    return SandboxSettings(
        env_dir=env_dir,
        management_account_id=management,
        home_region=home_region,
        governed_regions=tuple(landing_zone["governed_regions"]),
        landing_zone_region_deny=bool(deny),
        organizational_units=tuple(names),
        accounts=accounts,
        operation_seconds=float(raw.get("operation_seconds", DEFAULT_OPERATION_SECONDS)),
        time_scale=float(raw.get("time_scale", DEFAULT_TIME_SCALE)),
        control_operations_limit=int(raw.get("control_operations_limit", CONTROL_OPERATIONS_LIMIT)),
        min_response_seconds=float(raw.get("min_response_seconds", DEFAULT_MIN_RESPONSE_SECONDS)),
        unregistered_ous=tuple(unregistered),
        landing_zone_version=landing_zone.get("version", DEFAULT_LANDING_ZONE_VERSION),
        security_ou=landing_zone.get("security_ou", DEFAULT_SECURITY_OU),
        landing_zone_drift_status=landing_zone.get("drift_status", "IN_SYNC"),
    )


def _registry_path(path: Path, env_dir: Path, name: str) -> Path:
    """The registry ``sandbox.yaml`` names: a file of the repository, by a relative path."""
    if "\0" in name:
        raise InputError(
            f"{path}: registry {show(name)} is not a file name (it holds a NUL character); "
            "name the accounts registry, such as accounts.yaml"
        )
    registry = Path(os.path.normpath(env_dir / name))
    # The one input reader's boundary of sandbox.yaml: its repository, else its folder.
    root = boundary_of(path)
    if os.path.isabs(name) or not registry.resolve().is_relative_to(root):
        raise InputError(
            f"{path}: registry {show(name)} is not a file of the repository ({root}); name "
            "the accounts registry by a path relative to the environment folder, such as "
            "accounts.yaml"
        )
    return registry


def _load_accounts(registry_path: Path) -> tuple[SeedAccount, ...]:
    # The registry loader validates the file and raises InputError naming the
    # entry; the sandbox takes each account's id, name and OU path.
    registry = load_registry(registry_path)
    return tuple(SeedAccount(id=a.id, name=a.name, ou=a.ou) for a in registry.accounts)
