"""The one door into Terraform: nothing reaches it that the checks of regionguard did not read.

Terraform takes input and configuration from more places than the files
regionguard reads (Terraform's pages "Environment variables", "Input
variables: assigning values", "Override files", "CLI configuration file").
:func:`door_problems` lists every such channel that is open for an
environment folder, before any terraform command starts; the environment
refuses them all at once (exit 2). docs/plan-gate.md, "One door into
Terraform", has the table of channels, what each could do, how it is closed
and the test that tries it.

What passes the door: ``terraform.tfvars`` (the settings), the generated
``accounts.auto.tfvars.json`` and the recorded
``unregistered_ous.auto.tfvars.json``, as regular files of the repository;
``.tf`` files that are not override files, in the environment folder and in
every module folder it calls by a local path; ``TF_VAR_*`` only for variables
the configuration does not declare (Terraform ignores those); a CLI configuration that
only says where providers come from (``provider_installation`` with
``filesystem_mirror``, ``network_mirror`` or ``direct``), where they are
cached, and registry credentials; a ``.terraform.lock.hcl`` that pins each
provider with checksums.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import reprlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from regionguard import hclfile, inputfile
from regionguard.errors import InputError
from regionguard.registry import REGISTRY_FILE
from regionguard.repo import repo_root
from regionguard.settings import (
    GENERATED_TFVARS,
    GUARDED_VARIABLES,
    LOCK_FILE,
    SETTINGS_FILE,
    UNREGISTERED_TFVARS,
)

__all__ = ["ALLOWED_CLI_SETTINGS", "cli_config_files", "door_problems"]

# Top-level settings of a CLI configuration that cannot change what is planned.
ALLOWED_CLI_SETTINGS = frozenset(
    {
        "provider_installation",
        "plugin_cache_dir",
        "disable_checkpoint",
        "disable_checkpoint_signature",
        "credentials",
        "credentials_helper",
    }
)
# Installation methods that fetch the provider the lock file pins (checksums).
ALLOWED_INSTALLATION_METHODS = frozenset({"filesystem_mirror", "network_mirror", "direct"})

_CLI_SETTING_RISKS = {
    "host": "it redirects where Terraform discovers registries and providers",
    "providers": "it names provider binaries by path (a legacy setting)",
    "provisioners": "it names provisioner binaries by path (a legacy setting)",
    "plugin_cache_may_break_dependency_lock_file": (
        "it lets a cached provider be used without the checksums of .terraform.lock.hcl"
    ),
}

# Environment variables, each with why it is refused.
_REFUSED_VARIABLES = {
    "TF_DATA_DIR": (
        "it points Terraform at another data folder than the environment's .terraform, "
        "with other modules, providers and backend settings"
    ),
    "TF_REATTACH_PROVIDERS": (
        "it attaches Terraform to provider processes already running, in place of the "
        "providers .terraform.lock.hcl pins"
    ),
    "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": (
        "it lets a cached provider be used without the checksums of .terraform.lock.hcl"
    ),
}
# The values with which each of them does nothing, as Terraform reads them: the
# data folder and the reattached providers are taken from any value but the
# empty string ("0" and blanks included: a folder named so, a parse error), the
# plugin cache's lock-file exception from any value but "" and "0"
# (internal/command/cliconfig's envConfig).
_INERT_VALUES = {
    "TF_DATA_DIR": ("",),
    "TF_REATTACH_PROVIDERS": ("",),
    "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": ("", "0"),
}


def door_problems(env_dir: Path, environ: Mapping[str, str], declared: frozenset[str]) -> list[str]:
    """Every open channel into Terraform for ``env_dir``, one line each (empty: the door is shut).

    ``declared`` names the variables the root configuration declares.
    """
    problems = list(_environment_problems(environ, declared))
    problems += _variable_file_problems(env_dir)
    problems += _configuration_problems(env_dir)
    problems += _lock_file_problems(env_dir)
    problems += _workspace_problems(env_dir)
    problems += _module_manifest_problems(env_dir)
    problems += _cli_config_problems(environ, env_dir)
    return problems


# ---------------------------------------------------------------- environment


def _environment_problems(environ: Mapping[str, str], declared: frozenset[str]) -> Iterator[str]:
    variables = declared | GUARDED_VARIABLES
    for key in sorted(environ):
        value = environ[key]
        if key == "TF_CLI_ARGS" or key.startswith("TF_CLI_ARGS_"):
            if value.strip():
                command = key[len("TF_CLI_ARGS_") :] if key != "TF_CLI_ARGS" else "every"
                yield (
                    f"environment variable {key}: Terraform adds its arguments to {command} "
                    "terraform command, where they can set variables (-var, -var-file), "
                    "narrow the plan (-target) or skip the refresh (-refresh=false) unseen "
                    "by every check; unset it (regionguard passes every argument Terraform needs)"
                )
        elif key.startswith("TF_VAR_") and key[len("TF_VAR_") :] in variables:
            yield (
                f"environment variable {key}: Terraform would use it instead of "
                f"{SETTINGS_FILE} or {REGISTRY_FILE}; unset it"
            )
        elif key == "TF_WORKSPACE" and value not in ("", "default"):
            yield (
                f"environment variable {key}: it selects another state than the "
                "environment's (each environment folder is one state, in the default "
                "workspace); unset it"
            )
        elif key in _REFUSED_VARIABLES and value not in _INERT_VALUES[key]:
            yield f"environment variable {key}: {_REFUSED_VARIABLES[key]}; unset it"


# ---------------------------------------------------------------- variable files


def _is_variable_file(name: str) -> bool:
    """Names Terraform loads variable values from, unasked (Input variables page)."""
    return (
        name in ("terraform.tfvars", "terraform.tfvars.json")
        or name.endswith(".auto.tfvars")
        or name.endswith(".auto.tfvars.json")
    )


def _what(path: Path) -> str:
    if path.is_symlink():
        return f"a symbolic link to {os.readlink(path)}"
    if path.is_dir():
        return "a folder"
    if path.is_file():
        return "a file"
    return "not a regular file"


def _variable_file_problems(env_dir: Path) -> Iterator[str]:
    ours = {SETTINGS_FILE, GENERATED_TFVARS, UNREGISTERED_TFVARS}
    for path in sorted(env_dir.iterdir()):
        name = path.name
        if not _is_variable_file(name):
            continue
        if name not in ours:
            what = _what(path)
            loads = "this file" if what == "a file" else f"this name ({what} here)"
            yield (
                f"{path}: Terraform loads {loads} too, and it can override "
                f"{SETTINGS_FILE} and {GENERATED_TFVARS} unseen by every check; remove it "
                f"(settings belong in {SETTINGS_FILE}, permitted accounts in {REGISTRY_FILE})"
            )
            continue
        kind = inputfile.SETTINGS if name == SETTINGS_FILE else inputfile.GENERATED_TFVARS
        try:
            inputfile.check_input(path, kind, missing="no such file")
        except InputError as exc:
            yield str(exc)


# ---------------------------------------------------------------- lock file

# The checksum schemes Terraform writes in a lock file (page "Dependency Lock
# File", "New provider package checksums"): h1: (SHA-256 of the package's
# contents, base64) and zh: (SHA-256 of the official .zip, hex).
_CHECKSUM = re.compile(r"h1:[A-Za-z0-9+/]{43}=|zh:[0-9a-f]{64}")


def _lock_file_problems(env_dir: Path) -> Iterator[str]:
    """The lock file pins each provider with checksums (page "Dependency Lock File").

    Terraform checks a provider package against the lock file's checksums
    "if any": a provider without them, or without an entry (the lock file
    missing), is installed as found and trusted from then on. The other half,
    a provider the configuration needs and the lock file does not pin, is
    Terraform's own refusal: regionguard runs ``terraform init
    -lockfile=readonly`` (pipeline.init_terraform).
    """
    path = env_dir / LOCK_FILE
    fix = (
        f"restore the committed {LOCK_FILE}, or make it with `terraform -chdir={env_dir} "
        "providers lock -platform=linux_amd64`, review it and commit it"
    )
    if not os.path.lexists(path):
        if not any(_config_stem(p.name) for p in env_dir.iterdir() if not _is_ignored(p.name)):
            return  # no configuration: no provider to pin
        yield (
            f"{path}: no dependency lock file; `terraform init` would install whatever provider "
            f"package it finds and trust it from then on, unchecked; {fix}"
        )
        return
    try:
        text = inputfile.read_text(path, inputfile.DEPENDENCY_LOCK, missing="no such file")
        data = hclfile.loads(text)
    except InputError as exc:
        yield str(exc)
        return
    except hclfile.HclError as exc:
        yield f"{path}: not a dependency lock file Terraform can read ({exc}); {fix}"
        return
    blocks = data.get("provider")
    if not isinstance(blocks, list) or not blocks:
        yield f"{path}: pins no provider; {fix}"
        return
    for block in blocks:
        if not isinstance(block, dict) or not all(isinstance(b, dict) for b in block.values()):
            shown = reprlib.repr(block)
            yield f'{path}: not a block provider "<source address>" {{ ... }}: {shown}; {fix}'
            return
        for name, body in block.items():
            hashes = body.get("hashes")
            if not isinstance(hashes, list) or not hashes:
                yield (
                    f"{path}: provider {name!r} has no checksums (hashes); without them "
                    "Terraform installs and runs any package of that version, unchecked; "
                    f"{fix}"
                )
                continue
            for value in hashes:
                if not (isinstance(value, str) and _CHECKSUM.fullmatch(value)):
                    yield (
                        f"{path}: provider {name!r}: {value!r} is not a checksum Terraform "
                        f"writes (h1: or zh:); {fix}"
                    )
                    break


# ---------------------------------------------------------------- configuration


def _is_ignored(name: str) -> bool:
    """Files Terraform skips in a module folder (hidden, editor backups)."""
    return (
        name.startswith(".") or name.endswith("~") or (name.startswith("#") and name.endswith("#"))
    )


def _config_stem(name: str) -> str | None:
    for suffix in (".tf.json", ".tf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _configuration_problems(env_dir: Path) -> Iterator[str]:
    """Override files and files that are not what they seem, in every module folder loaded."""
    seen: set[Path] = set()
    queue = [env_dir]
    while queue:
        folder = queue.pop()
        real = folder.resolve()
        if real in seen or not folder.is_dir():
            continue
        seen.add(real)
        for path in sorted(folder.iterdir()):
            stem = _config_stem(path.name)
            if stem is None or _is_ignored(path.name):
                continue
            if stem == "override" or stem.endswith("_override"):
                yield (
                    f"{path}: an override file; Terraform merges it over the configuration "
                    "of its folder, where it can change any value the checks read; "
                    "remove it and change the configuration itself"
                )
                continue
            if not path.exists():
                continue  # a dangling link: terraform fails on it with its own message
            try:
                text = inputfile.read_text(path, inputfile.TERRAFORM_CONFIG, missing="no such file")
            except InputError as exc:
                yield str(exc)
                continue
            for label, source in _module_sources(text, path.name.endswith(".json")):
                if source.startswith(("./", "../")):
                    called = Path(os.path.normpath(folder / source))
                    if _outside_repository(called, env_dir):
                        yield (
                            f"{path}: module {label!r} comes from {source!r}, a folder outside "
                            "this repository, where no review reads it; move the module under "
                            "modules/"
                        )
                        continue
                    queue.append(called)
                else:
                    yield (
                        f"{path}: module {label!r} comes from {source!r}, outside this "
                        "repository, where no review reads it; vendor the module under "
                        "modules/ and call it by a local path"
                    )


def _outside_repository(folder: Path, env_dir: Path) -> bool:
    """True when ``folder`` (links resolved) lies outside the repository of ``env_dir``."""
    try:
        root = repo_root(env_dir)
    except InputError:
        root = env_dir.resolve().parent.parent
    return not folder.resolve().is_relative_to(root)


def _module_sources(text: str, is_json: bool) -> list[tuple[str, str]]:
    """(label, source) of each module block of one configuration file."""
    if is_json:
        try:
            data = json.loads(text)
        except ValueError:
            return []  # not JSON: terraform refuses it itself
        modules = data.get("module") if isinstance(data, dict) else None
        out = []
        for block in modules if isinstance(modules, list) else [modules]:
            if isinstance(block, dict):
                for label, body in block.items():
                    # HCL's JSON syntax takes a block's body as an object or a list of them.
                    for one in body if isinstance(body, list) else [body]:
                        source = one.get("source") if isinstance(one, dict) else None
                        if isinstance(source, str):
                            out.append((str(label), source))
        return out
    if not re.search(r"\bmodule\b", text):
        return []
    return [(label, source) for label, source in _hcl_module_sources(_strip_comments(text))]


_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
# A block's label is a quoted string or a bare identifier (HCL's native syntax).
_MODULE_START = re.compile(
    r'^[ \t]*module[ \t]+(?:"([^"]*)"|([A-Za-z_][A-Za-z0-9_-]*))[ \t]*\{', re.MULTILINE
)
_SOURCE = re.compile(r'^[ \t]*source[ \t]*=[ \t]*"([^"]*)"', re.MULTILINE)


_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z)', re.DOTALL)


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith('"'):
        return text
    return "".join(ch if ch == "\n" else " " for ch in text)


def _strip_comments(text: str) -> str:
    """``text`` with HCL comments blanked and string contents kept (positions unchanged)."""
    return _STRING_OR_COMMENT.sub(_blank, text)


def _hcl_module_sources(text: str) -> Iterator[tuple[str, str]]:
    for start in _MODULE_START.finditer(text):
        body = _block_body(text, start.end())
        depth_one = _top_level(body)
        source = _SOURCE.search(depth_one)
        if source:
            yield start.group(1) or start.group(2), source.group(1)


def _block_body(text: str, begin: int) -> str:
    """The text of a block from just after its ``{`` to its matching ``}`` (strings skipped)."""
    depth = 1
    i = begin
    while i < len(text) and depth:
        if text[i] == '"':
            match = _STRING.match(text, i)
            i = match.end() if match else i + 1
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
        i += 1
    return text[begin : i - 1]


def _top_level(body: str) -> str:
    """``body`` with nested blocks and objects blanked, so that only its own attributes remain."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            match = _STRING.match(body, i)
            end = match.end() if match else i + 1
            out.append(body[i:end] if depth == 0 else " " * (end - i))
            i = end
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        out.append(c if depth == 0 or c == "\n" else " ")
        i += 1
    return "".join(out)


def _workspace_problems(env_dir: Path) -> Iterator[str]:
    """``.terraform/environment``, written by ``terraform workspace select``, picks the state."""
    path = env_dir / ".terraform" / "environment"
    if not os.path.lexists(path):
        return
    try:
        name = inputfile.read_text(path, inputfile.SMALL_FILE, missing="no such file").strip()
    except InputError as exc:
        yield str(exc)
        return
    if name not in ("", "default"):
        yield (
            f"{path}: selects the workspace {name[:60]!r}, another state than the "
            "environment's; run `terraform workspace select default` in the folder"
        )


def _module_manifest_problems(env_dir: Path) -> Iterator[str]:
    """``.terraform/modules/modules.json`` maps every module call to the folder of its source.

    Terraform loads each module from the ``Dir`` its manifest records, not
    from the ``Source`` the configuration names, and ``terraform init``
    keeps a ``Dir`` whose ``Source`` did not change (seen with Terraform
    1.11: a ``Dir`` pointed elsewhere survives ``init -lockfile=readonly``).
    So a manifest that maps a call elsewhere makes Terraform read
    configuration no check of this door sees. ``terraform init`` records a
    local module at its parent's folder joined with its source
    (``filepath.Join``); anything else is refused.
    """
    path = env_dir / ".terraform" / "modules" / "modules.json"
    if not os.path.lexists(path):
        return
    try:
        text = inputfile.read_text(path, inputfile.SMALL_FILE, missing="no such file")
        data = json.loads(text)
    except InputError as exc:
        yield str(exc)
        return
    except ValueError:
        data = None
    fix = f"delete {path.parent} and run `terraform init` in {env_dir}"
    records = data.get("Modules") if isinstance(data, dict) else None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("Key", "Source", "Dir"))
        for r in records
    ):
        yield f"{path}: not a module manifest Terraform writes; {fix}"
        return
    dirs = {r["Key"]: r["Dir"] for r in records}
    for record in records:
        key, source, folder = record["Key"], record["Source"], record["Dir"]
        if key == "":
            want = "."
        elif not source.startswith(("./", "../")):
            yield (
                f"{path}: module {key} comes from {source[:80]!r}, not a local path of the "
                f"repository; {fix}"
            )
            continue
        else:
            parent = dirs.get(key.rpartition(".")[0], ".")
            want = os.path.normpath(os.path.join(parent, source))
        if folder == want and _outside_repository(env_dir / folder, env_dir):
            yield (
                f"{path}: module {key or '(root)'} is loaded from {folder[:120]!r}, outside this "
                f"repository; move the module under modules/, then {fix}"
            )
        elif folder != want:
            yield (
                f"{path}: module {key or '(root)'} is loaded from {folder[:120]!r}, not from "
                f"its source {want!r}; {fix}"
            )


# ---------------------------------------------------------------- CLI configuration


def cli_config_files(environ: Mapping[str, str], cwd: Path | None = None) -> list[Path]:
    """The CLI configuration files Terraform would read, in its order (cliconfig.LoadConfig).

    ``TF_CLI_CONFIG_FILE`` (else ``TERRAFORM_CONFIG``) names the only one
    when set (a missing one is skipped, as Terraform skips it), a relative
    path from ``cwd``, the folder Terraform runs in; otherwise
    ``~/.terraformrc`` and every ``*.tfrc`` / ``*.tfrc.json`` of
    ``~/.terraform.d``, home being ``HOME`` or, when that is empty, the
    user's home in the password database (Terraform's ``homeDir``).
    """
    override = environ.get("TF_CLI_CONFIG_FILE") or environ.get("TERRAFORM_CONFIG")
    if override:
        path = Path(override)
        if cwd is not None and not path.is_absolute():
            path = cwd / path
        return [path] if os.path.lexists(path) else []
    home = environ.get("HOME") or _password_home()
    if not home:
        return []
    files = [Path(home) / ".terraformrc"]
    folder = Path(home) / ".terraform.d"
    if folder.is_dir():
        files += sorted(
            p for p in folder.iterdir() if p.name.endswith(".tfrc") or p.name.endswith(".tfrc.json")
        )
    return [p for p in files if os.path.lexists(p)]


def _password_home() -> str:
    """The user's home in the password database, as Go's ``user.Current().HomeDir``."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return ""


def _cli_config_problems(environ: Mapping[str, str], cwd: Path) -> Iterator[str]:
    for path in cli_config_files(environ, cwd):
        try:
            text = inputfile.read_text(path, inputfile.CLI_CONFIG, missing="no such file")
        except InputError as exc:
            yield str(exc)
            continue
        yield from _cli_config_text_problems(path, text)


def _cli_config_text_problems(path: Path, text: str) -> Iterator[str]:
    allowed = ", ".join(sorted(ALLOWED_CLI_SETTINGS))
    if re.search(r"\bdev_overrides\b", text):
        yield (
            f"{path}: dev_overrides in provider_installation replaces a provider with a "
            "local build that .terraform.lock.hcl does not pin; remove it (regionguard "
            "plans only with the providers the lock file pins)"
        )
        return
    data = _parse_cli_config(path, text)
    if isinstance(data, str):
        yield data
        return
    for key in sorted(data):
        if key not in ALLOWED_CLI_SETTINGS:
            risk = _CLI_SETTING_RISKS.get(key, "regionguard does not know what it does")
            yield (
                f"{path}: the setting {key!r}: {risk}; remove it (a CLI configuration for "
                f"regionguard holds only {allowed})"
            )
    for block in _as_blocks(data.get("provider_installation")):
        for method in sorted(block):
            if method not in ALLOWED_INSTALLATION_METHODS:
                yield (
                    f"{path}: provider_installation method {method!r} is not one that "
                    "installs the providers .terraform.lock.hcl pins; use filesystem_mirror, "
                    "network_mirror or direct"
                )


def _as_blocks(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _parse_cli_config(path: Path, text: str) -> dict[str, Any] | str:
    """The settings of a CLI configuration, or the reason it cannot be read."""
    if path.name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            return f"{path}: not JSON ({exc}); fix or remove the Terraform CLI configuration"
    else:
        try:
            data = hclfile.loads(text)
        except hclfile.HclError as exc:
            return (
                f"{path}: the Terraform CLI configuration cannot be read ({exc}); "
                "regionguard checks it before Terraform runs: simplify it to "
                "provider_installation and plugin_cache_dir"
            )
    if not isinstance(data, dict):
        return f"{path}: not a Terraform CLI configuration (not an object of settings)"
    return data
