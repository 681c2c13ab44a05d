"""Seeding the emulated organization from the sandbox settings."""

from __future__ import annotations

import dataclasses
import json
from importlib.resources import files
from pathlib import Path

import pytest

from regionguard.controlscp import render_landing_zone_deny
from regionguard.errors import InputError
from regionguard.sandbox.faults import FaultSpecError, make_fault, parse_faults
from regionguard.sandbox.seed import (
    LANDING_ZONE_POLICY_NAME,
    organizations_backend,
    reset_backends,
    seed,
)
from regionguard.sandbox.settings import (
    CONTROL_OPERATIONS_LIMIT,
    SandboxSettings,
    load_sandbox_settings,
)


@pytest.fixture
def settings(sandbox_env: Path) -> SandboxSettings:
    reset_backends()
    return load_sandbox_settings(sandbox_env)


def _tree(settings: SandboxSettings) -> dict[str, list[str]]:
    """Each OU path (and "/" for the root) with the SCP names attached to it."""
    backend = organizations_backend(settings)
    org = backend.org
    assert org is not None
    names = {ou.id: ou.name for ou in backend.ou}
    parents = {ou.id: str(ou.parent_id) for ou in backend.ou}

    def path(ou_id: str) -> str:
        if ou_id == org.root_id:
            return "/"
        parent = parents[ou_id]
        prefix = "" if parent == org.root_id else path(parent) + "/"
        return prefix + str(names[ou_id])

    return {
        path(ou.id): sorted(
            str(p.name) for p in ou.attached_policies if p.type == "SERVICE_CONTROL_POLICY"
        )
        for ou in backend.ou
    }


def test_seed_creates_the_organization_ous_and_accounts_with_exact_ids(
    settings: SandboxSettings,
) -> None:
    seed(settings)
    backend = organizations_backend(settings)
    assert backend.org is not None
    assert backend.org.master_account_id == "111111111111"
    assert sorted(_tree(settings)) == ["/", "Research", "Security", "Workloads", "Workloads/ML"]
    parents = {ou.id: ou.name for ou in backend.ou}
    accounts = {a.id: (a.name, parents[a.parent_id]) for a in backend.accounts}
    assert accounts == {
        "111111111111": ("master", "Root"),
        "100000000001": ("ml-platform", "ML"),
        "100000000002": ("payments", "Workloads"),
        "100000000003": ("research", "Research"),
    }


def test_full_aws_access_is_attached_everywhere(settings: SandboxSettings) -> None:
    seed(settings)
    assert set(map(tuple, _tree(settings).values())) == {("FullAWSAccess",)}
    for account in organizations_backend(settings).accounts:
        scps = [p.name for p in account.attached_policies if p.type == "SERVICE_CONTROL_POLICY"]
        assert scps == ["FullAWSAccess"], account.id


def test_seeding_twice_changes_nothing(settings: SandboxSettings) -> None:
    first = seed(settings)
    tree = _tree(settings)
    second = seed(settings)
    assert (second.created, second.changed) == ((), ())
    assert (second.organization_id, second.root_id) == (first.organization_id, first.root_id)
    assert _tree(settings) == tree


def test_ids_are_the_same_after_a_restart(settings: SandboxSettings) -> None:
    seed(settings)
    before = sorted(ou.id for ou in organizations_backend(settings).ou)
    reset_backends()
    seed(settings)
    assert sorted(ou.id for ou in organizations_backend(settings).ou) == before


def test_seed_moves_an_account_back_to_its_registry_ou(settings: SandboxSettings) -> None:
    seed(settings)
    backend = organizations_backend(settings)
    assert backend.org is not None
    account = next(a for a in backend.accounts if a.id == "100000000002")
    account.parent_id = backend.org.root_id
    report = seed(settings)
    workloads = next(ou.id for ou in backend.ou if ou.name == "Workloads")
    assert account.parent_id == workloads
    assert report.changed == (f"account 100000000002: moved to {workloads}",)


def test_landing_zone_region_deny_is_attached_to_every_registered_ou(
    settings: SandboxSettings,
) -> None:
    seed(dataclasses.replace(settings, landing_zone_region_deny=True))
    assert _tree(settings) == {
        "/": ["FullAWSAccess"],
        "Security": ["FullAWSAccess", LANDING_ZONE_POLICY_NAME],
        "Workloads": ["FullAWSAccess", LANDING_ZONE_POLICY_NAME],
        "Workloads/ML": ["FullAWSAccess"],
        "Research": ["FullAWSAccess", LANDING_ZONE_POLICY_NAME],
    }
    backend = organizations_backend(settings)
    policy = next(p for p in backend.policies if p.name == LANDING_ZONE_POLICY_NAME)
    assert policy.content == render_landing_zone_deny(["ap-northeast-1", "us-east-1"])


def test_landing_zone_region_deny_turned_off_is_removed(settings: SandboxSettings) -> None:
    seed(dataclasses.replace(settings, landing_zone_region_deny=True))
    report = seed(settings)
    assert report.changed == (f"{LANDING_ZONE_POLICY_NAME}: removed",)
    assert set(map(tuple, _tree(settings).values())) == {("FullAWSAccess",)}


# ----------------------------------------------------------------- settings


def test_settings_name_the_registered_ous_in_order(settings: SandboxSettings) -> None:
    assert settings.registered_ous == ("Security", "Workloads", "Research")
    assert settings.operation_seconds == 0.05


def test_the_pace_and_the_limits_default_to_real_time_aws_quota_and_the_floor(
    settings: SandboxSettings,
) -> None:
    assert (settings.time_scale, settings.control_operations_limit) == (1.0, 100)
    assert settings.min_response_seconds == 0  # tests/conftest.py turns the floor off
    defaults = dataclasses.fields(SandboxSettings)
    floor = next(f for f in defaults if f.name == "min_response_seconds")
    assert floor.default == 0.01


def test_the_schema_allows_the_quota_up_to_aws_s_limit_and_no_further() -> None:
    schema = json.loads((files("regionguard") / "data" / "sandbox.schema.json").read_text())
    assert schema["properties"]["control_operations_limit"]["maximum"] == CONTROL_OPERATIONS_LIMIT


def test_the_pace_settings_are_read(sandbox_env: Path) -> None:
    path = sandbox_env / "sandbox.yaml"
    text = path.read_text().replace("min_response_seconds: 0\n", "min_response_seconds: 0.02\n")
    path.write_text(text + "time_scale: 120\ncontrol_operations_limit: 3\n")
    settings = load_sandbox_settings(sandbox_env)
    assert (settings.time_scale, settings.control_operations_limit) == (120.0, 3)
    assert settings.min_response_seconds == 0.02


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("time_scale: 0", "time_scale: 0 is less than or equal to the minimum of 0"),
        ("control_operations_limit: 101", "control_operations_limit: 101 is greater than"),
    ],
)
def test_a_bad_pace_setting_names_the_entry(sandbox_env: Path, line: str, message: str) -> None:
    path = sandbox_env / "sandbox.yaml"
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(InputError) as caught:
        load_sandbox_settings(sandbox_env)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_the_command_line_overrides_the_landing_zone_setting(sandbox_env: Path) -> None:
    settings = load_sandbox_settings(sandbox_env, landing_zone_region_deny=True)
    assert settings.landing_zone_region_deny


def test_missing_settings_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sandbox.yaml: no sandbox settings"):
        load_sandbox_settings(tmp_path)


def test_bad_management_account_id_names_the_entry(sandbox_env: Path) -> None:
    path = sandbox_env / "sandbox.yaml"
    path.write_text(path.read_text().replace('"111111111111"', '"1111"'))
    with pytest.raises(InputError) as caught:
        load_sandbox_settings(sandbox_env)
    assert (
        str(caught.value) == f"{path}: management_account_id: '1111' does not match '^[0-9]{{12}}$'"
    )


def test_home_region_outside_the_governed_regions_is_refused(sandbox_env: Path) -> None:
    path = sandbox_env / "sandbox.yaml"
    path.write_text(
        path.read_text().replace("home_region: ap-northeast-1", "home_region: eu-west-1")
    )
    with pytest.raises(InputError, match=r"landing_zone.home_region 'eu-west-1' is not in"):
        load_sandbox_settings(sandbox_env)


def test_the_management_account_in_the_registry_is_refused(sandbox_env: Path) -> None:
    path = sandbox_env / "sandbox.yaml"
    path.write_text(path.read_text().replace('"111111111111"', '"100000000002"'))
    with pytest.raises(InputError, match=r"account payments \(100000000002\) is the sandbox's"):
        load_sandbox_settings(sandbox_env)


def test_a_bad_registry_is_reported_by_the_registry_loader(sandbox_env: Path) -> None:
    (sandbox_env / "accounts.yaml").write_text("accounts:\n  - id: 12\n")
    with pytest.raises(InputError, match=r"accounts.yaml"):
        load_sandbox_settings(sandbox_env)


# ------------------------------------------------------------------- faults


def test_fault_specifications_parse() -> None:
    assert parse_faults("throttle:enable-control:2, fail:1") == [
        make_fault("throttle", "enable-control", 2),
        make_fault("fail", None, 1),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode:1", "fault kind 'explode' is unknown"),
        ("fail:get-enabled-control:1", "fault 'fail' does not apply to action"),
        ("throttle:0", "fault count must be a positive integer"),
        ("throttle:x", "count 'x' is not a number"),
        ("throttle", "is not of the form KIND[:ACTION]:COUNT"),
    ],
)
def test_bad_fault_specifications_are_refused(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_faults(spec)
