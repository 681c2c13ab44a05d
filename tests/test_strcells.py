"""strcells: the cells of wildcard patterns, against every string up to a length, by brute force."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from regionguard import iamref
from regionguard.rules import wildcard_regex
from regionguard.scpformula import (
    ACTION_SHAPE,
    IAM_PRINCIPAL_SHAPE,
    REGION_SHAPE,
    STS_PRINCIPAL_SHAPE,
)
from regionguard.strcells import Lang, Step, cells, literal, vector, wildcard

ALPHABET = "ab:"
ANY = Lang(((Step(None, True),),), "any string")


def independent(patterns: list[str], prefix: str, s: str) -> tuple[bool, ...]:
    """The vector of ``s`` by the evaluator's own wildcard matching (rules.wildcard_regex)."""
    return tuple(
        wildcard_regex(p, ignore_case=False).match(prefix + s) is not None for p in patterns
    )


patterns = st.lists(
    st.text(alphabet=ALPHABET + "*?", min_size=0, max_size=4), min_size=1, max_size=3
)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(patterns, st.sampled_from(["", "a", "ab:"]))
def test_cells_are_exactly_the_vectors_strings_have(ps: list[str], prefix: str) -> None:
    atoms = [(wildcard(p), prefix) for p in ps]
    found = cells(ANY, atoms)
    # Each cell is real: its witness has its vector.
    for vec, witness in found.items():
        assert independent(ps, prefix, witness) == vec
    # No cell is missing: every string up to five characters (over the patterns' characters
    # and one they do not name) has the vector of a cell, and strcells' own reading agrees.
    for n in range(6):
        for chars in itertools.product(ALPHABET + "z", repeat=n):
            s = "".join(chars)
            vec = independent(ps, prefix, s)
            assert vec in found
            assert vector(ANY, atoms, s) == vec


def test_a_domain_keeps_only_its_strings() -> None:
    atoms = [(literal("us-east-1"), ""), (wildcard("us-*"), ""), (literal("unspecified"), "")]
    found = cells(REGION_SHAPE, atoms)
    assert set(found) == {
        (True, True, False),  # us-east-1
        (False, True, False),  # another us- Region code
        (False, False, True),  # unspecified
        (False, False, False),  # any other Region code
    }
    assert vector(REGION_SHAPE, atoms, "US-EAST-1") is None
    assert vector(REGION_SHAPE, atoms, "eu-west-2") == (False, False, False)


def test_action_cells_of_the_controls_not_action_list() -> None:
    exempted = wildcard("bedrock:invokemodel")
    global_services = Lang(
        (*wildcard("iam:*").alts, *wildcard("lightsail:get*").alts), "iam:*, lightsail:Get*"
    )
    found = cells(ACTION_SHAPE, [(exempted, ""), (global_services, "")])
    assert set(found) == {(True, False), (False, True), (False, False)}
    assert found[(True, False)] == "bedrock:invokemodel"
    assert vector(ACTION_SHAPE, [(global_services, "")], "lightsail:getinstance") == (True,)
    assert vector(ACTION_SHAPE, [(global_services, "")], "lightsail:createinstance") == (False,)


def test_a_prefix_is_read_before_the_variable() -> None:
    pattern = wildcard("arn:aws:bedrock:*::foundation-model/anthropic.*")
    atoms = [(pattern, "arn:aws:bedrock:us-east-2::foundation-model/")]
    assert set(cells(ANY, atoms)) == {(True,), (False,)}
    assert vector(ANY, atoms, "anthropic.claude") == (True,)
    assert vector(ANY, atoms, "meta.llama") == (False,)


def test_the_domains_hold_every_region_and_action_the_request_model_accepts() -> None:
    regions = [*iamref.partition_regions("aws"), "unspecified"]
    assert [r for r in regions if vector(REGION_SHAPE, [], r) is None] == []
    actions = [a for s in iamref.services() for a in iamref.service_actions(s)]
    assert len(actions) > 10_000
    assert [a for a in actions if vector(ACTION_SHAPE, [], a.lower()) is None] == []
    for arn in ("role/WorkloadRole", "role/aws-reserved/sso.amazonaws.com/X", "user/a/b", "root"):
        assert vector(IAM_PRINCIPAL_SHAPE, [], arn) == ()
    assert vector(STS_PRINCIPAL_SHAPE, [], "federated-user/alice") == ()
