#!/usr/bin/env python3
"""Refresh the inference profile table of regionguard/data/inference_profiles.json.

Reads AWS's page "Supported Regions and models for inference profiles" in its
markdown form (the default URL; or a saved copy with ``--page FILE``), takes
every "To call the ... inference profile" section (its profile id and its
table of source Regions and destination Regions; "Commercial AWS Regions"
of a global profile becomes ``"commercial"``), and replaces ``profiles.routes``
and ``profiles.source.retrieved`` of the data file. The geographies (the
fallback union) are not changed: when the new table reaches a Region outside
its geography's union, the script names it and exits 1 without writing, so
the union is widened by hand, in review.

Usage: .venv/bin/python tools/refresh_inference_profiles.py [--page URL|FILE]
       [--data FILE] [--retrieved YYYY-MM-DD] [--check]
``--check`` writes nothing and exits 1 when the file would change.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic

PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.md"
DATA = Path(__file__).resolve().parent.parent / "scripts/regionguard/data/inference_profiles.json"
COMMERCIAL = "commercial"
_SECTION = re.compile(
    r"To call the (?P<name>.+?) inference profile, specify the following inference profile ID"
    r".*?```\s*(?P<id>\S+)\s*```(?P<body>.*?)(?=To call the |\n## |\Z)",
    re.S,
)
_ROW = re.compile(r"^\|\s*(?P<source>[a-z]{2}(?:-[a-z]+)+-\d)\s*\|(?P<dests>[^|]*)\|\s*$", re.M)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


def parse(markdown: str) -> dict[str, dict[str, Any]]:
    """Profile id -> {source Region: [destination Regions] or "commercial"}, in page order."""
    routes: dict[str, dict[str, Any]] = {}
    for section in _SECTION.finditer(markdown):
        table: dict[str, Any] = {}
        for row in _ROW.finditer(section.group("body")):
            cell = row.group("dests")
            if "Commercial AWS Regions" in cell:
                table[row.group("source")] = COMMERCIAL
            else:
                table[row.group("source")] = _REGION.findall(cell)
        if not table:
            raise ValueError(f"{section.group('id')}: no table of source Regions found")
        routes[section.group("id")] = table
    if not routes:
        raise ValueError("no 'To call the ... inference profile' section found")
    return routes


def outside_unions(data: dict[str, Any], routes: dict[str, dict[str, Any]]) -> list[str]:
    """'profile: Region' for each Region a profile reaches outside its geography's union."""
    problems = []
    for profile_id, table in routes.items():
        geography = data["geographies"].get(profile_id.split(".")[0])
        if geography is None:
            problems.append(f"{profile_id}: no geography {profile_id.split('.')[0]!r}")
            continue
        if geography["regions"] == "partition":
            continue
        reached = set(table)
        for dests in table.values():
            reached.update(() if dests == COMMERCIAL else dests)
        for region in sorted(reached - set(geography["regions"])):
            problems.append(f"{profile_id}: {region}")
    return problems


def read_page(page: str) -> str:
    if page.startswith("https://"):
        with urllib.request.urlopen(page, timeout=60) as reply:
            text: str = reply.read().decode("utf-8")
            return text
    return Path(page).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default=PAGE, help=f"URL or file of the page (default {PAGE})")
    parser.add_argument("--data", type=Path, default=DATA, help="the data file to refresh")
    parser.add_argument("--retrieved", default=datetime.date.today().isoformat())
    parser.add_argument("--check", action="store_true", help="exit 1 if the file would change")
    args = parser.parse_args(argv)
    try:
        routes = parse(read_page(args.page))
    except (OSError, ValueError) as exc:
        print(f"refresh_inference_profiles: {args.page}: {exc}", file=sys.stderr)
        return 2
    data = json.loads(args.data.read_text(encoding="utf-8"))
    problems = outside_unions(data, routes)
    if problems:
        print(
            f"refresh_inference_profiles: {args.data}: these profiles reach Regions outside "
            "their geography's union; widen geographies.<prefix>.regions first:\n  "
            + "\n  ".join(problems),
            file=sys.stderr,
        )
        return 1
    changed = data["profiles"]["routes"] != routes
    if args.check:
        print(f"{len(routes)} profiles; {'changed' if changed else 'unchanged'}")
        return 1 if changed else 0
    data["profiles"]["routes"] = routes
    data["profiles"]["source"]["retrieved"] = args.retrieved
    write_atomic(args.data, json.dumps(data, indent=2) + "\n")
    print(f"{args.data}: {len(routes)} profiles from {args.page}, retrieved {args.retrieved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
