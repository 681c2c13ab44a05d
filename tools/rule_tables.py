#!/usr/bin/env python3
"""Write the rule tables of the docs and the skip list of .checkov.yaml from the rule catalogue.

Each table sits between a marker line naming it and an end line
(``<!-- rule table: NAME -->`` ... ``<!-- end rule table -->`` in markdown,
``# rule table: skipped`` ... ``# end rule table`` in YAML) in the files of
``regionguard.catalogue.DOCUMENTS``; everything between them is replaced
(:func:`regionguard.catalogue.render_tables`). With ``--check`` nothing is
written: the script names each stale file and exits 1.

Usage: .venv/bin/python tools/rule_tables.py [--check]   (make docs)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from regionguard.atomic import write_atomic
from regionguard.catalogue import DOCUMENTS, render_tables

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args(argv)
    stale = []
    for name in DOCUMENTS:
        path = REPO / name
        text = path.read_text(encoding="utf-8")
        written = render_tables(text)
        if written == text:
            continue
        stale.append(name)
        if not args.check:
            write_atomic(path, written)
            print(f"wrote the rule tables of {name}")
    if args.check and stale:
        print(f"stale rule tables in {', '.join(stale)}: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
