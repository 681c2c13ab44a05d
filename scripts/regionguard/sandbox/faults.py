"""Fault injection for the Control Tower emulator.

A fault is armed for a number of calls: ``throttle`` answers
``ThrottlingException`` (HTTP 429), ``conflict`` answers ``ConflictException``
(HTTP 409), ``fail`` accepts the call but ends its operation ``FAILED``. Each
matching call consumes one; an armed fault with no action matches every call
it applies to (``conflict`` and ``fail`` apply to the three calls that start
an operation, ``throttle`` to every call).

Faults are armed through ``POST /regionguard/faults`` or, at start-up, through
the environment variable ``REGIONGUARD_SANDBOX_FAULTS``:
``KIND[:ACTION]:COUNT`` entries separated by commas, for example
``throttle:enable-control:2,fail:1``.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

FaultKind = Literal["throttle", "conflict", "fail"]

FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "conflict", "fail")

# Calls that start an operation: the only ones `conflict` and `fail` apply to.
OPERATION_ACTIONS: tuple[str, ...] = ("enable-control", "update-enabled-control", "disable-control")

ACTIONS: tuple[str, ...] = (
    *OPERATION_ACTIONS,
    "get-control-operation",
    "get-enabled-control",
    "list-enabled-controls",
    "list-control-operations",
)

ENV_VAR = "REGIONGUARD_SANDBOX_FAULTS"


class FaultSpecError(ValueError):
    """A fault specification that cannot be armed."""


@dataclass(frozen=True)
class Fault:
    """One armed fault: ``count`` more calls of ``action`` (None: any) get ``kind``."""

    kind: FaultKind
    action: str | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_fault(kind: str, action: str | None, count: int) -> Fault:
    """Validate a fault specification; raise FaultSpecError naming what is wrong."""
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"fault kind {kind!r} is unknown; use one of {', '.join(FAULT_KINDS)}")
    allowed = ACTIONS if kind == "throttle" else OPERATION_ACTIONS
    if action is not None and action not in allowed:
        raise FaultSpecError(
            f"fault {kind!r} does not apply to action {action!r}; use one of {', '.join(allowed)}"
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultSpecError(f"fault count must be a positive integer, not {count!r}")
    return Fault(cast(FaultKind, kind), action, count)


def parse_faults(spec: str) -> list[Fault]:
    """Parse ``KIND[:ACTION]:COUNT`` entries separated by commas."""
    faults: list[Fault] = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            raise FaultSpecError(f"fault {entry!r} is not of the form KIND[:ACTION]:COUNT")
        kind, count_text = parts[0], parts[-1]
        action = parts[1] if len(parts) == 3 else None
        try:
            count = int(count_text)
        except ValueError:
            raise FaultSpecError(f"fault {entry!r}: count {count_text!r} is not a number") from None
        faults.append(make_fault(kind, action, count))
    return faults


class FaultInjector:
    """Thread-safe set of armed faults, consumed call by call."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, action: str, kinds: tuple[FaultKind, ...]) -> FaultKind | None:
        """Consume and return the first armed fault of ``kinds`` that matches ``action``."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind not in kinds or fault.action not in (None, action):
                    continue
                if fault.kind != "throttle" and action not in OPERATION_ACTIONS:
                    continue
                if fault.count == 1:
                    del self._faults[index]
                else:
                    self._faults[index] = Fault(fault.kind, fault.action, fault.count - 1)
                return fault.kind
        return None
