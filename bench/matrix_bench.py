"""Benchmark: the decision matrix of 5,000 accounts x 30 Regions x 3 actions.

An organization shaped like the environments (root, three first-tier OUs with
FullAWSAccess, the Bedrock inference SCP rendered for 500 permitted accounts
and the CT.MULTISERVICE.PV.1 SCP rendered from its template, FullAWSAccess on
each account). Prints the wall time and peak memory (tracemalloc) of building
the evaluator and the whole matrix, of evaluating every request one by one
with our evaluator, and principalmapper's time per request on a sample,
extrapolated to the full matrix for the speed-up.

Run: ``make bench`` or ``.venv/bin/python bench/matrix_bench.py [--sample N]``.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from regionguard.controlscp import render_control_scp
from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request
from regionguard.oracle import Oracle
from regionguard.orgmodel import FULL_AWS_ACCESS, commercial_regions
from regionguard.render import render_scp
from regionguard.settings import Settings

ACCOUNTS = 5_000
PERMITTED_EVERY = 10
ALLOWED = ("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2")
ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "ec2:RunInstances")


def organization() -> tuple[OrgTree, list[str]]:
    ids = [f"{200000000000 + i:012d}" for i in range(ACCOUNTS)]
    permitted = ids[::PERMITTED_EVERY]
    settings = Settings(
        home_region="ap-northeast-1",
        allowed_regions=ALLOWED,
        exempted_actions=ACTIONS[:2],
    )
    scp = Policy("bedrock-cross-region-inference", render_scp(settings, permitted))
    control = Policy(
        "aws-guardrails-CT.MULTISERVICE.PV.1", render_control_scp(ALLOWED, ACTIONS[:2], [])
    )
    root = OrgNode("root", "r-root", "Root", (FULL_AWS_ACCESS,))
    ous = [
        OrgNode("ou", f"ou-{n}", n, (FULL_AWS_ACCESS, scp, control))
        for n in ("Workloads", "Sandbox", "Security")
    ]
    accounts = tuple(
        AccountPath(
            a,
            f"acct-{i}",
            (root, ous[i % 3], OrgNode("account", a, f"acct-{i}", (FULL_AWS_ACCESS,))),
        )
        for i, a in enumerate(ids)
    )
    return OrgTree(accounts, "999999999999"), ids


def measure(label: str, fn: object) -> tuple[float, int, object]:
    assert callable(fn)
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<58} {elapsed:8.3f} s   peak {peak / 2**20:7.1f} MiB")
    return elapsed, peak, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=3_000, help="requests sampled for the oracle")
    args = parser.parse_args()

    org, ids = organization()
    regions = [*commercial_regions()[:29], "unspecified"]
    cells = len(ids) * len(regions) * len(ACTIONS)
    print(
        f"matrix: {len(ids)} accounts x {len(regions)} Regions x {len(ACTIONS)} actions "
        f"= {cells:,} cells"
    )

    def matrix() -> int:
        m = Evaluator(org).matrix(ids, regions, list(ACTIONS))
        return sum(1 for cell in m.cells() if cell.decision.allowed)

    # Timing without tracemalloc (it slows Python down), then memory with it.
    start = time.perf_counter()
    allowed = matrix()
    wall = time.perf_counter() - start
    print(f"{'evaluator.matrix, every cell visited (wall, no tracing)':<58} {wall:8.3f} s")
    measure("evaluator.matrix, every cell visited (traced)", matrix)
    print(f"allowed cells: {allowed:,} of {cells:,}")

    def one_by_one() -> int:
        ev = Evaluator(org)
        return sum(
            ev.evaluate(Request(a, action, r)).allowed
            for a in ids
            for r in regions
            for action in ACTIONS
        )

    start = time.perf_counter()
    allowed_each = one_by_one()
    each = time.perf_counter() - start
    print(f"{'evaluator.evaluate, each request (wall, no tracing)':<58} {each:8.3f} s")
    assert allowed_each == allowed, "matrix and per-request evaluation disagree"

    rng = random.Random(7)
    sample = [
        Request(rng.choice(ids), rng.choice(ACTIONS), rng.choice(regions))
        for _ in range(args.sample)
    ]
    oracle = Oracle(org)
    ev = Evaluator(org)
    start = time.perf_counter()
    verdicts = [oracle.allows(r) for r in sample]
    oracle_time = time.perf_counter() - start
    disagreements = sum(v != ev.evaluate(r).allowed for v, r in zip(verdicts, sample, strict=True))
    per_request = oracle_time / len(sample)
    full = per_request * cells
    print(
        f"principalmapper: {len(sample):,} sampled requests in {oracle_time:.2f} s "
        f"({per_request * 1e6:.0f} us each; {disagreements} disagreements); "
        f"full matrix extrapolated: {full:.0f} s"
    )
    print(f"speed-up of the matrix over principalmapper (extrapolated): {full / wall:,.0f}x")
    print(f"speed-up of one-by-one evaluation over principalmapper: {full / each:,.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
