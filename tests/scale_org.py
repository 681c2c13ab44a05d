"""A large organization for the per-OU layout: 2,000 permitted accounts over 4 first-tier OUs.

Workloads holds 700 permitted accounts, more than one SCP can list, so the
per_ou layout descends to its child OUs ML and Prod; the other OUs fit.
"""

from __future__ import annotations

from pathlib import Path

# (OU path, permitted accounts, accounts not permitted)
PLACEMENT: tuple[tuple[str, int, int], ...] = (
    ("Workloads", 100, 20),
    ("Workloads/ML", 300, 20),
    ("Workloads/Prod", 300, 20),
    ("Sandbox", 500, 20),
    ("Security", 400, 20),
    ("Data", 400, 20),
)
FIRST_TIER = ("Security", "Sandbox", "Workloads", "Data")


def account_id(n: int) -> str:
    return f"3{n:011d}"


def write_scale_org(
    env_dir: Path, placement: tuple[tuple[str, int, int], ...] = PLACEMENT
) -> dict[str, list[str]]:
    """Write the registry and the sandbox OUs into a copy of envs/local.

    Returns OU path -> permitted account ids.
    """
    lines = [
        "# A large organization for the per-OU layout (tests/scale_org.py).",
        "accounts:",
    ]
    n = 0
    permitted: dict[str, list[str]] = {}
    for ou, allowed, denied in placement:
        for i in range(allowed + denied):
            n += 1
            ok = i < allowed
            if ok:
                permitted.setdefault(ou, []).append(account_id(n))
            lines += [
                f'  - id: "{account_id(n)}"',
                f"    name: {ou.replace('/', '-').lower()}-{i + 1}",
                f"    ou: {ou}",
                f"    bedrock_cross_region_inference: {'true' if ok else 'false'}",
            ]
    (env_dir / "accounts.yaml").write_text("\n".join(lines) + "\n")
    sandbox = env_dir / "sandbox.yaml"
    text = sandbox.read_text()
    start = text.index("organizational_units:")
    end = text.index("\n\n", start)
    ous = "organizational_units:\n" + "".join(f"  - {name}\n" for name in FIRST_TIER)
    sandbox.write_text(text[:start] + ous.rstrip("\n") + text[end:])
    return permitted
