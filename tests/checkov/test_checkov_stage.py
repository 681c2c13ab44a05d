"""The chain's checkov stage: real checkov over plan JSON, its report read into findings.

The plans are the real plan of tests/checkov/fixtures/plan and copies of it
with one change (test_checkov_plan's mutations); the stage function of the
pipeline runs on them without Terraform: its findings, the review's notes,
the SARIF log, and the refusal of a checkov that gives no verdict.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from checkov_runner import CHECKS_DIR, checkov_binary
from test_checkov_plan import (
    CONTROLS,
    FIXTURE,
    SCP,
    allow,
    edit_scp,
    write_mutated,
)

from regionguard import catalogue, checkovscan, pipeline, sarif
from regionguard.checkovscan import Installation, Scan, installation, read_report
from regionguard.environment import Environment
from regionguard.errors import FindingsError, InputError
from regionguard.gaterecord import PlanFiles

pytestmark = pytest.mark.checkov

ALLOW_DETAIL = (
    "statement 0 (DenyBedrockInferenceExceptAllowRegionSpecificAccounts) has Effect "
    "'Allow'; only \"Deny\" is allowed"
)


@pytest.fixture(scope="module")
def install() -> Installation:
    return Installation(checkov_binary(), CHECKS_DIR)


@pytest.fixture
def env_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "local"
    folder.mkdir()
    yield folder


@contextmanager
def _started(plan_json: Path, *, timeout: float, install: Installation) -> Iterator[Scan]:
    """A checkov started as the chain starts it, handed ``plan_json``."""
    with checkovscan.start(timeout=timeout, install=install) as scan:
        scan.scan(plan_json)
        yield scan


def _scan(plan_json: Path, install: Installation) -> checkovscan.Verdict:
    with _started(plan_json, timeout=300, install=install) as scan:
        return scan.wait()


def test_a_passing_plan_gives_checkov_s_version_and_no_finding(
    env_dir: Path, install: Installation
) -> None:
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    verdict = _scan(plan_json, install)
    assert (verdict.version, verdict.failed, verdict.findings) == ("3.3.30", False, ())
    # 6 SCP checks on the SCP, 4 control checks on each of the 3 controls.
    assert verdict.passed == 6 + 4 * 3


def test_a_failing_scp_fails_the_stage_with_the_ids_in_the_review_and_the_sarif_log(
    env_dir: Path, install: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    """The test the chain needs: a plan whose SCP checkov fails fails the checkov stage."""
    plan_json = write_mutated(env_dir / "tfplan.json", edit_scp(allow))
    files = PlanFiles(env_dir)
    files.review.write_text("## Plan review\n")
    out = pipeline._Outcome()
    out.review_markdown = "## Plan review\n"
    stages = pipeline.Stages("plan", _named(env_dir))
    with out.background:
        scan = out.background.enter_context(_started(plan_json, timeout=300, install=install))
        verdict = pipeline._checkov_stage(scan, files, out, stages)
    assert verdict.failed
    found = {(f.rule_id, f.entry, f.message, f.level, f.file) for f in out.findings}
    assert found == {("CKV_RG_1", SCP, ALLOW_DETAIL, "error", str(plan_json))} | {
        ("CKV_RG_10", control, _unguarded(control), "error", str(plan_json)) for control in CONTROLS
    }
    review = files.review.read_text()
    assert review.startswith("## Plan review\n\n### Pipeline\n\n")
    assert f"- checkov `CKV_RG_1` failed on `{SCP}`: " in review
    # The three controls' failures of CKV_RG_10 are one note.
    assert review.count("- checkov `CKV_RG_10` failed on 3 resources (") == 1
    assert f"  error: {SCP}: {ALLOW_DETAIL} [CKV_RG_1]" in capsys.readouterr().out
    log = json.loads(sarif.dumps(out.findings))
    run = log["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == {"CKV_RG_1", "CKV_RG_10"}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["CKV_RG_1"]["shortDescription"] == {"text": catalogue.CKV_RG_1.title}
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(plan_json)
        for r in run["results"]
    )


def _unguarded(control: str) -> str:
    """CKV_RG_10's two reasons for a control whose OU lost its guard (from checkov's stderr)."""
    ou = control.split('"')[1]
    return "; ".join(
        f"{action} is exempted from the Region deny on {ou} but no SCP attached there denies "
        "it outside the allowed Regions: it is open to every account in every Region"
        for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
    )


def _named(env_dir: Path) -> Environment:
    return Environment(env_dir, datetime.date(2026, 11, 30))


def test_checkov_loads_before_the_plan_is_there_or_runs_as_is_when_it_cannot(
    env_dir: Path, install: Installation, tmp_path: Path
) -> None:
    """The installed checkov is a Python script: its interpreter loads checkov early.

    A checkov that is no such script (a wrapper here) runs once the plan is
    there; both give the same verdict.
    """
    assert install.python is not None and install.python.name.startswith("python")
    wrapper = tmp_path / "checkov"
    wrapper.write_text(f'#!/bin/sh\nexec "{install.checkov}" "$@"\n')
    wrapper.chmod(0o755)
    cold = Installation(wrapper, install.checks)
    assert cold.python is None
    plan_json = write_mutated(env_dir / "tfplan.json", edit_scp(allow))
    assert _scan(plan_json, cold) == _scan(plan_json, install)


def _loaded_pid(scan: Scan) -> int:
    loaded = scan._loaded
    assert loaded is not None and loaded.process.poll() is None
    return loaded.process.pid


def _idle_pids() -> set[int]:
    return {loaded.process.pid for loaded in checkovscan._IDLE}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_checkov_started_but_given_no_plan_waits_idle_until_unloaded(
    install: Installation,
) -> None:
    checkovscan.unload()
    with checkovscan.start(timeout=300, install=install) as scan:
        pid = _loaded_pid(scan)
        with pytest.raises(FindingsError, match="no plan to scan"):
            scan.wait()
    assert _idle_pids() == {pid}, "not scanning: kept for the next scan"
    process = checkovscan._IDLE[0].process
    checkovscan.unload()
    assert process.poll() is not None and checkovscan._IDLE == []


def test_the_next_scan_of_a_process_forks_from_the_loaded_checkov_with_the_same_verdicts(
    env_dir: Path, install: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One interpreter per process and set of variables; each scan is a fresh child of it.

    The verdicts are those of a checkov run as is (a wrapper: a process of
    its own per scan): what the first scan loaded (the custom checks, with
    the variable they read) does not reach the second. Another value of a
    variable checkov sees gets an interpreter of its own.
    """
    checkovscan.unload()
    wrapper = tmp_path / "checkov"
    wrapper.write_text(f'#!/bin/sh\nexec "{install.checkov}" "$@"\n')
    wrapper.chmod(0o755)
    cold = Installation(wrapper, install.checks)
    failing = write_mutated(env_dir / "tfplan.json", edit_scp(allow))
    passing = tmp_path / "passing.json"
    shutil.copyfile(FIXTURE, passing)
    expected = {plan_json: _scan(plan_json, cold) for plan_json in (failing, passing)}
    assert expected[failing] != expected[passing]
    pids = []
    for plan_json in (failing, passing, failing):
        with _started(plan_json, timeout=300, install=install) as scan:
            pids.append(_loaded_pid(scan))
            assert scan.wait() == expected[plan_json]
    assert len(set(pids)) == 1 and _idle_pids() == {pids[0]}
    monkeypatch.setenv("REGIONGUARD_CONTROL_IDENTIFIERS", "unknown")
    with _started(passing, timeout=300, install=install) as scan:
        assert _loaded_pid(scan) != pids[0]
        assert scan.wait() == _scan(passing, cold)
    assert len(_idle_pids()) == 2
    checkovscan.unload()
    assert not _alive(pids[0])


@pytest.mark.parametrize("first", [True, False], ids=["while-loading", "loaded"])
def test_a_scan_stopped_while_it_runs_ends_its_child_not_the_loaded_checkov(
    env_dir: Path, install: Installation, first: bool
) -> None:
    """Stopped (Ctrl-C, TF_TIMEOUT) while checkov scans: the child ends, reaped; the rest waits."""
    if first:
        checkovscan.unload()
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with _started(plan_json, timeout=300, install=install) as scan:
        pid, child = _loaded_pid(scan), scan._child
        assert child is not None and _alive(child)
    assert not _alive(child), "ended and reaped"
    assert _idle_pids() == {pid}
    checkovscan.unload()


def test_a_loaded_checkov_that_ended_gives_no_verdict(env_dir: Path, install: Installation) -> None:
    checkovscan.unload()
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with checkovscan.start(timeout=300, install=install) as scan:
        loaded = scan._loaded
        assert loaded is not None
        os.killpg(loaded.process.pid, signal.SIGKILL)
        loaded.process.wait()
        scan.scan(plan_json)
        with pytest.raises(FindingsError, match=f"checkov over {plan_json} exited -9"):
            scan.wait()
    assert checkovscan._IDLE == []


def test_a_checkov_yaml_or_a_variable_where_checkov_runs_skips_no_check(
    env_dir: Path, install: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_json = write_mutated(env_dir / "tfplan.json", edit_scp(allow))
    (env_dir / ".checkov.yaml").write_text("skip-check:\n  - CKV_RG_1\n  - CKV_RG_10\n")
    monkeypatch.chdir(env_dir)
    monkeypatch.setenv("CKV_SKIP_CHECK", "CKV_RG_1,CKV_RG_10")
    monkeypatch.setenv("REGIONGUARD_CHECKOV_UNRESOLVED", "unknown")
    verdict = _scan(plan_json, install)
    assert {f.rule_id for f in verdict.findings} == {"CKV_RG_1", "CKV_RG_10"}


def test_the_chain_runs_the_installation_s_checks_not_the_plan_s_repository(
    env_dir: Path, install: Installation, tmp_path: Path
) -> None:
    """A check file beside the plan, as a pull request could add, is never loaded."""
    checks = tmp_path / "repo" / "policies" / "checkov"
    checks.mkdir(parents=True)
    (checks / "pull_request_check.py").write_text(
        f"import pathlib\npathlib.Path({str(tmp_path / 'ran')!r}).touch()\n"
    )
    plan_json = tmp_path / "repo" / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    assert not _scan(plan_json, install).failed
    assert not (tmp_path / "ran").exists()
    assert "--external-checks-dir" in checkovscan.arguments(install, plan_json)
    assert str(CHECKS_DIR) in checkovscan.arguments(install, plan_json)


def test_the_skipped_checks_are_the_catalogue_s(install: Installation) -> None:
    line = checkovscan.arguments(install, Path("tfplan.json"))
    skipped = line[line.index("--skip-check") + 1]
    assert skipped.split(",") == [c.id for c in catalogue.SKIPPED_CHECKS]


# ---------------------------------------------------------------- which checkov


def test_checkov_is_found_by_variable_by_home_or_beside_the_source(tmp_path: Path) -> None:
    binary = checkov_binary()
    assert installation({"REGIONGUARD_CHECKOV": str(binary)}) == Installation(binary, CHECKS_DIR)
    home = tmp_path / "home"
    (home / "checkov" / "bin").mkdir(parents=True)
    (home / "checkov" / "bin" / "checkov").symlink_to(binary)
    (home / "src").symlink_to(CHECKS_DIR.parent.parent)
    assert installation({"REGIONGUARD_HOME": str(home)}) == Installation(
        home / "checkov" / "bin" / "checkov", home / "src" / "policies" / "checkov"
    )
    default = checkovscan.SOURCE / ".venv-checkov" / "bin" / "checkov"
    if default.is_file():
        assert installation({}) == Installation(default, CHECKS_DIR)


def test_a_missing_checkov_is_an_input_error_naming_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "bin" / "checkov"
    with pytest.raises(InputError) as caught:
        installation({"REGIONGUARD_CHECKOV": str(missing)})
    assert str(caught.value) == (
        f"{missing}: checkov is not installed there, and the plan's checkov stage needs it; "
        "run `make check` once (it creates .venv-checkov from policies/requirements.txt), "
        "or set REGIONGUARD_CHECKOV to that checkov"
    )
    assert caught.value.exit_code == 2
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(InputError, match=r"no checkov checks in \$REGIONGUARD_HOME/src"):
        installation({"REGIONGUARD_HOME": str(home), "REGIONGUARD_CHECKOV": str(checkov_binary())})


def test_a_checkov_that_gives_no_verdict_fails_the_plan(
    env_dir: Path, tmp_path: Path, install: Installation
) -> None:
    broken = tmp_path / "checkov"
    broken.write_text("#!/bin/sh\necho 'Traceback: something broke' >&2\nexit 2\n")
    broken.chmod(0o755)
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    out = pipeline._Outcome()
    with out.background:
        scan = out.background.enter_context(
            _started(plan_json, timeout=60, install=Installation(broken, CHECKS_DIR))
        )
        with pytest.raises(FindingsError, match="exited 2: Traceback: something broke"):
            pipeline._checkov_stage(
                scan, PlanFiles(env_dir), out, pipeline.Stages("plan", _named(env_dir))
            )
    [stopped] = out.findings
    assert (stopped.rule_id, stopped.level) == ("RG-PIPELINE-STOPPED", "error")
    assert stopped.message.startswith(f"checkov: checkov over {plan_json} exited 2")


def test_a_checkov_that_outlives_the_timeout_is_stopped(env_dir: Path, tmp_path: Path) -> None:
    slow = tmp_path / "checkov"
    pid_file = tmp_path / "pid"
    slow.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    slow.chmod(0o755)
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with (
        _started(plan_json, timeout=1, install=Installation(slow, CHECKS_DIR)) as scan,
        pytest.raises(FindingsError, match="ran out of time"),
    ):
        _wait_for(pid_file)  # the stand-in runs, past its time
        scan.wait()
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _wait_for(path: Path, bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while not (path.is_file() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# ---------------------------------------------------------------- the report


def test_the_report_of_an_empty_plan_is_a_passing_verdict() -> None:
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0,
               "resource_count": 0, "checkov_version": "3.3.30"}  # fmt: skip
    verdict = read_report(json.dumps(summary), "", 0, Path("tfplan.json"))
    assert (verdict.version, verdict.passed, verdict.findings) == ("3.3.30", 0, ())


@pytest.mark.parametrize(
    ("stdout", "returncode", "reason"),
    [
        ("", 0, "wrote no JSON report"),
        ('{"summary": {"failed": 1, "checkov_version": "3.3.30"}}', 1, "does not add up"),
        ('{"summary": {"failed": 0, "checkov_version": "3.3.30"}}', 1, "does not add up"),
        ('{"summary": {"parsing_errors": 1, "checkov_version": "3.3.30"}}', 0, "could not parse"),
        ('{"summary": {"failed": 0}}', 0, "does not add up"),
        ("[1]", 0, "wrote no JSON report"),
        ("{}", 3, "exited 3"),
    ],
)
def test_a_report_that_is_no_verdict_is_refused(stdout: str, returncode: int, reason: str) -> None:
    with pytest.raises(FindingsError, match=reason):
        read_report(stdout, "", returncode, Path("tfplan.json"))


def test_a_project_check_checkov_cannot_load_gives_no_verdict(
    env_dir: Path, tmp_path: Path, install: Installation
) -> None:
    """checkov logs a check it cannot import and exits 0 without it: no verdict here."""
    checks = tmp_path / "checks"
    shutil.copytree(install.checks, checks, ignore=shutil.ignore_patterns("__pycache__"))
    (checks / "Broken.py").write_text("raise ImportError('broken on purpose')\n")
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with pytest.raises(FindingsError, match="could not load the project's checks Broken"):
        _scan(plan_json, Installation(install.checkov, checks))


def _fake_checkov(tmp_path: Path, main: str) -> Installation:
    """A checkov script of a Python of its own whose ``checkov.main`` is ``main``."""
    venv = tmp_path / "fake-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python*/site-packages")
    (site / "checkov").mkdir()
    (site / "checkov" / "__init__.py").write_text("")
    (site / "checkov" / "main.py").write_text(main)
    script = venv / "bin" / "checkov"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nfrom checkov.main import Checkov\n")
    script.chmod(0o755)
    return Installation(script, CHECKS_DIR)


def test_a_loaded_checkov_that_never_forks_runs_out_of_time_and_is_not_kept(
    env_dir: Path, tmp_path: Path
) -> None:
    install = _fake_checkov(tmp_path, "import time\ntime.sleep(300)\n")
    assert install.python is not None
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with (
        _started(plan_json, timeout=1, install=install) as scan,
        pytest.raises(FindingsError, match="ran out of time"),
    ):
        loaded = scan._loaded
        assert loaded is not None
        process = loaded.process
        scan.wait()
    assert process.poll() is not None
    assert process.pid not in _idle_pids()


def test_a_loaded_checkov_that_answers_no_process_id_is_killed_not_waited_for(
    env_dir: Path, tmp_path: Path
) -> None:
    """A line that is not the protocol ends the interpreter at once; no grace, no verdict."""
    main = (
        "import os, time\n"
        "os.fork = lambda: 'not-a-pid'\n"
        "os.waitpid = lambda *args: time.sleep(300)\n"
        "class Checkov:\n    pass\n"
    )
    install = _fake_checkov(tmp_path, main)
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with (
        _started(plan_json, timeout=60, install=install) as scan,
        pytest.raises(FindingsError, match="answered 'not-a-pid', not a process id"),
    ):
        loaded = scan._loaded
        assert loaded is not None
        process = loaded.process
        # Killed when the line was read, before anything waits for it.
        assert process.wait(timeout=5) == -signal.SIGKILL
        scan.wait()
    assert process.pid not in _idle_pids()


@pytest.mark.parametrize(
    ("main", "reason"),
    [
        ("raise ImportError('checkov is broken')\n", "ImportError: checkov is broken"),
        (
            "print('noise at import', flush=True)\nclass Checkov:\n    pass\n",
            "wrote no JSON report",
        ),
        (
            "import json\nclass Checkov:\n    def __init__(self, argv):\n        pass\n"
            "    def run(self):\n        print(json.dumps({'summary': {'failed': 1}}))\n"
            "        return 1\n",
            "the report does not add up",
        ),
    ],
    ids=["import-fails", "prints-at-import", "report-adds-up-to-nothing"],
)
def test_a_loaded_checkov_that_misbehaves_gives_no_verdict(
    env_dir: Path, tmp_path: Path, main: str, reason: str
) -> None:
    """Output at import does not reach the interpreter's answers; no verdict is made up."""
    install = _fake_checkov(tmp_path, main)
    plan_json = env_dir / "tfplan.json"
    shutil.copyfile(FIXTURE, plan_json)
    with (
        _started(plan_json, timeout=60, install=install) as scan,
        pytest.raises(FindingsError, match=reason),
    ):
        scan.wait()
    # The interpreter waits for the next scan only when it answered for this one.
    assert all(loaded.process.poll() is None for loaded in checkovscan._IDLE)
    checkovscan.unload()
