"""The inputs stage: an environment's files checked before anything runs, and the plan's view.

Every command that plans, applies or checks an environment starts here:

- :func:`check_backend` and :func:`check_management_account_id`: what
  ``terraform init`` and the provider need of an environment whose state is
  in S3 (staging, prod), refused with the fix before Terraform runs;
- :func:`check_inputs`: the settings usable, the backend configured, no
  sample management account, one source of every guarded variable, and the
  committed ``accounts.auto.tfvars.json`` what the registry generates;
- :func:`as_planned`: the environment as a plan sees it. A permit that has
  expired is never planned: when the committed file differs from what the
  registry generates today only by permits that have expired since, the
  plan leaves those accounts out (``-var``, :func:`permits_variable`) and
  the review warns (docs/decisions.md, Permit expiry).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path

from regionguard.deployment import UnknownOuIds, known_first_tier, select_targets
from regionguard.environment import TFVARS_KEY, CommittedTfvars, Environment, render_tfvars
from regionguard.errors import FindingsError, InputError
from regionguard.hclfile import HclError, loads
from regionguard.inputfile import read_small_text
from regionguard.registry import REGISTRY_FILE
from regionguard.repo import relative_to_cwd
from regionguard.settings import Settings, load_settings

__all__ = [
    "BACKEND_EXAMPLE",
    "BACKEND_FILE",
    "PLACEHOLDER_ACCOUNT_IDS",
    "as_planned",
    "backend_changed",
    "backend_config",
    "check_backend",
    "check_inputs",
    "check_management_account_id",
    "check_targets",
    "expired_in_committed",
    "expiry_warning",
    "is_placeholder_account_id",
    "permits_variable",
]

BACKEND_FILE = "backend.hcl"
BACKEND_EXAMPLE = "backend.hcl.example"
# Account ids that documentation and samples use, never a real organization's.
PLACEHOLDER_ACCOUNT_IDS = frozenset({"123456789012", "012345678901", "210987654321"})


def check_backend(env_dir: Path) -> None:
    """Refuse an environment with an S3 backend but no usable backend.hcl (InputError, exit 2).

    An environment whose folder holds ``backend.hcl.example`` keeps its state
    in S3 and needs ``backend.hcl`` beside it: without it, ``terraform init``
    fails with "bucket is required" and no word about the example.
    """
    example = env_dir / BACKEND_EXAMPLE
    backend = env_dir / BACKEND_FILE
    if not example.is_file():
        return
    where = relative_to_cwd(backend)
    if not os.path.lexists(backend):
        raise InputError(
            f"{where}: missing; this environment keeps its state in S3. Copy "
            f"{relative_to_cwd(example)} to {where}, set bucket and region to your state "
            "bucket (docs/adopt.md, Backend), then run the command again"
        )
    if read_small_text(backend).strip() == read_small_text(example).strip():
        raise InputError(
            f"{where}: still the example of {BACKEND_EXAMPLE} (bucket "
            "example-org-terraform-state); set bucket and region to your state bucket"
        )


def backend_config(env_dir: Path) -> str | None:
    """``backend.hcl`` where the environment's backend needs one; InputError when it is missing."""
    check_backend(env_dir)
    return BACKEND_FILE if (env_dir / BACKEND_FILE).is_file() else None


def backend_changed(env_dir: Path) -> list[str]:
    """The settings of ``backend.hcl`` that the backend ``terraform init`` last set up lacks.

    Terraform reads ``-backend-config`` only at init and keeps what it got in
    ``.terraform/terraform.tfstate``; later commands use that, whatever
    ``backend.hcl`` says now (measured with Terraform 1.11.4: a changed
    ``path`` of a local backend went unnoticed by plan and apply). Empty: the
    same, or nothing to compare (no ``backend.hcl``, or no init yet).
    """
    given_path = env_dir / BACKEND_FILE
    cache = env_dir / ".terraform" / "terraform.tfstate"
    if not given_path.is_file() or not cache.is_file():
        return []
    try:
        given = loads(read_small_text(given_path))
    except (HclError, InputError) as exc:
        return [f"{BACKEND_FILE} cannot be read ({exc})"]
    try:
        cached = json.loads(read_small_text(cache))
        config = cached["backend"]["config"]
    except (ValueError, InputError, KeyError, TypeError):
        return ["the backend Terraform recorded at init cannot be read"]
    if not isinstance(config, dict):
        return ["the backend Terraform recorded at init cannot be read"]
    return sorted(key for key, value in given.items() if not _same(value, config.get(key)))


def _same(given: object, cached: object) -> bool:
    """Whether a value of backend.hcl is what Terraform recorded (which lists every setting)."""
    if isinstance(given, dict):
        return isinstance(cached, dict) and all(_same(v, cached.get(k)) for k, v in given.items())
    if isinstance(given, list):
        return (
            isinstance(cached, list)
            and len(given) == len(cached)
            and all(_same(g, c) for g, c in zip(given, cached, strict=True))
        )
    return given == cached


def is_placeholder_account_id(account_id: str) -> bool:
    """True for the ids samples use: all one digit (111111111111), or a known sample id."""
    return len(set(account_id)) == 1 or account_id in PLACEHOLDER_ACCOUNT_IDS


def check_management_account_id(env_dir: Path, settings: Settings | None = None) -> None:
    """Refuse a placeholder management_account_id (InputError, exit 2).

    Applies to environments that declare ``management_account_id`` (staging,
    prod): the provider refuses every real credential while it is a sample id.
    """
    settings = settings if settings is not None else load_settings(env_dir)
    value = settings.extra.get("management_account_id")
    if not isinstance(value, str) or not is_placeholder_account_id(value):
        return
    raise InputError(
        f"{relative_to_cwd(settings.path or env_dir / 'terraform.tfvars')}: "
        f"management_account_id {value!r} is a placeholder; set it to the id of your "
        "organization's management account (aws sts get-caller-identity --query Account, "
        "with the management account's credentials), and replace the sample accounts of "
        f"{relative_to_cwd(env_dir / 'accounts.yaml')} with your own"
    )


def expired_in_committed(env: Environment) -> tuple[str, ...]:
    """Accounts the committed tfvars still permits though their permit has expired.

    Empty unless that is the *only* difference between the committed file and
    what the registry generates today: any other difference is a stale file.
    """
    committed = env.committed
    if committed.ids is None or committed.text != render_tfvars(committed.ids):
        return ()
    expired = {account.id for _, account in env.generated.expired}
    lingering = tuple(sorted(set(committed.ids) & expired))
    rest = [i for i in committed.ids if i not in expired]
    if lingering and render_tfvars(rest) == env.generated.content:
        return lingering
    return ()


def expiry_warning(env: Environment, lingering: Sequence[str]) -> str:
    """What the review says of permits the plan leaves out because they expired."""
    names = env.account_names
    accounts = ", ".join(f"{i} ({names.get(i, '?')})" for i in lingering)
    return (
        f"{env.tfvars_path} still permits {accounts}, whose permit has expired "
        f"({env.registry_path}); this plan leaves them out, as `make tfvars ENV={env.name}` "
        "would, so applying it removes the expired permit. Commit the regenerated file (the "
        "scheduled workflow opens that pull request)"
    )


def check_targets(env: Environment) -> None:
    """Refuse target settings that leave every known first-tier OU without the Region deny.

    The first-tier OUs known here are the sandbox's and the first segments of
    the registry's ``ou`` (:func:`regionguard.deployment.known_first_tier`);
    selectors naming OU ids are left to the plan, which reads the organization.
    """
    settings = env.settings
    if not (settings.target_ou_include or settings.target_ou_exclude):
        return
    ous = known_first_tier(env)
    if not ous:
        return
    try:
        selection = select_targets(
            ous, settings.target_ou_include, settings.target_ou_exclude, env.unregistered_ous
        )
    except UnknownOuIds:
        return
    if selection.targets:
        return
    names = ", ".join(ou.name or "?" for ou in ous)
    source = "sandbox.yaml and the ou of " if env.has_sandbox else "the ou of "
    raise InputError(
        f"{settings.file}: target_ou_include/target_ou_exclude leave no first-tier OU with "
        f"the Region deny: every first-tier OU known here ({names}, from {source}"
        f"{REGISTRY_FILE}) is excluded or not included, so no OU would carry the control "
        "nor the SCP; exclude only the OUs that must go without them"
    )


def check_inputs(env: Environment) -> None:
    """Everything a plan needs of the environment's files; exit 2 or 1 with the fix.

    Settings usable, backend configured, no sample management account (exit
    2); permitted accounts from the registry only, through the committed
    generated file (a second source: exit 2; a stale file: exit 1, unless
    expiry alone made it stale).
    """
    settings = env.settings  # parsed and checked: exit 2 when unusable
    check_targets(env)
    check_backend(env.dir)
    check_management_account_id(env.dir, settings)
    env.check_single_source()
    if env.stale and not expired_in_committed(env):
        raise FindingsError(
            f"{env.tfvars_path} is not what {env.registry_path} generates today; {env.tfvars_fix}"
        )


class _PlannedEnvironment(Environment):
    """The environment as a plan that leaves out expired permits sees it.

    Its committed tfvars are what the registry generates today, the value the
    plan passes to Terraform with ``-var``: validate, the review and the facts
    then judge what the plan deploys, not the stale file.
    """

    @functools.cached_property
    def committed(self) -> CommittedTfvars:
        generated = self.generated
        return CommittedTfvars(self.tfvars_path, generated.content, generated.permitted_ids)


def permits_variable(env: Environment, lingering: Sequence[str]) -> dict[str, str] | None:
    """``-var`` of the permitted accounts where expired permits linger, else None.

    What the registry generates today, so that an expired permit is never
    planned; without lingering permits Terraform reads the committed file.
    """
    if not lingering:
        return None
    return {TFVARS_KEY: json.dumps(list(env.generated.permitted_ids))}


def as_planned(env: Environment) -> tuple[Environment, tuple[str, ...]]:
    """``env`` as the plan sees it, and the expired permits it leaves out (see the module doc)."""
    lingering = expired_in_committed(env)
    if not lingering:
        return env, ()
    return _PlannedEnvironment(env.dir, env.today), lingering
