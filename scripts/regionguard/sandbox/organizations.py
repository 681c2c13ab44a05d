"""What AWS Organizations refuses and moto accepts, refused in the sandbox too.

moto attaches a policy twice without complaint; AWS Organizations answers
``DuplicatePolicyAttachmentException``. An apply interrupted after
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


def refuse_duplicate_attachment(
    environ: dict[str, Any], start_response: Any, backend: OrganizationsBackend
) -> Iterable[bytes] | None:
    """Answer an AttachPolicy of a policy already attached to its target; else None.

    The request body is read and put back, so moto can still read it.
    """
    if environ.get("HTTP_X_AMZ_TARGET") != ATTACH_POLICY_TARGET:
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw or b"{}")
        policy_id, target_id = body["PolicyId"], body["TargetId"]
    except (ValueError, KeyError, TypeError):
        return None  # moto answers malformed requests itself
    policy = next((p for p in backend.policies if p.id == policy_id), None)
    if policy is None or not any(t.id == target_id for t in policy.attachments):
        return None
    response = Response(
        json.dumps(
            {
                "__type": "DuplicatePolicyAttachmentException",
                "Message": "The selected policy is already attached to the specified target.",
            }
        ),
        status=400,
        content_type="application/x-amz-json-1.1",
    )
    return list(response(environ, start_response))
