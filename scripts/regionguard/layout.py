"""How the permitted accounts are spread over SCPs: the rule of the bedrock-inference-scp module.

``modules/bedrock-inference-scp/main.tf`` (locals ``layout``,
``first_tier_groups``, ``second_tier_groups``, ``descend_ou_ids``) decides in
Terraform, on the account placement it reads from AWS Organizations;
:func:`compute_layout` is the same rule in Python, for ``validate`` (on the
registry's ``ou``) and the review. ``tests/test_layout_terraform.py`` binds
the two on the same inputs.

- ``single``: one SCP, named ``scp_name``, listing every permitted account,
  attached to every target.
- ``per_ou``: each target carries an SCP named ``<scp_name>-<target>`` that
  lists the permitted accounts placed under it. A target whose own list does
  not fit the size limit is *descended*: its SCP lists the permitted accounts
  directly under it and spares, by ``aws:PrincipalOrgPaths``, the accounts
  of each child OU, and each child OU carries an SCP named
  ``<scp_name>-<child>`` listing its own permitted accounts.
- ``auto``: ``single`` while that SCP fits the size limit, else ``per_ou``.

An account AWS Organizations places under no target is in no per-OU list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from regionguard.render import render_scp
from regionguard.settings import Settings
from regionguard.words import count

__all__ = ["SINGLE_KEY", "Descended", "Layout", "ScpGroup", "compute_layout", "layout_reason"]

SINGLE_KEY = "single"


@dataclass(frozen=True)
class Descended:
    """A descended target: the accounts directly under it, and under each child OU."""

    direct_account_ids: tuple[str, ...]
    children: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ScpGroup:
    """One SCP of the layout: ``key`` is ``single`` or the OU it is attached to."""

    key: str
    name: str
    account_ids: tuple[str, ...]
    spared_org_paths: tuple[str, ...]
    content: str
    second_tier: bool = False


@dataclass(frozen=True)
class Layout:
    kind: str
    reason: str
    groups: tuple[ScpGroup, ...]
    descended: tuple[str, ...]

    def group(self, key: str) -> ScpGroup | None:
        return next((g for g in self.groups if g.key == key), None)

    def target_group(self, target: str) -> ScpGroup:
        """The SCP attached to a target (first-tier OU)."""
        found = self.group(SINGLE_KEY if self.kind == "single" else target)
        assert found is not None
        return found


def layout_reason(setting: str, kind: str, single_size: int, permitted: int, limit: int) -> str:
    """Why the layout is in use: the words of the module's ``layout_reason`` output."""
    if setting != "auto":
        return f'scp_layout is "{setting}"'
    if kind == "single":
        return (
            f"auto: the single SCP ({single_size} characters, "
            f"{count(permitted, 'permitted account')}) fits the {limit}-character limit"
        )
    return (
        f"auto: the single SCP would be {single_size} characters for "
        f"{count(permitted, 'permitted account')}, over the {limit}-character limit"
    )


def compute_layout(
    settings: Settings,
    permitted_ids: Sequence[str],
    targets: Sequence[str],
    ou_account_ids: Mapping[str, Sequence[str]],
    descended: Mapping[str, Descended] | None = None,
    org_path_prefix: str = "",
) -> Layout:
    """The SCPs the module creates for these inputs (its variables of the same names).

    ``descended`` answers the ``descend_ou_ids`` of a first call, as Terraform's
    data sources do; targets that need descending but are missing from it
    keep their whole (oversize) list.
    """
    permitted = tuple(permitted_ids)
    limit = settings.scp_size_limit
    single = render_scp(settings, permitted)
    setting = settings.scp_layout
    kind = ("single" if len(single) <= limit else "per_ou") if setting == "auto" else setting
    reason = layout_reason(setting, kind, len(single), len(permitted), limit)
    if kind == "single":
        group = ScpGroup(SINGLE_KEY, settings.scp_name, permitted, (), single)
        return Layout(kind, reason, (group,), ())
    down = descended or {}
    groups: list[ScpGroup] = []
    must_descend: list[str] = []
    for target in targets:
        under = set(ou_account_ids.get(target, ()))
        ids = tuple(i for i in permitted if i in under)
        if len(render_scp(settings, ids)) > limit:
            must_descend.append(target)
        name = f"{settings.scp_name}-{target}"
        if target in down:
            direct = set(down[target].direct_account_ids)
            direct_ids = tuple(i for i in permitted if i in direct)
            paths = tuple(f"{org_path_prefix}{target}/{c}/*" for c in sorted(down[target].children))
            groups.append(
                ScpGroup(target, name, direct_ids, paths, render_scp(settings, direct_ids, paths))
            )
        else:
            groups.append(ScpGroup(target, name, ids, (), render_scp(settings, ids)))
    for target, d in down.items():
        if target not in targets:
            continue
        for child, accounts in d.children.items():
            inside = set(accounts)
            ids = tuple(i for i in permitted if i in inside)
            groups.append(
                ScpGroup(
                    child,
                    f"{settings.scp_name}-{child}",
                    ids,
                    (),
                    render_scp(settings, ids),
                    second_tier=True,
                )
            )
    return Layout(kind, reason, tuple(groups), tuple(sorted(must_descend)))
