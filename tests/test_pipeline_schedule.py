"""The pipelines' own commands: review's files when the chain stops early, permits, notify,
and the rule that an expired permit is never planned nor applied."""

from __future__ import annotations

import datetime
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import plan_fixture, record_as_passed
from regionguard.cli import main
from regionguard.environment import Environment, render_tfvars
from regionguard.errors import InputError
from regionguard.gaterecord import (
    PlanFiles,
    check_record,
    judge_saved_plan,
)
from regionguard.inputs import as_planned, expired_in_committed

REPO_ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2026, 11, 30)
REGISTRY = """\
accounts:
  - id: "100000000001"
    name: ml-platform
    bedrock_cross_region_inference: true
  - id: "100000000003"
    name: research
    bedrock_cross_region_inference: true
    expires: "2026-11-29"
    owner: research@example.com
  - id: "100000000005"
    name: vision
    bedrock_cross_region_inference: true
    expires: "2026-12-10"
    owner: vision@example.com
"""
BOTH = render_tfvars(["100000000001", "100000000003", "100000000005"])


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    """envs/local's settings and facts, with a registry where research expired yesterday."""
    folder = tmp_path / "local"
    folder.mkdir()
    for name in ("terraform.tfvars", "expectations.yaml", "backend.tf", ".terraform.lock.hcl"):
        shutil.copyfile(REPO_ROOT / "envs/local" / name, folder / name)
    (folder / "accounts.yaml").write_text(REGISTRY)
    (folder / "accounts.auto.tfvars.json").write_text(BOTH)
    return folder


# ---------------------------------------------------------------- expiry


def test_an_expired_permit_still_in_the_committed_file_is_left_out_of_the_plan(
    env_dir: Path,
) -> None:
    env = Environment(env_dir, TODAY)
    planned, lingering = as_planned(env)
    assert (lingering, planned.deployed_ids, planned.stale) == (
        ("100000000003",),
        ("100000000001", "100000000005"),
        False,
    )
    assert (env.deployed_ids, env.stale) == (
        ("100000000001", "100000000003", "100000000005"),
        True,
    )


def test_a_committed_file_stale_for_another_reason_is_not_excused_by_an_expiry(
    env_dir: Path,
) -> None:
    registry = env_dir / "accounts.yaml"
    registry.write_text(REGISTRY.replace("name: vision", "name: vision\n    ou: Workloads", 1))
    (env_dir / "accounts.auto.tfvars.json").write_text(
        '{\n  "bedrock_permitted_account_ids": [\n    "100000000001",\n    "100000000003"\n  ]\n}\n'
    )
    assert expired_in_committed(Environment(env_dir, TODAY)) == ()


def test_review_stopped_by_a_stale_file_still_writes_the_review_and_the_sarif_log(
    env_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env_dir / "accounts.auto.tfvars.json").write_text(
        '{\n  "bedrock_permitted_account_ids": [\n    "100000000001"\n  ]\n}\n'
    )
    assert main(["review", "--env-dir", str(env_dir), "--today", "2026-11-30"]) == 1
    err = capsys.readouterr().err
    message = (
        f"{env_dir}/accounts.auto.tfvars.json is not what {env_dir}/accounts.yaml generates "
        f"today; run `regionguard tfvars --env-dir {env_dir}` and commit it: Terraform "
        "deploys the committed file"
    )
    assert f"regionguard: {message}\n" in err
    escaped = message.replace("`", "\\`").replace("_", "\\_")
    assert (env_dir / "tfplan.md").read_text() == (
        "## Plan review: **failed** at inputs\n\n"
        f"`regionguard plan` stopped before Terraform's plan of {env_dir} could be reviewed.\n\n"
        "### Errors\n\n"
        f"- inputs: {escaped} `RG-PIPELINE-STOPPED`\n\n"
        "### Pipeline\n\n"
        f"- **Stopped at inputs**: {escaped}\n"
    )
    log = json.loads((env_dir / "tfplan.sarif").read_text())
    assert log["version"] == "2.1.0"
    assert [(r["ruleId"], r["level"], r["message"]["text"]) for r in log["runs"][0]["results"]] == [
        ("RG-PIPELINE-STOPPED", "error", f"inputs: {message}")
    ]
    assert not (env_dir / "tfplan.gate.json").exists()


def _saved_plan_json(permitted: list[str]) -> str:
    """``terraform show -json`` of a saved plan whose SCP permits ``permitted``."""
    plan = json.loads((plan_fixture("permit-account") / "plan.json").read_text())
    for rc in plan["resource_changes"]:
        if rc["type"] == "aws_organizations_policy":
            document = json.loads(rc["change"]["after"]["content"])
            condition = document["Statement"][0]["Condition"]["StringNotEquals"]
            condition["aws:PrincipalAccount"] = permitted
            rc["change"]["after"]["content"] = json.dumps(document, separators=(",", ":"))
    return json.dumps(plan)


def test_apply_refuses_a_plan_that_permits_an_account_whose_permit_expired_since(
    env_dir: Path,
) -> None:
    (env_dir / "accounts.auto.tfvars.json").write_text(
        '{\n  "bedrock_permitted_account_ids": [\n    "100000000001",\n    "100000000005"\n  ]\n}\n'
    )
    files = PlanFiles(env_dir)
    files.plan.write_bytes(b"saved plan")
    planned_on = datetime.date(2026, 12, 10)  # vision's last day
    # A record whose own list of permits was emptied: apply reads the plan, not the record.
    record_as_passed(env_dir, planned_on, facts=7)
    shown = _saved_plan_json(["100000000001", "100000000005"])
    assert check_record(files, Environment(env_dir, planned_on)) == []
    judge_saved_plan(shown, files, Environment(env_dir, planned_on))
    next_day = Environment(env_dir, planned_on + datetime.timedelta(1))
    assert check_record(files, next_day) == []
    with pytest.raises(InputError) as refused:
        judge_saved_plan(shown, files, next_day)
    assert str(refused.value) == (
        "the saved plan permits 100000000005 (vision), whose permit expired on 2026-12-10 "
        "(today is 2026-12-11); an ended permit is never applied: run "
        f"`make plan ENV={env_dir.name}` again, which leaves it out"
    )


def test_apply_refuses_a_plan_that_permits_an_account_the_registry_does_not_name(
    env_dir: Path,
) -> None:
    files = PlanFiles(env_dir)
    with pytest.raises(InputError, match=r"permits 999999999999, which .* does not name"):
        judge_saved_plan(
            _saved_plan_json(["100000000001", "999999999999"]), files, Environment(env_dir, TODAY)
        )


# ---------------------------------------------------------------- permits


def test_permits_reports_the_expired_permit_to_regenerate_and_the_one_ending_soon(
    env_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["permits", "--env-dir", str(env_dir), "--today", "2026-11-30"]) == 0
    report = (
        "## Permits of local on 2026-11-30\n\n"
        "### Expired, still in accounts.auto.tfvars.json: regenerate it "
        "(`make tfvars ENV=local`) and apply\n\n"
        "- 100000000003 (research), owner research@example.com, expires 2026-11-29\n\n"
        "### Ending within 30 days: renew `expires` if they must go on\n\n"
        "- 100000000005 (vision), owner vision@example.com, expires 2026-12-10: in 10 days\n"
    )
    assert capsys.readouterr().out == report
    assert (env_dir / "permits.md").read_text() == report


def test_permits_says_so_when_nothing_ends(
    env_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["permits", "--env-dir", str(env_dir), "--today", "2026-01-01", "--within", "5"]
    assert main(args) == 0
    assert capsys.readouterr().out == (
        "## Permits of local on 2026-01-01\n\nNo permit has expired or ends within 5 days.\n"
    )


# ---------------------------------------------------------------- notify


class _Hook:
    def __init__(self, status: int) -> None:
        self.bodies: list[Any] = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def hook_ok() -> Iterator[_Hook]:
    hook = _Hook(200)
    yield hook
    hook.close()


def test_notify_posts_the_title_and_the_file_as_slack_text(
    hook_ok: _Hook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = tmp_path / "drift.md"
    report.write_text("## Drift of prod: **1 finding(s)**\n")
    monkeypatch.setenv("REGIONGUARD_WEBHOOK_URL", hook_ok.url)
    assert main(["notify", "--title", "drift in prod", "--file", str(report)]) == 0
    text = "drift in prod\n\n## Drift of prod: **1 finding(s)**\n"
    assert hook_ok.bodies == [{"text": text}]
    assert capsys.readouterr().out == f"notify: sent {len(text)} characters (HTTP 200)\n"


def test_notify_without_a_webhook_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REGIONGUARD_WEBHOOK_URL", raising=False)
    assert main(["notify", "--title", "x"]) == 0
    assert capsys.readouterr().out == (
        "notify: $REGIONGUARD_WEBHOOK_URL is not set; no message sent\n"
    )


def test_notify_refuses_a_plain_http_webhook_without_printing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REGIONGUARD_WEBHOOK_URL", "http://hooks.example.com/T000/secret")
    assert main(["notify", "--title", "x"]) == 2
    out, err = capsys.readouterr()
    assert "secret" not in out + err
    assert err == (
        "regionguard: $REGIONGUARD_WEBHOOK_URL is not an https:// URL; set it to the Slack or "
        "Teams incoming webhook URL\n"
    )


def test_notify_fails_when_the_webhook_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = _Hook(403)
    try:
        monkeypatch.setenv("REGIONGUARD_WEBHOOK_URL", hook.url)
        assert main(["notify", "--title", "x"]) == 1
    finally:
        hook.close()
    assert capsys.readouterr().err == (
        "regionguard: notify: the webhook refused the message (HTTP 403)\n"
    )
