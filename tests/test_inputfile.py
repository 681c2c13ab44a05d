"""The one reader of input files: boundaries, kinds of files and bounds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import plan_fixture
from regionguard import inputfile
from regionguard.errors import InputError
from regionguard.planfile import load_plan


def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "envs" / "local").mkdir(parents=True)
    (root / "modules").mkdir()
    return root


def test_a_link_inside_the_repository_is_followed(tmp_path: Path) -> None:
    root = repository(tmp_path)
    (root / "envs" / "shared.yaml").write_text("accounts: []\n")
    link = root / "envs" / "local" / "accounts.yaml"
    link.symlink_to("../shared.yaml")
    assert inputfile.read_text(link, inputfile.REGISTRY, missing="x") == "accounts: []\n"
    assert inputfile.boundary_of(link) == root.resolve()


def test_a_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = repository(tmp_path)
    (tmp_path / "elsewhere.yaml").write_text("accounts: []\n")
    link = root / "envs" / "local" / "accounts.yaml"
    link.symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(InputError) as refused:
        inputfile.read_text(link, inputfile.REGISTRY, missing="x")
    assert str(refused.value) == (
        f"{link}: is a symbolic link to {tmp_path / 'elsewhere.yaml'}, outside "
        f"{root.resolve()}; an input must be a reviewed file of the repository: replace the "
        "link with the registry file itself"
    )


def test_an_environment_folder_linked_out_keeps_the_repository_as_boundary(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "accounts.yaml").write_text("accounts: []\n")
    (root / "envs" / "evil").symlink_to(elsewhere)
    with pytest.raises(InputError, match="outside"):
        inputfile.read_text(
            root / "envs" / "evil" / "accounts.yaml", inputfile.REGISTRY, missing="x"
        )


def test_outside_any_repository_a_file_stays_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "plan.json").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "plan.json").symlink_to(tmp_path / "a" / "plan.json")
    (tmp_path / "a" / "copy.json").symlink_to("plan.json")
    assert inputfile.read_text(tmp_path / "a" / "copy.json", inputfile.PLAN_JSON, missing="x")
    with pytest.raises(InputError, match="outside"):
        inputfile.read_text(tmp_path / "b" / "plan.json", inputfile.PLAN_JSON, missing="x")


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: os.mkfifo(p), "is a named pipe (FIFO), which could block the command forever"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.symlink_to("/dev/zero"), "is a device, not a file"),
    ],
)
def test_what_is_not_a_regular_file_is_refused_before_it_is_opened(
    tmp_path: Path, make: object, what: str
) -> None:
    path = tmp_path / "accounts.yaml"
    make(path)  # type: ignore[operator]
    with pytest.raises(InputError) as refused:
        inputfile.read_bytes(path, inputfile.REGISTRY, missing="x")
    assert str(refused.value) == f"{path}: {what}; the registry file must be a file"


def test_the_bound_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"x" * 11)
    kind = inputfile.Kind("small file", 10)
    with pytest.raises(InputError) as refused:
        inputfile.read_bytes(path, kind, missing="x")
    assert str(refused.value) == (
        f"{path}: is 11 bytes, more than the 0 MiB any small file of regionguard needs; "
        "this is not the file it should be"
    )
    path.write_bytes(b"x" * 10)
    assert inputfile.read_bytes(path, kind, missing="x") == b"x" * 10


def test_the_plan_reader_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_fixture("permit-account") / "plan.json"
    monkeypatch.setattr(inputfile, "PLAN_JSON", inputfile.Kind("JSON plan file", 1000))
    with pytest.raises(InputError, match="more than the 0 MiB any JSON plan file"):
        load_plan(plan)


def test_the_hash_of_a_missing_file_is_none_and_of_a_pipe_refused(tmp_path: Path) -> None:
    assert inputfile.sha256(tmp_path / "absent", inputfile.SAVED_PLAN) is None
    os.mkfifo(tmp_path / "tfplan")
    with pytest.raises(InputError, match="named pipe"):
        inputfile.sha256(tmp_path / "tfplan", inputfile.SAVED_PLAN)
