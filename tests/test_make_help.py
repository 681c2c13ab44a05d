"""`make help`: every documented target in a group, every listed variable one the Makefile reads.

The first-run messages of the bootstrap rules are checked too, with a stand-in
for the Python that creates .venv: the tests have no network to install
from, and what is under test is what make prints and when.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = REPO_ROOT / "Makefile"
DOCUMENTED = re.compile(r"^([a-zA-Z0-9_-]+):.*## (.+)$", re.M)


def make(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.pop("REGIONGUARD_TF_MIRROR", None)
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def help_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """Section title to its rows (first word, rest of the line)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = sections.setdefault(line, [])
            continue
        assert current is not None, line
        word, _, rest = line.strip().partition(" ")
        current.append((word, rest.strip()))
    return sections


def documented_targets() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in DOCUMENTED.finditer(MAKEFILE.read_text())}


def test_every_documented_target_is_in_exactly_one_group_with_its_description() -> None:
    result = make("help")
    assert (result.returncode, result.stderr) == (0, "")
    sections = help_sections(result.stdout)
    groups = {title: rows for title, rows in sections.items() if not title.startswith("Variables")}
    assert "Other" not in groups, f"give these targets a group in HELP_GROUPS: {groups['Other']}"
    assert list(groups) == [
        "Plan and apply (ENV, default local: the sandbox)",
        "Local sandbox (127.0.0.1:SANDBOX_PORT)",
        "Checks and tests",
        "Registry (envs/ENV/accounts.yaml)",
        "Benchmarks",
        "Maintenance",
    ]
    listed = [target for rows in groups.values() for target, _ in rows]
    assert len(listed) == len(set(listed)), "a target is in two groups"
    documented = documented_targets()
    assert sorted(listed) == sorted(documented)
    for rows in groups.values():
        for target, description in rows:
            assert description == documented[target], target


def test_the_variables_users_set_are_listed_with_their_value_and_read_by_the_makefile() -> None:
    result = make("help", "SANDBOX_PORT=4681", "ENV=prod")
    [variables] = [rows for t, rows in help_sections(result.stdout).items() if t.startswith("Var")]
    shown = {word.partition("=")[0]: word.partition("=")[2] for word, _ in variables}
    assert list(shown)[:3] == ["ENV", "SANDBOX_PORT", "REGIONGUARD_TF_MIRROR"]
    assert {k: shown[k] for k in ("ENV", "SANDBOX_PORT", "TF_TIMEOUT", "EXTRAS")} == {
        "ENV": "prod",
        "SANDBOX_PORT": "4681",
        "TF_TIMEOUT": "900",
        "EXTRAS": "core",
    }
    assert all(description for _, description in variables)
    text = MAKEFILE.read_text()
    body = re.sub(r"^HELP_\w+ :=.*$", "", text, flags=re.M)
    for name in shown:
        read = re.search(rf"\$\({name}\)|\$\$\{{?{name}\b", body) or re.search(
            rf"^{name} \?=", body, re.M
        )
        assert read, f"make help lists {name}, which the Makefile never reads"


def fake_python(folder: Path) -> Path:
    """A stand-in for python3 whose ``-m venv DIR`` makes DIR/bin/python log pip's arguments."""
    log = folder / "pip.log"
    venv_python = f'#!/bin/sh\necho "pip $*" >> {log}\necho "pip ran" >&2\n'
    regionguard = '#!/bin/sh\necho "regionguard 9.9.9"\n'
    script = folder / "python3"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2" = "-m venv" ] || exit 64\n'
        'mkdir -p "$3/bin"\n'
        f"cat > \"$3/bin/python\" <<'EOF'\n{venv_python}EOF\n"
        f"cat > \"$3/bin/regionguard\" <<'EOF'\n{regionguard}EOF\n"
        'chmod +x "$3/bin/python" "$3/bin/regionguard"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_first_install_says_what_it_does_before_pip_runs_and_when_it_is_done(
    tmp_path: Path,
) -> None:
    python = fake_python(tmp_path)
    venv = tmp_path / "venv"
    first = make("venv", f"VENV={venv}", f"PYTHON={python}", "EXTRAS=sandbox")
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [
        f"first run: creating {venv} and installing regionguard[sandbox] with its "
        "dependencies (a minute or two)",
        "pip ran",
        "pip ran",
        f"make: {venv} ready: regionguard[sandbox] 9.9.9",
    ]
    assert first.stdout == ""
    assert (tmp_path / "pip.log").read_text().splitlines() == [
        "pip -m pip install --quiet --upgrade pip",
        "pip -m pip install --quiet -c requirements.lock -e .[sandbox]",
    ]
    # Installed: nothing to say. pyproject.toml changed: one line names why.
    assert make("venv", f"VENV={venv}", f"PYTHON={python}", "EXTRAS=sandbox").stderr == ""
    again = make("-W", "pyproject.toml", "venv", f"VENV={venv}", f"PYTHON={python}", "EXTRAS=core")
    assert again.stderr.splitlines()[0] == (
        f"make: installing regionguard into {venv} (new extras, or pyproject.toml or "
        "requirements.lock changed)"
    )


def test_the_quickstart_starts_with_make_plan_and_make_test_and_names_real_targets() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    block = quickstart.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in block[:2]] == ["make plan", "make test"]
    documented = documented_targets()
    for line in block:
        command = line.split("#")[0].split()
        assert command[0] == "make" and command[1] in documented, line
    assert [line.split()[1] for line in block] == [
        "plan",
        "test",
        "apply",
        "destroy",
        "sandbox-down",
    ]
