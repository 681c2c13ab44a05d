"""`regionguard prove`: the shipped environments, the seed's failure, P4 over plans, refusals."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import z3

from conftest import plan_fixture
from regionguard import deployment as dep
from regionguard import prove
from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.orgmodel import deployment_from_env, scenario_from_deployment
from regionguard.prove import Listed, diff, listed_from_review, spec_from_env
from regionguard.request import load_profile_data
from regionguard.review import Widening
from test_prove_mutations import edit_control, edit_guard, local_env

REPO = Path(__file__).resolve().parent.parent
PAYMENTS = "100000000002"
ENV_FILES = ("terraform.tfvars", "accounts.yaml", "accounts.auto.tfvars.json", "sandbox.yaml")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("env", ["local", "prod"])
def test_the_shipped_environments_hold(env: str) -> None:
    code, out, _ = run("prove", "--env", env)
    assert code == 0, out
    lines = [line for line in out.splitlines() if line[:1] == "P"]
    assert lines == [
        "P1 closed: holds",
        "P2 Region deny intact: holds",
        "P3 open where intended: holds",
    ]


def test_json_names_each_property_and_the_time() -> None:
    code, out, _ = run("prove", "--env", "local", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert [
        (p["id"], p["holds"], p["counterexample"], p["explain"]) for p in report["properties"]
    ] == [("P1", True, None, None), ("P2", True, None, None), ("P3", True, None, None)]
    assert isinstance(report["seconds"], float)


def test_the_landing_zone_deny_brings_the_seeds_failure_back() -> None:
    code, out, err = run(
        "prove", "--env", "local", "--landing-zone-region-deny", "--format", "json"
    )
    assert code == 1
    assert "P3 open where intended does not hold" in err
    p3 = json.loads(out)["properties"][2]
    assert p3["holds"] is False
    cx = p3["counterexample"]
    assert (cx["account"], cx["action"], cx["region"], cx["decision"]) == (
        "100000000001",
        "bedrock:InvokeModel",
        "us-east-1",
        "DENY",
    )
    assert cx["inference_profile"].startswith("us.")
    assert "Leg 3 of 4 (the foundation model in us-east-2)" in cx["evaluator_reason"]
    assert p3["explain"] == (
        "regionguard explain --env local --landing-zone-region-deny --account 100000000001 "
        "--action bedrock:InvokeModel --region us-east-1 --inference-profile "
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    code, out, _ = run(*shlex.split(p3["explain"])[1:])
    assert code == 0
    assert out.startswith("DENY: bedrock:InvokeModel in us-east-1 by ml-platform (100000000001)")


# ---------------------------------------------------------------- refusals


def _plan_with_scp(tmp_path: Path, change: Any) -> Path:
    plan = json.loads((plan_fixture("no-change") / "plan.json").read_text())
    for rc in plan["resource_changes"]:
        if rc["type"] == "aws_organizations_policy":
            document = json.loads(rc["change"]["after"]["content"])
            change(document["Statement"][0])
            rc["change"]["after"]["content"] = json.dumps(document)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, "aws:securetransport"),
        ({"StringLike": {"aws:PrincipalAccount": "1000*"}}, "'1000*'"),
        ({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, "StringLike"),
        ({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, "NumericLessThan"),
    ],
)
def test_a_policy_prove_does_not_model_is_refused(
    tmp_path: Path, condition: dict[str, Any], named: str
) -> None:
    plan = _plan_with_scp(tmp_path, lambda st: st["Condition"].update(condition))
    code, out, err = run("prove", "--env", "local", "--plan", str(plan))
    assert code == 2
    assert out == ""
    assert named in err
    assert err.startswith(f"regionguard: {plan}: SCP "), err


# ---------------------------------------------------------------- P4


def _local(tmp_path: Path, permit_payments: bool = False) -> Environment:
    folder = tmp_path / "local"
    folder.mkdir()
    for name in ENV_FILES:
        shutil.copyfile(REPO / "envs" / "local" / name, folder / name)
    if permit_payments:
        registry = folder / "accounts.yaml"
        text = registry.read_text()
        registry.write_text(
            text.replace(
                "    name: payments\n    ou: Workloads\n    bedrock_cross_region_inference: false",
                "    name: payments\n    ou: Workloads\n    bedrock_cross_region_inference: true",
            )
        )
        assert run("tfvars", "--env-dir", str(folder))[0] == 0
    return Environment(folder, datetime.date(2026, 11, 30))


def _p4(
    env: Environment,
    after: dep.Deployment,
    listed: Listed,
    before: dep.Deployment | None = None,
) -> Any:
    """P4 from ``before`` (default: what the environment deploys) to ``after``."""
    if before is None:
        before = deployment_from_env(env)
    return diff(
        (scenario_from_deployment(env, before), before),
        (scenario_from_deployment(env, after), after),
        spec_from_env(env, load_profile_data(env.dir)),
        listed,
        explain_prefix=["regionguard", "explain", "--env-dir", str(env.dir)],
    )


def _add_payments(st: dict[str, Any]) -> None:
    st["Condition"]["StringNotEquals"]["aws:PrincipalAccount"].append(PAYMENTS)


class _Undecided(prove.Solver):
    """z3 that answers every question ``unknown``, as at its timeout."""

    def status(self, formula: Any) -> str:
        self.questions += 1
        return "unknown"


class _UnknownAfterFirst:
    """A z3 solver whose first check is answered, and every later one is ``unknown``."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.checks = 0

    def check(self, *assumptions: Any) -> Any:
        self.checks += 1
        return self.real.check(*assumptions) if self.checks == 1 else z3.unknown

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_p4_is_not_proven_where_z3_cannot_decide_whether_a_decision_changes(
    tmp_path: Path,
) -> None:
    env = _local(tmp_path)
    after = edit_guard(deployment_from_env(env), _add_payments)
    before = deployment_from_env(env)
    result = diff(
        (scenario_from_deployment(env, before), before),
        (scenario_from_deployment(env, after), after),
        spec_from_env(env, load_profile_data(env.dir)),
        Listed(accounts=frozenset({PAYMENTS})),
        explain_prefix=["regionguard", "explain"],
        solver=_Undecided(),
    )
    assert not result.holds
    assert result.details == []
    assert result.note is not None and result.note.startswith(
        'the solver could not decide on: OU "'
    )


def test_p4_is_not_proven_where_z3_stops_deciding_while_it_lists_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = prove._Cubes.__init__

    def with_unknown_after_first(self: Any, *args: Any) -> None:
        made(self, *args)
        self.inside = _UnknownAfterFirst(self.inside)

    monkeypatch.setattr(prove._Cubes, "__init__", with_unknown_after_first)
    env = _local(tmp_path)
    after = edit_guard(deployment_from_env(env), _add_payments)
    result = _p4(env, after, Listed(accounts=frozenset({PAYMENTS})))
    assert not result.holds
    # The change found before z3 stopped deciding is listed, and the list said short.
    assert result.details and all(c["account_ids"] == [PAYMENTS] for c in result.details)
    assert result.note is not None and "the list may be short" in result.note


def test_p4_lists_a_widening_the_review_lists(tmp_path: Path) -> None:
    env = _local(tmp_path)
    after = edit_guard(deployment_from_env(env), _add_payments)
    result = _p4(env, after, Listed(accounts=frozenset({PAYMENTS})))
    assert result.holds
    assert {c["where"] for c in result.details} == {
        'OU "Workloads"',
        'OU "Sandbox"',
        'OU "Security"',
    }
    for change in result.details:
        assert change["change"] == "widening"
        assert change["accounts"] == "account 100000000002 (payments)"
        assert change["account_ids"] == [PAYMENTS]
        assert change["actions"] == (
            "actions matching [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]"
        )
        assert change["regions"] == [
            "any Region but ap-northeast-1, ap-northeast-3, eu-west-2, us-east-1"
        ]
        assert change["listed_by"] == "newly permitted account"
        assert change["example"]["decision"] == "ALLOW"


def test_p4_fails_on_a_widening_the_review_does_not_list(tmp_path: Path) -> None:
    env = _local(tmp_path)
    after = edit_guard(deployment_from_env(env), _add_payments)
    result = _p4(env, after, Listed())
    assert not result.holds
    assert result.counterexample is not None
    assert result.counterexample.account_id == PAYMENTS
    assert result.explain is not None
    assert len(result.failing) == 3


def test_p4_sees_an_operator_change_the_review_cannot_name(tmp_path: Path) -> None:
    def flip(st: dict[str, Any]) -> None:
        st["Condition"]["StringEquals"] = st["Condition"].pop("StringNotEquals")

    env = _local(tmp_path)
    after = edit_guard(deployment_from_env(env), flip)
    # Listing the permitted accounts and every Region covers nothing of this change.
    result = _p4(
        env, after, Listed(accounts=frozenset({PAYMENTS}), regions=frozenset({"us-east-2"}))
    )
    assert not result.holds
    widenings = [c for c in result.details if c["change"] == "widening"]
    assert {c["accounts"] for c in widenings} == {"every account but the 2 permitted"}
    assert all(c["listed_by"] is None for c in widenings)
    narrowings = [c for c in result.details if c["change"] == "narrowing"]
    assert narrowings  # the allowed Regions close to the same accounts


def test_p4_holds_on_a_narrowing(tmp_path: Path) -> None:
    env = _local(tmp_path)
    after = edit_guard(
        deployment_from_env(env),
        lambda st: st["Condition"]["StringNotEquals"]["aws:PrincipalAccount"].remove(
            "100000000003"
        ),
    )
    result = _p4(env, after, Listed())
    assert result.holds
    assert {c["change"] for c in result.details} == {"narrowing"}
    assert {tuple(c["account_ids"]) for c in result.details} == {("100000000003",)}


def _described(result: Any) -> list[tuple[Any, ...]]:
    """The changes as the review words them, without the order found and the example chosen."""
    return sorted(
        (
            c["where"],
            c["change"],
            c["accounts"],
            tuple(c["account_ids"]),
            c["actions"],
            tuple(c["regions"]),
            c["principals"],
            c["other"],
            c["listed_by"],
        )
        for c in result.details
    )


@pytest.mark.parametrize(
    "case", ["single, nothing deployed before", "per_ou, nothing deployed before", "widening"]
)
def test_p4_words_a_change_places_share_as_finding_it_for_each_place_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """P4 finds the changed requests once for places whose formulas are the same terms.

    Under the single layout every OU carries the same SCP; under per_ou,
    Workloads and Sandbox each permit one account of their own, so their
    formulas are the same terms with different accounts behind them. Each
    place must still name its own accounts and list its own widenings, as
    when every place finds its changes anew. (Its example may differ: it is
    made from whichever model found the change, and the evaluator confirms
    it for this place, or P4 stops with ProofError.)
    """
    layout = 'scp_layout = "per_ou"' if case.startswith("per_ou") else ""
    env = Environment(local_env(tmp_path, settings=layout), datetime.date(2026, 11, 30))
    deployed = deployment_from_env(env)
    if case == "widening":
        before, after = deployed, edit_guard(deployed, _add_payments)
        listed = Listed(accounts=frozenset({PAYMENTS}))
    else:
        # One OU's control allows one Region more: its formulas are other terms.
        after = edit_control(deployed, "AllowedRegions", ["us-west-2"], ou="Security")
        before, listed = dep.Deployment("nothing deployed", ()), Listed()
    original = prove._enumerated
    shared: list[bool] = []

    def counted(memo: dict[Any, Any], *args: Any) -> Any:
        size = len(memo)
        found = original(memo, *args)
        shared.append(len(memo) == size)
        return found

    monkeypatch.setattr(prove, "_enumerated", counted)
    once = _p4(env, after, listed, before)
    assert any(shared), "no two places shared their formulas: the case tests nothing"
    monkeypatch.setattr(prove, "_enumerated", lambda memo, *args: original({}, *args))
    anew = _p4(env, after, listed, before)
    assert (once.holds, once.checked) == (anew.holds, anew.checked)
    assert _described(once) == _described(anew)
    if case.startswith("per_ou"):
        own = {'OU "Workloads"': "100000000001", 'OU "Sandbox"': "100000000003"}
        for change in once.details:
            if change["where"] in own and "every account but" in change["accounts"]:
                assert own[change["where"]] in change["accounts"], change
                others = set(own.values()) - {own[change["where"]]}
                assert not any(o in change["accounts"] for o in others), change
    if case == "widening":
        assert {c["listed_by"] for c in once.details} == {"newly permitted account"}
        assert len({c["where"] for c in once.details}) == 3


def test_the_review_s_widenings_say_what_they_concern() -> None:
    listed = listed_from_review(
        [
            Widening("SCP", "account 1 newly permitted", accounts=("111111111112",)),
            Widening("control", "AllowedRegions + us-east-2 on OU x", regions=("us-east-2",)),
            Widening("control", "ExemptedActions + s3:* on OU x", actions=("s3:*",)),
            Widening("control", "statement X removed", broad=True),
        ]
    )
    assert listed == Listed(
        frozenset({"111111111112"}),
        frozenset({"us-east-2"}),
        ("s3:*",),
        (),
        frozenset(),
        ("statement X removed",),
    )


def test_prove_of_a_plan_decides_p4_with_the_reviews_list(tmp_path: Path) -> None:
    env = _local(tmp_path, permit_payments=True)
    plan = plan_fixture("permit-account") / "plan.json"
    code, out, _ = run("prove", "--env-dir", str(env.dir), "--plan", str(plan), "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert [(p["id"], p["holds"]) for p in report["properties"]] == [
        ("P1", True),
        ("P2", True),
        ("P3", True),
        ("P4", True),
    ]
    changes = report["properties"][3]["changes"]
    assert changes
    assert {(c["change"], c["accounts"], c["listed_by"]) for c in changes} == {
        ("widening", "account 100000000002 (payments)", "newly permitted account")
    }


def test_a_failed_property_reaches_the_review_and_the_sarif_log(tmp_path: Path) -> None:
    from regionguard.gaterecord import PlanFiles
    from regionguard.pipeline import _proof_findings, _proof_notes
    from regionguard.prove import run as prove_run

    env = _local(tmp_path)
    report = prove_run(env, landing_zone_deny=True)
    files = PlanFiles(env.dir)
    [finding] = _proof_findings(report, files)
    assert (finding.rule_id, finding.level, finding.file) == (
        "RG-PROOF-P3",
        "error",
        str(files.json),
    )
    assert finding.message.startswith("P3 open where intended does not hold: bedrock:InvokeModel")
    assert "(reproduce: regionguard explain" in finding.message
    notes = _proof_notes(report)
    assert [n.split(":")[0] for n in notes] == [
        "Proof P1 (closed)",
        "Proof P2 (Region deny intact)",
        "Proof P3 (open where intended)",
    ]
    assert "**fails**" in notes[2] and "Counterexample:" in notes[2]


def test_the_plan_chain_leaves_the_proof_out_where_the_gate_fails_on_unknown_values(
    tmp_path: Path,
) -> None:
    from regionguard.gaterecord import PlanFiles
    from regionguard.pipeline import _Outcome, _prove_stage
    from regionguard.planfile import load_plan
    from regionguard.review import review_plan

    env = Environment(REPO / "envs" / "local", datetime.date(2026, 11, 30))
    files = PlanFiles(tmp_path)
    unknown = load_plan(plan_fixture("unknown-scp-content") / "plan.json")
    review = review_plan(unknown)
    assert not review.passed
    out = _Outcome()
    assert _prove_stage(env, unknown, review, files, out) is None
    assert out.notes[0].startswith("The proof did not run: ")
    assert "unknown until apply" in out.notes[0]
    assert out.findings == []

    passing = load_plan(plan_fixture("no-change") / "plan.json")
    out = _Outcome()
    proof = _prove_stage(env, passing, review_plan(passing), files, out)
    assert proof is not None and proof.holds
    assert [n.split(":")[0] for n in out.notes[:4]] == [
        "Proof P1 (closed)",
        "Proof P2 (Region deny intact)",
        "Proof P3 (open where intended)",
        "Proof P4 (no widening by surprise)",
    ]


def test_the_review_shows_p4_s_unlisted_widenings_first_and_a_bounded_list() -> None:
    from regionguard.pipeline import PROOF_CHANGES_SHOWN, _proof_notes
    from regionguard.prove import PropertyResult, Report

    def change(kind: str, account: str, listed_by: str | None) -> dict[str, Any]:
        return {
            "change": kind,
            "where": 'OU "Workloads"',
            "accounts": f"account {account}",
            "account_ids": [account],
            "regions": ["us-east-2"],
            "actions": "actions matching [bedrock:InvokeModel]",
            "principals": "",
            "other": "",
            "listed_by": listed_by,
        }

    details = [change("narrowing", f"1000000{n:05d}", None) for n in range(60)]
    details += [change("widening", f"2000000{n:05d}", "newly permitted account") for n in range(5)]
    details.append(change("widening", "300000000000", None))
    p4 = PropertyResult("P4", "the claim", False, "1 place compared", details=details)
    notes = _proof_notes(Report("plan", (p4,), 0.1, 1, 1), "regionguard prove --plan p.json")
    assert notes[1] == (
        f"P4: 66 changes, the first {PROOF_CHANGES_SHOWN} below; "
        "`regionguard prove --plan p.json` lists them all"
    )
    assert len(notes) == 2 + PROOF_CHANGES_SHOWN
    assert notes[2].startswith("P4 widening: account 300000000000")
    assert notes[2].endswith("(**not listed by the review**)")
    assert [n.split(":")[0] for n in notes[3:8]] == ["P4 widening"] * 5
    assert notes[-1].startswith("P4 narrowing: account 100000000033")  # 34 of 60 shown
