"""The one reader of every input file: a regular file inside the repository, read with a bound.

Every file regionguard reads as input (the registry, ``terraform.tfvars``,
``expectations.yaml``, ``sandbox.yaml``, the generated and the recorded
``*.auto.tfvars.json``, a plan's JSON, the saved plan it hashes, the gate
record, the environment's ``.tf`` files and Terraform's CLI configuration)
goes through :func:`read_bytes` (or :func:`read_text`, :func:`sha256`,
:func:`check_input`). The rules, each an :class:`InputError` (exit 2) naming
the file and the fix:

- the path, symbolic links resolved, is a **regular file**: a folder, a
  named pipe (FIFO), a device (``/dev/zero``) or a socket is refused before
  it is opened, and the file is opened with ``O_NONBLOCK`` and checked again
  on the open descriptor, so that a pipe swapped in between cannot hang the
  command;
- the resolved file lies **inside its boundary** (:func:`boundary_of`): the
  repository that holds the path as given, else the folder that holds it. A
  symbolic link that leaves it (``accounts.yaml -> /tmp/other.yaml``) would
  make an unreviewed file the registry; it is refused, naming the target;
- the file is **at most** :attr:`Kind.limit` bytes: the size is checked on
  the open descriptor and the read stops one byte past the limit, so a file
  that grows while it is read is refused too, and nothing unbounded reaches
  a parser;
- text is **UTF-8** (:func:`read_text`), refused with the byte offset
  otherwise.

The limits (:data:`REGISTRY`, :data:`PLAN_JSON`, ...) are set from what the
scale benchmarks write, with room (docs/registry.md, "Input files").
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from regionguard.errors import InputError
from regionguard.repo import is_repository

__all__ = [
    "CLI_CONFIG",
    "DEPENDENCY_LOCK",
    "EXPECTATIONS",
    "GATE_RECORD",
    "GENERATED_TFVARS",
    "PLAN_JSON",
    "REGISTRY",
    "SANDBOX_SETTINGS",
    "SAVED_PLAN",
    "SETTINGS",
    "TERRAFORM_CONFIG",
    "Kind",
    "boundary_of",
    "check_input",
    "read_bytes",
    "read_small_text",
    "read_text",
    "sha256",
]

MiB = 1 << 20


@dataclass(frozen=True)
class Kind:
    """What a file is, for messages (``name``), and the most bytes it may have."""

    name: str
    limit: int
    # How to say "this must be a file" for this kind; the default names it.
    fix: str = ""

    def must_be_a_file(self) -> str:
        return self.fix or f"the {self.name} must be a file"


# A registry of 5,000 accounts is about 0.8 MiB (bench/registry_bench.py).
REGISTRY = Kind("registry file", 16 * MiB)
SETTINGS = Kind("settings file", 4 * MiB)
EXPECTATIONS = Kind("expectations file", 16 * MiB)
SANDBOX_SETTINGS = Kind("sandbox settings file", 4 * MiB)
# accounts.auto.tfvars.json of 5,000 accounts is about 90 KiB.
GENERATED_TFVARS = Kind("generated tfvars file", 4 * MiB)
GATE_RECORD = Kind("gate record", 4 * MiB)
# A plan of 200 OUs and 5,000 accounts is a few MiB (docs/registry.md).
PLAN_JSON = Kind("JSON plan file", 256 * MiB, "pass the JSON plan file")
# The saved plan is only hashed, as a stream: the bound is a sanity bound.
SAVED_PLAN = Kind("saved plan", 1024 * MiB)
TERRAFORM_CONFIG = Kind("Terraform configuration file", 16 * MiB)
CLI_CONFIG = Kind("Terraform CLI configuration", 1 * MiB)
# One provider with the checksums of every platform is about 2 KiB.
DEPENDENCY_LOCK = Kind("dependency lock file", 1 * MiB)
# Profiles, backend settings and other small hand-written files.
SMALL_FILE = Kind("file", 4 * MiB)

_CHUNK = 1 * MiB


def _is_repository(folder: Path) -> bool:
    return is_repository(folder)


def boundary_of(path: Path) -> Path:
    """The folder a file's real path must lie in: its repository, else its own folder.

    The repository is the nearest folder above ``path`` *as given* (not
    resolved) that holds ``envs/`` and ``modules/``, as
    :func:`regionguard.repo.repo_root` finds it; so an environment folder that
    is itself a link out of the repository does not carry its boundary along.
    A file outside any repository (``plan-diff /tmp/plan.json``) must stay in
    its own folder.
    """
    absolute = Path(os.path.abspath(path))
    for folder in absolute.parents:
        if _is_repository(folder):
            return folder.resolve()
    return absolute.parent.resolve()


def _kind_of_mode(mode: int) -> str | None:
    """What a non-regular file is, in words (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), which could block the command forever"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"  # pragma: no cover - no other file type on POSIX


def _refuse_mode(path: Path, mode: int, kind: Kind) -> None:
    what = _kind_of_mode(mode)
    if what is not None:
        raise InputError(f"{path}: is {what}; {kind.must_be_a_file()}")


def _stat(path: Path, kind: Kind, missing: str) -> os.stat_result:
    try:
        return os.stat(path)
    except ValueError:  # a NUL character: no file can have that name
        raise InputError(
            f"{str(path)!r}: not a file name (it holds a NUL character); name the {kind.name}"
        ) from None
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(
                f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                f"replace the link with the {kind.name} itself"
            ) from None
        raise InputError(f"{path}: {missing}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                f"{path}: is a loop of symbolic links; replace it with the {kind.name} itself"
            ) from None
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); "
            f"make the {kind.name} readable"
        ) from None


def _inside(path: Path, kind: Kind) -> Path:
    """The real path of ``path``; InputError when a link takes it out of its boundary."""
    real = Path(os.path.realpath(path))
    boundary = boundary_of(path)
    if not real.is_relative_to(boundary):
        raise InputError(
            f"{path}: is a symbolic link to {real}, outside {boundary}; an input must be a "
            f"reviewed file of the repository: replace the link with the {kind.name} itself"
        )
    return real


def check_input(path: Path, kind: Kind, *, missing: str) -> os.stat_result:
    """Refuse ``path`` unless it is a regular file inside its boundary; read nothing."""
    status = _stat(path, kind, missing)
    _refuse_mode(path, status.st_mode, kind)
    _inside(path, kind)
    return status


def _too_large(path: Path, kind: Kind, size: str) -> InputError:
    return InputError(
        f"{path}: is {size}, more than the {kind.limit // MiB:,} MiB any {kind.name} of "
        "regionguard needs; this is not the file it should be"
    )


def _open(path: Path, kind: Kind, missing: str) -> int:
    check_input(path, kind, missing=missing)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(os.path.realpath(path), flags | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); "
            f"make the {kind.name} readable"
        ) from None
    try:
        status = os.fstat(fd)
        _refuse_mode(path, status.st_mode, kind)
        if status.st_size > kind.limit:
            raise _too_large(path, kind, f"{status.st_size:,} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path, kind: Kind, *, missing: str) -> bytes:
    """The bytes of ``path``, after every check of the module docstring."""
    fd = _open(path, kind, missing)
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, kind.limit + 1 - total))
            except BlockingIOError:  # pragma: no cover - regular files never block
                raise InputError(f"{path}: would block; {kind.must_be_a_file()}") from None
            except OSError as exc:
                raise InputError(
                    f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); "
                    f"make the {kind.name} readable"
                ) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > kind.limit:
                raise _too_large(path, kind, "growing past the limit")
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode_utf8(raw: bytes, path: Path | str) -> str:
    """``raw`` as UTF-8 text; InputError with the byte offset otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None


def read_text(path: Path, kind: Kind, *, missing: str) -> str:
    """The UTF-8 text of ``path`` (:func:`read_bytes`, then a strict decode)."""
    return decode_utf8(read_bytes(path, kind, missing=missing), path)


def read_small_text(path: Path) -> str:
    """The text of a small hand-written file (backend settings, profiles) with every check."""
    return read_text(path, SMALL_FILE, missing="no such file")


def sha256(path: Path, kind: Kind, *, copy_to: Path | None = None) -> str | None:
    """SHA-256 of ``path`` read as a stream with the checks above; None when it does not exist.

    With ``copy_to``, the bytes hashed are also written there (a new file,
    0600), so the copy is exactly what the hash says.
    """
    if not os.path.lexists(path):
        return None
    fd = _open(path, kind, "no such file")
    digest = hashlib.sha256()
    total = 0
    out = None
    try:
        if copy_to is not None:
            out = os.open(copy_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        while chunk := os.read(fd, _CHUNK):
            total += len(chunk)
            if total > kind.limit:
                raise _too_large(path, kind, "growing past the limit")
            digest.update(chunk)
            if out is not None:
                os.write(out, chunk)
    finally:
        os.close(fd)
        if out is not None:
            os.close(out)
    return digest.hexdigest()
