"""`regionguard sandbox up|down|status|env|fault`: the local sandbox on loopback."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import Any

from regionguard.commands._args import path_argument, seconds_argument, whole_number
from regionguard.errors import InputError
from regionguard.local_sandbox import ENDPOINT_OVERRIDES, terraform_environment
from regionguard.repo import command, repo_root
from regionguard.sandbox import process
from regionguard.sandbox.faults import ACTIONS, FAULT_KINDS
from regionguard.words import count

PORT_ENV = "REGIONGUARD_SANDBOX_PORT"


def _default_port() -> int:
    raw = os.environ.get(PORT_ENV)
    if raw is None:
        return process.DEFAULT_PORT
    try:
        return whole_number(0, 65535, "a port number")(raw)
    except argparse.ArgumentTypeError as exc:
        raise InputError(
            f"{PORT_ENV}={raw!r}: {exc}; correct it, or unset it for port {process.DEFAULT_PORT}"
        ) from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local sandbox (moto + Control Tower emulator) on 127.0.0.1",
        description=(
            "The local sandbox: AWS Organizations, STS and IAM (moto) and a Control Tower "
            "emulator in one process on 127.0.0.1, seeded from envs/local. State (pid, port, "
            "log) lives in .sandbox/ at the repository root."
        ),
    )
    parser.add_argument(
        "--state-dir",
        type=path_argument,
        default=None,
        help="state folder (default: REPO/.sandbox)",
    )
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the sandbox unless it runs; re-seed it if it does")
    up.add_argument(
        "--port",
        type=whole_number(0, 65535, "a port number"),
        default=None,
        help="port (default 4580; 0: any free)",
    )
    up.add_argument(
        "--env-dir",
        type=path_argument,
        default=None,
        help="environment to seed from (default envs/local)",
    )
    up.add_argument(
        "--landing-zone-region-deny",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="attach the landing-zone Region deny to every registered OU, or remove it "
        "(default: sandbox.yaml); on a running sandbox it applies at once",
    )
    up.add_argument(
        "--timeout", type=seconds_argument, default=30.0, help="seconds to wait for an answer"
    )
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop the sandbox that `up` started")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="say whether the sandbox runs, and where")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(func=_status)

    env = actions.add_parser(
        "env",
        help="print the shell lines that point a hand-run terraform at the running sandbox",
        description=(
            "Print `unset` and `export` lines for a POSIX shell: the AWS_ENDPOINT_URL_<SERVICE> "
            "variables that send the services the sandbox emulates to it, as regionguard sets "
            'them for its own terraform commands. Use: eval "$(regionguard sandbox env)".'
        ),
    )
    env.set_defaults(func=_env)

    fault = actions.add_parser(
        "fault", help="arm a fault of the Control Tower emulator, list or clear them"
    )
    fault.add_argument("kind", choices=(*FAULT_KINDS, "list", "clear"))
    fault.add_argument("--action", choices=ACTIONS, default=None, help="call it applies to")
    fault.add_argument(
        "--count",
        type=whole_number(1, 1_000_000, "a number of calls"),
        default=1,
        help="how many calls it applies to",
    )
    fault.set_defaults(func=_fault)


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        state_dir: Path = args.state_dir
        return state_dir
    return repo_root() / ".sandbox"


def _describe(info: process.SandboxInfo) -> str:
    return (
        f"sandbox running at {info.endpoint} (pid {info.pid}, env {info.env_dir}, "
        f"log {info.log_file})"
    )


def _up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    env_dir: Path = args.env_dir if args.env_dir is not None else repo_root() / "envs" / "local"
    if not (env_dir / "sandbox.yaml").is_file():
        raise InputError(f"{env_dir}/sandbox.yaml: no sandbox settings in this environment folder")
    port = args.port if args.port is not None else _default_port()
    info, started = process.up(
        state_dir,
        env_dir,
        port=port,
        landing_zone_region_deny=args.landing_zone_region_deny,
        timeout=args.timeout,
    )
    if started:
        print(_describe(info))
        return 0
    report = process.admin(info.endpoint, "POST", "seed", {}, token=info.token)
    changes = len(report["created"]) + len(report["changed"])
    deny = ""
    if args.landing_zone_region_deny is not None:
        # On a running sandbox the flag applies now, and stays over later re-seeds.
        report = process.set_landing_zone_region_deny(info, args.landing_zone_region_deny)
        changes += len(report["created"]) + len(report["changed"])
        deny = f", landing-zone Region deny {'on' if args.landing_zone_region_deny else 'off'}"
    print(f"{_describe(info)}; already running, re-seeded ({count(changes, 'change')}{deny})")
    return 0


def _down(args: argparse.Namespace) -> int:
    info = process.down(_state_dir(args))
    if info is None:
        print("sandbox not running; nothing to stop")
    else:
        print(f"sandbox stopped (pid {info.pid}, port {info.port})")
    return 0


def _status(args: argparse.Namespace) -> int:
    info = process.status(_state_dir(args))
    if args.format == "json":
        data = None
        if info is not None:
            data = {"pid": info.pid, "port": info.port, "endpoint": info.endpoint}
            data.update({"envDir": info.env_dir, "log": str(info.log_file)})
        print(json.dumps({"running": info is not None, "sandbox": data}))
    elif info is None:
        print(f"sandbox not running (start it with `{command('sandbox up')}`)")
    else:
        print(_describe(info))
    return 0 if info is not None else 1


def _env(args: argparse.Namespace) -> int:
    info = process.require_running(_state_dir(args))
    print("unset " + " ".join(ENDPOINT_OVERRIDES))
    for key, value in sorted(terraform_environment(info.endpoint, {}).items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    info = process.require_running(_state_dir(args))
    if args.kind == "clear":
        reply = process.admin(info.endpoint, "DELETE", "faults", token=info.token)
    elif args.kind == "list":
        reply = process.admin(info.endpoint, "GET", "faults", token=info.token)
    else:
        body = {"kind": args.kind, "action": args.action, "count": args.count}
        reply = process.admin(info.endpoint, "POST", "faults", body, token=info.token)
    for fault in reply["faults"]:
        print(f"{fault['kind']} {fault['action'] or 'any'} x{fault['count']}")
    if not reply["faults"]:
        print("no fault armed")
    return 0
