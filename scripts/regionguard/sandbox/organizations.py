"""What AWS Organizations refuses and moto accepts, refused in the sandbox too.

moto attaches a policy twice without complaint; AWS Organizations answers
``DuplicatePolicyAttachmentException``. moto also attaches any number of SCPs
to one target; AWS Organizations allows 10 directly attached SCPs per root, OU
or account and answers ``ConstraintViolationException`` with reason
``POLICY_NUMBER_LIMIT_EXCEEDED`` beyond that. An apply interrupted after
AttachPolicy succeeded but before Terraform recorded it leaves exactly that
situation, and the sandbox must show it as AWS would (see
``envs/_shared/adopt.tf``, which adopts such attachments).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from moto.organizations.models import OrganizationsBackend
from werkzeug.wrappers import Response

ATTACH_POLICY_TARGET = "AWSOrganizationsV20161128.AttachPolicy"
# Service control policies directly attached to one root, OU or account.
SCP_ATTACHMENT_QUOTA = 10


def _attach_request(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(PolicyId, TargetId) of an AttachPolicy request, the body put back for moto; else None."""
    if environ.get("HTTP_X_AMZ_TARGET") != ATTACH_POLICY_TARGET:
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw or b"{}")
        return str(body["PolicyId"]), str(body["TargetId"])
    except (ValueError, KeyError, TypeError):
        return None  # moto answers malformed requests itself


def _error(start_response: Any, environ: dict[str, Any], body: dict[str, str]) -> list[bytes]:
    response = Response(json.dumps(body), status=400, content_type="application/x-amz-json-1.1")
    return list(response(environ, start_response))


def attached_scp_count(backend: OrganizationsBackend, target_id: str) -> int:
    """How many SCPs are directly attached to the root, OU or account ``target_id``."""
    return sum(
        1
        for p in backend.policies
        if p.type == "SERVICE_CONTROL_POLICY" and any(t.id == target_id for t in p.attachments)
    )


def refuse_over_quota(
    environ: dict[str, Any], start_response: Any, backend: OrganizationsBackend
) -> Iterable[bytes] | None:
    """Answer an AttachPolicy of an SCP to a target that already has 10 SCPs; else None."""
    request = _attach_request(environ)
    if request is None:
        return None
    policy_id, target_id = request
    policy = next((p for p in backend.policies if p.id == policy_id), None)
    if policy is None or policy.type != "SERVICE_CONTROL_POLICY":
        return None
    if attached_scp_count(backend, target_id) < SCP_ATTACHMENT_QUOTA:
        return None
    return _error(
        start_response,
        environ,
        {
            "__type": "ConstraintViolationException",
            "Message": "You have attached the maximum number of policies to the specified target.",
            "Reason": "POLICY_NUMBER_LIMIT_EXCEEDED",
        },
    )


def refuse_duplicate_attachment(
    environ: dict[str, Any], start_response: Any, backend: OrganizationsBackend
) -> Iterable[bytes] | None:
    """Answer an AttachPolicy of a policy already attached to its target; else None.

    The request body is read and put back, so moto can still read it.
    """
    request = _attach_request(environ)
    if request is None:
        return None
    policy_id, target_id = request
    policy = next((p for p in backend.policies if p.id == policy_id), None)
    if policy is None or not any(t.id == target_id for t in policy.attachments):
        return None
    return _error(
        start_response,
        environ,
        {
            "__type": "DuplicatePolicyAttachmentException",
            "Message": "The selected policy is already attached to the specified target.",
        },
    )
