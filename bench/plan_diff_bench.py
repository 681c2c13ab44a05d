"""Benchmark of `regionguard plan-diff` on a large plan; prints time and peak memory.

    .venv/bin/python bench/plan_diff_bench.py [--ous 200] [--runs 5]

The plan is generated in the shape `terraform show -json` gives for
envs/local (same addresses, attributes and outputs): an organization of
--ous first-tier OUs, each with the Region deny control and the SCP
attached, and one change that touches everything: a Region is added to
AllowedRegions on every OU and one account is permitted, which brings the
SCP to the size limit (10,240 characters). Each run is a fresh
`regionguard plan-diff --format markdown` process; its wall time and peak
resident memory are printed next to a bare `json.load` of the same file in
a fresh process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

LIMIT = 10_240
REGIONS = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"]
ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
ORG = "o-abcdefghij"
SCP = "module.bedrock_inference_scp.aws_organizations_policy.this"


def jsonencode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def scp(accounts: list[str]) -> str:
    return jsonencode(
        {
            "Statement": [
                {
                    "Action": ACTIONS,
                    "Condition": {
                        "StringNotEquals": {
                            "aws:PrincipalAccount": accounts,
                            "aws:RequestedRegion": REGIONS,
                        }
                    },
                    "Effect": "Deny",
                    "Resource": "*",
                    "Sid": "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
                }
            ],
            "Version": "2012-10-17",
        }
    )


def accounts_at_limit() -> list[str]:
    """The most accounts whose SCP stays within the limit."""
    accounts: list[str] = []
    while len(scp([*accounts, f"{200000000000 + len(accounts):012d}"])) <= LIMIT:
        accounts.append(f"{200000000000 + len(accounts):012d}")
    return accounts


def params(regions: list[str]) -> list[dict[str, str]]:
    return [
        {"key": "AllowedRegions", "value": jsonencode(regions)},
        {"key": "ExemptedActions", "value": jsonencode(ACTIONS)},
    ]


def rc(
    address: str, rtype: str, index: str | None, actions: list[str], before: Any, after: Any
) -> Any:
    module = address.split(f".{rtype}.")[0]
    out = {
        "address": address,
        "module_address": module,
        "mode": "managed",
        "type": rtype,
        "name": "this",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": {},
            "after_sensitive": {},
        },
    }
    if index is not None:
        out["index"] = index
    return out


def generate(ous: int) -> dict[str, Any]:
    accounts = accounts_at_limit()
    before_scp, after_scp = scp(accounts[:-1]), scp(accounts)
    ids = [f"ou-bench-{i:08d}" for i in range(ous)]
    names = {ou: f"Unit{i:03d}" for i, ou in enumerate(ids)}
    changes = [
        rc(
            SCP,
            "aws_organizations_policy",
            None,
            ["update"],
            {"id": "p-bench0001", "type": "SERVICE_CONTROL_POLICY", "content": before_scp},
            {"id": "p-bench0001", "type": "SERVICE_CONTROL_POLICY", "content": after_scp},
        )
    ]
    for ou in ids:
        att = {"id": f"{ou}:p-bench0001", "policy_id": "p-bench0001", "target_id": ou}
        changes.append(
            rc(
                f'module.bedrock_inference_scp.aws_organizations_policy_attachment.this["{ou}"]',
                "aws_organizations_policy_attachment",
                ou,
                ["no-op"],
                att,
                att,
            )
        )
        target = f"arn:aws:organizations::111111111111:ou/{ORG}/{ou}"
        changes.append(
            rc(
                f'module.region_deny_control.aws_controltower_control.this["{ou}"]',
                "aws_controltower_control",
                ou,
                ["update"],
                {"target_identifier": target, "parameters": params(REGIONS)},
                {"target_identifier": target, "parameters": params([*REGIONS, "eu-west-1"])},
            )
        )
    outputs = {
        "targets": {"actions": ["no-op"], "before": names, "after": names, "after_unknown": False},
        "untargeted_first_tier_ous": {
            "actions": ["no-op"],
            "before": {},
            "after": {},
            "after_unknown": False,
        },
    }
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": {"home_region": {"value": "ap-northeast-1"}},
        "resource_changes": changes,
        "output_changes": outputs,
        # As envs/_shared calls the modules: the controls after the SCPs.
        "configuration": {
            "root_module": {
                "module_calls": {
                    "bedrock_inference_scp": {"module": {}},
                    "region_deny_control": {
                        "module": {},
                        "depends_on": ["module.bedrock_inference_scp"],
                    },
                }
            }
        },
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def run_one(cmd: list[str]) -> tuple[float, int, int]:
    probe = (
        "import resource,subprocess,sys,time\n"
        "s=time.perf_counter()\n"
        "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)\n"
        "w=time.perf_counter()-s\n"
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True
    ).stdout.split()
    wall, rss, code = float(out[0]), int(out[1]), int(out[2])
    if code not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed with exit {code}")
    return wall, rss, code


def stages(path: Path) -> list[tuple[str, float, float]]:
    """Seconds and traced peak MiB of each stage, in this process."""
    from regionguard.planfile import load_plan
    from regionguard.review import review_plan
    from regionguard.review_format import COMMENT_LIMIT, comment_markdown, format_review

    out = []
    tracemalloc.start()
    start = time.perf_counter()
    plan = load_plan(path)
    out.append(("load_plan", time.perf_counter() - start, tracemalloc.get_traced_memory()[1]))
    tracemalloc.reset_peak()
    start = time.perf_counter()
    review = review_plan(plan, size_limit=LIMIT)
    out.append(("review_plan", time.perf_counter() - start, tracemalloc.get_traced_memory()[1]))
    tracemalloc.reset_peak()
    start = time.perf_counter()
    text = format_review(review, "markdown")
    out.append(("format markdown", time.perf_counter() - start, tracemalloc.get_traced_memory()[1]))
    tracemalloc.stop()
    comment = comment_markdown(review, text, full_review="the job summary")
    print(
        f"review: {len(review.reasons)} gate reasons, {len(review.warnings)} warnings, "
        f"{len(review.widening)} widening changes, {len(text):,} characters of markdown, "
        f"a pull-request comment of {len(comment):,} (at most {COMMENT_LIMIT:,})"
    )
    return [(label, secs, peak / 2**20) for label, secs, peak in out]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ous", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    regionguard = str(Path(sys.executable).with_name("regionguard"))
    with tempfile.TemporaryDirectory(prefix="plan-diff-bench-") as tmp:
        path = Path(tmp) / "plan.json"
        plan = generate(args.ous)
        path.write_text(json.dumps(plan))
        content = plan["resource_changes"][0]["change"]["after"]["content"]
        print(
            f"plan-diff benchmark: {args.ous} OUs, {len(plan['resource_changes'])} resource "
            f"changes, SCP {len(content):,} of {LIMIT:,} characters, "
            f"plan JSON {path.stat().st_size / 1024:,.0f} KiB, {args.runs} runs each"
        )
        rows = {
            "json.load (bare)": [
                sys.executable,
                "-c",
                f"import json; json.load(open({str(path)!r}))",
            ],
            "regionguard plan-diff --format markdown": [
                regionguard,
                "plan-diff",
                str(path),
                "--format",
                "markdown",
            ],
        }
        print(f"{'command':<42} {'median s':>9} {'max s':>7} {'peak RSS MiB':>13} {'exit':>5}")
        for label, cmd in rows.items():
            samples = [run_one(cmd) for _ in range(args.runs)]
            walls = [s[0] for s in samples]
            rss = max(s[1] for s in samples) / 1024
            print(
                f"{label:<42} {statistics.median(walls):>9.3f} {max(walls):>7.3f} "
                f"{rss:>13.1f} {samples[0][2]:>5}"
            )
        print("in-process stages (tracemalloc slows them; peak is Python allocations):")
        for label, secs, peak in stages(path):
            print(f"  {label:<16} {secs:>7.3f} s {peak:>8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
