"""The SCPs of Control Tower's two Region denies: CT.MULTISERVICE.PV.1 and the landing zone's.

The template ships as package data (``regionguard/data/ct_multiservice_pv1.json``),
transcribed from the full SCP artifact printed on the AWS Control Tower
control reference page "Region deny control applied to the OU" (the same
document Control Tower shows on the control's Artifacts tab): one Deny,
Sid ``CTMULTISERVICEPV1``, whose ``NotAction`` is the control's
``ExemptedActions`` followed by 86 actions of global services, on
``Resource "*"``, when ``StringNotEquals aws:RequestedRegion`` the
``AllowedRegions`` AND ``ArnNotLike aws:PrincipalARN`` the
``ExemptedPrincipalArns`` followed by the four Control Tower roles.

Placeholders in the template are strings: ``"{{ExemptedActions}}"`` and
``"{{ExemptedPrincipalArns}}"`` stand for list items spliced in place, and
``"{{AllowedRegions}}"`` for the whole list value.

AWS may change the global-service list (the page says to view the most
recent version in the console); the list is data, so an update is a data
change. Whitespace and key order of the document Control Tower sends are not
published: the rendering here is minified in the template's key order, the
smallest form, so a size check on it is a lower bound of the real size.

The landing-zone Region deny (``GRREGIONDENY``) ships as its own package data
(``regionguard/data/grregiondeny.json``), transcribed from the Control Tower
control reference page "Deny access to AWS based on the requested AWS
Region" (the page URL and the date it was read are in the file). It is not
the OU control without exemptions: its only exempted principal is
``arn:aws:iam::*:role/AWSControlTowerExecution`` (partition ``aws``, one
role), where CT.MULTISERVICE.PV.1 exempts four Control Tower roles in any
partition. ``"{{GovernedRegions}}"`` stands for the list Control Tower fills
in with the landing zone's governed Regions.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

__all__ = [
    "CONTROL_SID",
    "CONTROL_TOWER_ROLE_ARNS",
    "GLOBAL_SERVICE_ACTIONS",
    "LANDING_ZONE_SID",
    "control_scp_document",
    "control_scp_template",
    "landing_zone_deny_document",
    "landing_zone_deny_source",
    "render_control_scp",
    "render_landing_zone_deny",
]

CONTROL_SID = "CTMULTISERVICEPV1"
LANDING_ZONE_SID = "GRREGIONDENY"
_TEMPLATE_FILE = "ct_multiservice_pv1.json"
_LANDING_ZONE_FILE = "grregiondeny.json"
_GOVERNED_REGIONS = "{{GovernedRegions}}"
_EXEMPTED_ACTIONS = "{{ExemptedActions}}"
_EXEMPTED_PRINCIPALS = "{{ExemptedPrincipalArns}}"
_ALLOWED_REGIONS = "{{AllowedRegions}}"


@functools.cache
def _data_text(name: str) -> str:
    return resources.files("regionguard.data").joinpath(name).read_text("utf-8")


def _template_text() -> str:
    return _data_text(_TEMPLATE_FILE)


def control_scp_template() -> dict[str, Any]:
    """A fresh copy of the template, placeholders included."""
    template: dict[str, Any] = json.loads(_template_text())
    return template


def _statement(document: dict[str, Any]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = document["Statement"]
    (statement,) = statements
    return statement


def _without(items: Sequence[str], placeholder: str) -> tuple[str, ...]:
    return tuple(i for i in items if i != placeholder)


GLOBAL_SERVICE_ACTIONS: tuple[str, ...] = _without(
    _statement(control_scp_template())["NotAction"], _EXEMPTED_ACTIONS
)
"""The control's own NotAction entries: actions of global services it never denies."""

CONTROL_TOWER_ROLE_ARNS: tuple[str, ...] = _without(
    _statement(control_scp_template())["Condition"]["ArnNotLike"]["aws:PrincipalARN"],
    _EXEMPTED_PRINCIPALS,
)
"""Principals the control always exempts: the Control Tower roles."""


def _splice(items: Sequence[str], placeholder: str, values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item == placeholder:
            out.extend(values)
        else:
            out.append(item)
    return out


def control_scp_document(
    allowed_regions: Sequence[str],
    exempted_actions: Sequence[str],
    exempted_principal_arns: Sequence[str],
) -> dict[str, Any]:
    """The control's SCP with the parameters filled in, as a JSON object."""
    document = copy.deepcopy(control_scp_template())
    statement = _statement(document)
    statement["NotAction"] = _splice(
        statement["NotAction"], _EXEMPTED_ACTIONS, list(exempted_actions)
    )
    condition = statement["Condition"]
    if condition["StringNotEquals"]["aws:RequestedRegion"] != _ALLOWED_REGIONS:
        raise ValueError(f"{_TEMPLATE_FILE}: aws:RequestedRegion is not {_ALLOWED_REGIONS}")
    condition["StringNotEquals"]["aws:RequestedRegion"] = list(allowed_regions)
    condition["ArnNotLike"]["aws:PrincipalARN"] = _splice(
        condition["ArnNotLike"]["aws:PrincipalARN"],
        _EXEMPTED_PRINCIPALS,
        list(exempted_principal_arns),
    )
    return document


def render_control_scp(
    allowed_regions: Sequence[str],
    exempted_actions: Sequence[str],
    exempted_principal_arns: Sequence[str],
) -> str:
    """The control's SCP for these parameters: minified JSON in the template's key order."""
    document = control_scp_document(allowed_regions, exempted_actions, exempted_principal_arns)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def landing_zone_deny_source() -> dict[str, str]:
    """Where the landing-zone Region deny was transcribed from: title, url, retrieved, note."""
    source: dict[str, str] = json.loads(_data_text(_LANDING_ZONE_FILE))["source"]
    return source


def landing_zone_deny_document(governed_regions: Sequence[str]) -> dict[str, Any]:
    """The landing-zone Region deny as AWS publishes it, with the governed Regions filled in."""
    document: dict[str, Any] = json.loads(_data_text(_LANDING_ZONE_FILE))["policy"]
    condition = _statement(document)["Condition"]
    if condition["StringNotEquals"]["aws:RequestedRegion"] != _GOVERNED_REGIONS:
        raise ValueError(f"{_LANDING_ZONE_FILE}: aws:RequestedRegion is not {_GOVERNED_REGIONS}")
    condition["StringNotEquals"]["aws:RequestedRegion"] = list(governed_regions)
    return document


def render_landing_zone_deny(governed_regions: Sequence[str]) -> str:
    """The landing-zone Region deny (``GRREGIONDENY``): minified, in the published key order."""
    document = landing_zone_deny_document(governed_regions)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
