"""Each check against its example_<Check>/main.tf: the exact pass_* and fail_* sets."""

from __future__ import annotations

import pytest
from checkov_runner import CHECKS_DIR, REPO_ROOT, Report, parse_report, run_checkov

pytestmark = pytest.mark.checkov

HERE = REPO_ROOT / "tests" / "checkov"

EXPECTED: dict[str, tuple[str, set[str], set[str]]] = {
    "ScpDenyOnly": (
        "CKV_RG_1",
        {"pass_deny"},
        {"fail_allow", "fail_allow_beside_deny", "fail_unresolved"},
    ),
    "ScpResourceAll": (
        "CKV_RG_2",
        {"pass_star", "pass_star_in_list"},
        {"fail_narrow", "fail_not_resource"},
    ),
    "ScpNoPrincipal": ("CKV_RG_3", {"pass_no_principal"}, {"fail_principal", "fail_not_principal"}),
    "ScpBedrockGuard": (
        "CKV_RG_4",
        {
            "pass_seed",
            "pass_no_permitted_account",
            "pass_extra_restrictions",
            "pass_bedrock_wildcard_guard",
            "pass_unrelated",
        },
        {
            "fail_no_condition",
            "fail_only_account_condition",
            "fail_if_exists",
            "fail_narrowed_by_tag",
            "fail_unspecified_allowed",
        },
    ),
    "ScpAccountIds": (
        "CKV_RG_5",
        {"pass_twelve_digits", "pass_no_account"},
        {"fail_eleven_digits", "fail_letters"},
    ),
    "ScpSize": ("CKV_RG_6", {"pass_small"}, {"fail_too_large"}),
    "ControlIdentifier": ("CKV_RG_7", {"pass_default_identifier"}, {"fail_other_identifier"}),
    "ControlAllowedRegions": (
        "CKV_RG_8",
        {"pass_two_regions", "pass_one_region"},
        {"fail_empty", "fail_missing", "fail_not_region_code"},
    ),
    "ControlExemptedActions": (
        "CKV_RG_9",
        {"pass_seed_actions", "pass_no_exemption", "pass_batch_inference"},
        {"fail_wildcard", "fail_unapproved"},
    ),
    "ExemptionsGuarded": (
        "CKV_RG_10",
        {"pass_guarded", "pass_no_exemption"},
        {"fail_batch_not_guarded", "fail_scp_guards_other_actions", "fail_no_scp_on_ou"},
    ),
}


@pytest.fixture(scope="module")
def report() -> Report:
    # One run over every example folder (checkov drops results of a second -d).
    # example_ScpSize sets scp_size_limit = 320 in its terraform.tfvars, so that
    # a readable example exceeds it; the other folders keep the default.
    args = ["--framework", "terraform", "--external-checks-dir", str(CHECKS_DIR), "-o", "json"]
    args += ["-d", "."]
    _, stdout, stderr = run_checkov(args, HERE)
    assert stdout.strip(), stderr
    return parse_report(stdout)


def test_examples_parse_without_errors(report: Report) -> None:
    assert report.parsing_errors == 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_passes_exactly_the_pass_examples(report: Report, name: str) -> None:
    check_id, passes, _ = EXPECTED[name]
    assert report.resources("passed", check_id, f"example_{name}") == passes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_fails_exactly_the_fail_examples(report: Report, name: str) -> None:
    check_id, _, fails = EXPECTED[name]
    assert report.resources("failed", check_id, f"example_{name}") == fails


def test_an_unresolved_scp_fails_closed_with_a_reason(report: Report) -> None:
    details = [
        d
        for (check_id, path, resource), d in report.details.items()
        if check_id == "CKV_RG_1" and resource.endswith(".fail_unresolved")
    ]
    assert details == [
        [
            "cannot check: the SCP content is not a policy document checkov could evaluate "
            "(fail closed; see docs/policy-as-code.md)"
        ]
    ]


def test_a_control_identifier_held_in_a_variable_is_neither_passed_nor_failed(
    report: Report,
) -> None:
    folder = "example_ControlIdentifier"
    assert "unknown_identifier_variable" not in report.resources("passed", "CKV_RG_7", folder)
    assert "unknown_identifier_variable" not in report.resources("failed", "CKV_RG_7", folder)


def test_a_tag_policy_is_not_judged_as_an_scp(report: Report) -> None:
    folder = "example_ScpDenyOnly"
    assert "other_tag_policy" not in report.resources("passed", "CKV_RG_1", folder)
    assert "other_tag_policy" not in report.resources("failed", "CKV_RG_1", folder)


def test_the_size_limit_is_the_folder_s_terraform_tfvars(report: Report) -> None:
    """320 from example_ScpSize/terraform.tfvars; SCPs of other folders keep 10,240."""
    [details] = [
        d
        for (check_id, _path, resource), d in report.details.items()
        if check_id == "CKV_RG_6" and resource.endswith(".fail_too_large")
    ]
    assert details == ["the document is 405 characters; the limit is 320"]
    assert report.resources("failed", "CKV_RG_6", "example_ScpDenyOnly") == {"fail_unresolved"}
    assert "fail_allow_beside_deny" in report.resources("passed", "CKV_RG_6", "example_ScpDenyOnly")
