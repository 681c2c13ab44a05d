"""A Control Catalog emulator: ListControls and GetControl for the sandbox's catalog.

AWS Control Catalog (service ``controlcatalog``, REST-JSON) describes every
control by its global ARN ``arn:aws:controlcatalog:::control/<id>`` and lists
the control's aliases, such as ``CT.MULTISERVICE.PV.1``; a client finds a
control's ARN by its alias. The sandbox's catalog is the one of
:mod:`regionguard.sandbox.controltower` (the controls it can enable), so the
ARN preflight resolves here is the ARN ``enable-control`` accepts.
docs/sandbox.md cites the AWS pages each answer follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from regionguard.sandbox.controltower import CATALOG, ControlDefinition, ControlTowerError

JSON = dict[str, Any]

SERVICE = "controlcatalog"
PATHS = ("list-controls", "get-control")

# ImplementationDetails.Type of a control implemented as an SCP.
SCP_IMPLEMENTATION = "AWS::Organizations::Policy::SERVICE_CONTROL_POLICY"


def _summary(control: ControlDefinition) -> JSON:
    return {
        "Arn": control.identifiers[0],
        "Aliases": [control.name],
        "Name": control.title,
        "Description": control.description,
        "Behavior": "PREVENTIVE",
        "ParameterRequirementSummary": "REQUIRED" if control.required_parameters else "OPTIONAL",
        "Implementation": {"Type": SCP_IMPLEMENTATION},
    }


class ControlCatalog:
    """The two Control Catalog calls preflight makes, over the emulator's catalog."""

    def handle(self, action: str, body: JSON, query: dict[str, str]) -> JSON:
        handler = self.HANDLERS.get(action)
        if handler is None:
            raise ControlTowerError(
                "UnknownOperationException", f"/{action} is not an operation of this service."
            )
        return handler(self, body, query)

    def list_controls(self, body: JSON, query: dict[str, str]) -> JSON:
        try:
            max_results = int(query.get("maxResults", "100"))
            start = int(query.get("nextToken", "0"), 16)
        except ValueError:
            raise ControlTowerError(
                "ValidationException", "maxResults or nextToken is not valid."
            ) from None
        if not 1 <= max_results <= 100:
            raise ControlTowerError("ValidationException", "maxResults must be between 1 and 100.")
        controls = [_summary(c) for c in CATALOG]
        end = start + max_results
        out: JSON = {"Controls": controls[start:end]}
        if end < len(controls):
            out["NextToken"] = f"{end:x}"
        return out

    def get_control(self, body: JSON, query: dict[str, str]) -> JSON:
        arn = body.get("ControlArn")
        if not isinstance(arn, str) or not arn:
            raise ControlTowerError("ValidationException", "ControlArn is required.")
        control = next((c for c in CATALOG if c.identifiers[0] == arn), None)
        if control is None:
            raise ControlTowerError("ResourceNotFoundException", f"The control {arn} is not found.")
        return {
            **_summary(control),
            "RegionConfiguration": {"Scope": "GLOBAL"},
            "Parameters": [
                *({"Name": p, "Requirement": "REQUIRED"} for p in control.required_parameters),
                *({"Name": p, "Requirement": "OPTIONAL"} for p in control.optional_parameters),
            ],
        }

    HANDLERS: ClassVar[dict[str, Callable[[ControlCatalog, JSON, dict[str, str]], JSON]]] = {
        "list-controls": list_controls,
        "get-control": get_control,
    }
