"""The gate on 82 mutated plans, each judged by hand: open at some moment, or not.

``tests/fixtures/plan-mutations/corpus.json`` holds each mutation as edits
of a real plan of the fixtures (``ops``: set, remove, append or prepend at a
path), with what it does to the organization (``expect``):

- ``open``: an exempted action is open to some account at some moment of the
  apply (after it, or in between: two addresses holding one SCP, a guard moved
  between two SCPs updated in one apply, an attachment whose SCP is named
  through a local or a module output, the controls' module call without its
  depends_on on the SCP module, an ordering terraform_data deleted or
  replaced destroy-first, a replace that detaches a pair another address
  claims). The gate must refuse it, with ``--allow-destroy`` too.
- ``closed``: nothing opens. The gate passes it with ``--allow-destroy``,
  unless :data:`REFUSED_SAFE` says why it refuses (a refusal is safe, and
  each is named here so a new one is noticed).
- ``odd``: JSON Terraform would not write; any verdict, never a traceback.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from regionguard.cli import main

TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "fixtures" / "plan-mutations" / "corpus.json"
BASES = {
    "good": TESTS / "fixtures" / "plans" / "good",
    "checkov": TESTS / "checkov" / "fixtures" / "plan",
}
CASES: list[dict[str, Any]] = json.loads(CORPUS.read_text())

# Plans the gate refuses though nothing opens, and why.
REFUSED_SAFE = {
    "scp-region-upper-case": "a Region in upper case matches no request: read as no guard",
    "scp-action-upper-case-prefix": "the SCP schema takes a lower-case service prefix only",
    "scp-bom": "not JSON as the SCP readers take it (RG-SCP-JSON)",
    "scp-comment": "not JSON as the SCP readers take it (RG-SCP-JSON)",
    "scp-account-ifexists-split": "a guard is StringNotEquals only (rules.guard_problems)",
    "decoy-policy-through-a-local-control": "an SCP named through a local cannot be told",
    "attachment-twin-replaced-away": "a replace that moves the pair detaches what a twin claims",
    "policy-type-lower-case": "an SCP's type is SERVICE_CONTROL_POLICY as written",
    "attachment-policy-id-is-arn": "an attachment naming its SCP by ARN is not resolved",
    "policy-forgotten": "a forgotten SCP is read as gone",
    "attachment-deleted-with-skip-destroy": "skip_destroy is not read: the detach is assumed",
    "control-target-trailing-slash": "a control target that is no OU id",
    "control-exempted-json-in-string": "a parameter not as Control Tower takes it",
    "control-exempted-key-lower-case": "a parameter not as Control Tower takes it",
    "other-control-on-excluded-ou": "every control is read as the Region deny control",
    "other-control-on-targeted-ou": "every control is read as the Region deny control",
    "guard-moves-to-new-attachment-ordered-by-depends-on": (
        "a first-tier SCP's depends_on is not read: a guard moves in an apply of its own"
    ),
    "scp-condition-value-nested-400": "nesting the policy grammar does not take",
    "scp-condition-value-nested-900": "nesting the policy grammar does not take",
    "scp-condition-value-nested-990": "nesting the policy grammar does not take",
    "scp-statement-nested-990": "nesting the policy grammar does not take",
}
# Open, and passed: what the gate does not read yet (docs/plan-gate.md).
KNOWN_OPEN = {
    "control-via-awscc-resource": "only aws_controltower_control is read as a control",
}


def mutated(case: dict[str, Any]) -> dict[str, Any]:
    kind, name = case["base"].split("/", 1)
    folder = BASES[kind]
    path = folder / name if name.endswith(".json") else folder / name / "plan.json"
    plan: dict[str, Any] = json.loads(path.read_text())
    for op in case["ops"]:
        *parents, last = op["path"] if op["op"] in ("set", "remove") else [*op["path"], None]
        node: Any = plan
        for key in parents:
            node = node[key]
        if op["op"] == "set":
            node[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[last]
        elif op["op"] == "append":
            node.append(copy.deepcopy(op["value"]))
        else:
            node.insert(0, copy.deepcopy(op["value"]))
    return plan


def test_the_corpus_names_each_case_once_and_every_exception_is_a_case() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)) == 82
    assert set(REFUSED_SAFE) | set(KNOWN_OPEN) <= set(names)
    assert {c["expect"] for c in CASES} == {"open", "closed", "odd"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_gate_refuses_every_plan_that_opens_and_never_crashes(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(mutated(case)))
    codes = []
    for extra in ([], ["--allow-destroy"]):
        code = main(["plan-diff", str(path), "--format", "json", *extra])
        err = capsys.readouterr().err
        assert "Traceback" not in err, err
        assert code in (0, 1, 2), err
        codes.append(code)
    plain, allowed = codes
    if case["expect"] == "open":
        if case["name"] in KNOWN_OPEN:
            assert allowed == 0, "the gate now refuses it: take it out of KNOWN_OPEN"
        else:
            assert (plain, allowed) == (1, 1), case["note"]
    elif case["expect"] == "closed":
        assert allowed == (1 if case["name"] in REFUSED_SAFE else 0), case["note"]
