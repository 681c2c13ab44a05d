"""Killing the process group of ``make apply`` on the sandbox leaves no Terraform behind.

A CI cancel or an OOM kill signals (or SIGKILLs) the process group of
``make apply``; Terraform runs in a session of its own, outside that group.
With SIGKILL, the parent-death signal interrupts it; with SIGTERM,
``regionguard`` passes one SIGINT on and waits. Either way Terraform stops
cleanly within 60 s (it releases the state lock), the guardrail invariant
holds (tests/test_guardrail_integrity.py), the next ``make plan`` says what
the killed apply left, and ``make plan`` + ``make apply`` converge.

Control Tower's operations take 5 s here, so that the kill comes while
Terraform waits for controls to be enabled, as it would in AWS.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_local_env
from regionguard.sandbox import process
from regionguard.terraform import RUN_DIR
from terraform_fakes import DEADLINE_SECONDS, wait_for
from test_guardrail_integrity import Rig
from test_plan_gate_e2e import Make, ok, review_json

pytestmark = [pytest.mark.terraform, pytest.mark.sandbox]

CREATING_A_CONTROL = "aws_controltower_control.this["


@pytest.fixture
def checkout(tmp_path: Path, repo_root: Path) -> Iterator[Path]:
    shutil.copy2(repo_root / "Makefile", tmp_path / "Makefile")
    shutil.copy2(repo_root / "pyproject.toml", tmp_path / "pyproject.toml")
    copy_local_env(tmp_path)
    try:
        yield tmp_path
    finally:
        process.down(tmp_path / ".sandbox")


def session(leader: int) -> list[int]:
    """The processes of the session ``leader`` started (Terraform and its providers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == leader and fields[0] not in ("Z", "X"):
                    found.append(int(entry))
    return found


def in_state(env_dir: Path) -> dict[str, str | None]:
    """Each managed instance of the local state: its address and its status (tainted or None)."""
    state = json.loads((env_dir / "terraform.tfstate").read_text())
    found: dict[str, str | None] = {}
    for r in state["resources"]:
        if r["mode"] != "managed":
            continue
        prefix = f"{r['module']}." if "module" in r else ""
        for i in r["instances"]:
            key = f"[{json.dumps(i['index_key'])}]" if "index_key" in i else ""
            found[f"{prefix}{r['type']}.{r['name']}{key}"] = i.get("status")
    return found


def tainted(env_dir: Path) -> list[str]:
    """The addresses the local state marks as tainted, sorted."""
    return sorted(a for a, status in in_state(env_dir).items() if status == "tainted")


def running_apply(env_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The run file of the terraform apply under way, once Terraform has started."""
    found: list[tuple[Path, dict[str, Any]]] = []

    def started() -> bool:
        for path in (env_dir / RUN_DIR).glob("terraform-*.json"):
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(path.read_text())
                if record["command"] == "apply" and record["terraform_pid"] is not None:
                    found.append((path, record))
                    return True
        return False

    wait_for(started, "terraform apply starts")
    return found[0]


def enabled_ous(rig: Rig) -> set[str]:
    """The ids of the OUs with an enabled control in the sandbox's organization."""
    ct, _ = rig.clients()
    return {
        summary["targetIdentifier"].rsplit("/", 1)[1]
        for summary in ct.list_enabled_controls()["enabledControls"]
    }


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killing_make_apply_leaves_no_terraform_and_the_guardrail_holds(
    checkout: Path, signum: signal.Signals
) -> None:
    make = Make(checkout)
    env_dir = checkout / "envs" / "local"
    ok(make("plan"))
    sandbox = process.status(checkout / ".sandbox")
    assert sandbox is not None
    seconds = functools.partial(process.admin, sandbox.endpoint, "PUT", "operation-seconds")
    seconds({"seconds": 5}, token=sandbox.token)
    log = checkout / "apply.log"
    with log.open("wb") as out:
        apply = subprocess.Popen(
            make.argv("apply"),
            env=make.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make's process group, as a CI job's
        )
    terraform_pid = 0
    try:
        run_file, record = running_apply(env_dir)
        terraform_pid = record["terraform_pid"]
        output = run_file.with_suffix(".stdout")
        wait_for(lambda: CREATING_A_CONTROL in output.read_text(), "terraform creates a control")
        os.killpg(apply.pid, signum)
        # DEADLINE_SECONDS is the 60 s the issue allows.
        wait_for(lambda: session(terraform_pid) == [], "no process of Terraform's session remains")
        apply.wait(timeout=DEADLINE_SECONDS)
    finally:
        if apply.poll() is None:
            os.killpg(apply.pid, signal.SIGKILL)
            apply.wait()
        for pid in session(terraform_pid) if terraform_pid else []:
            os.kill(pid, signal.SIGKILL)
    text = output.read_text()
    errors = run_file.with_suffix(".stderr").read_text()
    # Terraform was interrupted once and stopped cleanly: it released its lock.
    # (Twice, it says so on stderr and exits at once, possibly between
    # truncating its state file and writing it: the file was then left empty.)
    assert "Interrupt received." in text, text
    assert "Two interrupts received" not in text + errors, errors
    assert not (env_dir / ".terraform.tfstate.lock.info").exists()
    said = log.read_text()
    if signum == signal.SIGTERM:
        assert "regionguard: SIGTERM received: interrupting terraform apply" in said, said
        assert "regionguard: interrupted" in said, said

    rig = Rig(checkout, env_dir, make.port)
    assert rig.settled_unguarded() == []
    seconds({"seconds": 0.3}, token=sandbox.token)
    stopped_mid_create = tainted(env_dir)
    known = set(in_state(env_dir))
    planned = make("plan")
    # A control whose EnableControl was sent when the interrupt stopped the
    # provider before it recorded the result is enabled in the organization
    # and absent from the state: envs/_shared/adopt.tf imports it, unchanged.
    resources = review_json(env_dir)["resources"]
    assert isinstance(resources, dict), resources
    imported = resources.get("import", [])
    assert not known & set(imported), imported
    assert all(".aws_controltower_control." in a for a in imported), imported
    warned = "did not finish under regionguard (regionguard, pid"
    assert (warned in planned.stderr) == (signum == signal.SIGKILL), planned.stderr
    if stopped_mid_create:
        # Terraform taints a resource whose creation it stopped; the next plan
        # replaces it, which the gate refuses unless it is intended.
        assert planned.returncode != 0, planned.stdout
        review = review_json(env_dir)
        # A control Terraform had not started to create when it was
        # interrupted (the kill follows the first control it starts) is in
        # neither the state nor the organization: the plan creates it.
        replanned = review["resources"]
        assert isinstance(replanned, dict), review
        created = replanned["create"]
        assert isinstance(created, list), review
        enabled = enabled_ous(rig)
        assert all(
            ".aws_controltower_control." in a
            and a not in known
            and json.loads(a.rsplit("[", 1)[1][:-1]) not in enabled
            for a in created
        ), (created, enabled)
        assert review["resources"] == {
            "create": created,
            "update": [],
            "replace": stopped_mid_create,
            "delete": [],
            "forget": [],
            **({"import": imported} if imported else {}),
        }, review
        gate = review["gate"]
        assert isinstance(gate, dict)
        assert {r["rule_id"] for r in gate["reasons"]} == {"RG-PLAN-DESTROY"}, gate
        planned = subprocess.run(
            [*make.argv("plan"), "ALLOW_DESTROY=1"],
            env=make.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    ok(planned)
    applied = ok(make("apply"))
    assert "hold in the sandbox" in applied.stdout, applied.stdout
    assert rig.unguarded() == []
    assert list((env_dir / RUN_DIR).glob("terraform-*.json")) == []
