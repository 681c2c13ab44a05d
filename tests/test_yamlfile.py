"""The one YAML reader: every YAML file the package reads follows the same strict rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from regionguard.errors import InputError
from regionguard.expectations import load_expectations
from regionguard.registry import load_registry
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.yamlfile import YamlNumber, parse_yaml, read_yaml, shorten

# The classic "billion laughs": 1.2 KB whose id names 10^9 strings through aliases.
ALIAS_BOMB = (
    Path(__file__).parent / "fixtures" / "bad-inputs" / "registry-alias-bomb" / "accounts.yaml"
).read_text()

SANDBOX = """\
management_account_id: "111111111111"
organizational_units: [Workloads]
landing_zone:
  home_region: us-east-1
  governed_regions: [us-east-1]
  region_deny: false
"""


def load_registry_file(folder: Path) -> Any:
    return load_registry(folder / "accounts.yaml")


def load_expectations_file(folder: Path) -> Any:
    return load_expectations(folder / "accounts.yaml")


def load_sandbox_file(folder: Path) -> Any:
    # sandbox.yaml names accounts.yaml as its registry; write the text under test there.
    (folder / "sandbox.yaml").write_text(SANDBOX)
    return load_sandbox_settings(folder)


LOADERS: dict[str, Callable[[Path], Any]] = {
    "registry": load_registry_file,
    "expectations": load_expectations_file,
    "sandbox": load_sandbox_file,
}


def refusal(tmp_path: Path, loader: str, content: bytes | str) -> str:
    path = tmp_path / "accounts.yaml"
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        LOADERS[loader](tmp_path)
    return str(err.value)


def test_alias_bomb_is_about_1200_bytes() -> None:
    assert 1100 < len(ALIAS_BOMB) < 1300


@pytest.mark.parametrize("loader", LOADERS)
def test_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path, loader: str) -> None:
    assert refusal(tmp_path, loader, ALIAS_BOMB) == (
        f"{tmp_path / 'accounts.yaml'}: line 5, column 9: anchor &lol0 refused: anchors and "
        "aliases are not used in these files; remove it"
    )


@pytest.mark.parametrize("loader", LOADERS)
def test_merge_key_is_refused(tmp_path: Path, loader: str) -> None:
    text = "accounts:\n  - <<: {bedrock_cross_region_inference: true}\n    id: '1'\n"
    assert refusal(tmp_path, loader, text) == (
        f"{tmp_path / 'accounts.yaml'}: line 2, column 5: merge key << refused: every entry "
        "is written out in full, so that what a reviewer reads is what the tool reads"
    )


@pytest.mark.parametrize("loader", LOADERS)
def test_key_written_twice_is_refused(tmp_path: Path, loader: str) -> None:
    text = "accounts: []\nexpectations: []\naccounts: []\n"
    assert refusal(tmp_path, loader, text) == (
        f"{tmp_path / 'accounts.yaml'}: line 3, column 1: key 'accounts' is written twice; keep one"
    )


@pytest.mark.parametrize("loader", LOADERS)
def test_bytes_that_are_not_utf8_are_refused(tmp_path: Path, loader: str) -> None:
    assert refusal(tmp_path, loader, b"accounts: []\n# caf\xe9\n") == (
        f"{tmp_path / 'accounts.yaml'}: not UTF-8 text (byte 18: invalid continuation byte); "
        "save it as UTF-8"
    )


@pytest.mark.parametrize("loader", LOADERS)
def test_a_folder_is_refused(tmp_path: Path, loader: str) -> None:
    (tmp_path / "accounts.yaml").mkdir()
    with pytest.raises(InputError) as err:
        LOADERS[loader](tmp_path)
    # The sandbox reads accounts.yaml as its registry.
    kind = "expectations file" if loader == "expectations" else "registry file"
    assert str(err.value) == f"{tmp_path / 'accounts.yaml'}: is a folder; the {kind} must be a file"


@pytest.mark.parametrize("loader", LOADERS)
def test_explicit_tags_are_refused(tmp_path: Path, loader: str) -> None:
    text = "accounts: !!python/object/apply:os.system ['true']\n"
    assert refusal(tmp_path, loader, text) == (
        f"{tmp_path / 'accounts.yaml'}: line 1, column 11: explicit tag "
        "tag:yaml.org,2002:python/object/apply:os.system refused; write the value plainly "
        '(quote it, "like this", to make it text)'
    )


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "expectations.yaml"
    path.symlink_to(path)  # a link to itself: open() fails with ELOOP, even for root
    with pytest.raises(InputError) as err:
        load_expectations(path)
    assert str(err.value) == (
        f"{path}: is a loop of symbolic links; replace it with the expectations file itself"
    )


def test_long_values_are_never_expanded_in_messages(tmp_path: Path) -> None:
    long_id = "9" * 100_000
    entry = "    name: x\n    bedrock_cross_region_inference: true\n"
    text = f'accounts:\n  - id: "{long_id}"\n{entry}'
    message = refusal(tmp_path, "registry", text)
    assert message == (
        f"{tmp_path / 'accounts.yaml'}: accounts[0] (x): id '{'9' * 59}... "
        "(100,002 characters) is 100000 digits; an AWS account id has 12"
    )


def test_long_values_in_expectations_are_cut_short(tmp_path: Path) -> None:
    text = f"expectations:\n  - fact: x\n    accounts: {'a' * 5000}\n"
    message = refusal(tmp_path, "expectations", text)
    lines = message.splitlines()
    assert max(len(line) for line in lines) < 330
    assert any("'aaa" in line and "... (5,002 characters)" in line for line in lines)


def test_nesting_beyond_libyaml_limit_is_an_input_error(tmp_path: Path) -> None:
    text = "expectations: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert refusal(tmp_path, "expectations", text) == (
        f"{tmp_path / 'accounts.yaml'}: not valid YAML: line 1, column 1014: "
        "exceeded maximum nesting depth; fix the syntax"
    )


def test_python_composer_refuses_nesting_beyond_its_bound(tmp_path: Path) -> None:
    # The "*" in the comment sends the text through the Python composer.
    text = "# *\nexpectations: " + "[" * 101 + "]" * 101 + "\n"
    assert refusal(tmp_path, "expectations", text) == (
        f"{tmp_path / 'accounts.yaml'}: line 2, column 114: nested more than 100 levels "
        "deep; these files nest a few levels"
    )


def test_both_composers_read_the_same_values() -> None:
    text = "a: [1, '2', yes, 2026-01-01, {b: null}]\n"
    assert parse_yaml(text, Path("x")) == parse_yaml("# *\n" + text, Path("x"))


def test_dates_stay_text_and_only_true_false_are_booleans() -> None:
    data = parse_yaml("a: 2026-01-01\nb: yes\nc: on\nd: true\ne: FALSE\n", Path("x.yaml"))
    assert data == {"a": "2026-01-01", "b": "yes", "c": "on", "d": True, "e": False}


def test_registry_reader_keeps_numbers_as_written(tmp_path: Path) -> None:
    from regionguard.registry import RegistryLoader

    path = tmp_path / "x.yaml"
    path.write_text("a: 012345670123\nb: 99999999999999999999999\nc: '7'\nd: 1.5\n")
    data = read_yaml(path, missing="m", kind="k", loader=RegistryLoader)
    assert data == {
        "a": YamlNumber("012345670123"),
        "b": YamlNumber("99999999999999999999999"),
        "c": "7",
        "d": YamlNumber("1.5"),
    }


def test_shorten_says_how_long_the_text_was() -> None:
    assert shorten("abc") == "abc"
    assert shorten("x" * 61) == "x" * 60 + "... (61 characters)"
