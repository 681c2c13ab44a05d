from __future__ import annotations

import datetime
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from regionguard import hclfile
from regionguard.environment import Environment
from regionguard.gaterecord import PlanFiles, Reviewed, write_record
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.terraform import Terraform

REPO_ROOT = Path(__file__).resolve().parent.parent
# What a checkout does not hold, for shutil.copytree: Terraform's data folder,
# state and saved plans. The lock file stays: it is committed, and the door
# refuses an environment without it.
UNTRACKED = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*")

# Terraform and the aws provider are Go programs; most of a small plan's CPU is
# the provider's three starts (one to read its schema, one for each walk of
# the configuration, whose first call takes 2 s) and its garbage
# collection. Collecting at 400 % heap growth instead of Go's 100 % cuts that
# CPU by about a third (7 s instead of 10 s per plan of envs/local, about
# 150 MB more memory per provider; docs/testing.md). A GOGC already set wins.
os.environ.setdefault("GOGC", "400")


# The markers of the slow tier (pyproject.toml, docs/testing.md); "terraform"
# first, as its tests are the longest.
SLOW_TIER = ("terraform", "sandbox", "checkov", "tools", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Terraform tests first, the rest of the slow tier next, the fast tests last.

    ``make pytest`` runs pytest-xdist with ``--dist loadfile
    --no-loadscope-reorder``: a test file is one unit of work, handed out in
    the order its first test has here, to whichever worker has two or fewer
    tests left. A long file handed out near the end would keep one worker busy
    while the others have nothing left; with the fast files last, they fill
    the workers up to the end. A file's tier is that of its slowest test, and
    the sort is stable: each tier keeps pytest's order of files, and within a
    file its tests keep the order they are written in (a test may build on
    the one before it, whatever their markers).
    """

    def tier(item: pytest.Item) -> int:
        names = {m.name for m in item.iter_markers()}
        if "terraform" in names:
            return 0
        return 1 if names.intersection(SLOW_TIER) else 2

    files: dict[str, int] = {}
    for item in items:
        path = item.nodeid.partition("::")[0]
        files[path] = min(files.get(path, 2), tier(item))
    items.sort(key=lambda item: files[item.nodeid.partition("::")[0]])


# With REGIONGUARD_TEST_CPU set to a file, each test appends one JSON line:
# its id, its wall seconds and its CPU seconds, those of the pytest process
# (the worker, and regionguard called in it) and of the processes it started
# and waited for (Terraform with its provider, checkov, make): where the
# suite's CPU goes, by file (`bench/suite_cpu.py`, docs/testing.md). A server
# started detached (the sandbox) is not counted. A module's fixtures count in
# its first test.
CPU_LOG = "REGIONGUARD_TEST_CPU"


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that ended (Terraform, checkov)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    log = os.environ.get(CPU_LOG)
    cpu, wall = cpu_seconds(), time.monotonic()
    yield
    if log:
        line = {
            "id": item.nodeid,
            "cpu": round(cpu_seconds() - cpu, 3),
            "wall": round(time.monotonic() - wall, 3),
        }
        with open(log, "a", encoding="utf-8") as out:  # one short write per line
            out.write(json.dumps(line) + "\n")


UNREGISTERED_OU = "  - {name: Suspended, registered: false}\n"

# Golden plans, tests/fixtures/plans/<kind>/<scenario>/, by what their review
# concludes: the exit code of `regionguard plan-diff` on each kind.
PLAN_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "plans"
PLAN_KINDS = {"good": 0, "bad": 1, "bad-input": 2}


def plan_fixtures(*kinds: str) -> list[Path]:
    """The folders of the plan fixtures of ``kinds`` (default: every kind), by kind then name."""
    return [
        p.parent
        for kind in kinds or tuple(PLAN_KINDS)
        for p in sorted((PLAN_FIXTURES / kind).glob("*/plan.json"))
    ]


def record_as_passed(env_dir: Path, today: datetime.date, *, facts: int = 0) -> None:
    """The gate record ``regionguard plan`` writes for the files of ``env_dir`` as they are.

    As a run that passed every stage and saw no file change meanwhile
    (``Reviewed.now``); the saved plan and the inputs are the caller's.
    """
    files, env = PlanFiles(env_dir), Environment(env_dir, today)
    write_record(
        files,
        env,
        reviewed=Reviewed.now(files, env),
        allow_destroy=False,
        widening=[],
        facts=facts,
        checkov_version="3.3.30",
    )


def plan_fixture(name: str) -> Path:
    """The folder of the plan fixture ``name``, whatever its kind."""
    [folder] = [f for f in plan_fixtures() if f.name == name]
    return folder


def missing(what: str) -> NoReturn:
    """A tool a test needs is not installed: fail in CI ($CI set), skip elsewhere, with why.

    CI installs every tool (``.ci/run``), so there a missing one is a broken
    setup, never a reason to pass; on a laptop the test says what to install.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI installs it: see .ci/run)", pytrace=False)
    pytest.skip(what)


def copy_local_env(dest: Path, *, unregistered_ou: bool = False) -> Path:
    """Copy modules/, envs/_shared and envs/local (no state, plans or tests) under ``dest``.

    Returns the copy of envs/local; ``unregistered_ou`` adds a first-tier OU
    Suspended that Control Tower has not registered to its sandbox.yaml.
    """
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "tests")
    shutil.copytree(REPO_ROOT / "modules", dest / "modules", ignore=ignore)
    shutil.copytree(REPO_ROOT / "envs" / "_shared", dest / "envs" / "_shared", ignore=ignore)
    env_dir = dest / "envs" / "local"
    shutil.copytree(REPO_ROOT / "envs" / "local", env_dir, symlinks=True, ignore=ignore)
    if unregistered_ou:
        sandbox_yaml = env_dir / "sandbox.yaml"
        text = sandbox_yaml.read_text()
        assert "  - Workloads\n" in text
        sandbox_yaml.write_text(
            text.replace("  - Workloads\n", "  - Workloads\n" + UNREGISTERED_OU)
        )
    return env_dir


def lock_like_envs_local(folder: Path) -> Path:
    """Give ``folder`` envs/local's dependency lock file, for a root that has none.

    ``terraform init`` in a folder without a lock file installs the provider
    into the shared plugin cache again (Terraform reuses a cached package only
    when the lock file's checksums vouch for it), replacing the cache's entry
    while other Terraform commands of the run link to it: "could not read
    package directory" (docs/testing.md). With the lock file, init links to the
    cached package and the cache is never written.
    """
    shutil.copy2(REPO_ROOT / "envs" / "local" / ".terraform.lock.hcl", folder)
    return folder


def cli_configuration() -> dict[str, Any] | None:
    """The Terraform CLI configuration the tests run with (``make tf-config``), parsed.

    None when ``TF_CLI_CONFIG_FILE`` names no file.
    """
    path = os.environ.get("TF_CLI_CONFIG_FILE")
    if not path or not Path(path).is_file():
        return None
    return hclfile.loads(Path(path).read_text())


def plugin_cache_entries() -> dict[str, tuple[int, int]]:
    """Each package folder of the CLI configuration's plugin cache: inode and change time.

    A ``terraform init`` that replaced an entry changes its pair; empty when
    no ``plugin_cache_dir`` is configured.
    """
    cache = (cli_configuration() or {}).get("plugin_cache_dir")
    if not isinstance(cache, str) or not Path(cache).is_dir():
        return {}
    out = {}
    # <cache>/<host>/<namespace>/<type>/<version>/<platform>
    for entry in Path(cache).glob("*/*/*/*/*"):
        status = entry.lstat()
        out[str(entry)] = (status.st_ino, status.st_ctime_ns)
    return out


def copy_module(dest: Path, name: str) -> Path:
    """Copy modules/<name> (without its tests, state or plans) to ``dest/<name>``.

    The copy runs as a root of its own: a test writes its runs to
    ``tests/<file>.tftest.hcl`` there and calls ``terraform test``, so a
    module's behaviour is checked on the module itself, not through a root
    written for the test.
    """
    ignore = shutil.ignore_patterns(".terraform*", "*.tfstate*", "tfplan*", "tests")
    module = dest / name
    shutil.copytree(REPO_ROOT / "modules" / name, module, ignore=ignore)
    (module / "tests").mkdir()
    return lock_like_envs_local(module)


def terraform_test(folder: Path, runs: list[str]) -> None:
    """``terraform init`` and ``terraform test`` in ``folder``: the runs ``runs`` pass, no other."""
    tf = Terraform(folder, timeout=600)
    cache = plugin_cache_entries()
    tf.init(backend=False)
    assert plugin_cache_entries() == cache, "init wrote the shared plugin cache"
    result = tf.run("test", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in runs:
        assert f'run "{name}"... pass' in result.stdout, name
    assert f"Success! {len(runs)} passed, 0 failed." in result.stdout


def mocked_organization() -> str:
    """The ``mock_provider "aws"`` block of envs/local/tests/targets.tftest.hcl.

    The organization (a root and three first-tier OUs) that ``terraform test``
    runs of the shared root plan against; a test that writes runs for a copy
    of envs/local starts its file with it.
    """
    text = (REPO_ROOT / "envs" / "local" / "tests" / "targets.tftest.hcl").read_text()
    return text[text.index('mock_provider "aws"') : text.index("\nrun ")] + "\n"


@pytest.fixture(scope="session")
def local_env_copier() -> Callable[..., Path]:
    """:func:`copy_local_env`, for tests and fixtures of any scope."""
    return copy_local_env


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


# ------------------------------------------------------------------ sandbox

SANDBOX_SETTINGS = """\
management_account_id: "111111111111"
registry: accounts.yaml
organizational_units: [Security, Workloads]
landing_zone:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1, us-east-1]
  region_deny: false
operation_seconds: 0.05
# These tests call the sandbox with boto3 and WSGI only; the response floor
# is for the aws provider's SDK (docs/sandbox.md, "Calls sent twice").
min_response_seconds: 0
"""

SANDBOX_ACCOUNTS = """\
accounts:
  - id: "100000000001"
    name: ml-platform
    ou: Workloads/ML
    bedrock_cross_region_inference: true
  - id: "100000000002"
    name: payments
    ou: Workloads
    bedrock_cross_region_inference: false
  - id: "100000000003"
    name: research
    ou: Research
    bedrock_cross_region_inference: true
"""


def write_sandbox_env(folder: Path) -> Path:
    env = folder / "env"
    env.mkdir()
    (env / "sandbox.yaml").write_text(SANDBOX_SETTINGS)
    (env / "accounts.yaml").write_text(SANDBOX_ACCOUNTS)
    return env


@pytest.fixture
def sandbox_env(tmp_path: Path) -> Path:
    """A small environment folder with sandbox settings and a registry."""
    return write_sandbox_env(tmp_path)


@pytest.fixture(scope="module")
def sandbox_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxApp, str]]:
    """The sandbox application served in this process on a free loopback port."""
    env = write_sandbox_env(tmp_path_factory.mktemp("sandbox"))
    app = SandboxApp(load_sandbox_settings(env))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
