"""A layout switch (single SCP <-> one SCP per OU) keeps the guardrail, interrupted or not.

The rig of tests/test_guardrail_integrity.py (a sandbox, a copy of envs/local on
two first-tier OUs, the recording proxy that checks the invariant before each
mutating call and can kill Terraform after the n-th), for the switches: one
uninterrupted switch each way, and a switch killed after each of its calls
both ways, each converging with ``regionguard plan --allow-destroy`` and
``regionguard apply`` through the proxy. Apart from that module so that the
two rigs' cases run beside each other on two pytest-xdist workers
(``--dist loadfile``, docs/testing.md).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from conftest import cpu_seconds
from test_guardrail_integrity import OUS, Rig, _rig

pytestmark = [pytest.mark.sandbox, pytest.mark.terraform]

# Each layout attaches its SCPs with an attachment resource of its own
# (modules/bedrock-inference-scp): a switch creates the new layout's SCPs and
# attachments, then detaches and deletes the old ones, never replaces an
# attachment. The calls interleave differently from run to run, so they are
# compared as a multiset, and their order by _in_guarded_order.
SWITCH_CALLS = {
    True: sorted(
        ["CreatePolicy"] * len(OUS)
        + ["AttachPolicy"] * len(OUS)
        + ["DetachPolicy"] * len(OUS)
        + ["DeletePolicy"]
    ),
    False: sorted(
        ["CreatePolicy"]
        + ["AttachPolicy"] * len(OUS)
        + ["DetachPolicy"] * len(OUS)
        + ["DeletePolicy"] * len(OUS)
    ),
}


@pytest.fixture(scope="module")
def switch_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with _rig(tmp_path_factory.mktemp("switch")) as setup:
        yield setup


def _in_guarded_order(calls: list[str], to_per_ou: bool) -> bool:
    """Whether the calls of a switch, so far, keep each OU guarded.

    An SCP is attached once created; an old attachment is detached only once
    every OU carries its new SCP; an old SCP is deleted only once detached
    (the single SCP from every OU).
    """
    seen: Counter[str] = Counter()
    for call in calls:
        if call == "CreatePolicy":
            ok = True
        elif call == "AttachPolicy":
            ok = seen["CreatePolicy"] > (seen["AttachPolicy"] if to_per_ou else 0)
        elif call == "DetachPolicy":
            ok = seen["AttachPolicy"] == len(OUS)
        elif call == "DeletePolicy":
            ok = (
                seen["DetachPolicy"] == len(OUS)
                if to_per_ou
                else seen["DeletePolicy"] < seen["DetachPolicy"]
            )
        else:
            ok = False
        if not ok:
            return False
        seen[call] += 1
    return True


def _at_layout(rig: Rig, per_ou: bool) -> None:
    """A converged deployment at this layout: the one the last case left, or a new one."""
    if rig.layout_converged is not per_ou:
        rig.empty()
        rig.set_layout(per_ou)
        code, output = rig.run_through_proxy("apply")
        assert code == 0, output
        assert rig.violations == []
        rig.layout_converged = per_ou
    rig.set_layout(per_ou)


def test_a_layout_switch_keeps_the_invariant_both_ways(switch_rig: Rig) -> None:
    rig = switch_rig
    _at_layout(rig, False)
    for per_ou in (True, False):
        rig.set_layout(per_ou)
        rig.violations.clear()
        code, output = rig.run_through_proxy("apply")
        assert code == 0, output
        assert sorted(rig.calls) == SWITCH_CALLS[per_ou], rig.calls
        assert _in_guarded_order(rig.calls, per_ou), rig.calls
        assert rig.violations == []
        assert rig.settled_unguarded() == []
        assert rig.not_as_deployed() == []
        rig.assert_empty_plan("one apply finishes the switch")
        rig.layout_converged = per_ou


def test_the_guarded_order_refuses_a_detach_before_every_attach() -> None:
    assert _in_guarded_order(["CreatePolicy", "CreatePolicy", "AttachPolicy"], True)
    assert not _in_guarded_order(["CreatePolicy", "DetachPolicy"], True)
    assert not _in_guarded_order(["CreatePolicy", "AttachPolicy", "DetachPolicy"], False)
    assert not _in_guarded_order(["AttachPolicy"], True)
    assert not _in_guarded_order(["CreatePolicy"] + ["AttachPolicy"] * 2 + ["DeletePolicy"], False)


# Every call of both switches (7 each on two OUs), single -> per_ou and
# per_ou -> single in turn, so that each case starts where the one before it
# converged; a case run alone deploys its starting layout afresh first.
SWITCH_POINTS = [
    (to_per_ou, n) for n in range(1, len(SWITCH_CALLS[True]) + 1) for to_per_ou in (True, False)
]


@pytest.mark.parametrize(
    ("to_per_ou", "point"),
    SWITCH_POINTS,
    ids=[f"{'to_per_ou' if p else 'to_single'}-{n}" for p, n in SWITCH_POINTS],
)
def test_an_interrupted_layout_switch_keeps_the_invariant_and_converges(
    switch_rig: Rig, capsys: pytest.CaptureFixture[str], to_per_ou: bool, point: int
) -> None:
    rig = switch_rig
    wall, cpu = time.monotonic(), cpu_seconds()
    _at_layout(rig, not to_per_ou)
    rig.layout_converged = None
    rig.set_layout(to_per_ou)
    rig.violations.clear()
    rig.kill_at = point
    code, output = rig.run_through_proxy("apply")
    assert code != 0, output
    assert rig.violations == []
    assert rig.unguarded() == [], "right after the kill"
    assert rig.settled_unguarded() == [], "once the operations in flight ended"
    interrupted = list(rig.calls)
    assert len(interrupted) == point and _in_guarded_order(interrupted, to_per_ou), interrupted
    # The next regionguard plan and apply finish the switch by themselves,
    # through the proxy: the invariant holds before each of their calls, and
    # no call AWS already took is made again.
    rig.stopped = False
    rig.calls.clear()
    rig.converge(capsys, "--allow-destroy", proxy=True, replan=point == len(SWITCH_CALLS[True]))
    assert rig.violations == []
    assert sorted(interrupted + rig.calls) == SWITCH_CALLS[to_per_ou], (interrupted, rig.calls)
    rig.layout_converged = to_per_ou
    with capsys.disabled():
        print(
            f"\nlayout switch to {'per_ou' if to_per_ou else 'single'} interrupted after call "
            f"{point} ({rig.hit}): invariant held; converged with {rig.calls} "
            f"[{time.monotonic() - wall:.1f} s wall, {cpu_seconds() - cpu:.1f} s CPU]"
        )
