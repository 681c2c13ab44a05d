"""The local sandbox: moto and a Control Tower emulator on loopback (docs/sandbox.md)."""

from __future__ import annotations
