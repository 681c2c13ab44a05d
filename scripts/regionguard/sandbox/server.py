"""The sandbox server: moto and the Control Tower emulator in one process.

One WSGI application on 127.0.0.1 answers three kinds of request:

- ``/regionguard/...``: the sandbox's own admin calls (health, faults, seed,
  the landing-zone Region deny);
  they answer only requests whose ``Host`` is loopback, and every one but
  ``GET /regionguard/health`` needs the admin token (header
  ``X-Regionguard-Token``) that the server writes, readable by its owner
  only, to ``sandbox.token`` in its state folder: a web page the user visits
  can reach 127.0.0.1 (a cross-origin ``text/plain`` POST needs no
  preflight) or rebind a name to it, but it cannot read the token;
- calls signed for service ``controltower`` (or posted to one of its paths):
  the Control Tower emulator, which reads and writes moto's organization
  directly because both live in this process;
- everything else: moto's own dispatcher (Organizations, STS, IAM, ...),
  exactly as ``moto_server`` composes its services.

Every request acts as the sandbox's management account, and requests are
served one at a time so that the emulator and moto never see each other
half-way through a change.

With ``REGIONGUARD_SANDBOX_CALL_LOG`` naming a file, the server appends one
line ``service operation client`` per AWS API call it answers (admin calls
excluded): the per-operation request counter of the benchmarks.

Run as ``python -m regionguard.sandbox.server`` (``regionguard sandbox up``
does that and waits until it answers).
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import io
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from regionguard import __version__
from regionguard.atomic import write_atomic
from regionguard.errors import RegionguardError
from regionguard.loopback import is_loopback
from regionguard.sandbox import bedrock, controlcatalog
from regionguard.sandbox.controlcatalog import ControlCatalog
from regionguard.sandbox.controltower import SERVICE, ControlTower, ControlTowerError, LandingZone
from regionguard.sandbox.faults import (
    ENV_VAR,
    FaultInjector,
    FaultSpecError,
    make_fault,
    parse_faults,
)
from regionguard.sandbox.organizations import (
    refuse_duplicate_attachment,
    refuse_over_quota,
    refuse_oversize_scp,
)
from regionguard.sandbox.process import TOKEN_FILE, TOKEN_HEADER
from regionguard.sandbox.seed import reset_backends, seed
from regionguard.sandbox.settings import (
    CONTROL_OPERATIONS_LIMIT,
    SandboxSettings,
    load_sandbox_settings,
)

ADMIN_PREFIX = "/regionguard/"
HEALTH_PATH = "/regionguard/health"
SERVICE_NAME = "regionguard-sandbox"
CALL_LOG_ENV = "REGIONGUARD_SANDBOX_CALL_LOG"

StartResponse = Callable[..., Any]


def signing_service(authorization: str | None) -> str | None:
    """The service of a SigV4 Authorization header's credential scope."""
    if not authorization or "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = scope.split("/")
    return parts[3].lower() if len(parts) == 5 else None


def is_loopback_host(host: str | None) -> bool:
    """True when a Host header names the loopback interface (any port)."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return is_loopback(name)


def operation_name(environ: dict[str, Any], service: str | None) -> str:
    """The API operation of a request: ``ListPolicies``, ``ListEnabledControls``, ...

    JSON protocols name it in ``X-Amz-Target``, query protocols (STS, IAM) in
    the form field ``Action`` (the body is read and put back for moto), and
    REST protocols (Control Tower, Bedrock) in the path, taken as is.
    """
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        fields.update(parse_qs(raw.decode("utf-8", "replace")))
    if "Action" in fields:
        return str(fields["Action"][0])
    path: str = environ.get("PATH_INFO", "")
    action = path.strip("/")
    if action in ControlTower.HANDLERS or action in controlcatalog.PATHS:
        return "".join(word.capitalize() for word in action.split("-"))
    return f"{environ.get('REQUEST_METHOD', '')} {path}".replace(" ", "_")


def client_name(user_agent: str | None) -> str:
    """Which client sent a request, from its User-Agent: terraform, boto3 or other."""
    agent = (user_agent or "").lower()
    return next((name for name in ("terraform", "boto3") if name in agent), "other")


class SandboxApp:
    """The WSGI application of the sandbox."""

    def __init__(
        self,
        settings: SandboxSettings,
        faults: FaultInjector | None = None,
        admin_token: str | None = None,
        call_log: Path | None = None,
        landing_zone_region_deny: bool | None = None,
    ) -> None:
        self.settings = settings
        # The landing-zone Region deny as `up --[no-]landing-zone-region-deny`
        # or the admin call set it; None: sandbox.yaml's region_deny. It
        # outlives every re-seed, which reads sandbox.yaml again.
        self.region_deny_override = landing_zone_region_deny
        self.call_log = call_log
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.lock = threading.RLock()
        self.faults = faults or FaultInjector()
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.controltower = self._new_controltower()
        self.controlcatalog = ControlCatalog()
        self.state: dict[str, Any] = {}
        self.reset()

    def _new_controltower(self) -> ControlTower:
        return ControlTower(
            self.settings.management_account_id,
            self.settings.home_region,
            operation_seconds=self.settings.operation_seconds,
            time_scale=self.settings.time_scale,
            operations_limit=self.settings.control_operations_limit,
            faults=self.faults,
            landing_zone=landing_zone(self.settings),
        )

    def reset(self) -> dict[str, Any]:
        """Forget everything, then seed the organization afresh."""
        with self.lock:
            reset_backends()
            self.controltower = self._new_controltower()
            return self.seed()

    def seed(self, settings: SandboxSettings | None = None) -> dict[str, Any]:
        with self.lock:
            if settings is not None:
                self.settings = settings
                self.controltower.landing_zone = landing_zone(settings)
            report = seed(self.settings)
            return {
                "organizationId": report.organization_id,
                "rootId": report.root_id,
                "created": list(report.created),
                "changed": list(report.changed),
            }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self._admin(environ, start_response)
        # Every call acts as the management account, whatever its access key.
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.settings.management_account_id
        service = signing_service(environ.get("HTTP_AUTHORIZATION"))
        action = path.strip("/")
        is_controltower = service == SERVICE or (
            service is None and action in ControlTower.HANDLERS
        )
        is_controlcatalog = service == controlcatalog.SERVICE or (
            service is None and action in controlcatalog.PATHS
        )
        with self.lock:
            if self.call_log is not None:
                self._log_call(self.call_log, environ, service, is_controltower)
            self.controltower.settle()
            if bedrock.is_bedrock_runtime(environ, service):
                return list(
                    bedrock.handle(
                        environ,
                        start_response,
                        self.controltower.organizations,
                        self.settings.env_dir,
                    )
                )
            if is_controltower or is_controlcatalog:
                return self._controltower(environ, start_response, action, is_controlcatalog)
            backend = self.controltower.organizations
            for refuse in (refuse_duplicate_attachment, refuse_over_quota, refuse_oversize_scp):
                refused = refuse(environ, start_response, backend)
                if refused is not None:
                    return refused
            # moto's responses are fully read inside the lock.
            return list(self.moto(environ, start_response))

    def _log_call(
        self, log: Path, environ: dict[str, Any], service: str | None, controltower: bool
    ) -> None:
        name = service or (SERVICE if controltower else "-")
        operation = operation_name(environ, service)
        client = client_name(environ.get("HTTP_USER_AGENT"))
        with log.open("a", encoding="utf-8") as out:
            out.write(f"{name} {operation} {client}\n")

    # ------------------------------------------------------------ Control Tower

    def _controltower(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        action: str,
        catalog: bool = False,
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            if request.method != "POST":
                raise ControlTowerError(
                    "UnknownOperationException", f"{request.method} /{action} is not an operation."
                )
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                raise ControlTowerError("SerializationException", "The body is not JSON.") from None
            if not isinstance(body, dict):
                raise ControlTowerError("SerializationException", "The body must be a JSON object.")
            if catalog:
                result = self.controlcatalog.handle(action, body, dict(request.args))
            else:
                result = self.controltower.handle(action, body)
            response = Response(json.dumps(result), status=200, content_type="application/json")
        except ControlTowerError as exc:
            response = Response(
                json.dumps({"message": exc.message}),
                status=exc.status,
                content_type="application/json",
                headers={"x-amzn-ErrorType": exc.error_type},
            )
        response.headers["x-amzn-RequestId"] = os.urandom(16).hex()
        return response(environ, start_response)

    # ------------------------------------------------------------------- admin

    def _refusal(self, request: Request) -> str | None:
        """Why an admin request is refused (403), or None."""
        if not is_loopback_host(request.host):
            return "admin calls answer only requests to a loopback Host (127.0.0.1, localhost)"
        if (request.method, request.path) == ("GET", HEALTH_PATH):
            return None
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            return (
                f"admin calls need the sandbox's token in the {TOKEN_HEADER} header "
                f"(the server writes it to {TOKEN_FILE} in its state folder)"
            )
        return None

    def _admin(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        route = (request.method, request.path)
        status = 200
        refusal = self._refusal(request)
        if refusal is not None:
            response = Response(
                json.dumps({"message": refusal}), status=403, content_type="application/json"
            )
            return response(environ, start_response)
        try:
            if route == ("GET", HEALTH_PATH):
                result: Any = self.health()
            elif route == ("GET", "/regionguard/faults"):
                result = {"faults": [f.to_dict() for f in self.faults.armed()]}
            elif route == ("POST", "/regionguard/faults"):
                spec = json.loads(request.get_data(as_text=True) or "{}")
                self.faults.arm(
                    make_fault(spec.get("kind"), spec.get("action"), spec.get("count", 1))
                )
                result = {"faults": [f.to_dict() for f in self.faults.armed()]}
            elif route == ("DELETE", "/regionguard/faults"):
                self.faults.clear()
                result = {"faults": []}
            elif route == ("PUT", "/regionguard/operation-seconds"):
                result = self.set_pace(json.loads(request.get_data(as_text=True) or "{}"))
            elif route == ("GET", "/regionguard/operations"):
                with self.lock:
                    self.controltower.settle()
                    result = {
                        "operationSeconds": self.controltower.operation_seconds,
                        "timeScale": self.controltower.time_scale,
                        "operationsLimit": self.controltower.operations_limit,
                        "operations": self.controltower.operation_timings(),
                    }
            elif route == ("POST", "/regionguard/seed"):
                result = self.seed(
                    load_sandbox_settings(
                        self.settings.env_dir, landing_zone_region_deny=self.region_deny_override
                    )
                )
            elif route == ("PUT", "/regionguard/landing-zone-region-deny"):
                result = self.set_region_deny(json.loads(request.get_data(as_text=True) or "{}"))
            elif route == ("POST", "/regionguard/reset"):
                result = self.reset()
            elif route == ("GET", "/regionguard/controls"):
                with self.lock:
                    self.controltower.settle()
                    result = {
                        "enabledControls": self.controltower.list_enabled_controls({})[
                            "enabledControls"
                        ],
                        "guardrailPolicies": self.controltower.guardrail_policy_ids(),
                    }
            else:
                status, result = 404, {"message": f"no admin call {request.method} {request.path}"}
        except (FaultSpecError, ValueError, AttributeError) as exc:
            status, result = 400, {"message": str(exc)}
        except RegionguardError as exc:
            status, result = 400, {"message": str(exc)}
        response = Response(json.dumps(result), status=status, content_type="application/json")
        return response(environ, start_response)

    def set_pace(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Change the operations' length, the time scale or the quota (admin call)."""
        seconds, scale, limit = (
            spec.get("seconds"),
            spec.get("timeScale"),
            spec.get("operationsLimit"),
        )
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
        ):
            raise ValueError("seconds must be a number of seconds, 0 or more")
        if scale is not None and (
            isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0
        ):
            raise ValueError("timeScale must be a number above 0")
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= CONTROL_OPERATIONS_LIMIT
        ):
            raise ValueError(
                f"operationsLimit must be a whole number from 1 to {CONTROL_OPERATIONS_LIMIT}"
            )
        with self.lock:
            ct = self.controltower
            ct.set_operation_seconds(
                ct.operation_seconds if seconds is None else float(seconds),
                None if scale is None else float(scale),
            )
            if limit is not None:
                ct.operations_limit = limit
            return {
                "operationSeconds": ct.operation_seconds,
                "timeScale": ct.time_scale,
                "operationsLimit": ct.operations_limit,
            }

    def set_region_deny(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Turn the landing-zone Region deny on or off (admin call): re-seed with it.

        In AWS this is a console step (Landing zone settings > Region deny);
        here it attaches ``aws-guardrails-landing-zone-region-deny`` to every
        registered OU, or detaches and deletes it, as seeding does.
        """
        enabled = spec.get("enabled") if isinstance(spec, dict) else None
        if not isinstance(enabled, bool):
            raise ValueError('the body must be {"enabled": true} or {"enabled": false}')
        with self.lock:
            self.region_deny_override = enabled
            result = self.seed(dataclasses.replace(self.settings, landing_zone_region_deny=enabled))
            result["landingZoneRegionDeny"] = enabled
            return result

    def health(self) -> dict[str, Any]:
        backend_org = self.controltower.organizations.org
        return {
            "service": SERVICE_NAME,
            "version": __version__,
            "pid": os.getpid(),
            "envDir": str(self.settings.env_dir),
            "managementAccountId": self.settings.management_account_id,
            "organizationId": backend_org.id if backend_org else None,
            "landingZoneRegionDeny": self.settings.landing_zone_region_deny,
            "unregisteredOus": list(self.settings.unregistered_ous),
        }


def landing_zone(settings: SandboxSettings) -> LandingZone:
    """The landing zone the Control Tower emulator reports, from the sandbox settings."""
    return LandingZone(
        version=settings.landing_zone_version,
        governed_regions=settings.governed_regions,
        security_ou=settings.security_ou,
        drift_status=settings.landing_zone_drift_status,
        unregistered_ous=settings.unregistered_ous,
    )


class SandboxRequestHandler(MotoRequestHandler):
    """moto's request handler, writing each response in one piece.

    Werkzeug writes the status line and headers, then the body, in separate
    ``send`` calls on an unbuffered socket. With a buffered writer the
    response leaves in one segment (werkzeug flushes after each body chunk),
    so a client reads it whole with its first read (docs/sandbox.md,
    "Calls sent twice").
    """

    wbufsize = 1 << 16


class ResponseFloor:
    """Answer no request sooner than ``seconds`` after it arrived.

    AWS never answers within a millisecond; the aws provider 5.100's SDK
    (smithy-go 1.22.3) closes its own connection when an answer arrives
    before it has finished writing the request, and then resends the call
    (docs/sandbox.md, "Calls sent twice"). The wait happens outside the
    application, so other requests are served meanwhile.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.monotonic()
        body = list(self.app(environ, start_response))
        left = arrived + self.seconds - time.monotonic()
        if left > 0:
            time.sleep(left)
        return body


def serve(app: SandboxApp, host: str, port: int) -> BaseWSGIServer:
    """A threaded WSGI server for ``app``, bound but not yet serving."""
    floor = ResponseFloor(app, app.settings.min_response_seconds)
    return make_server(host, port, floor, threaded=True, request_handler=SandboxRequestHandler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regionguard.sandbox.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--env-dir", type=Path, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--landing-zone-region-deny", choices=("on", "off"), default=None)
    args = parser.parse_args(argv)

    deny = None if args.landing_zone_region_deny is None else args.landing_zone_region_deny == "on"
    try:
        settings = load_sandbox_settings(args.env_dir.resolve(), landing_zone_region_deny=deny)
        faults = FaultInjector(parse_faults(os.environ.get(ENV_VAR, "")))
    except (RegionguardError, FaultSpecError) as exc:
        print(f"regionguard sandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    token = secrets.token_urlsafe(32)
    token_file = args.state_file.parent / TOKEN_FILE
    try:
        write_atomic(token_file, token + "\n", mode=0o600)
    except OSError as exc:
        print(
            f"regionguard sandbox: cannot write {token_file}: {exc.strerror}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    call_log = os.environ.get(CALL_LOG_ENV)
    app = SandboxApp(
        settings,
        faults,
        admin_token=token,
        call_log=Path(call_log) if call_log else None,
        landing_zone_region_deny=deny,
    )
    try:
        server = serve(app, args.host, args.port)
    except OSError as exc:
        print(
            f"regionguard sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    bound_host, port = server.server_address[:2]
    host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = {
        "pid": os.getpid(),
        "host": host,
        "port": int(port),
        "endpoint": f"http://{host}:{port}",
        "envDir": str(settings.env_dir),
        "stateFile": str(args.state_file.resolve()),
    }
    write_atomic(args.state_file, json.dumps(state, indent=2) + "\n")
    print(f"regionguard sandbox listening on http://{host}:{port} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        try:
            current = json.loads(args.state_file.read_text())
            if current.get("pid") == os.getpid():
                args.state_file.unlink()
                token_file.unlink()
        except (OSError, ValueError):
            pass
        print("regionguard sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
