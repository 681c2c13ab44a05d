"""The hostile-input corpus: every way around the checks of issue 19 is refused with exit 2.

Each file ``tests/fixtures/hostile/<kind>.yaml`` lists cases of one kind
(door: a second channel into Terraform; inputs: files that are not what they
look like; names: look-alike and invisible characters; plans: plans that are
not whole; record: a gate record or saved plan that does not hold; validation:
settings that pass Terraform and must not). Adding a case is adding an entry:

- ``name``; ``argv``: the command, as given to ``regionguard.cli.main``
  (``{env}``, ``{root}`` and ``{outside}`` are replaced by the environment
  folder of the copy, the copied repository and a folder outside it);
- ``env``: ``local`` (default) or ``prod``, the environment copied;
- ``environ``: environment variables set for the run;
- ``files`` (path: text), ``symlinks`` (path: target), ``fifos``, ``dirs``,
  ``remove`` (paths), ``big`` (path: size in bytes): what the case changes,
  paths relative to the environment folder unless they start with ``{root}``
  or ``{outside}``;
- ``cli_config``: text of a Terraform CLI configuration, named by
  ``TF_CLI_CONFIG_FILE``; ``home``: files of a fresh ``$HOME``;
- ``plan``: writes ``{root}/plan.json`` from the real plan
  ``tests/fixtures/plans/<kind>/<base>`` with top-level keys ``set``, ``delete``d,
  values deeper in ``set_path`` (``[[key or index, ...], value]`` each), text
  ``replace``d and ``append_raw`` written before its last ``}``;
- ``record``: before the case's changes, a saved plan, its JSON and the gate
  record that ``regionguard plan`` writes when every stage passed;
- ``message``: a substring of stderr naming the file, variable or entry.

The runner asserts exit 2, the message, no traceback, that no terraform
command and no sandbox was started (both are replaced by a tripwire), and
that every file of the copied repository is byte for byte what it was (no
saved plan, no gate record, no generated file written). Files outside the
repository that a case points at are copies of the real ones: only their
place is hostile.

``tests/fixtures/hostile/make.yaml`` holds the make variables: each runs
``make`` on a copy of the Makefile and asserts exit 2, the message and that
the marker file the value would create does not exist.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import plan_fixture, record_as_passed
from regionguard.cli import main

CORPUS = Path(__file__).parent / "fixtures" / "hostile"
REPO = Path(__file__).resolve().parent.parent
KINDS = ("door", "inputs", "names", "plans", "record", "validation")
CASE_KEYS = {
    "name",
    "argv",
    "env",
    "environ",
    "files",
    "symlinks",
    "fifos",
    "dirs",
    "remove",
    "big",
    "cli_config",
    "home",
    "plan",
    "record",
    "message",
}
# Files a case may point at outside the repository: copies of the real ones.
OUTSIDE_COPIES = {
    "accounts.yaml": "envs/local/accounts.yaml",
    "terraform.tfvars": "envs/local/terraform.tfvars",
    "expectations.yaml": "envs/local/expectations.yaml",
    "sandbox.yaml": "envs/local/sandbox.yaml",
    "accounts.auto.tfvars.json": "envs/local/accounts.auto.tfvars.json",
    "main.tf": "envs/_shared/main.tf",
    "plan.json": "tests/fixtures/plans/good/permit-account/plan.json",
}
TODAY = "2026-11-30"


def load_kind(kind: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((CORPUS / f"{kind}.yaml").read_text())
    return cases


def params() -> list[Any]:
    return [
        pytest.param(kind, case, id=f"{kind}/{case['name']}")
        for kind in KINDS
        for case in load_kind(kind)
    ]


def test_the_corpus_is_well_formed_and_has_at_least_100_cases() -> None:
    names = []
    for kind in KINDS:
        for case in load_kind(kind):
            assert set(case) <= CASE_KEYS, case["name"]
            assert {"name", "argv", "message"} <= set(case), case
            assert len(case["message"]) >= 8, case["name"]
            names.append(f"{kind}/{case['name']}")
    make_cases = load_make()
    assert len(names) == len(set(names))
    assert len(names) + len(make_cases) >= 100


# ---------------------------------------------------------------- the copy


def expand(text: str, places: dict[str, Path]) -> str:
    for key, path in places.items():
        text = text.replace("{" + key + "}", str(path))
    return text


def place(path: str, places: dict[str, Path]) -> Path:
    if path.startswith("{"):
        return Path(expand(path, places))
    return places["env"] / path


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry below ``folder`` as it is, without opening anything but regular files."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            key = str(path.relative_to(folder))
            if stat.S_ISLNK(mode):
                out[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(mode):
                out[key] = ("dir",)
            elif stat.S_ISREG(mode):
                out[key] = ("file", path.read_bytes())
            else:
                out[key] = ("special", stat.S_IFMT(mode))
    return out


def write_plan(spec: dict[str, Any], target: Path) -> None:
    text = (plan_fixture(spec["base"]) / "plan.json").read_text()
    if "set" in spec or "delete" in spec or "set_path" in spec:
        data = json.loads(text)
        data.update(spec.get("set", {}))
        for key in spec.get("delete", []):
            del data[key]
        for path, value in spec.get("set_path", []):
            parent = data
            for step in path[:-1]:
                parent = parent[step]
            assert path[-1] in (parent if isinstance(parent, dict) else range(len(parent))), path
            parent[path[-1]] = value
        text = json.dumps(data)
    for old, new in spec.get("replace", []):
        assert old in text, old
        text = text.replace(old, new, 1)
    if "append_raw" in spec:
        text = text.rstrip()
        assert text.endswith("}")
        text = text[:-1] + spec["append_raw"] + "}"
    target.write_text(text)


def save_plan(env_dir: Path) -> None:
    """What `regionguard plan` leaves when every stage passed: tfplan, its JSON, the record."""
    from regionguard.gaterecord import PlanFiles

    files = PlanFiles(env_dir)
    files.plan.write_bytes(b"saved plan")
    shutil.copyfile(plan_fixture("permit-account") / "plan.json", files.json)
    record_as_passed(env_dir, datetime.date.fromisoformat(TODAY))


def apply_case(case: dict[str, Any], places: dict[str, Path], monkeypatch: Any) -> None:
    env_dir = places["env"]
    if case.get("record"):
        save_plan(env_dir)
    for name in case.get("remove", []):
        target = place(name, places)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    for name, text in (case.get("files") or {}).items():
        target = place(name, places)
        if target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(expand(text, places))
    for name, pointee in (case.get("symlinks") or {}).items():
        target = place(name, places)
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(expand(pointee, places))
    for name in case.get("fifos", []):
        target = place(name, places)
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(target)
    for name in case.get("dirs", []):
        target = place(name, places)
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.mkdir(parents=True)
        (target / "content.json").write_text("{}\n")
    for name, size in (case.get("big") or {}).items():
        target = place(name, places)
        with target.open("ab") as handle:
            handle.write(b"#" * int(size) + b"\n")
    if "plan" in case:
        write_plan(case["plan"], places["root"] / "plan.json")
    if "cli_config" in case:
        config = places["outside"] / "cli.tfrc"
        config.write_text(case["cli_config"])
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    home = places["outside"] / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, text in (case.get("home") or {}).items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    for key, value in (case.get("environ") or {}).items():
        monkeypatch.setenv(key, expand(str(value), places))


class Tripwire(Exception):
    """Raised where the chain would start terraform or the sandbox: the case went too far."""


@pytest.fixture
def copy(
    local_env_copier: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Path]]:
    root = tmp_path / "repo"
    local_env_copier(root)
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*")
    shutil.copytree(REPO / "envs" / "prod", root / "envs" / "prod", symlinks=True, ignore=ignore)
    outside = tmp_path / "outside"
    outside.mkdir()
    for name, source in OUTSIDE_COPIES.items():
        shutil.copyfile(REPO / source, outside / name)
    monkeypatch.setenv("REGIONGUARD_ROOT", str(root))
    monkeypatch.chdir(root)
    for key in list(os.environ):
        if key.startswith(("TF_", "TERRAFORM_")):
            monkeypatch.delenv(key)

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise Tripwire("the case reached terraform or the sandbox")

    monkeypatch.setattr("regionguard.terraform.Terraform.run", tripwire)
    monkeypatch.setattr("regionguard.sandbox.process.up", tripwire)
    yield {"root": root, "outside": outside}


@pytest.mark.parametrize(("kind", "case"), params())
def test_hostile_input_is_refused_and_nothing_is_written(
    kind: str,
    case: dict[str, Any],
    copy: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    places = {**copy, "env": copy["root"] / "envs" / case.get("env", "local")}
    apply_case(case, places, monkeypatch)
    before = snapshot(copy["root"])

    argv = [expand(a, places) for a in case["argv"]]
    code = main(argv)
    out, err = capsys.readouterr()

    assert "Traceback" not in out + err, err
    assert "the case reached terraform or the sandbox" not in err, err
    assert code == 2, out + err
    assert expand(case["message"], places) in err, err
    assert snapshot(copy["root"]) == before


# ---------------------------------------------------------------- make


def load_make() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((CORPUS / "make.yaml").read_text())
    return cases


@pytest.mark.parametrize("case", load_make(), ids=[c["name"] for c in load_make()])
def test_make_refuses_a_function_call_in_a_variable_before_it_runs(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    for env in ("local", "staging", "prod"):
        (tmp_path / "envs" / env).mkdir(parents=True)
        (tmp_path / "envs" / env / "backend.tf").write_text("")
    environ = {
        k: v for k, v in os.environ.items() if k not in ("ENV", "VENV", "PYTHON", "MAKEFLAGS")
    }
    environ.update(case.get("environ") or {})
    done = subprocess.run(
        ["make", "-C", str(tmp_path), *case["args"]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert case["message"] in done.stderr, done.stderr
    assert not (tmp_path / "PWNED").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile", "envs"]
