"""The regionguard command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from regionguard import __version__
from regionguard.commands import (
    explain,
    plan,
    plandiff,
    preflight,
    prove,
    rehearse,
    render,
    sandbox,
    schedule,
    tfvars,
    validate,
)
from regionguard.errors import RegionguardError

EXIT_CODES = """\
exit codes:
  0  passed
  1  findings, or the gate failed
  2  usage or input error (the message names the file, the entry and the fix)
  3  unexpected error (a traceback follows)
"""

# Each command module registers its subcommands through register(subparsers);
# the parser it adds sets `func`, a callable taking the parsed arguments and
# returning the exit code.
COMMANDS: tuple[ModuleType, ...] = (
    tfvars,
    render,
    validate,
    sandbox,
    plandiff,
    explain,
    plan,
    schedule,
    preflight,
    prove,
    rehearse,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regionguard",
        description=(
            "Keep the Control Tower Region deny while allowing Amazon Bedrock "
            "cross-Region inference for the accounts you name."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code or 0)
    try:
        code: int = args.func(args)
        return code
    except RegionguardError as exc:
        for line in str(exc).splitlines() or [""]:
            print(f"regionguard: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("regionguard: interrupted", file=sys.stderr)
        return 3
    except Exception:
        traceback.print_exc()
        return 3


if __name__ == "__main__":
    sys.exit(main())
