"""An independent SCP evaluator to test ours against: principalmapper's local policy simulator.

principalmapper (PyPI ``principalmapper``, NCC Group) simulates IAM
authorization locally, SCPs included: it takes the SCPs as one group per level
of the organization path and requires an Allow in every group, with an
explicit Deny anywhere winning. It is a development dependency (the ``dev``
extra), used only by the differential tests, the benchmark and the tests of
the IAM policies in ``iam/`` (:func:`role_allows`, :func:`trust_allows`).

principalmapper 1.1.5, the last release, imports ``Mapping`` and
``MutableMapping`` from ``collections``, which Python 3.10 removed
(nccgroup/PMapper#131; fixed upstream, not released). :func:`load` puts the
two names back from ``collections.abc`` before importing it; nothing else of
principalmapper is changed.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from regionguard.errors import InputError
from regionguard.evaluator import OrgTree, Request

_IAM_ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class _Modules:
    query: ModuleType
    nodes: ModuleType
    policies: ModuleType
    simulation: ModuleType


_loaded: _Modules | None = None


def load() -> _Modules:
    """Import principalmapper (with the collections names it expects); exit 2 if it is missing."""
    global _loaded
    if _loaded is None:
        for name in ("Mapping", "MutableMapping"):
            if not hasattr(collections, name):
                setattr(collections, name, getattr(collections.abc, name))
        try:
            _loaded = _Modules(
                importlib.import_module("principalmapper.querying.query_interface"),
                importlib.import_module("principalmapper.common.nodes"),
                importlib.import_module("principalmapper.common.policies"),
                importlib.import_module("principalmapper.querying.local_policy_simulation"),
            )
        except ImportError as exc:
            raise InputError(
                "principalmapper is not installed; install the development extra: "
                "pip install -e '.[dev]'"
            ) from exc
    return _loaded


class Oracle:
    """principalmapper's verdict on requests against an organization tree."""

    def __init__(self, org: OrgTree) -> None:
        self.org = org
        self.mods = load()
        self._groups: dict[str, list[list[Any]]] = {}
        self._iam_policy = self.mods.policies.Policy(
            "arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess", _IAM_ALLOW_ALL
        )
        for account in org.accounts:
            self._groups[account.account_id] = [
                [
                    self.mods.policies.Policy(
                        f"arn:aws:organizations::{account.account_id}:policy/{p.name}",
                        p.name,
                        json.loads(p.document),
                    )
                    for p in level.policies
                ]
                for level in account.levels
            ]

    def allows(self, request: Request) -> bool:
        context: dict[str, Any] = {
            "aws:RequestedRegion": request.region,
            "aws:PrincipalAccount": request.account_id,
            "aws:PrincipalArn": request.caller_arn,
        }
        if request.inference_profile_arn is not None:
            context["bedrock:InferenceProfileArn"] = request.inference_profile_arn
        for key, values in request.context:
            context[key] = list(values)
        return self.allows_context(request.account_id, request.action, request.resource, context)

    def allows_context(
        self, account_id: str, action: str, resource: str, context: dict[str, Any]
    ) -> bool:
        """principalmapper's verdict on one authorization with a request context given whole.

        The principal is ``context["aws:PrincipalArn"]``.
        """
        is_management = account_id == self.org.management_account_id
        groups = None if is_management else self._groups[account_id]
        arn = str(context["aws:PrincipalArn"])
        node = _node(self.mods, arn, [self._iam_policy])
        result: bool = self.mods.query.local_check_authorization_full(
            node,
            action,
            resource,
            context,
            service_control_policy_groups=groups,
        )
        return result


def _node(mods: _Modules, arn: str, policies: list[Any]) -> Any:
    """A principalmapper principal: a role (with an empty trust policy) or a user."""
    return mods.nodes.Node(
        arn,
        "AROAEXAMPLE",
        policies,
        None,
        {"Version": "2012-10-17", "Statement": []} if ":role/" in arn else None,
        None,
        0,
        False,
        True,
        None,
        False,
        None,
    )


def role_allows(
    documents: Sequence[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, Any],
    *,
    role_arn: str = "arn:aws:iam::111111111111:role/regionguard",
) -> bool:
    """principalmapper's verdict on a request of a role with the permission policies ``documents``.

    One resource per call, as IAM authorizes an action on each resource of
    the request on its own (AttachPolicy: the policy, then the target), with
    that resource's ``aws:ResourceTag/...`` keys in ``context``. No SCP
    applies: the roles of ``iam/`` live in the management account.
    """
    mods = load()
    policies = [
        mods.policies.Policy(f"{role_arn}/policy/{i}", f"policy-{i}", dict(doc))
        for i, doc in enumerate(documents)
    ]
    node = _node(mods, role_arn, policies)
    result: bool = mods.query.local_check_authorization_full(node, action, resource, dict(context))
    return result


def _principal_matches(statement: Mapping[str, Any], kind: str, principal: str) -> bool:
    """The ``Principal`` element names ``principal`` of ``kind`` (AWS, Federated, Service)."""
    element = statement.get("Principal")
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    named = element.get(kind)
    names = [named] if isinstance(named, str) else list(named or [])
    return principal in names or "*" in names


def trust_allows(
    trust: Mapping[str, Any],
    kind: str,
    principal: str,
    action: str,
    context: Mapping[str, Any],
) -> bool:
    """Whether a role's trust policy lets ``principal`` (of ``kind``) call ``action``.

    principalmapper matches actions and evaluates the conditions (the OIDC
    claims ``token.actions.githubusercontent.com:sub`` and ``:aud`` are
    condition keys like any other) but reads only ``AWS`` and ``Service``
    principals; the ``Federated`` principal of a web identity is matched
    here, by exact ARN. An explicit Deny wins, then an Allow is needed.
    """
    mods = load()
    keys = mods.simulation.CaseInsensitiveDict(dict(context))
    mine = [s for s in trust["Statement"] if _principal_matches(s, kind, principal)]
    document = {"Version": "2012-10-17", "Statement": mine}
    if mods.simulation.policy_has_matching_statement(document, "Deny", action, "*", keys):
        return False
    allowed: bool = mods.simulation.policy_has_matching_statement(
        document, "Allow", action, "*", keys
    )
    return allowed
