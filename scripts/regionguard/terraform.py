"""The one place where Python drives the terraform binary.

Command lines are built by python-terraform (``generate_cmd_string``); the
process is run here, because python-terraform can neither bound a command by
a timeout nor stop it cleanly (see docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged
from python_terraform import Terraform as _CommandBuilder

from regionguard.errors import RegionguardError

__all__ = ["IsFlagged", "Terraform", "TerraformError", "TerraformResult"]

# Grace period between SIGINT (Terraform stops cleanly and releases its state
# lock) and SIGKILL when a command outlives its timeout.
_INTERRUPT_GRACE_SECONDS = 15.0


class TerraformError(RegionguardError):
    """A terraform command failed or ran out of time (exit 1; its own output says why)."""

    exit_code = 1

    def __init__(self, message: str, result: TerraformResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class TerraformResult:
    """What one terraform command returned."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Terraform:
    """Runs terraform commands in one working directory, each bounded by a timeout."""

    def __init__(
        self,
        working_dir: Path,
        *,
        timeout: float = 900.0,
        env: Mapping[str, str] | None = None,
        binary: str = "terraform",
    ) -> None:
        self.working_dir = Path(working_dir)
        self.timeout = timeout
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("TF_IN_AUTOMATION", "1")
        self.env.setdefault("TF_INPUT", "0")
        self._builder = _CommandBuilder(working_dir=None, terraform_bin_path=binary)

    def run(
        self,
        command: str,
        *args: str,
        check: bool = True,
        timeout: float | None = None,
        **options: Any,
    ) -> TerraformResult:
        """Run ``terraform COMMAND`` with python-terraform style options."""
        options.setdefault("no_color", IsFlagged)
        cmd = tuple(self._builder.generate_cmd_string(command, *args, **options))
        limit = self.timeout if timeout is None else timeout
        proc = subprocess.Popen(
            cmd,
            cwd=self.working_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            out, err = _stop(proc)
            result = TerraformResult(cmd, proc.returncode, out, err)
            raise TerraformError(
                f"terraform {command} in {self.working_dir} did not finish within "
                f"{limit:g} s and was stopped",
                result,
            ) from None
        except BaseException:
            # Ctrl-C or a termination of this process: Terraform runs in its own
            # session, so pass the interrupt on and let it stop cleanly (it
            # releases its state lock) before this process goes.
            if proc.poll() is None:
                _stop(proc)
            raise
        result = TerraformResult(cmd, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise TerraformError(
                f"terraform {command} in {self.working_dir} failed "
                f"(exit {proc.returncode}):\n{err.strip() or out.strip()}",
                result,
            )
        return result

    def init(self, *, backend: bool = True, backend_config: str | None = None) -> TerraformResult:
        return self.run("init", input=False, backend=backend, backend_config=backend_config)

    def validate(self) -> TerraformResult:
        return self.run("validate")

    def plan(
        self,
        out: Path | None = None,
        *,
        variables: Mapping[str, str] | None = None,
        destroy: bool = False,
        refresh_only: bool = False,
        lock_timeout: str | None = None,
    ) -> bool:
        """Plan; return True when the plan has changes."""
        result = self.run(
            "plan",
            check=False,
            input=False,
            lock_timeout=lock_timeout,
            detailed_exitcode=IsFlagged,
            out=str(out) if out else None,
            destroy=IsFlagged if destroy else None,
            refresh_only=IsFlagged if refresh_only else None,
            var=_var_list(variables),
        )
        if result.returncode not in (0, 2):
            raise TerraformError(
                f"terraform plan in {self.working_dir} failed (exit {result.returncode}):\n"
                f"{result.stderr.strip() or result.stdout.strip()}",
                result,
            )
        return result.returncode == 2

    def show_json(self, plan: Path | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.show_json_text(plan))
        return data

    def show_json_text(self, plan: Path | None = None) -> str:
        """``terraform show -json [PLAN]`` as Terraform printed it."""
        args = (str(plan),) if plan else ()
        return self.run("show", *args, json=IsFlagged).stdout

    def apply(
        self,
        plan: Path | None = None,
        *,
        variables: Mapping[str, str] | None = None,
        lock_timeout: str | None = None,
    ) -> TerraformResult:
        if plan is not None:
            return self.run(
                "apply",
                str(plan),
                input=False,
                lock_timeout=lock_timeout,
                parallelism=APPLY_PARALLELISM,
            )
        return self.run(
            "apply",
            input=False,
            auto_approve=IsFlagged,
            var=_var_list(variables),
            parallelism=APPLY_PARALLELISM,
        )

    def destroy(
        self, *, variables: Mapping[str, str] | None = None, lock_timeout: str | None = None
    ) -> TerraformResult:
        return self.run(
            "destroy",
            input=False,
            auto_approve=IsFlagged,
            lock_timeout=lock_timeout,
            var=_var_list(variables),
            parallelism=APPLY_PARALLELISM,
        )

    def output(self) -> dict[str, Any]:
        result = self.run("output", json=IsFlagged)
        raw: dict[str, Any] = json.loads(result.stdout or "{}")
        return {name: item.get("value") for name, item in raw.items()}


# Terraform's -parallelism for apply and destroy. Each control's create,
# update or delete waits for its Control Tower operation, so this bounds the
# operations one apply has in progress: at the default 10 a first apply at
# 200 OUs waits for 20 rounds of operations (about 53 minutes at 120 s each,
# docs/benchmarks.md); at 50 it waits for 4 (about 16), and half of AWS's
# quota of 100 operations in progress stays free for the console and other
# pipelines.
APPLY_PARALLELISM = 50


def _var_list(variables: Mapping[str, str] | None) -> list[str] | None:
    # python-terraform turns a dict of variables into a temporary var file and
    # a list into repeated -var options; repeated options leave nothing behind.
    if not variables:
        return None
    return [f"{k}={v}" for k, v in variables.items()]


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Interrupt the command's process group, then kill it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.communicate(timeout=_INTERRUPT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()
