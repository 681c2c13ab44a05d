"""What AWS Organizations refuses and moto accepts, refused in the sandbox too.

- moto attaches a policy twice without complaint; AWS Organizations answers
  ``DuplicatePolicyAttachmentException``. An apply interrupted after
  AttachPolicy succeeded but before Terraform recorded it leaves exactly
  that situation, and the sandbox must show it as AWS would (see
  ``envs/_shared/adopt.tf``, which adopts such attachments).
- moto stores an SCP of any size; AWS Organizations refuses CreatePolicy and
  UpdatePolicy of an SCP over 10,240 characters with
  ``ConstraintViolationException``, reason ``POLICY_CONTENT_LIMIT_EXCEEDED``
  (API reference, CreatePolicy and UpdatePolicy, "Errors"; the size is in the
  quotas page, "Maximum size of a policy document"). The message text is the
  sandbox's own: AWS documents the reason, not the words.
- moto attaches any number of SCPs to one target; AWS Organizations allows 10
  directly attached SCPs per root, OU or account and answers
  ``ConstraintViolationException`` with reason ``POLICY_NUMBER_LIMIT_EXCEEDED``
  beyond that (docs/sandbox.md cites the page).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from moto.organizations.models import OrganizationsBackend
from werkzeug.wrappers import Response

TARGET_PREFIX = "AWSOrganizationsV20161128."
ATTACH_POLICY_TARGET = TARGET_PREFIX + "AttachPolicy"
CREATE_POLICY_TARGET = TARGET_PREFIX + "CreatePolicy"
UPDATE_POLICY_TARGET = TARGET_PREFIX + "UpdatePolicy"
SCP_TYPE = "SERVICE_CONTROL_POLICY"
# Characters of an SCP document since May 2026 (5,120 before).
SCP_SIZE_LIMIT = 10_240
# Service control policies directly attached to one root, OU or account.
SCP_ATTACHMENT_QUOTA = 10


def _body(environ: dict[str, Any]) -> Any:
    """The JSON request body, read and put back so that moto can still read it; None if bad."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None  # moto answers malformed requests itself


def _error(start_response: Any, environ: dict[str, Any], body: dict[str, str]) -> list[bytes]:
    response = Response(json.dumps(body), status=400, content_type="application/x-amz-json-1.1")
    return list(response(environ, start_response))


def refuse_oversize_scp(
    environ: dict[str, Any], start_response: Any, backend: OrganizationsBackend
) -> Iterable[bytes] | None:
    """Answer a CreatePolicy or UpdatePolicy whose SCP is over the size limit; else None."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target not in (CREATE_POLICY_TARGET, UPDATE_POLICY_TARGET):
        return None
    body = _body(environ)
    if not isinstance(body, dict) or not isinstance(body.get("Content"), str):
        return None
    if target == CREATE_POLICY_TARGET:
        policy_type = body.get("Type")
    else:
        policy = next((p for p in backend.policies if p.id == body.get("PolicyId")), None)
        policy_type = None if policy is None else policy.type
    size = len(body["Content"])
    if policy_type != SCP_TYPE or size <= SCP_SIZE_LIMIT:
        return None
    return _error(
        start_response,
        environ,
        {
            "__type": "ConstraintViolationException",
            "Message": (
                f"The policy content is {size:,} characters; a service control policy "
                f"may have at most {SCP_SIZE_LIMIT:,}."
            ),
            "Reason": "POLICY_CONTENT_LIMIT_EXCEEDED",
        },
    )


def _attach_request(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(PolicyId, TargetId) of an AttachPolicy request, the body put back for moto; else None."""
    if environ.get("HTTP_X_AMZ_TARGET") != ATTACH_POLICY_TARGET:
        return None
    body = _body(environ)
    try:
        return str(body["PolicyId"]), str(body["TargetId"])
    except (KeyError, TypeError):
        return None  # moto answers malformed requests itself


def attached_scp_count(backend: OrganizationsBackend, target_id: str) -> int:
    """How many SCPs are directly attached to the root, OU or account ``target_id``."""
    return sum(
        1
        for p in backend.policies
        if p.type == SCP_TYPE and any(t.id == target_id for t in p.attachments)
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
    if policy is None or policy.type != SCP_TYPE:
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
