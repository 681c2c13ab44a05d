"""Benchmark `regionguard prove` at scale: 200 OUs, 5,000 accounts, 2,000 permitted.

    .venv/bin/python bench/prove_bench.py        (make bench-prove, part of make bench)

Generates the registry and settings of bench/scale_bench.py (scp_layout
per_ou) in a temporary folder, then prints:

- `regionguard prove --env-dir ... --today ...` in a fresh process (imports,
  z3 and the automata included; what `make plan` pays), median of three;
- the same in one process, after a first run (the memo of cells and of z3's
  shared formulas warm), median of three;
- P4 alone over a change that permits one more account (one OU's SCP changes),
  the two deployments rendered from the environment;
- P4 alone over a first deployment (nothing of this project deployed before:
  every OU's SCPs and control are new, the change a cold ``make plan`` proves);
- the number of questions asked of z3 and how many it solved (the rest were
  formulas another OU had already asked).

Timing is printed, never asserted.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale_bench import ACCOUNTS, OUS, PERMITTED, SETTINGS, TODAY, write_registry

from regionguard.cli import main
from regionguard.deployment import Deployment, from_environment, registry_first_tier
from regionguard.environment import Environment
from regionguard.orgmodel import scenario_from_deployment
from regionguard.prove import Listed, diff, spec_from_env
from regionguard.request import load_profile_data

RUNS = 3


def quiet(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, out.getvalue()


def fresh(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "regionguard", *argv], capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"regionguard {' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return took


def main_bench() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_registry(folder, ACCOUNTS, PERMITTED, OUS)
        (folder / "terraform.tfvars").write_text(SETTINGS)
        common = ["--env-dir", str(folder), "--today", TODAY]
        quiet(["tfvars", *common])
        argv = ["prove", *common, "--format", "json"]
        cold = statistics.median(fresh(argv) for _ in range(RUNS))
        code, out = quiet(argv)
        report = json.loads(out)
        warm_runs = []
        for _ in range(RUNS):
            start = time.perf_counter()
            quiet(argv)
            warm_runs.append(time.perf_counter() - start)
        warm = statistics.median(warm_runs)

        env = Environment(folder, datetime.date.fromisoformat(TODAY))
        ids = list(env.deployed_ids)
        ous = registry_first_tier(env)
        before = from_environment(env, ous, permitted_ids=ids[1:])
        after = from_environment(env, ous, permitted_ids=ids)
        spec = spec_from_env(env, load_profile_data(env.dir))
        start = time.perf_counter()
        p4 = diff(
            (scenario_from_deployment(env, before), before),
            (scenario_from_deployment(env, after), after),
            spec,
            Listed(accounts=frozenset(ids[:1])),
            explain_prefix=["regionguard", "explain", *common],
        )
        p4_took = time.perf_counter() - start
        # A first apply: nothing of this project deployed before (a cold plan).
        nothing = Deployment("nothing deployed", ())
        start = time.perf_counter()
        first = diff(
            (scenario_from_deployment(env, nothing), nothing),
            (scenario_from_deployment(env, after), after),
            spec,
            Listed(),
            explain_prefix=["regionguard", "explain", *common],
        )
        first_took = time.perf_counter() - start
    print(
        f"prove: {ACCOUNTS:,} accounts, {PERMITTED:,} permitted, {OUS} first-tier OUs, "
        f'scp_layout = "per_ou"; Python {sys.version.split()[0]}, z3 {report["solver"]["z3"]}'
    )
    print()
    print("| measurement | result |")
    print("|---|---:|")
    print(f"| prove (P1-P3), fresh process, median of {RUNS} | {cold:.2f} s |")
    print(f"| prove (P1-P3), warm, in one process, median of {RUNS} | {warm:.2f} s |")
    print(f"| P4 over one more permitted account, rendered deployments | {p4_took:.2f} s |")
    print(f"| P4 over a first deployment (nothing deployed before) | {first_took:.2f} s |")
    print(
        f"| z3 questions (solved, the rest shared between OUs) | "
        f"{report['solver']['questions']} ({report['solver']['solved']}) |"
    )
    print()
    for p in report["properties"]:
        print(f"{p['id']}: {'holds' if p['holds'] else 'FAILS'} ({p['checked']})")
    print(f"P4: {'holds' if p4.holds else 'FAILS'} ({p4.checked}); {len(p4.details)} change(s)")
    print(
        f"P4, first deployment: {'holds' if first.holds else 'FAILS'} ({first.checked}); "
        f"{len(first.details)} change(s)"
    )
    return code


if __name__ == "__main__":
    sys.exit(main_bench())
