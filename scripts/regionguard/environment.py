"""One environment, read once: its files, settings, registry and permitted accounts.

Every command that works on an environment works on an :class:`Environment`.
Each part is parsed the first time it is asked for and kept, so a command
that needs only the registry never parses ``terraform.tfvars``, and over the
stages of ``regionguard plan`` before Terraform an environment parses
``terraform.tfvars``, ``accounts.yaml`` and ``accounts.auto.tfvars.json``
once each. The local sandbox's settings (:mod:`regionguard.sandbox.settings`)
are read apart, with the registry they name.

What Terraform deploys is the *committed* ``accounts.auto.tfvars.json``
(:attr:`Environment.deployed_ids`); what the registry generates today is
:attr:`Environment.generated`. The two differ only when someone edited the
registry without regenerating (``validate`` reports it; ``plan`` refuses it).

Terraform also reads any other ``*.auto.tfvars``/``*.auto.tfvars.json``,
``terraform.tfvars.json``, ``TF_VAR_*`` and ``TF_CLI_ARGS*`` variable, and
override files. Such a channel could permit accounts the registry does not
name, unseen by every check; :meth:`Environment.check_single_source` shuts
them all (:mod:`regionguard.door`).
"""

from __future__ import annotations

import datetime
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import inputfile
from regionguard.door import door_problems
from regionguard.errors import InputError
from regionguard.registry import REGISTRY_FILE, Account, Registry, load_registry
from regionguard.repo import command
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.settings import (
    GENERATED_TFVARS,
    GUARDED_VARIABLES,
    SETTINGS_FILE,
    TFVARS_KEY,
    UNREGISTERED_TFVARS,
    Settings,
    check_settings,
    declared_variables,
    load_settings,
)

__all__ = [
    "EXPECTATIONS_FILE",
    "GUARDED_VARIABLES",
    "SANDBOX_FILE",
    "TFVARS_KEY",
    "UNREGISTERED_TFVARS",
    "CommittedTfvars",
    "Environment",
    "Generated",
    "render_tfvars",
]

EXPECTATIONS_FILE = "expectations.yaml"
SANDBOX_FILE = "sandbox.yaml"


def render_tfvars(permitted_ids: tuple[str, ...] | list[str]) -> str:
    """The bytes of accounts.auto.tfvars.json for these ids (sorted and made unique here)."""
    ids = sorted(set(permitted_ids))
    return json.dumps({TFVARS_KEY: ids}, indent=2) + "\n"


@dataclass(frozen=True)
class Generated:
    """What the registry generates on one day, with the notices that go with it."""

    content: str
    permitted_ids: tuple[str, ...]
    expired: tuple[tuple[int, Account], ...]
    expiring: tuple[tuple[int, Account], ...]

    def warnings(self, registry_path: Path, today: datetime.date) -> tuple[str, ...]:
        out = []
        for index, account in self.expired:
            out.append(
                f"{registry_path}: accounts[{index}] ({account.name}): permit expired "
                f"on {account.expires}; left out of {GENERATED_TFVARS}. Remove the entry, set "
                "bedrock_cross_region_inference: false, or renew expires"
            )
        for index, account in self.expiring:
            assert account.expires is not None
            days = (account.expires - today).days
            when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
            out.append(
                f"{registry_path}: accounts[{index}] ({account.name}): permit ends "
                f"{when} ({account.expires}); renew expires if it must go on"
            )
        return tuple(out)


@dataclass(frozen=True)
class CommittedTfvars:
    """The committed accounts.auto.tfvars.json: its text and its ids, as far as they can be read.

    ``text`` is None when the file is missing or not UTF-8; ``ids`` is None
    when it is not the generated shape (one key holding a list of strings).
    """

    path: Path
    text: str | None
    ids: tuple[str, ...] | None

    @classmethod
    def read(cls, path: Path) -> CommittedTfvars:
        """The file as far as it can be read; InputError when it is not a file of the repository.

        A missing file, or bytes that are not UTF-8, read as ``text`` None (a
        stale file for validate); a folder, a pipe, a device or a link out of
        the repository is refused (:mod:`regionguard.inputfile`).
        """
        if not os.path.lexists(path):
            return cls(path, None, None)
        raw = inputfile.read_bytes(path, inputfile.GENERATED_TFVARS, missing="no such file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return cls(path, None, None)
        try:
            data: Any = json.loads(text)
        except ValueError:
            return cls(path, text, None)
        ids = data.get(TFVARS_KEY) if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return cls(path, text, None)
        return cls(path, text, tuple(ids))


class Environment:
    """An environment folder (``envs/<name>``), each part read once on first use."""

    def __init__(self, env_dir: Path, today: datetime.date) -> None:
        self.dir = env_dir
        self.today = today

    def __repr__(self) -> str:
        return f"Environment({str(self.dir)!r}, today={self.today})"

    # ------------------------------------------------------------ files

    @property
    def name(self) -> str:
        return self.dir.resolve().name

    @property
    def tfvars_fix(self) -> str:
        """How to regenerate the committed accounts.auto.tfvars.json: every message's words.

        The make target where it can run (a folder of envs/), the command always.
        """
        run = f"`{command(f'tfvars --env-dir {self.dir}')}`"
        if self.dir.resolve().parent.name == "envs":
            run = f"`make tfvars ENV={self.name}` (or {run})"
        return f"run {run} and commit it: Terraform deploys the committed file"

    @property
    def unregistered_command(self) -> str:
        """The command that records the first-tier OUs not registered (UNREGISTERED_TFVARS)."""
        return command(f"preflight --env-dir {self.dir} --write-tfvars")

    @property
    def settings_path(self) -> Path:
        return self.dir / SETTINGS_FILE

    @property
    def registry_path(self) -> Path:
        return self.dir / REGISTRY_FILE

    @property
    def tfvars_path(self) -> Path:
        return self.dir / GENERATED_TFVARS

    @property
    def expectations_path(self) -> Path:
        return self.dir / EXPECTATIONS_FILE

    @property
    def has_sandbox(self) -> bool:
        """True when the folder has sandbox settings; InputError when that name is no file."""
        path = self.dir / SANDBOX_FILE
        if not os.path.lexists(path):
            return False
        inputfile.check_input(path, inputfile.SANDBOX_SETTINGS, missing="no such file")
        return True

    # ------------------------------------------------------------ parts

    @functools.cached_property
    def settings(self) -> Settings:
        """terraform.tfvars with the shared defaults, checked (exit 2 when unusable)."""
        settings = load_settings(self.dir)
        check_settings(settings)
        if settings.bedrock_permitted_account_ids is not None:
            raise InputError(
                f"{settings.file}: {TFVARS_KEY} is set here; permitted accounts come only from "
                f"{REGISTRY_FILE} through {GENERATED_TFVARS}: move them to the registry"
            )
        return settings

    @functools.cached_property
    def registry(self) -> Registry:
        return load_registry(self.registry_path)

    @functools.cached_property
    def generated(self) -> Generated:
        """What ``regionguard tfvars`` writes today."""
        registry = self.registry
        index = {a.id: i for i, a in enumerate(registry.accounts)}
        ids = registry.permitted_ids(self.today)
        return Generated(
            render_tfvars(ids),
            ids,
            tuple((index[a.id], a) for a in registry.expired(self.today)),
            tuple((index[a.id], a) for a in registry.expiring(self.today)),
        )

    @functools.cached_property
    def committed(self) -> CommittedTfvars:
        return CommittedTfvars.read(self.tfvars_path)

    @property
    def stale(self) -> bool:
        """True when the committed generated file is not what the registry generates today."""
        return self.committed.text != self.generated.content

    @property
    def deployed_ids(self) -> tuple[str, ...]:
        """The permitted accounts Terraform deploys: the committed file's ids.

        Raises InputError when the committed file is missing or not in shape.
        """
        ids = self.committed.ids
        if ids is None:
            state = "missing" if self.committed.text is None else "not a generated file"
            raise InputError(f"{self.tfvars_path}: {state}; {self.tfvars_fix}")
        return ids

    @property
    def account_names(self) -> Mapping[str, str]:
        return {a.id: a.name for a in self.registry.accounts}

    @functools.cached_property
    def unregistered_ous(self) -> dict[str, str]:
        """OU id -> name of the first-tier OUs recorded as not registered ({} when none)."""
        path = self.dir / UNREGISTERED_TFVARS
        if not os.path.lexists(path):
            return {}
        text = inputfile.read_text(
            path,
            inputfile.GENERATED_TFVARS,
            missing=f"no such file; regenerate it with `{self.unregistered_command}`",
        )
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(
                f"{path}: not a JSON file ({exc}); regenerate it with `{self.unregistered_command}`"
            ) from None
        value = data.get("unregistered_ous") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or set(data) != {"unregistered_ous"}
            or not isinstance(value, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise InputError(
                f"{path}: must hold only unregistered_ous, a map of OU ids to OU names; "
                f"regenerate it with `{self.unregistered_command}`"
            )
        return dict(value)

    @functools.cached_property
    def management_account_id(self) -> str | None:
        """The settings' management_account_id, else the sandbox's."""
        value = self.settings.extra.get("management_account_id")
        if isinstance(value, str):
            return value
        if self.has_sandbox:
            return load_sandbox_settings(self.dir).management_account_id
        return None

    def forget(self, *parts: str) -> None:
        """Read ``parts`` (names of the cached parts above) again on next use.

        For a stage that rewrote the file behind a part (the registration
        stage writes ``unregistered_ous.auto.tfvars.json``).
        """
        for part in parts:
            if not isinstance(getattr(type(self), part, None), functools.cached_property):
                raise ValueError(f"{part} is not a part of an Environment")
            vars(self).pop(part, None)

    # ------------------------------------------------------------ one source

    def check_single_source(self, environ: Mapping[str, str] | None = None) -> None:
        """Refuse every other way into Terraform than the files regionguard reads (exit 2).

        The one door (:mod:`regionguard.door`): no other variable file (file,
        folder or link) than ``terraform.tfvars`` and the two generated ones,
        no ``TF_VAR_*`` of a declared variable, no ``TF_CLI_ARGS*``, no override
        file in the root or a module it calls, no other workspace or data
        folder, no provider attached or overridden from outside the lock file, no
        lock file without checksums.
        """
        env = os.environ if environ is None else environ
        problems = door_problems(self.dir, env, declared_variables(self.dir))
        if not any(UNREGISTERED_TFVARS in p for p in problems):
            _ = self.unregistered_ous  # in shape, and nothing but unregistered_ous
        if problems:
            raise InputError("\n".join(problems))
