"""What Terraform sends, rendered in Python byte for byte.

:func:`render_scp` repeats ``modules/bedrock-inference-scp/main.tf`` and
:func:`render_control_parameters` the ``parameters`` output of
``modules/region-deny-control``; ``tests/test_render_terraform.py`` proves the
bytes equal Terraform's for several inputs. Terraform's ``jsonencode`` emits
minified JSON with object keys sorted, UTF-8 text left as it is, and ``<``,
``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c`` and so on (Go's
``encoding/json`` HTML-safe escaping); :func:`jsonencode` does the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from regionguard.rules import SPARE_OPERATOR
from regionguard.settings import Settings

__all__ = [
    "GLOBAL_STATEMENT_SID",
    "PROFILE_STATEMENT_SID",
    "SEED_STATEMENT_SID",
    "jsonencode",
    "render_control_parameters",
    "render_scp",
    "scp_document",
]

SEED_STATEMENT_SID = "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"
GLOBAL_STATEMENT_SID = "DenyGlobalInferenceProfiles"
PROFILE_STATEMENT_SID = "DenyOutOfRegionInferenceWithoutProfile"

_GO_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def jsonencode(value: Any) -> str:
    """Terraform's ``jsonencode``: sorted keys, minified, HTML-safe escapes."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Python and Go escape control characters alike (\n, \t, \b, \f, \u001f);
    # Go additionally escapes these five, outside and inside keys alike.
    return text.translate(_GO_ESCAPES)


def scp_document(
    settings: Settings, permitted_account_ids: Sequence[str], spared_org_paths: Sequence[str] = ()
) -> dict[str, Any]:
    """The Bedrock inference SCP as a JSON object, as the module builds it.

    ``spared_org_paths`` are the aws:PrincipalOrgPaths of the child OUs a
    descended target's SCP spares (the per_ou layout, :mod:`regionguard.layout`).
    """
    guarded = list(settings.guarded_actions)
    region_condition: dict[str, Any] = {"aws:RequestedRegion": list(settings.allowed_regions)}
    if permitted_account_ids:
        region_condition["aws:PrincipalAccount"] = list(permitted_account_ids)
    condition: dict[str, Any] = {"StringNotEquals": region_condition}
    if spared_org_paths:
        condition[SPARE_OPERATOR] = {"aws:PrincipalOrgPaths": list(spared_org_paths)}
    statements: list[dict[str, Any]] = [
        {
            "Sid": SEED_STATEMENT_SID,
            "Effect": "Deny",
            "Action": guarded,
            "Resource": "*",
            "Condition": condition,
        }
    ]
    if settings.global_inference == "none":
        statements.append(
            {
                "Sid": GLOBAL_STATEMENT_SID,
                "Effect": "Deny",
                "Action": guarded,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified"}},
            }
        )
    if settings.require_inference_profile:
        statements.append(
            {
                "Sid": PROFILE_STATEMENT_SID,
                "Effect": "Deny",
                "Action": guarded,
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:RequestedRegion": list(settings.allowed_regions)},
                    "ArnNotLike": {
                        "bedrock:InferenceProfileArn": list(settings.inference_profile_arn_patterns)
                    },
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def render_scp(
    settings: Settings, permitted_account_ids: Sequence[str], spared_org_paths: Sequence[str] = ()
) -> str:
    """The SCP document exactly as Terraform sends it (the module's ``documents`` output)."""
    return jsonencode(scp_document(settings, permitted_account_ids, spared_org_paths))


def render_control_parameters(settings: Settings) -> dict[str, str]:
    """The control's parameters as sent (the module's ``parameters`` output).

    Each value is JSON-encoded; ExemptedActions and ExemptedPrincipalArns are
    left out when their list is empty.
    """
    parameters = {"AllowedRegions": jsonencode(list(settings.allowed_regions))}
    if settings.exempted_actions:
        parameters["ExemptedActions"] = jsonencode(list(settings.exempted_actions))
    if settings.exempted_principal_arns:
        parameters["ExemptedPrincipalArns"] = jsonencode(list(settings.exempted_principal_arns))
    return parameters
