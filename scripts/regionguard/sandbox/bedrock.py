"""A Bedrock runtime endpoint in the sandbox that answers as the organization's SCPs decide.

Calls signed for service ``bedrock`` to ``/model/{modelId}/invoke``,
``/invoke-with-response-stream``, ``/converse`` or ``/converse-stream`` are
evaluated against the effective SCPs of the emulated organization (read from
moto in this process) for the calling account and the Region of the call's
SigV4 scope. Converse is authorised as bedrock:InvokeModel and ConverseStream
as bedrock:InvokeModelWithResponseStream, as AWS does.

The calling account is the header ``X-Regionguard-Account-Id``, else the
access key id when it is a 12-digit account id (``aws_access_key_id =
"100000000001"``). The caller is ``X-Regionguard-Principal-Arn``, else
``arn:aws:sts::<account>:assumed-role/WorkloadRole/sandbox``.

A denied call gets HTTP 403 ``AccessDeniedException`` with AWS's message
shape; an allowed one gets a canned model reply (event-stream framed for the
streaming calls).
"""

from __future__ import annotations

import binascii
import json
import re
import struct
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Response

from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request

SERVICE = "bedrock"
ACCOUNT_HEADER = "HTTP_X_REGIONGUARD_ACCOUNT_ID"
PRINCIPAL_HEADER = "HTTP_X_REGIONGUARD_PRINCIPAL_ARN"
CANNED_TEXT = "Hello from the regionguard sandbox."
_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream|converse|converse-stream)$"
)
ACTIONS = {
    "invoke": "bedrock:InvokeModel",
    "invoke-with-response-stream": "bedrock:InvokeModelWithResponseStream",
    "converse": "bedrock:InvokeModel",
    "converse-stream": "bedrock:InvokeModelWithResponseStream",
}
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.")

StartResponse = Callable[..., Any]


def _scope(authorization: str | None) -> tuple[str, str] | None:
    """(access key id, Region) of a SigV4 Authorization header."""
    if not authorization or "Credential=" not in authorization:
        return None
    parts = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    return (parts[0], parts[2]) if len(parts) == 5 else None


def is_bedrock_runtime(environ: dict[str, Any], service: str | None) -> bool:
    return service == SERVICE and bool(_PATH.match(environ.get("PATH_INFO", "")))


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


def _reply(op: str) -> Response:
    if op == "invoke":
        reply: dict[str, Any] = {
            "content": [{"type": "text", "text": CANNED_TEXT}],
            "stop_reason": "end_turn",
        }
        return Response(json.dumps(reply), 200, content_type="application/json")
    if op == "converse":
        body: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": [{"text": CANNED_TEXT}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 7, "totalTokens": 8},
            "metrics": {"latencyMs": 1},
        }
        return Response(json.dumps(body), 200, content_type="application/json")
    if op == "invoke-with-response-stream":
        chunk = json.dumps({"type": "text", "text": CANNED_TEXT}).encode()
        import base64

        payload = json.dumps({"bytes": base64.b64encode(chunk).decode()}).encode()
        stream = _event(payload, "chunk")
    else:
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
    return Response(stream, 200, content_type="application/vnd.amazon.eventstream")


def _error(status: int, error_type: str, message: str) -> Response:
    return Response(
        json.dumps({"message": message}),
        status,
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def handle(environ: dict[str, Any], start_response: StartResponse, backend: Any) -> Iterable[bytes]:
    match = _PATH.match(environ.get("PATH_INFO", ""))
    scope = _scope(environ.get("HTTP_AUTHORIZATION"))
    assert match is not None
    model, op = match.group("model"), match.group("op")
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
    principal = (
        environ.get(PRINCIPAL_HEADER) or f"arn:aws:sts::{account}:assumed-role/WorkloadRole/sandbox"
    )
    profile = None
    foundation = model
    if model.startswith(_PROFILE_PREFIXES):
        profile = f"arn:aws:bedrock:{region}:{account}:inference-profile/{model}"
        foundation = model.split(".", 1)[1]
    resource = f"arn:aws:bedrock:{region}::foundation-model/{foundation}"
    action = ACTIONS[op]
    org = org_tree(backend)
    if org.path(account) is None and account != org.management_account_id:
        response = _error(
            403, "UnrecognizedClientException", f"Account {account} is not in the organization."
        )
        return response(environ, start_response)
    if account == org.management_account_id:
        decision_allowed = True
    else:
        request = Request(
            account, action, region, principal_arn=principal, resource=resource,
            inference_profile_arn=profile,
        )  # fmt: skip
        decision = Evaluator(org).evaluate(request)
        decision_allowed = decision.allowed
    if not decision_allowed:
        kind = "an explicit deny" if decision.basis == "explicit-deny" else "no allow"
        response = _error(
            403,
            "AccessDeniedException",
            f"User: {principal} is not authorized to perform: {action} on resource: "
            f"{resource} with {kind} in a service control policy",
        )
    else:
        response = _reply(op)
    response.headers["x-amzn-RequestId"] = "00000000-0000-0000-0000-000000000000"
    return response(environ, start_response)
