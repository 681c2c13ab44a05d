"""The review within GitHub's limits: the pull-request comment and the job summary.

The large plans are those of bench/plan_diff_bench.py (the shape `terraform
show -json` gives for envs/local), at 320 first-tier OUs: the size at which
the whole review no longer fits in a comment.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import plan_fixture
from regionguard.cli import main
from regionguard.gaterecord import PlanFiles
from regionguard.pipeline import _full_review_at
from regionguard.planfile import Plan, parse_plan
from regionguard.review import review_plan
from regionguard.review_format import (
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    comment_markdown,
    fit_markdown,
    format_review,
    utf8_size,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
WHERE = "the job summary of this workflow run"
CUT = (
    f"**This comment shows the beginning of the review** ({COMMENT_LIMIT:,} characters at most); "
    f"the whole review is in {WHERE}.\n"
)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "plan_diff_bench", REPO_ROOT / "bench" / "plan_diff_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_plan(ous: int) -> dict[str, Any]:
    plan: dict[str, Any] = _bench().generate(ous)
    return plan


def checked(data: dict[str, Any]) -> Plan:
    return parse_plan(json.dumps(data), "envs/prod/tfplan.json")


def test_the_comment_at_320_ous_fits_and_starts_with_the_verdict_and_the_counts() -> None:
    review = review_plan(checked(bench_plan(320)))
    markdown = format_review(review, "markdown")
    assert len(markdown) > COMMENT_LIMIT  # the whole review would not fit

    comment = comment_markdown(review, markdown, full_review=WHERE)

    assert len(comment) <= COMMENT_LIMIT
    assert comment.startswith(
        "## Plan review: gate passed\n\n"
        "- **Gate**: passed\n"
        "- **Widening changes**: 2\n"
        "- **Resources**: 0 to create, 321 to update, 0 to replace, 0 to delete\n"
        "- **Warnings**: 2\n"
        "\n### Widening changes: review before approving\n"
    )
    assert comment.endswith("\n\n" + CUT)
    # What is shown is the review's beginning, line for line, its details closed.
    shown = comment.removesuffix("\n\n" + CUT).split("\n- **Warnings**: 2\n", 1)[1]
    assert markdown.startswith("## Plan review: gate passed\n" + shown.removesuffix("</details>"))
    assert comment.count("<details>") == comment.count("</details>")


def test_the_comment_of_a_plan_removing_320_ous_counts_every_reason_first() -> None:
    data = bench_plan(320)
    for rc in data["resource_changes"]:
        rc["change"].update(actions=["delete"], after=None)
    review = review_plan(checked(data))
    assert len(review.reasons) == 641

    comment = comment_markdown(
        review,
        format_review(review, "markdown"),
        notes=["**Failed**: the plan gate failed"],
        full_review=WHERE,
    )

    assert len(comment) <= COMMENT_LIMIT
    assert comment.startswith(
        "## Plan review: gate **failed**\n\n"
        "- **Gate**: failed, 641 reasons: 641 `RG-PLAN-DESTROY`\n"
        "- **Widening changes**: 321\n"
        "- **Resources**: 0 to create, 0 to update, 0 to replace, 641 to delete\n"
        "- **Warnings**: 0\n"
        "- **Failed**: the plan gate failed\n"
        "\n### Gate failed: 641 reasons\n\n- module.bedrock\\_inference\\_scp."
    )
    assert comment.endswith("\n\n" + CUT)


def test_a_small_review_is_commented_whole_after_its_counts(repo_root: Path) -> None:
    plan = checked(json.loads((plan_fixture("add-region") / "plan.json").read_text()))
    review = review_plan(plan)
    markdown = format_review(review, "markdown")

    comment = comment_markdown(review, markdown, full_review=WHERE)

    counts, body = comment.split("\n- **Warnings**: 0\n", 1)
    assert counts.startswith("## Plan review: gate passed\n\n- **Gate**: passed\n")
    assert "## Plan review: gate passed\n" + body == markdown


def test_the_job_summary_is_cut_in_utf8_bytes_closing_its_details() -> None:
    # → is three bytes: a limit in characters would let this through.
    lines = ["## Plan review", "", "<details><summary>Addresses</summary>", ""]
    lines += [f"- update `this[{i}]` → eu-west-1" for i in range(100)]
    text = "\n".join([*lines, "", "</details>", ""])
    limit = 1_000
    assert len(text) > limit

    fitted = fit_markdown(text, limit, "**Cut.**", size=utf8_size)

    assert utf8_size(fitted) <= limit
    kept = fitted.removesuffix("\n\n</details>\n\n**Cut.**\n")
    assert text.startswith(kept + "\n")
    assert kept.endswith("→ eu-west-1")


def test_a_line_longer_than_the_room_left_is_cut_inside_with_an_ellipsis() -> None:
    text = "## Review\n\n- Accounts newly permitted: " + ", ".join(
        f"{300000000000 + i}" for i in range(1_000)
    )
    fitted = fit_markdown(text, 500, "**Cut.**")
    assert len(fitted) <= 500
    assert fitted.startswith("## Review\n\n- Accounts newly permitted: 300000000000, ")
    assert fitted.endswith(" …\n\n**Cut.**\n")


def test_the_job_summary_limit_is_githubs_1_mib_with_room_left() -> None:
    assert SUMMARY_LIMIT < 1024 * 1024
    assert COMMENT_LIMIT < 65_536


def test_review_writes_the_comment_whatever_stops_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "local"
    folder.mkdir()
    for name in (
        "terraform.tfvars",
        "expectations.yaml",
        "backend.tf",
        "accounts.yaml",
        ".terraform.lock.hcl",
    ):
        shutil.copyfile(REPO_ROOT / "envs/local" / name, folder / name)
    (folder / "accounts.auto.tfvars.json").write_text('{"bedrock_permitted_account_ids": []}\n')
    monkeypatch.chdir(tmp_path)

    assert main(["review", "--env-dir", str(folder)]) == 1

    assert "local/tfplan.comment.md" in capsys.readouterr().err
    review = (folder / "tfplan.md").read_text()
    assert review.startswith("## Plan review: **failed** at inputs\n")
    # Small enough to be the whole review.
    assert (folder / "tfplan.comment.md").read_text() == review


def test_the_comment_links_the_run_whose_job_summary_holds_the_whole_review(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = PlanFiles(Path("envs/prod"))
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    assert _full_review_at(files) == (
        "the job summary of this workflow run and, among its artifacts, `envs/prod/tfplan.md`"
    )
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "example/regionguard")
    monkeypatch.setenv("GITHUB_RUN_ID", "1001")
    assert _full_review_at(files) == (
        "the job summary of [this workflow run](https://github.com/example/regionguard/actions/"
        "runs/1001) and, among its artifacts, `envs/prod/tfplan.md`"
    )
