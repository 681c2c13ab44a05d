"""`regionguard preflight` against the sandbox: each check, the formats, the exit codes."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from regionguard.aws import sandbox_client
from regionguard.cli import main
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_sandbox_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTROL = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"

SANDBOX_YAML = """\
management_account_id: "111111111111"
registry: accounts.yaml
organizational_units:
  - Security
  - Sandbox
  - Workloads
{extra_ou}
landing_zone:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1, ap-northeast-3, us-east-1, eu-west-2]
  region_deny: {region_deny}
  version: "{version}"
operation_seconds: 0
"""


@dataclass
class Sandbox:
    app: SandboxApp
    endpoint: str
    env: Path

    def configure(
        self,
        *,
        suspended: str = "",
        region_deny: bool = False,
        version: str = "3.3",
    ) -> None:
        """Rewrite sandbox.yaml, then reset and reseed the emulated organization."""
        (self.env / "sandbox.yaml").write_text(
            SANDBOX_YAML.format(
                extra_ou=suspended,
                region_deny=str(region_deny).lower(),
                version=version,
            )
        )
        self.app.settings = load_sandbox_settings(self.env)
        self.app.reset()

    def client(self, service: str) -> Any:
        return sandbox_client(service, self.endpoint)


UNREGISTERED = "  - {name: Suspended, registered: false}"
REGISTERED = "  - Suspended"


@pytest.fixture(scope="module")
def sandbox_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    env = tmp_path_factory.mktemp("preflight") / "env"
    env.mkdir()
    for name in ("terraform.tfvars", "accounts.yaml", "variables.tf", "providers.tf"):
        shutil.copy(REPO_ROOT / "envs" / "local" / name, env / name)
    (env / "sandbox.yaml").write_text(
        SANDBOX_YAML.format(extra_ou="", region_deny="false", version="3.3")
    )
    app = SandboxApp(load_sandbox_settings(env))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Sandbox(app, f"http://127.0.0.1:{server.server_address[1]}", env)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sandbox(sandbox_module: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.chdir(REPO_ROOT)
    (sandbox_module.env / "unregistered_ous.auto.tfvars.json").unlink(missing_ok=True)
    sandbox_module.configure()
    return sandbox_module


def preflight(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any], str]:
    code = main(
        [
            "preflight",
            "--env-dir",
            str(sandbox.env),
            "--sandbox-endpoint",
            sandbox.endpoint,
            "--format",
            "json",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}


def failing(report: dict[str, Any]) -> list[str]:
    return [c["id"] for c in report["checks"] if c["status"] == "fail"]


# ----------------------------------------------------------------- done when


def test_unregistered_ou_and_landing_zone_region_deny_fail_each_with_a_fix_then_pass_when_fixed(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.configure(suspended=UNREGISTERED, region_deny=True)
    code, report, _ = preflight(sandbox, capsys)
    assert code == 1
    assert report["passed"] is False
    assert failing(report) == ["ou-registration", "landing-zone-region-deny"]
    checks = by_id(report)
    assert "Suspended (ou-" in checks["ou-registration"]["message"]
    assert "not registered with Control Tower" in checks["ou-registration"]["message"]
    assert checks["ou-registration"]["fix"].startswith("register them (Control Tower console")
    assert checks["landing-zone-region-deny"]["message"].startswith(
        "the landing-zone Region deny is on (Security, Sandbox, Workloads); migration step 1-2"
    )
    assert "Region deny: Not enabled" in checks["landing-zone-region-deny"]["fix"]

    sandbox.configure(suspended=REGISTERED, region_deny=False)  # both fixed
    code, report, _ = preflight(sandbox, capsys)
    assert code == 0
    assert report["passed"] is True
    assert failing(report) == []
    assert by_id(report)["ou-registration"] == {
        "id": "ou-registration",
        "status": "pass",
        "message": "every first-tier OU is registered with Control Tower (4)",
        "fix": None,
    }


# --------------------------------------------------------------- each check


def test_every_check_is_named_and_passes_on_a_fresh_sandbox(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = preflight(sandbox, capsys)
    assert code == 0
    assert [(c["id"], c["status"]) for c in report["checks"]] == [
        ("credentials-account", "pass"),
        ("landing-zone", "pass"),
        ("home-region", "pass"),
        ("allowed-regions", "pass"),
        ("control-identifier", "pass"),
        ("ou-registration", "pass"),
        ("landing-zone-region-deny", "warn"),
        ("scp-quota", "pass"),
        ("security-ou", "warn"),
    ]
    checks = by_id(report)
    assert checks["landing-zone"]["message"] == (
        "landing zone 3.3, ACTIVE, drift IN_SYNC, home Region ap-northeast-1, governed "
        "Regions ap-northeast-1, ap-northeast-3, us-east-1, eu-west-2"
    )
    assert checks["control-identifier"]["message"] == (
        f"CT.MULTISERVICE.PV.1 is {CONTROL} (parameters: AllowedRegions, ExemptedActions, "
        "ExemptedPrincipalArns)"
    )
    assert checks["credentials-account"]["message"] == (
        "the credentials are of the management account 111111111111"
    )
    assert checks["scp-quota"]["message"] == (
        "SCPs attached + new per target, within 10: Security 1+2, Sandbox 1+2, Workloads 1+2"
    )


def test_a_control_identifier_other_than_the_catalog_fails_and_prints_the_right_arn(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    tfvars = sandbox.env / "terraform.tfvars"
    original = tfvars.read_text()
    wrong = "arn:aws:controlcatalog:::control/0000000000000000000000000"
    tfvars.write_text(original + f'control_identifier = "{wrong}"\n')
    try:
        code, report, _ = preflight(sandbox, capsys)
    finally:
        tfvars.write_text(original)
    assert code == 1
    check = by_id(report)["control-identifier"]
    assert check["status"] == "fail"
    assert check["message"].endswith(f"; the settings use {wrong}")
    assert check["fix"].startswith(f'set control_identifier = "{CONTROL}" in ')


def test_allowed_regions_outside_the_governed_regions_fail_naming_them(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    tfvars = sandbox.env / "terraform.tfvars"
    original = tfvars.read_text()
    tfvars.write_text(original.replace('"eu-west-2",', '"eu-west-2",\n  "us-west-2",'))
    try:
        code, report, _ = preflight(sandbox, capsys)
    finally:
        tfvars.write_text(original)
    assert code == 1
    check = by_id(report)["allowed-regions"]
    assert check["status"] == "fail"
    assert check["message"].startswith(
        "allowed_regions lists Regions the landing zone does not govern: us-west-2;"
    )


def test_a_home_region_other_than_the_landing_zone_fails(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    tfvars = sandbox.env / "terraform.tfvars"
    original = tfvars.read_text()
    tfvars.write_text(
        original.replace('home_region = "ap-northeast-1"', 'home_region = "us-east-1"')
    )
    try:
        code, report, _ = preflight(sandbox, capsys)
    finally:
        tfvars.write_text(original)
    assert code == 1
    check = by_id(report)["home-region"]
    assert (check["status"], check["message"]) == (
        "fail",
        "home_region is us-east-1; the landing zone's home Region is ap-northeast-1",
    )


def test_a_target_at_the_scp_quota_fails_naming_the_ou(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    org = sandbox.client("organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {
        o["Name"]: o["Id"]
        for o in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    }
    for i in range(8):  # FullAWSAccess + 8 = 9 attached; the two new ones make 11
        policy = org.create_policy(
            Name=f"extra-{i}",
            Description="",
            Type="SERVICE_CONTROL_POLICY",
            Content='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        )["Policy"]["PolicySummary"]["Id"]
        org.attach_policy(PolicyId=policy, TargetId=ous["Workloads"])
    code, report, _ = preflight(sandbox, capsys)
    assert code == 1
    check = by_id(report)["scp-quota"]
    assert check["status"] == "fail"
    assert check["message"] == (
        "targets would exceed 10 directly attached SCPs: Workloads (9 attached + 2 new = 11)"
    )


def test_after_apply_the_region_deny_still_on_is_migration_step_four(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.configure(region_deny=True)
    org = sandbox.client("organizations")
    ct = sandbox.client("controltower")
    root = org.list_roots()["Roots"][0]["Id"]
    for ou in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]:
        ct.enable_control(
            controlIdentifier=CONTROL,
            targetIdentifier=ou["Arn"],
            parameters=[{"key": "AllowedRegions", "value": ["ap-northeast-1"]}],
        )
    code, report, _ = preflight(sandbox, capsys)
    assert code == 1
    check = by_id(report)["landing-zone-region-deny"]
    assert check["status"] == "fail"
    assert "migration step 4" in check["message"]
    assert check["fix"].startswith("turn the landing-zone Region deny off: Control Tower console")


def test_a_security_ou_target_on_a_later_landing_zone_passes(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.configure(version="4.0")
    _, report, _ = preflight(sandbox, capsys)
    assert by_id(report)["security-ou"]["status"] == "pass"
    assert by_id(report)["landing-zone"]["message"].startswith("landing zone 4.0, ACTIVE")


# ----------------------------------------------- unregistered OUs to Terraform


def test_write_tfvars_records_the_unregistered_ou_and_it_becomes_a_warning(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.configure(suspended=UNREGISTERED)
    code, report, err = preflight(sandbox, capsys, "--write-tfvars")
    written = json.loads((sandbox.env / "unregistered_ous.auto.tfvars.json").read_text())
    (ou_id,) = written["unregistered_ous"]
    assert written == {"unregistered_ous": {ou_id: "Suspended"}}
    wrote = f"regionguard preflight: wrote {sandbox.env / 'unregistered_ous.auto.tfvars.json'}"
    assert wrote in err.splitlines()
    assert code == 0
    check = by_id(report)["ou-registration"]
    assert check["status"] == "warn"
    assert check["message"] == (
        "first-tier OUs not registered with Control Tower are left out and not covered by "
        f"the Region deny control nor the SCP: Suspended ({ou_id})"
    )
    # Once the OU is registered, the file is stale and preflight says so.
    sandbox.configure(suspended=REGISTERED)
    _, report, _ = preflight(sandbox, capsys)
    assert by_id(report)["ou-registration"]["status"] == "warn"
    assert (
        "lists OUs that are registered now: Suspended"
        in by_id(report)["ou-registration"]["message"]
    )


# ---------------------------------------------------------------- formats


def test_text_and_markdown_formats_show_each_check_and_the_fix(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.configure(suspended=UNREGISTERED)
    args = ["preflight", "--env-dir", str(sandbox.env), "--sandbox-endpoint", sandbox.endpoint]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "FAIL  ou-registration: first-tier OUs not registered" in text
    assert "      fix: register them (Control Tower console" in text
    assert text.endswith("preflight failed: 6 passed, 2 warnings, 1 failed\n")
    assert main([*args, "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("| check | status | message | fix |\n|---|---|---|---|\n")
    assert "| `ou-registration` | fail | first-tier OUs" in markdown


def test_an_unreachable_sandbox_is_bad_input(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["preflight", "--env-dir", str(sandbox.env), "--sandbox-endpoint", "http://127.0.0.1:9"]
    )
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(
        'regionguard: Could not connect to the endpoint URL: "http://127.0.0.1:9/'
    )
