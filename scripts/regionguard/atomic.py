"""Atomic file replacement: a failed run leaves the previous file untouched."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from regionguard.errors import RegionguardError


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    The file keeps the permissions of the file it replaces (0644 for a new
    one), unless ``mode`` is given (0o600 for a secret).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RegionguardError(
            f"{path}: cannot be written ({exc.strerror or exc or type(exc).__name__} in "
            f"{path.parent}); nothing was changed; make the folder writable and run again"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RegionguardError(
                f"{path}: cannot be written ({exc.strerror or exc or type(exc).__name__}); "
                "the previous file is left as it was"
            ) from None
        raise
