"""`regionguard sandbox up|down|status|fault`: a real server process on a free port."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionguard.aws import sandbox_client
from regionguard.cli import main
from regionguard.sandbox import process

pytestmark = [pytest.mark.sandbox, pytest.mark.processes]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    try:
        yield folder
    finally:
        process.down(folder)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_up_status_up_again_and_down(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = str(state_dir)
    code, out, _ = run(
        capsys, "sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", str(sandbox_env)
    )
    assert code == 0
    match = re.fullmatch(
        r"sandbox running at http://127\.0\.0\.1:(\d+) \(pid (\d+), env (.+), log (.+)\)\n", out
    )
    assert match is not None, out
    port, pid = int(match.group(1)), int(match.group(2))
    assert (match.group(3), match.group(4)) == (str(sandbox_env), str(state_dir / "sandbox.log"))
    assert json.loads((state_dir / "sandbox.json").read_text())["pid"] == pid

    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "status", "--format", "json")
    assert code == 0
    assert json.loads(out)["sandbox"]["port"] == port

    # The lines a hand-run terraform is pointed at the sandbox with.
    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "env")
    assert code == 0
    endpoint = f"http://127.0.0.1:{port}"
    assert out == "unset AWS_ENDPOINT_URL AWS_IGNORE_CONFIGURED_ENDPOINT_URLS\n" + "".join(
        f"export AWS_ENDPOINT_URL_{service}={endpoint}\n"
        for service in ("CONTROLTOWER", "IAM", "ORGANIZATIONS", "STS")
    )
    shell = subprocess.run(
        ["bash", "-c", f'{out}\nenv | grep "^AWS_ENDPOINT_URL" | sort'],
        env={"AWS_ENDPOINT_URL": "https://example.com", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.split() == [line.split(" ", 1)[1] for line in out.splitlines()[1:]]

    code, out, _ = run(
        capsys, "sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", str(sandbox_env)
    )
    assert code == 0
    assert out.endswith(
        f"(pid {pid}, env {sandbox_env}, log {state_dir / 'sandbox.log'}); "
        "already running, re-seeded (0 changes)\n"
    )

    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "down")
    assert (code, out) == (0, f"sandbox stopped (pid {pid}, port {port})\n")
    assert (
        not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    )
    assert not (state_dir / "sandbox.json").exists()

    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "status")
    assert (code, out) == (1, "sandbox not running (start it with `regionguard sandbox up`)\n")


def test_down_never_stops_a_process_it_did_not_start(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state_dir.mkdir()
        state = {"pid": other.pid, "host": "127.0.0.1", "port": 1, "endpoint": "http://127.0.0.1:1"}
        (state_dir / "sandbox.json").write_text(json.dumps(state))
        code, out, _ = run(capsys, "sandbox", "--state-dir", str(state_dir), "down")
        assert (code, out) == (0, "sandbox not running; nothing to stop\n")
        assert other.poll() is None
        assert not (state_dir / "sandbox.json").exists()
    finally:
        other.kill()
        other.wait()


def test_up_on_a_port_in_use_says_so_in_one_line(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(
            capsys,
            "sandbox",
            "--state-dir",
            str(state_dir),
            "up",
            "--port",
            str(port),
            "--env-dir",
            str(sandbox_env),
        )
    assert (code, out) == (2, "")
    assert err == (
        f"regionguard: 127.0.0.1:{port} is in use by another process; pass another --port "
        "(make: SANDBOX_PORT=N)\n"
    )


def test_up_with_bad_settings_reports_the_server_error(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sandbox_env / "sandbox.yaml").write_text("management_account_id: 1\n")
    code, _, err = run(
        capsys,
        "sandbox",
        "--state-dir",
        str(state_dir),
        "up",
        "--port",
        "0",
        "--env-dir",
        str(sandbox_env),
    )
    assert code == 2
    assert err.startswith(
        f"regionguard: the sandbox did not start: regionguard sandbox: {sandbox_env}/sandbox.yaml: "
    )
    assert err.count("\n") == 1


def test_fault_arms_lists_and_clears(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = str(state_dir)
    assert (
        run(
            capsys, "sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", str(sandbox_env)
        )[0]
        == 0
    )
    code, out, _ = run(
        capsys,
        "sandbox",
        "--state-dir",
        sd,
        "fault",
        "throttle",
        "--action",
        "enable-control",
        "--count",
        "2",
    )
    assert (code, out) == (0, "throttle enable-control x2\n")
    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "fault", "fail")
    assert (code, out) == (0, "throttle enable-control x2\nfail any x1\n")
    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "fault", "clear")
    assert (code, out) == (0, "no fault armed\n")


def test_admin_token_is_written_for_the_owner_only_and_required(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = str(state_dir)
    args = ("sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", str(sandbox_env))
    assert run(capsys, *args)[0] == 0
    token_file = state_dir / "sandbox.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 40
    info = process.status(state_dir)
    assert info is not None and info.token == token

    with pytest.raises(process.SandboxError) as err:
        process.admin(info.endpoint, "POST", "reset", {}, token="guess")
    assert str(err.value) == (
        "sandbox POST /regionguard/reset: admin calls need the sandbox's token in the "
        "X-Regionguard-Token header (the server writes it to sandbox.token in its state folder)"
    )
    assert process.admin(info.endpoint, "GET", "faults", token=token) == {"faults": []}

    assert run(capsys, "sandbox", "--state-dir", sd, "down")[0] == 0
    assert not token_file.exists()


def test_fault_without_a_sandbox_is_an_input_error(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in ("fault", "env"):
        argv = [action, "list"] if action == "fault" else [action]
        code, out, err = run(capsys, "sandbox", "--state-dir", str(state_dir), *argv)
        assert (code, out) == (2, "")
        assert err == (
            f"regionguard: no sandbox runs from {state_dir}; "
            "start it with `regionguard sandbox up`\n"
        )


def test_up_on_a_port_held_by_another_sandbox_names_it(
    tmp_path: Path, state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_state = tmp_path / "other"
    other, _ = process.up(other_state, sandbox_env, port=0)
    try:
        code, _, err = run(
            capsys,
            "sandbox",
            "--state-dir",
            str(state_dir),
            "up",
            "--port",
            str(other.port),
            "--env-dir",
            str(sandbox_env),
        )
    finally:
        process.down(other_state)
    assert code == 2
    assert err == (
        f"regionguard: 127.0.0.1:{other.port} is used by a sandbox started elsewhere "
        f"(pid {other.pid}, env {sandbox_env}); stop it there with `regionguard sandbox down` "
        "or pass another --port (make: SANDBOX_PORT=N)\n"
    )


def _landing_zone_deny_targets(endpoint: str) -> list[str]:
    """Names of the OUs the sandbox's landing-zone Region deny is attached to."""
    org = sandbox_client("organizations", endpoint, "us-east-1")
    policies = org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    found = [p for p in policies if p["Name"] == "aws-guardrails-landing-zone-region-deny"]
    if not found:
        return []
    targets = org.list_targets_for_policy(PolicyId=found[0]["Id"])["Targets"]
    return sorted(t["Name"] for t in targets)


def test_up_flags_apply_on_a_running_sandbox_and_outlive_a_re_seed(
    state_dir: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = str(state_dir)
    env = str(sandbox_env)
    code, _, _ = run(capsys, "sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", env)
    assert code == 0
    info = process.status(state_dir)
    assert info is not None
    assert _landing_zone_deny_targets(info.endpoint) == []  # sandbox.yaml: region_deny false

    code, out, _ = run(
        capsys,
        "sandbox",
        "--state-dir",
        sd,
        "up",
        "--port",
        "0",
        "--env-dir",
        env,
        "--landing-zone-region-deny",
    )
    assert code == 0
    # The policy created, then attached to the three registered first-tier OUs.
    assert out.endswith("already running, re-seeded (4 changes, landing-zone Region deny on)\n")
    assert _landing_zone_deny_targets(info.endpoint) == ["Research", "Security", "Workloads"]
    assert process.health(info.endpoint)["landingZoneRegionDeny"] is True  # type: ignore[index]

    # A plain `up` re-seeds from sandbox.yaml and keeps the deny the flag set.
    code, out, _ = run(capsys, "sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", env)
    assert out.endswith("already running, re-seeded (0 changes)\n")
    assert _landing_zone_deny_targets(info.endpoint) == ["Research", "Security", "Workloads"]

    code, out, _ = run(
        capsys,
        *("sandbox", "--state-dir", sd, "up", "--port", "0", "--env-dir", env),
        "--no-landing-zone-region-deny",
    )
    assert code == 0
    assert out.endswith("already running, re-seeded (1 change, landing-zone Region deny off)\n")
    assert _landing_zone_deny_targets(info.endpoint) == []
    assert process.health(info.endpoint)["landingZoneRegionDeny"] is False  # type: ignore[index]


def test_the_landing_zone_deny_admin_call_refuses_a_body_without_enabled(
    state_dir: Path, sandbox_env: Path
) -> None:
    info, _ = process.up(state_dir, sandbox_env, port=0)
    with pytest.raises(process.SandboxError) as refused:
        process.admin(
            info.endpoint, "PUT", "landing-zone-region-deny", {"on": True}, token=info.token
        )
    assert str(refused.value) == (
        "sandbox PUT /regionguard/landing-zone-region-deny: the body must be "
        '{"enabled": true} or {"enabled": false}'
    )
    assert _landing_zone_deny_targets(info.endpoint) == []
