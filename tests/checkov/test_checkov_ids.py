"""Every check checkov evaluates on this repository is a rule of the catalogue, and each ran.

checkov runs, as ``make check`` and the chain run it, over each environment
(HCL mode) and over the plan fixtures (plan mode); every check id in its
reports (passed or failed) must be in ``regionguard.catalogue``, so a built-in
check that starts to apply after a checkov upgrade is seen here and gets its
row (or its skip, with the reason). The checks' own ids and names come from
the catalogue, in checkov's virtual environment.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from checkov_runner import CHECKS_DIR, REPO_ROOT, checkov_binary, parse_report, run_checkov

from regionguard import catalogue

pytestmark = pytest.mark.checkov

PLANS = sorted((REPO_ROOT / "tests/checkov/fixtures/plan").glob("*.tfplan.json"))
ENVS = sorted(p.parent.name for p in (REPO_ROOT / "envs").glob("*/backend.tf"))
CONFIG = ["--config-file", str(REPO_ROOT / ".checkov.yaml")]


def _evaluated(args: list[str]) -> set[str]:
    args = [*CONFIG, "--external-checks-dir", str(CHECKS_DIR), "-o", "json", *args]
    _, stdout, stderr = run_checkov(args, REPO_ROOT)
    assert stdout.strip(), stderr
    report = parse_report(stdout)
    assert report.parsing_errors == 0
    return set(report.passed) | set(report.failed)


@pytest.fixture(scope="module")
def evaluated() -> dict[str, set[str]]:
    scans = {f"envs/{env}": ["--framework", "terraform", "-d", f"envs/{env}"] for env in ENVS}
    plans = ["--framework", "terraform_plan"]
    for plan in PLANS:
        plans += ["-f", str(plan)]
    scans["plans"] = plans
    return {name: _evaluated(args) for name, args in scans.items()}


def test_checkov_evaluates_only_checks_the_catalogue_names(evaluated: dict[str, set[str]]) -> None:
    unknown = {
        name: sorted(i for i in ids if catalogue.by_id(i) is None)
        for name, ids in evaluated.items()
    }
    assert unknown == {name: [] for name in evaluated}


def test_every_custom_check_of_the_catalogue_runs_in_each_mode(
    evaluated: dict[str, set[str]],
) -> None:
    hcl = set().union(*(ids for name, ids in evaluated.items() if name.startswith("envs/")))
    for mode, ids in ((catalogue.CHECKOV_HCL, hcl), (catalogue.CHECKOV_PLAN, evaluated["plans"])):
        expected = {r.id for r in catalogue.RULES if mode in r.tools}
        # CKV_RG_7 reports nothing in HCL mode: the environments pass a null identifier.
        if mode == catalogue.CHECKOV_HCL:
            expected.discard("CKV_RG_7")
        assert expected <= ids, mode


def test_checkov_s_environment_reads_the_catalogue_and_ck_rg_9_names_the_approved_actions() -> None:
    python = checkov_binary().parent / "python"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from _rg_common import APPROVED_EXEMPTED_ACTIONS as A;"
        "from regionguard.catalogue import CKV_RG_9, RULES;"
        "print(len(RULES)); print(all(a in CKV_RG_9.title for a in A), len(A))"
    )
    done = subprocess.run(
        [str(python), "-c", code, str(CHECKS_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(catalogue.RULES)), "True", "3"]


def test_the_checks_names_are_the_catalogue_titles() -> None:
    args = ["--framework", "terraform_plan", "--external-checks-dir", str(CHECKS_DIR)]
    _, stdout, stderr = run_checkov([*args, "-o", "json", "-f", str(PLANS[0])], REPO_ROOT)
    names = {
        record["check_id"]: record["check_name"]
        for outcome in ("passed_checks", "failed_checks")
        for record in json.loads(stdout)["results"][outcome]
    }
    expected = {r.id: r.title for r in catalogue.RULES if catalogue.CHECKOV_PLAN in r.tools}
    assert names == expected, stderr
