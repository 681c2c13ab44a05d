"""The scripts that refresh the data files from AWS's pages (tools/), run as people run them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFRESH = ROOT / "tools" / "refresh_inference_profiles.py"
CHECK_OPERATIONS = ROOT / "tools" / "check_bedrock_operations.py"
PAGE = ROOT / "tests" / "fixtures" / "awsdocs" / "inference-profiles-support.md"
DATA = ROOT / "scripts" / "regionguard" / "data" / "inference_profiles.json"
EXCERPT = [
    "global.anthropic.claude-sonnet-4-20250514-v1:0",
    "us.anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
]


def refresh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REFRESH), *args], capture_output=True, text=True, check=False
    )


def test_the_refresh_reads_aws_s_sections_into_the_table_the_package_ships(tmp_path: Path) -> None:
    data = tmp_path / "inference_profiles.json"
    shutil.copy(DATA, data)
    result = refresh("--page", str(PAGE), "--data", str(data), "--retrieved", "2027-01-02")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{data}: 5 profiles from {PAGE}, retrieved 2027-01-02\n"
    refreshed = json.loads(data.read_text())
    assert list(refreshed["profiles"]["routes"]) == EXCERPT
    assert refreshed["profiles"]["source"]["retrieved"] == "2027-01-02"
    shipped = json.loads(DATA.read_text())["profiles"]["routes"]
    for profile_id in EXCERPT:
        assert refreshed["profiles"]["routes"][profile_id] == shipped[profile_id], profile_id
    assert refreshed["geographies"] == json.loads(DATA.read_text())["geographies"]


def test_a_region_outside_its_geography_s_union_stops_the_refresh(tmp_path: Path) -> None:
    data = tmp_path / "inference_profiles.json"
    shutil.copy(DATA, data)
    page = tmp_path / "page.md"
    page.write_text(
        PAGE.read_text().replace("us-east-1<br>us-west-2   ", "us-east-1<br>mx-central-1")
    )
    result = refresh("--page", str(page), "--data", str(data))
    assert result.returncode == 1
    assert "us.anthropic.claude-3-haiku-20240307-v1:0: mx-central-1" in result.stderr
    assert data.read_bytes() == DATA.read_bytes()


def test_check_says_whether_the_shipped_table_is_current(tmp_path: Path) -> None:
    result = refresh("--page", str(PAGE), "--data", str(DATA), "--check")
    assert (result.returncode, result.stdout) == (1, "5 profiles; changed\n")


def test_every_bedrock_runtime_operation_of_botocore_has_its_row() -> None:
    result = subprocess.run(
        [sys.executable, str(CHECK_OPERATIONS)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("11 operations of bedrock-runtime 2023-09-30 have their rows")
