"""Run the real checkov from .venv-checkov and read its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKS_DIR = REPO_ROOT / "policies" / "checkov"
TIMEOUT = 300


def checkov_binary() -> Path:
    """checkov of .venv-checkov: $REGIONGUARD_CHECKOV (set by the Makefile) or the default."""
    path = Path(os.environ.get("REGIONGUARD_CHECKOV") or REPO_ROOT / ".venv-checkov/bin/checkov")
    if not path.is_file():
        missing(f"{path}: checkov is not installed; run `make check` once to create .venv-checkov")
    return path


@dataclass
class Report:
    passed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    failed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    details: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    parsing_errors: int = 0

    def resources(self, outcome: str, check_id: str, folder: str) -> set[str]:
        """Resource names (after the type) with that outcome of check_id in files under folder."""
        table = self.passed if outcome == "passed" else self.failed
        return {
            resource.split(".", 1)[1]
            for path, resource in table.get(check_id, set())
            if f"/{folder}/" in f"/{path.lstrip('/')}"
        }


def run_checkov(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    command = [str(checkov_binary()), "--skip-download", *args]
    merged = {**os.environ, **(env or {})}
    done = subprocess.run(
        command, cwd=cwd, env=merged, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    return done.returncode, done.stdout, done.stderr


def parse_report(stdout: str) -> Report:
    sections: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    text = stdout.strip()
    while text:
        data, end = decoder.raw_decode(text)
        sections.extend(data if isinstance(data, list) else [data])
        text = text[end:].strip()
    report = Report()
    for section in sections:
        results = section.get("results", {})
        report.parsing_errors += int(section.get("summary", {}).get("parsing_errors", 0))
        for outcome, table in (("passed_checks", report.passed), ("failed_checks", report.failed)):
            for record in results.get(outcome, []):
                key = (record.get("file_abs_path") or record["file_path"], record["resource"])
                table.setdefault(record["check_id"], set()).add(key)
                report.details[(record["check_id"], *key)] = record.get("details") or []
    return report
