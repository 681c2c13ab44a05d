from __future__ import annotations

from pathlib import Path

import pytest

from regionguard.atomic import write_atomic
from regionguard.errors import RegionguardError


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_write_leaves_the_previous_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")

    def failing_replace(src: str, dst: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("regionguard.atomic.os.replace", failing_replace)
    with pytest.raises(RegionguardError, match=r"out.json: cannot be written \(disk full\)"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_folder_that_cannot_be_written_is_an_error_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")

    def refused(**_kw: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("regionguard.atomic.tempfile.mkstemp", refused)
    with pytest.raises(RegionguardError, match=r"Operation not permitted in .*nothing was changed"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
