"""Exceptions that map to the documented exit codes."""

from __future__ import annotations


class RegionguardError(Exception):
    """Base class of the errors the command line reports without a traceback."""

    exit_code = 3


class InputError(RegionguardError):
    """Bad input: a file, an entry or an argument the user must fix (exit 2)."""

    exit_code = 2


class FindingsError(RegionguardError):
    """A check ran and found problems (exit 1)."""

    exit_code = 1
