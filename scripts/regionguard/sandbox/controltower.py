"""A Control Tower API emulator that acts on moto's emulated organization.

It answers the REST-JSON calls the aws provider makes for
``aws_controltower_control`` (docs/sandbox.md lists them) the way Control
Tower does where it matters: the target must be an existing OU, operations
run asynchronously and are polled through ``get-control-operation``,
parameter values are JSON values returned exactly as sent, errors are typed
through ``x-amzn-ErrorType`` with a 4xx status, and an enabled preventive
control is an ``aws-guardrails-*`` SCP attached to its OU, rendered from the
control's template with its parameters.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from moto.organizations.models import OrganizationsBackend, organizations_backends

from regionguard.controlscp import render_control_scp
from regionguard.sandbox.faults import FaultInjector
from regionguard.sandbox.settings import CONTROL_OPERATIONS_LIMIT

JSON = dict[str, Any]

SERVICE = "controltower"
SCP_SIZE_LIMIT = 10_240
# The EnableControl, UpdateEnabledControl and DisableControl API references
# describe ServiceQuotaExceededException (HTTP 402) with this sentence; AWS
# does not document the message the service sends, so the sandbox sends it.
QUOTA_MESSAGE = (
    "The request would cause a service quota to be exceeded. "
    "The limit is {limit} concurrent operations."
)
GUARDRAIL_POLICY_PREFIX = "aws-guardrails-"

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
OU_ARN_PATTERN = re.compile(
    r"^arn:aws:organizations::(?P<account>[0-9]{12}):ou/(?P<org>o-[a-z0-9]{10,32})/"
    r"(?P<ou>ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})$"
)
ENABLED_CONTROL_ARN_PATTERN = re.compile(
    r"^arn:aws:controltower:[a-z0-9-]+:[0-9]{12}:enabledcontrol/[0-9A-Z]{16}$"
)


def _string_list(name: str, value: Any, *, required: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ControlTowerError(
            "ValidationException", f"Parameter {name} must be a list of non-empty strings."
        )
    if required and not value:
        raise ControlTowerError("ValidationException", f"Parameter {name} must not be empty.")
    if len(set(value)) != len(value):
        raise ControlTowerError("ValidationException", f"Parameter {name} lists a value twice.")
    return value


@dataclass(frozen=True)
class ControlDefinition:
    """A control of the emulated Control Catalog."""

    name: str
    identifiers: tuple[str, ...]
    required_parameters: tuple[str, ...]
    optional_parameters: tuple[str, ...]
    render: Callable[[dict[str, Any]], str]
    title: str = ""
    description: str = ""

    def validate(self, parameters: dict[str, Any]) -> None:
        known = (*self.required_parameters, *self.optional_parameters)
        for key in parameters:
            if key not in known:
                raise ControlTowerError(
                    "ValidationException",
                    f"Parameter {key} is not a parameter of {self.name}; "
                    f"its parameters are {', '.join(known)}.",
                )
        for key in self.required_parameters:
            if key not in parameters:
                raise ControlTowerError(
                    "ValidationException", f"Parameter {key} is required for {self.name}."
                )
        for key, value in parameters.items():
            _string_list(key, value, required=key in self.required_parameters)
        for region in parameters.get("AllowedRegions", []):
            if not REGION_PATTERN.match(region):
                raise ControlTowerError(
                    "ValidationException", f"AllowedRegions: {region!r} is not a Region code."
                )


def _render_region_deny(parameters: dict[str, Any]) -> str:
    return render_control_scp(
        list(parameters["AllowedRegions"]),
        list(parameters.get("ExemptedActions", [])),
        list(parameters.get("ExemptedPrincipalArns", [])),
    )


REGION_DENY = ControlDefinition(
    name="CT.MULTISERVICE.PV.1",
    identifiers=(
        "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1",
        "CT.MULTISERVICE.PV.1",
    ),
    required_parameters=("AllowedRegions",),
    optional_parameters=("ExemptedActions", "ExemptedPrincipalArns"),
    render=_render_region_deny,
    title="Deny access to AWS based on the requested AWS Region for an organizational unit",
    description=(
        "Disallows access to unlisted operations in global and regional AWS services, "
        "outside of the specified Regions for an organizational unit (OU)."
    ),
)

CATALOG: tuple[ControlDefinition, ...] = (REGION_DENY,)


def find_control(identifier: str) -> ControlDefinition | None:
    """The catalog control for a Control Catalog ARN or a legacy control ARN."""
    for control in CATALOG:
        if identifier == control.identifiers[0]:
            return control
        # Legacy form: arn:aws:controltower:<region>::control/CT.MULTISERVICE.PV.1
        legacy = re.fullmatch(r"arn:aws:controltower:[a-z0-9-]+::control/(.+)", identifier)
        if legacy and legacy.group(1) in control.identifiers[1:]:
            return control
    return None


class ControlTowerError(Exception):
    """An error Control Tower answers: its type, HTTP status and message."""

    STATUS: ClassVar[dict[str, int]] = {
        "AccessDeniedException": 403,
        "ConflictException": 409,
        "InternalServerException": 500,
        "ResourceNotFoundException": 404,
        "ServiceQuotaExceededException": 402,
        "ThrottlingException": 429,
        "ValidationException": 400,
        "UnknownOperationException": 404,
        "SerializationException": 400,
    }

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = self.STATUS[error_type]


def timestamp(moment: float) -> str:
    """ISO-8601 in UTC with milliseconds, as Control Tower sends timestamps."""
    when = datetime.fromtimestamp(moment, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


BASELINE_NAME = "AWSControlTowerBaseline"
# The id AWS documents for AWSControlTowerBaseline in its examples; clients
# find it by name through list-baselines, never by this id.
BASELINE_ID = "17BSJV3IGJ2QSGA2"
BASELINE_VERSION = "4.0"


@dataclass(frozen=True)
class LandingZone:
    """What GetLandingZone and ListEnabledBaselines report, from sandbox.yaml."""

    version: str
    governed_regions: tuple[str, ...]
    security_ou: str = "Security"
    drift_status: str = "IN_SYNC"
    # First-tier OU names not registered with Control Tower (no baseline).
    unregistered_ous: tuple[str, ...] = ()


def _stable_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16].upper()


@dataclass
class EnabledControl:
    arn: str
    control_identifier: str
    target_identifier: str
    parameters: list[JSON]
    status: str
    last_operation: str
    policy_id: str | None = None

    def parameter_map(self) -> dict[str, Any]:
        return {p["key"]: p["value"] for p in self.parameters}


@dataclass
class Operation:
    identifier: str
    operation_type: str
    control_identifier: str
    target_identifier: str
    enabled_control_identifier: str
    start: float
    due: float
    fails: bool
    status: str = "IN_PROGRESS"
    end: float | None = None
    status_message: str | None = None
    new_parameters: list[JSON] = field(default_factory=list)
    previous_parameters: list[JSON] = field(default_factory=list)
    # When GetControlOperation was called for it, and when it first answered
    # a final status: how the client waited (the benchmark reads these).
    polls: list[float] = field(default_factory=list)
    observed: float | None = None

    def describe(self) -> JSON:
        out: JSON = {
            "operationIdentifier": self.identifier,
            "operationType": self.operation_type,
            "status": self.status,
            "startTime": timestamp(self.start),
            "controlIdentifier": self.control_identifier,
            "targetIdentifier": self.target_identifier,
            "enabledControlIdentifier": self.enabled_control_identifier,
        }
        if self.end is not None:
            out["endTime"] = timestamp(self.end)
        if self.status_message is not None:
            out["statusMessage"] = self.status_message
        return out


class ControlTower:
    """Enabled controls and their operations, on top of moto's organization.

    Not thread-safe by itself: the sandbox server serializes requests.
    """

    def __init__(
        self,
        management_account_id: str,
        home_region: str,
        *,
        operation_seconds: float = 0.3,
        time_scale: float = 1.0,
        operations_limit: int = CONTROL_OPERATIONS_LIMIT,
        faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time,
        landing_zone: LandingZone | None = None,
    ) -> None:
        self.management_account_id = management_account_id
        self.home_region = home_region
        self.landing_zone = landing_zone or LandingZone("3.3", (home_region,))
        self.operation_seconds = operation_seconds
        self.time_scale = time_scale
        self.operations_limit = operations_limit
        self.faults = faults or FaultInjector()
        self.clock = clock
        self.lock = threading.RLock()
        self.enabled: dict[str, EnabledControl] = {}
        self.operations: dict[str, Operation] = {}

    # ------------------------------------------------------------ organization

    @property
    def organizations(self) -> OrganizationsBackend:
        backend: OrganizationsBackend = organizations_backends[self.management_account_id]["aws"]
        return backend

    def _target_ou(self, target_identifier: str, *, registered: bool = True) -> str:
        """The OU id of an OU ARN target; with ``registered``, refuse an unregistered OU."""
        ou_id = self._existing_ou(target_identifier)
        if registered and not self.is_registered(ou_id):
            raise ControlTowerError(
                "ResourceNotFoundException",
                f"Organizational unit {ou_id} is not registered with AWS Control Tower.",
            )
        return ou_id

    def first_tier_name(self, ou_id: str) -> str | None:
        """The name of the first-tier OU at or above ``ou_id``."""
        org = self.organizations.org
        by_id = {ou.id: ou for ou in self.organizations.ou}
        current = by_id.get(ou_id)
        while current is not None and org is not None and current.parent_id != org.root_id:
            current = by_id.get(str(current.parent_id))
        return None if current is None else str(current.name)

    def is_registered(self, ou_id: str) -> bool:
        """An OU is registered unless its first-tier OU is one of the unregistered ones."""
        return self.first_tier_name(ou_id) not in self.landing_zone.unregistered_ous

    def _existing_ou(self, target_identifier: str) -> str:
        match = OU_ARN_PATTERN.match(target_identifier)
        if not match:
            raise ControlTowerError(
                "ValidationException",
                f"targetIdentifier {target_identifier!r} is not the ARN of an organizational "
                "unit; this control can be enabled on OUs only.",
            )
        org = self.organizations.org
        ou_id = match.group("ou")
        if (
            org is None
            or match.group("org") != org.id
            or match.group("account") != self.management_account_id
            or not any(
                ou.id == ou_id and ou.type == "ORGANIZATIONAL_UNIT" for ou in self.organizations.ou
            )
        ):
            raise ControlTowerError(
                "ResourceNotFoundException",
                f"The organizational unit {target_identifier} does not exist in the organization.",
            )
        return ou_id

    def _policy_exists(self, policy_id: str | None) -> bool:
        return policy_id is not None and any(p.id == policy_id for p in self.organizations.policies)

    def _policy_attached(self, policy_id: str, ou_id: str) -> bool:
        return any(
            ou.id == ou_id and any(p.id == policy_id for p in ou.attached_policies)
            for ou in self.organizations.ou
        )

    def _guardrail_name(self, arn: str) -> str:
        return GUARDRAIL_POLICY_PREFIX + arn.rsplit("/", 1)[1][:10]

    def _apply_policy(self, control: EnabledControl) -> None:
        definition = find_control(control.control_identifier)
        assert definition is not None
        content = definition.render(control.parameter_map())
        ou_id = self._target_ou_id(control)
        backend = self.organizations
        if self._policy_exists(control.policy_id):
            assert control.policy_id is not None
            backend.update_policy(PolicyId=control.policy_id, Content=content)
        else:
            name = self._guardrail_name(control.arn)
            stale = next((p for p in backend.policies if p.name == name), None)
            if stale is not None:
                control.policy_id = stale.id
                backend.update_policy(PolicyId=stale.id, Content=content)
            else:
                created = backend.create_policy(
                    Name=name,
                    Description=f"Control Tower guardrail {definition.name}",
                    Type="SERVICE_CONTROL_POLICY",
                    Content=content,
                )
                control.policy_id = created["Policy"]["PolicySummary"]["Id"]
        assert control.policy_id is not None
        if not self._policy_attached(control.policy_id, ou_id):
            backend.attach_policy(PolicyId=control.policy_id, TargetId=ou_id)

    def _remove_policy(self, control: EnabledControl) -> None:
        if not self._policy_exists(control.policy_id):
            return
        assert control.policy_id is not None
        backend = self.organizations
        policy = backend.get_policy_by_id(control.policy_id)
        for target in list(policy.attachments):
            backend.detach_policy(PolicyId=policy.id, TargetId=target.id)
        backend.delete_policy(PolicyId=policy.id)

    def _target_ou_id(self, control: EnabledControl) -> str:
        match = OU_ARN_PATTERN.match(control.target_identifier)
        assert match is not None
        return match.group("ou")

    def drift_status(self, control: EnabledControl) -> str:
        """IN_SYNC when the control's SCP exists, is attached and has the rendered content."""
        if control.status == "UNDER_CHANGE":
            return "UNKNOWN"
        if not self._policy_exists(control.policy_id):
            return "DRIFTED"
        assert control.policy_id is not None
        definition = find_control(control.control_identifier)
        assert definition is not None
        policy = self.organizations.get_policy_by_id(control.policy_id)
        attached = self._policy_attached(control.policy_id, self._target_ou_id(control))
        in_sync = attached and policy.content == definition.render(control.parameter_map())
        return "IN_SYNC" if in_sync else "DRIFTED"

    # -------------------------------------------------------------- operations

    @property
    def real_operation_seconds(self) -> float:
        """How long an operation lasts in real seconds: its simulated length over the time scale."""
        return self.operation_seconds / self.time_scale

    def set_operation_seconds(self, seconds: float, time_scale: float | None = None) -> None:
        """Change how long operations take; those in progress end by the new time."""
        self.operation_seconds = seconds
        if time_scale is not None:
            self.time_scale = time_scale
        for operation in self.operations.values():
            if operation.status == "IN_PROGRESS":
                operation.due = min(operation.due, operation.start + self.real_operation_seconds)

    def in_progress(self) -> int:
        """Control operations in progress now (call after settle)."""
        return sum(1 for o in self.operations.values() if o.status == "IN_PROGRESS")

    def _check_quota(self) -> None:
        """ServiceQuotaExceededException when another operation would exceed the limit."""
        if self.in_progress() >= self.operations_limit:
            raise ControlTowerError(
                "ServiceQuotaExceededException",
                QUOTA_MESSAGE.format(limit=self.operations_limit),
            )

    def settle(self) -> None:
        """End every operation whose time has come, applying its effect."""
        now = self.clock()
        for operation in sorted(self.operations.values(), key=lambda o: o.start):
            if operation.status == "IN_PROGRESS" and operation.due <= now:
                self._finish(operation, now)

    def _finish(self, operation: Operation, now: float) -> None:
        control = self.enabled.get(operation.enabled_control_identifier)
        operation.end = now
        if operation.fails:
            operation.status = "FAILED"
            operation.status_message = (
                f"The {operation.operation_type} operation failed (injected fault)."
            )
            if control is not None:
                if operation.operation_type == "ENABLE_CONTROL":
                    del self.enabled[control.arn]
                else:
                    control.status = "FAILED"
                    control.parameters = operation.previous_parameters
            return
        assert control is not None
        operation.status = "SUCCEEDED"
        if operation.operation_type == "DISABLE_CONTROL":
            self._remove_policy(control)
            del self.enabled[control.arn]
            return
        control.parameters = operation.new_parameters
        self._apply_policy(control)
        control.status = "SUCCEEDED"

    def _start(
        self,
        operation_type: str,
        control: EnabledControl,
        *,
        fails: bool,
        new_parameters: list[JSON],
        previous_parameters: list[JSON],
    ) -> Operation:
        now = self.clock()
        operation = Operation(
            identifier=str(uuid.uuid4()),
            operation_type=operation_type,
            control_identifier=control.control_identifier,
            target_identifier=control.target_identifier,
            enabled_control_identifier=control.arn,
            start=now,
            due=now + self.real_operation_seconds,
            fails=fails,
            new_parameters=new_parameters,
            previous_parameters=previous_parameters,
        )
        self.operations[operation.identifier] = operation
        control.status = "UNDER_CHANGE"
        control.last_operation = operation.identifier
        if self.real_operation_seconds <= 0:
            self._finish(operation, now)
        return operation

    def _in_progress_on(self, target_identifier: str) -> Operation | None:
        return next(
            (
                o
                for o in self.operations.values()
                if o.status == "IN_PROGRESS" and o.target_identifier == target_identifier
            ),
            None,
        )

    # ------------------------------------------------------------------- calls

    def handle(self, action: str, body: JSON) -> JSON:
        """Answer one call; raise ControlTowerError for an error answer."""
        handler = self.HANDLERS.get(action)
        if handler is None:
            raise ControlTowerError(
                "UnknownOperationException", f"/{action} is not an operation of this service."
            )
        with self.lock:
            self.settle()
            fault = self.faults.take(action, ("throttle", "conflict"))
            if fault == "throttle":
                raise ControlTowerError("ThrottlingException", "Rate exceeded (injected fault).")
            if fault == "conflict":
                raise ControlTowerError(
                    "ConflictException",
                    "Another operation is in progress on this target (injected fault).",
                )
            result: JSON = handler(self, body)
            return result

    def _fails(self, action: str) -> bool:
        return self.faults.take(action, ("fail",)) == "fail"

    def enable_control(self, body: JSON) -> JSON:
        control_identifier = _required_string(body, "controlIdentifier")
        target_identifier = _required_string(body, "targetIdentifier")
        parameters = _parameters(body, required=False)
        _tags(body)
        definition = find_control(control_identifier)
        if definition is None:
            raise ControlTowerError(
                "ResourceNotFoundException",
                f"The control {control_identifier} does not exist in the Control Catalog.",
            )
        self._target_ou(target_identifier)
        definition.validate(_parameter_map(parameters))
        _check_size(definition, parameters)
        if self._in_progress_on(target_identifier):
            raise ControlTowerError(
                "ConflictException",
                f"An operation is already in progress on {target_identifier}; retry when it ends.",
            )
        if self._find(control_identifier, target_identifier) is not None:
            raise ControlTowerError(
                "ValidationException",
                f"The control {control_identifier} is already enabled on {target_identifier}.",
            )
        self._check_quota()
        arn = (
            f"arn:aws:controltower:{self.home_region}:{self.management_account_id}:"
            f"enabledcontrol/{uuid.uuid4().hex[:16].upper()}"
        )
        control = EnabledControl(
            arn=arn,
            control_identifier=control_identifier,
            target_identifier=target_identifier,
            parameters=parameters,
            status="UNDER_CHANGE",
            last_operation="",
        )
        self.enabled[arn] = control
        operation = self._start(
            "ENABLE_CONTROL",
            control,
            fails=self._fails("enable-control"),
            new_parameters=parameters,
            previous_parameters=[],
        )
        return {"arn": arn, "operationIdentifier": operation.identifier}

    def update_enabled_control(self, body: JSON) -> JSON:
        arn = _required_string(body, "enabledControlIdentifier")
        parameters = _parameters(body, required=True)
        control = self._get(arn)
        definition = find_control(control.control_identifier)
        assert definition is not None
        definition.validate(_parameter_map(parameters))
        _check_size(definition, parameters)
        if self._in_progress_on(control.target_identifier):
            raise ControlTowerError(
                "ConflictException",
                f"An operation is already in progress on {control.target_identifier}; "
                "retry when it ends.",
            )
        if _parameter_map(parameters) == control.parameter_map() and control.status != "FAILED":
            raise ControlTowerError(
                "ValidationException",
                "The parameters are unchanged; an update must change at least one parameter.",
            )
        self._check_quota()
        operation = self._start(
            "UPDATE_ENABLED_CONTROL",
            control,
            fails=self._fails("update-enabled-control"),
            new_parameters=parameters,
            previous_parameters=control.parameters,
        )
        return {"operationIdentifier": operation.identifier}

    def disable_control(self, body: JSON) -> JSON:
        arn = body.get("enabledControlIdentifier")
        if arn is not None:
            if not isinstance(arn, str):
                raise ControlTowerError(
                    "ValidationException", "enabledControlIdentifier must be a string."
                )
            control = self._get(arn)
        else:
            control_identifier = _required_string(body, "controlIdentifier")
            target_identifier = _required_string(body, "targetIdentifier")
            self._target_ou(target_identifier)
            found = self._find(control_identifier, target_identifier)
            if found is None:
                raise ControlTowerError(
                    "ResourceNotFoundException",
                    f"The control {control_identifier} is not enabled on {target_identifier}.",
                )
            control = found
        if self._in_progress_on(control.target_identifier):
            raise ControlTowerError(
                "ConflictException",
                f"An operation is already in progress on {control.target_identifier}; "
                "retry when it ends.",
            )
        self._check_quota()
        operation = self._start(
            "DISABLE_CONTROL",
            control,
            fails=self._fails("disable-control"),
            new_parameters=control.parameters,
            previous_parameters=control.parameters,
        )
        return {"operationIdentifier": operation.identifier}

    def get_control_operation(self, body: JSON) -> JSON:
        identifier = _required_string(body, "operationIdentifier")
        operation = self.operations.get(identifier)
        if operation is None:
            raise ControlTowerError(
                "ResourceNotFoundException", f"The operation {identifier} does not exist."
            )
        now = self.clock()
        operation.polls.append(now)
        if operation.status != "IN_PROGRESS" and operation.observed is None:
            operation.observed = now
        return {"controlOperation": operation.describe()}

    def get_enabled_control(self, body: JSON) -> JSON:
        control = self._get(_required_string(body, "enabledControlIdentifier"))
        return {
            "enabledControlDetails": {
                **self._summary(control),
                "targetRegions": [{"name": self.home_region}],
                "parameters": [dict(p) for p in control.parameters],
            }
        }

    def list_enabled_controls(self, body: JSON) -> JSON:
        target_identifier = body.get("targetIdentifier")
        if target_identifier is not None:
            if not isinstance(target_identifier, str):
                raise ControlTowerError("ValidationException", "targetIdentifier must be a string.")
            self._target_ou(target_identifier)
        controls = [
            c for c in self.enabled.values() if target_identifier in (None, c.target_identifier)
        ]
        page, token = _page(body, sorted(controls, key=lambda c: c.arn))
        out: JSON = {"enabledControls": [self._summary(c) for c in page]}
        if token:
            out["nextToken"] = token
        return out

    # ---------------------------------------------------- landing zone, baselines

    @property
    def landing_zone_arn(self) -> str:
        return (
            f"arn:aws:controltower:{self.home_region}:{self.management_account_id}:"
            f"landingzone/{_stable_id(self.management_account_id)}"
        )

    @property
    def baseline_arn(self) -> str:
        return f"arn:aws:controltower:{self.home_region}::baseline/{BASELINE_ID}"

    def list_landing_zones(self, body: JSON) -> JSON:
        return {"landingZones": [{"arn": self.landing_zone_arn}]}

    def get_landing_zone(self, body: JSON) -> JSON:
        identifier = _required_string(body, "landingZoneIdentifier")
        if identifier != self.landing_zone_arn:
            raise ControlTowerError(
                "ResourceNotFoundException", f"The landing zone {identifier} does not exist."
            )
        lz = self.landing_zone
        return {
            "landingZone": {
                "arn": self.landing_zone_arn,
                "version": lz.version,
                "latestAvailableVersion": lz.version,
                "status": "ACTIVE",
                "driftStatus": {"status": lz.drift_status},
                "manifest": {
                    "governedRegions": list(lz.governed_regions),
                    "organizationStructure": {"security": {"name": lz.security_ou}},
                    "accessManagement": {"enabled": True},
                },
            }
        }

    def list_baselines(self, body: JSON) -> JSON:
        return {
            "baselines": [
                {
                    "arn": self.baseline_arn,
                    "name": BASELINE_NAME,
                    "description": "Sets up resources and mandatory controls for member "
                    "accounts within the target OU, required for AWS Control Tower governance.",
                }
            ]
        }

    def list_enabled_baselines(self, body: JSON) -> JSON:
        raw_filter = body.get("filter") or {}
        if not isinstance(raw_filter, dict):
            raise ControlTowerError("ValidationException", "filter must be an object.")
        targets = raw_filter.get("targetIdentifiers")
        baselines = raw_filter.get("baselineIdentifiers")
        org = self.organizations.org
        items: list[JSON] = []
        for ou in sorted(self.organizations.ou, key=lambda o: str(o.id)):
            if ou.type != "ORGANIZATIONAL_UNIT" or org is None or not self.is_registered(ou.id):
                continue
            arn = f"arn:aws:organizations::{self.management_account_id}:ou/{org.id}/{ou.id}"
            if targets is not None and arn not in targets:
                continue
            if baselines is not None and self.baseline_arn not in baselines:
                continue
            items.append(
                {
                    "arn": (
                        f"arn:aws:controltower:{self.home_region}:{self.management_account_id}:"
                        f"enabledbaseline/{_stable_id(ou.id)}"
                    ),
                    "baselineIdentifier": self.baseline_arn,
                    "baselineVersion": BASELINE_VERSION,
                    "targetIdentifier": arn,
                    "statusSummary": {"status": "SUCCEEDED"},
                }
            )
        page, token = _page(body, items)
        out: JSON = {"enabledBaselines": page}
        if token:
            out["nextToken"] = token
        return out

    def list_control_operations(self, body: JSON) -> JSON:
        operations = sorted(self.operations.values(), key=lambda o: (o.start, o.identifier))
        page, token = _page(body, operations)
        out: JSON = {
            "controlOperations": [
                {k: v for k, v in o.describe().items() if k != "statusMessage"} for o in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    HANDLERS: ClassVar[dict[str, Callable[[ControlTower, JSON], JSON]]] = {
        "enable-control": enable_control,
        "update-enabled-control": update_enabled_control,
        "disable-control": disable_control,
        "get-control-operation": get_control_operation,
        "get-enabled-control": get_enabled_control,
        "list-enabled-controls": list_enabled_controls,
        "list-control-operations": list_control_operations,
        "list-landingzones": list_landing_zones,
        "get-landingzone": get_landing_zone,
        "list-baselines": list_baselines,
        "list-enabled-baselines": list_enabled_baselines,
    }

    # ----------------------------------------------------------------- helpers

    def _find(self, control_identifier: str, target_identifier: str) -> EnabledControl | None:
        return next(
            (
                c
                for c in self.enabled.values()
                if c.control_identifier == control_identifier
                and c.target_identifier == target_identifier
            ),
            None,
        )

    def _get(self, arn: str) -> EnabledControl:
        if not ENABLED_CONTROL_ARN_PATTERN.match(arn):
            raise ControlTowerError(
                "ValidationException",
                f"enabledControlIdentifier {arn!r} is not an enabled-control ARN.",
            )
        control = self.enabled.get(arn)
        if control is None:
            raise ControlTowerError(
                "ResourceNotFoundException", f"The enabled control {arn} does not exist."
            )
        return control

    def _summary(self, control: EnabledControl) -> JSON:
        return {
            "arn": control.arn,
            "controlIdentifier": control.control_identifier,
            "targetIdentifier": control.target_identifier,
            "statusSummary": {
                "status": control.status,
                "lastOperationIdentifier": control.last_operation,
            },
            "driftStatusSummary": {"driftStatus": self.drift_status(control)},
        }

    def operation_timings(self) -> list[JSON]:
        """Each control operation's real times: start, due, end, polls, first final answer."""
        return [
            {
                "operationIdentifier": o.identifier,
                "operationType": o.operation_type,
                "targetIdentifier": o.target_identifier,
                "status": o.status,
                "start": o.start,
                "due": o.due,
                "end": o.end,
                "polls": list(o.polls),
                "observed": o.observed,
            }
            for o in sorted(self.operations.values(), key=lambda o: (o.start, o.identifier))
        ]

    def guardrail_policy_ids(self) -> dict[str, str]:
        """Enabled-control ARN to the id of its aws-guardrails-* SCP."""
        return {arn: c.policy_id for arn, c in self.enabled.items() if c.policy_id}


def _required_string(body: JSON, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ControlTowerError("ValidationException", f"{name} is required and must be a string.")
    return value


def _parameters(body: JSON, *, required: bool) -> list[JSON]:
    raw = body.get("parameters")
    if raw is None:
        if required:
            raise ControlTowerError("ValidationException", "parameters is required.")
        return []
    if not isinstance(raw, list):
        raise ControlTowerError("ValidationException", "parameters must be a list.")
    seen: set[str] = set()
    out: list[JSON] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise ControlTowerError(
                "ValidationException", "Each parameter must be an object with key and value."
            )
        key = item["key"]
        if not isinstance(key, str) or not key:
            raise ControlTowerError("ValidationException", "A parameter key must be a string.")
        if key in seen:
            raise ControlTowerError("ValidationException", f"Parameter {key} is given twice.")
        seen.add(key)
        # Values are kept as the JSON values received and returned unchanged.
        out.append({"key": key, "value": json.loads(json.dumps(item["value"]))})
    return out


def _parameter_map(parameters: list[JSON]) -> dict[str, Any]:
    return {p["key"]: p["value"] for p in parameters}


def _tags(body: JSON) -> None:
    tags = body.get("tags")
    if tags is not None and (
        not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())
    ):
        raise ControlTowerError("ValidationException", "tags must map strings to strings.")


def _check_size(definition: ControlDefinition, parameters: list[JSON]) -> None:
    content = definition.render(_parameter_map(parameters))
    if len(content) > SCP_SIZE_LIMIT:
        raise ControlTowerError(
            "ValidationException",
            f"The control's SCP would be {len(content)} characters; AWS Organizations "
            f"allows {SCP_SIZE_LIMIT}. Shorten ExemptedActions or ExemptedPrincipalArns.",
        )


def _page(body: JSON, items: list[Any]) -> tuple[list[Any], str | None]:
    max_results = body.get("maxResults", 100)
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= 200
    ):
        raise ControlTowerError("ValidationException", "maxResults must be between 1 and 200.")
    token = body.get("nextToken")
    start = 0
    if token is not None:
        try:
            start = int(str(token), 16)
        except ValueError:
            raise ControlTowerError("ValidationException", "nextToken is not valid.") from None
    end = start + max_results
    return items[start:end], (f"{end:x}" if end < len(items) else None)
