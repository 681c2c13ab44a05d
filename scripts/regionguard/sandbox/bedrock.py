"""A Bedrock runtime endpoint in the sandbox that answers as the organization's SCPs decide.

Calls signed for service ``bedrock`` to any Bedrock Runtime operation (the
request lines of ``regionguard/data/bedrock_runtime_operations.json``:
``/model/{modelId}/invoke``, ``/converse``, ``/async-invoke``,
``/guardrail/{id}/version/{v}/apply`` ...) are evaluated against the
effective SCPs of the emulated organization (read from moto in this
process) for the calling account, with the request model of
:mod:`regionguard.request`, as AWS authorizes them:

- Each operation is authorized as the IAM action of its row (Converse and
  StartAsyncInvoke as bedrock:InvokeModel, ConverseStream as
  bedrock:InvokeModelWithResponseStream ...), on the resource its row names:
  the model (``modelId`` of the path or, for StartAsyncInvoke, of the body),
  the guardrail, the asynchronous invocation, or ``*``.
- The Region of the call is its SigV4 scope (the source Region). A model id
  with a geography prefix (``us.``, ``eu.``, ``global.`` ...) or an
  inference-profile ARN is a call through that profile: it is authorized on
  the profile in the source Region and on the foundation model in every
  Region the profile may reach (``unspecified`` for a global profile), and
  fails on the first leg an SCP denies, naming that leg's resource. The
  geographies are the package data of :mod:`regionguard.request`.

The calling account is the header ``X-Regionguard-Account-Id``, else the
access key id when it is a 12-digit account id (``aws_access_key_id =
"100000000001"``). The caller is ``X-Regionguard-Principal-Arn`` (with
``X-Regionguard-Role-Path`` for a session of a role with a path), else
``arn:aws:sts::<account>:assumed-role/WorkloadRole/sandbox``, a session of
the sandbox's role ``WorkloadRole`` at path ``/``.

A denied call gets HTTP 403 ``AccessDeniedException`` with AWS's message
shape; a request that cannot exist (unknown Region, profile, principal) gets
HTTP 400 ``ValidationException``; an allowed one gets a canned reply
(event-stream framed for the streaming calls; InvokeModelWithBidirectionalStream,
an HTTP/2 bidirectional stream, gets an empty event stream).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy
from regionguard.request import (
    Operation,
    RequestError,
    build_request,
    decide,
    load_profile_data,
    runtime_operations,
)

SERVICE = "bedrock"
ACCOUNT_HEADER = "HTTP_X_REGIONGUARD_ACCOUNT_ID"
PRINCIPAL_HEADER = "HTTP_X_REGIONGUARD_PRINCIPAL_ARN"
ROLE_PATH_HEADER = "HTTP_X_REGIONGUARD_ROLE_PATH"
DEFAULT_ROLE = "WorkloadRole"
DEFAULT_ROLE_PATH = "/"
CANNED_TEXT = "Hello from the regionguard sandbox."
_PLACEHOLDER = re.compile(r"\{(\w+)\+?\}")


def _route(operation: Operation) -> re.Pattern[str]:
    """The path pattern of an operation's request line; ``{name}`` captures one segment or more."""
    path = operation.http_path.split("?", 1)[0]
    out, last = [], 0
    for match in _PLACEHOLDER.finditer(path):
        out.append(re.escape(path[last : match.start()]))
        out.append(f"(?P<{match.group(1)}>.+)")
        last = match.end()
    out.append(re.escape(path[last:]))
    return re.compile("^" + "".join(out) + "$")


ROUTES: tuple[tuple[Operation, re.Pattern[str]], ...] = tuple(
    (operation, _route(operation)) for operation in runtime_operations().values()
)
"""Each Bedrock Runtime operation and its request path; the request model maps it to its action."""


def _match(environ: dict[str, Any]) -> tuple[Operation, dict[str, str]] | None:
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    for operation, pattern in ROUTES:
        match = pattern.match(path)
        if operation.http_method == method and match is not None:
            return operation, match.groupdict()
    return None


StartResponse = Callable[..., Any]


def _scope(authorization: str | None) -> tuple[str, str] | None:
    """(access key id, Region) of a SigV4 Authorization header."""
    if not authorization or "Credential=" not in authorization:
        return None
    parts = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    return (parts[0], parts[2]) if len(parts) == 5 else None


def is_bedrock_runtime(environ: dict[str, Any], service: str | None) -> bool:
    return service == SERVICE and _match(environ) is not None


def org_tree(backend: Any) -> OrgTree:
    """The emulated organization, read from moto's Organizations backend."""
    policies = {p.id: p for p in backend.policies if p.type == "SERVICE_CONTROL_POLICY"}

    def attached(target_id: str) -> tuple[Policy, ...]:
        return tuple(
            Policy(p.name, p.content, p.id)
            for p in policies.values()
            if any(t.id == target_id for t in p.attachments)
        )

    root_id = backend.org.root_id
    ous = {ou.id: ou for ou in backend.ou if ou.type == "ORGANIZATIONAL_UNIT"}

    def chain(parent_id: str) -> tuple[OrgNode, ...]:
        nodes: list[OrgNode] = []
        while parent_id in ous:
            ou = ous[parent_id]
            nodes.insert(0, OrgNode("ou", ou.id, ou.name, attached(ou.id)))
            parent_id = ou.parent_id
        return (OrgNode("root", root_id, "Root", attached(root_id)), *nodes)

    accounts = tuple(
        AccountPath(
            a.id, a.name, (*chain(a.parent_id), OrgNode("account", a.id, a.name, attached(a.id)))
        )
        for a in backend.accounts
    )
    return OrgTree(accounts, backend.org.master_account_id)


def _event(payload: bytes, event_type: str) -> bytes:
    """One application/vnd.amazon.eventstream message."""
    headers = b""
    for name, value in (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ):
        raw_name, raw_value = name.encode(), value.encode()
        headers += struct.pack("!B", len(raw_name)) + raw_name
        headers += struct.pack("!BH", 7, len(raw_value)) + raw_value
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


_JSON_REPLIES: dict[str, Any] = {
    "bedrock:CountTokens": {"inputTokens": 1},
    "bedrock:StartAsyncInvoke": {
        "invocationArn": "arn:aws:bedrock:{region}:{account}:async-invoke/sandbox"
    },
    "bedrock:GetAsyncInvoke": {
        "invocationArn": "arn:aws:bedrock:{region}:{account}:async-invoke/sandbox",
        "modelArn": "arn:aws:bedrock:{region}::foundation-model/sandbox",
        "status": "Completed",
        "submitTime": "2026-01-01T00:00:00Z",
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://sandbox/"}},
    },
    "bedrock:ListAsyncInvokes": {"asyncInvokeSummaries": []},
    "bedrock:ApplyGuardrail": {"action": "NONE", "outputs": [], "assessments": []},
    "bedrock:InvokeGuardrailChecks": {},
}


def _reply(operation: str, region: str, account: str) -> Response:
    if operation == "bedrock:InvokeModel":
        reply: dict[str, Any] = {
            "content": [{"type": "text", "text": CANNED_TEXT}],
            "stop_reason": "end_turn",
        }
        return Response(json.dumps(reply), 200, content_type="application/json")
    if operation == "bedrock:Converse":
        body: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": [{"text": CANNED_TEXT}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 7, "totalTokens": 8},
            "metrics": {"latencyMs": 1},
        }
        return Response(json.dumps(body), 200, content_type="application/json")
    if operation in _JSON_REPLIES:
        text = json.dumps(_JSON_REPLIES[operation])
        text = text.replace("{region}", region).replace("{account}", account)
        return Response(text, 200, content_type="application/json")
    if operation == "bedrock:InvokeModelWithResponseStream":
        chunk = json.dumps({"type": "text", "text": CANNED_TEXT}).encode()
        payload = json.dumps({"bytes": base64.b64encode(chunk).decode()}).encode()
        stream = _event(payload, "chunk")
    elif operation == "bedrock:ConverseStream":
        stream = b"".join(
            [
                _event(json.dumps({"role": "assistant"}).encode(), "messageStart"),
                _event(
                    json.dumps({"contentBlockIndex": 0, "delta": {"text": CANNED_TEXT}}).encode(),
                    "contentBlockDelta",
                ),
                _event(json.dumps({"stopReason": "end_turn"}).encode(), "messageStop"),
            ]
        )
    else:
        stream = b""
    return Response(stream, 200, content_type="application/vnd.amazon.eventstream")


def _target(
    operation: Operation, params: dict[str, str], environ: dict[str, Any], region: str, account: str
) -> tuple[str | None, str]:
    """(the model the call names, or None; the resource of a direct call) for an operation."""
    if operation.resource_type == "guardrail":
        guardrail = params["guardrailIdentifier"]
        if not guardrail.startswith("arn:"):
            guardrail = f"arn:aws:bedrock:{region}:{account}:guardrail/{guardrail}"
        return None, guardrail
    if operation.resource_type == "async-invoke":
        return None, params["invocationArn"]
    if operation.resource_type is None:
        return None, "*"
    model = params.get("modelId")
    if model is None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            model = str(json.loads(body or b"{}").get("modelId", ""))
        except (ValueError, AttributeError):
            model = ""
    if model.startswith("arn:"):
        return model, model
    return model, f"arn:aws:bedrock:{region}::foundation-model/{model}"


def _error(status: int, error_type: str, message: str) -> Response:
    return Response(
        json.dumps({"message": message}),
        status,
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def handle(
    environ: dict[str, Any],
    start_response: StartResponse,
    backend: Any,
    env_dir: Path | None = None,
) -> Iterable[bytes]:
    """Answer one Bedrock runtime call; profile data as ``env_dir``'s override sets it."""
    matched = _match(environ)
    scope = _scope(environ.get("HTTP_AUTHORIZATION"))
    assert matched is not None
    operation, params = matched
    account = environ.get(ACCOUNT_HEADER) or (scope[0] if scope else "")
    region = scope[1] if scope else "us-east-1"
    if not re.fullmatch(r"\d{12}", account):
        response = _error(
            403,
            "UnrecognizedClientException",
            "The sandbox knows the caller by a 12-digit account id as access key id or in "
            "the X-Regionguard-Account-Id header.",
        )
        return response(environ, start_response)
    principal = environ.get(PRINCIPAL_HEADER)
    role_path = environ.get(ROLE_PATH_HEADER)
    if principal is None:
        principal = f"arn:aws:sts::{account}:assumed-role/{DEFAULT_ROLE}/sandbox"
        role_path = DEFAULT_ROLE_PATH
    org = org_tree(backend)
    if org.path(account) is None and account != org.management_account_id:
        response = _error(
            403, "UnrecognizedClientException", f"Account {account} is not in the organization."
        )
        return response(environ, start_response)
    data = load_profile_data(env_dir)
    model, resource = _target(operation, params, environ, region, account)
    through_profile = model is not None and (
        ":inference-profile/" in model
        or ":application-inference-profile/" in model
        or ("." in model and model.split(".", 1)[0] in data.geographies)
    )
    try:
        request = build_request(
            account,
            operation.name,
            region,
            principal_arn=principal,
            role_path=role_path,
            inference_profile=model if through_profile else None,
            resource="*" if through_profile else resource,
            profile_data=data,
        )
        decision = decide(Evaluator(org), request)
    except RequestError as exc:
        return _error(400, "ValidationException", str(exc))(environ, start_response)
    message = decision.access_denied_message()
    response = (
        _reply(operation.name, region, account)
        if message is None
        else _error(403, "AccessDeniedException", message)
    )
    response.headers["x-amzn-RequestId"] = "00000000-0000-0000-0000-000000000000"
    return response(environ, start_response)
