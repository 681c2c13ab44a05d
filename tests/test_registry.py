from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from regionguard.errors import InputError
from regionguard.registry import Account, Registry, load_registry, parse_registry

TODAY = datetime.date(2026, 11, 27)
FILE = Path("accounts.yaml")


def entry(account_id: str, name: str, permitted: str = "true", extra: str = "") -> str:
    return (
        f"  - id: {account_id}\n    name: {name}\n"
        f"    bedrock_cross_region_inference: {permitted}\n{extra}"
    )


def registry(*entries: str) -> str:
    return "accounts:\n" + "".join(entries)


def load_error(text: str) -> str:
    with pytest.raises(InputError) as err:
        parse_registry(text, FILE)
    assert err.value.exit_code == 2
    return str(err.value)


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
def test_committed_registries_are_valid(repo_root: Path, env: str) -> None:
    reg = load_registry(repo_root / "envs" / env / "accounts.yaml")
    assert reg.accounts
    assert all(a.ou for a in reg.accounts)


def test_entry_fields_become_an_account() -> None:
    text = registry(
        entry(
            '"012345678901"',
            "ml",
            extra=(
                "    ou: Workloads/ML\n    expires: 2027-01-31\n    owner: ml@example.com\n"
                "    ticket: SEC-1\n    notes: long\n"
            ),
        )
    )
    reg = parse_registry(text, FILE)
    assert reg == Registry(
        path=FILE,
        accounts=(
            Account(
                id="012345678901",
                name="ml",
                bedrock_cross_region_inference=True,
                expires=datetime.date(2027, 1, 31),
                ou="Workloads/ML",
                owner="ml@example.com",
                ticket="SEC-1",
                notes="long",
            ),
        ),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        reg.accounts[0].id = "1"  # type: ignore[misc]


def test_permitted_ids_are_sorted_unique_and_leave_out_expired_permits() -> None:
    reg = parse_registry(
        registry(
            entry('"300000000000"', "c"),
            entry('"100000000000"', "a", extra="    expires: 2026-11-27\n"),
            entry('"200000000000"', "b", extra="    expires: '2026-11-26'\n"),
            entry('"400000000000"', "d", permitted="false"),
        ),
        FILE,
    )
    assert reg.permitted_ids(TODAY) == ("100000000000", "300000000000")
    assert [a.name for a in reg.expired(TODAY)] == ["b"]


def test_expiring_names_permits_ending_within_thirty_days() -> None:
    reg = parse_registry(
        registry(
            entry('"100000000000"', "today", extra="    expires: 2026-11-27\n"),
            entry('"200000000000"', "day30", extra="    expires: 2026-12-27\n"),
            entry('"300000000000"', "day31", extra="    expires: 2026-12-28\n"),
            entry('"400000000000"', "off", permitted="false", extra="    expires: 2026-12-01\n"),
        ),
        FILE,
    )
    assert [a.name for a in reg.expiring(TODAY)] == ["today", "day30"]


def test_empty_list_permits_no_account() -> None:
    assert parse_registry("accounts: []\n", FILE).permitted_ids(TODAY) == ()


@pytest.mark.parametrize("written", ["012345678901", "012345670123", "123456789012", "1.2e+11"])
def test_id_written_as_a_yaml_number_is_refused_with_its_text(written: str) -> None:
    message = load_error(registry(entry(written, "ml")))
    assert message == (
        f"accounts.yaml: accounts[0] (ml): id {written} is written as a YAML number, which "
        "loses leading zeros (and reads 0-prefixed digits as octal); write it in quotes: "
        f'id: "{written}"'
    )


def test_misspelt_key_is_refused_with_a_suggestion() -> None:
    text = registry(
        '  - id: "123456789012"\n    name: ml\n    bedrock_cross_region_inference: true\n'
        "    bedrock_cross_region_inferance: false\n"
    )
    assert load_error(text) == (
        "accounts.yaml: accounts[0] (ml): unknown key 'bedrock_cross_region_inferance'; "
        "did you mean 'bedrock_cross_region_inference'? (known keys: "
        "bedrock_cross_region_inference, expires, id, name, notes, ou, owner, ticket)"
    )


@pytest.mark.parametrize("word", ["yes", "on", "y", "1"])
def test_only_true_or_false_is_a_permit(word: str) -> None:
    assert load_error(registry(entry('"123456789012"', "ml", permitted=word))) == (
        f"accounts.yaml: accounts[0] (ml): bedrock_cross_region_inference is "
        f"{word if word == '1' else repr(word)}; write true or false"
    )


def test_key_written_twice_in_one_entry_is_refused() -> None:
    text = registry(
        entry('"123456789012"', "ml", extra="    bedrock_cross_region_inference: false\n")
    )
    assert load_error(text) == (
        "accounts.yaml: line 5, column 5: key 'bedrock_cross_region_inference' is written "
        "twice; keep one"
    )


def test_account_names_are_unique() -> None:
    text = registry(
        entry('"123456789012"', "payments", permitted="false"),
        entry('"210987654321"', "ml"),
        entry('"111122223333"', "payments"),
    )
    assert load_error(text) == (
        "accounts.yaml: accounts[2] (payments): name 'payments' is already used by "
        "accounts[0] (123456789012); give each account its own name, as explain, matrix "
        "and verify look accounts up by name"
    )


def test_merge_key_cannot_turn_a_permit_on() -> None:
    # PyYAML's merge lets a later mapping win where the YAML merge spec says the
    # first does: a reviewer would read false where the tool read true.
    text = (
        "accounts:\n  - id: '123456789012'\n    name: payments\n"
        "    <<: [{bedrock_cross_region_inference: false},\n"
        "         {bedrock_cross_region_inference: true}]\n"
    )
    assert load_error(text) == (
        "accounts.yaml: line 4, column 5: merge key << refused: every entry is written out "
        "in full, so that what a reviewer reads is what the tool reads"
    )


def test_every_problem_is_reported_at_once_in_entry_order() -> None:
    text = registry(
        entry('"12345678901"', "a"),
        entry('"1234567890ab"', "b"),
        entry('"123456789012"', "c", extra="    expires: 2026-02-30\n"),
    )
    assert load_error(text).splitlines() == [
        "accounts.yaml: accounts[0] (a): id '12345678901' is 11 digits; an AWS account id has 12",
        "accounts.yaml: accounts[1] (b): id '1234567890ab' contains characters other than "
        "digits; an AWS account id is 12 digits",
        "accounts.yaml: accounts[2] (c): expires '2026-02-30' is not a date; write the last "
        "day of the permit as YYYY-MM-DD",
    ]


def test_missing_registry_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_registry(tmp_path / "accounts.yaml")
    assert str(err.value) == (
        f"{tmp_path / 'accounts.yaml'}: no such registry; create it with `accounts:` and one "
        "entry per account (`accounts: []` permits no account)"
    )


def test_compiled_and_reference_validators_agree_on_every_fixture_registry() -> None:
    import yaml

    from regionguard.registry import RegistryLoader
    from regionguard.schemas import fast_check, validator

    fixtures = sorted((Path(__file__).parent / "fixtures").glob("*/*/*/accounts.yaml"))
    verdicts = []
    for path in fixtures:
        try:
            data = yaml.load(path.read_text(), Loader=RegistryLoader)
        except yaml.YAMLError:
            continue
        try:
            fast_check("accounts")(data)
            fast = True
        except Exception:
            fast = False
        verdicts.append((path.parent.name, fast, validator("accounts").is_valid(data)))
    assert len(verdicts) > 20
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert {v[1] for v in verdicts} == {True, False}
