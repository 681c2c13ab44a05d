"""The chain of `regionguard plan`, `review`, `apply` and `destroy`: one stage after another.

:func:`plan` runs, for one environment and with one reading of its files:

1. inputs (:mod:`regionguard.inputs`): settings, registry, the committed
   tfvars up to date, no second source of a guarded variable;
2. registration: the first-tier OUs Control Tower has not registered,
   recorded for Terraform (read through :mod:`regionguard.orgfacts`);
3. validate: every rule over what the environment deploys;
4. terraform init, plan (saved to ``tfplan``) and show (``tfplan.json``);
5. review and gate of the saved plan itself (``tfplan.md``);
6. prove: P1-P4 of :mod:`regionguard.prove` on the saved plan, added to the
   review and the SARIF log; a property that fails fails the plan;
7. expectations: the facts of ``expectations.yaml`` over the plan's result;
8. checkov over ``tfplan.json`` (:mod:`regionguard.checkovscan`): loaded
   while Terraform plans, handed the file as soon as it is written, so that
   it runs beside 5 to 7;
9. the gate record (``tfplan.gate.json``), written only when all passed.

:func:`apply` applies that saved plan and nothing else, only while the
record still matches the plan and every input, then, where the environment
has a sandbox, checks the facts against the emulated organization. The
Makefile, the CI workflow and Atlantis call these through
:mod:`regionguard.commands.plan` and nothing else.

:func:`review` is :func:`plan` for a pull request: whatever happens, it
leaves the review (``tfplan.md``, naming the stage that stopped the chain),
the pull-request comment (``tfplan.comment.md``: the verdict and the counts
first, within GitHub's limit on a comment at any size of the plan) and a
SARIF 2.1.0 log of validate's, the gate's and checkov's findings
(``tfplan.sarif``), then fails as :func:`plan` would. ``tfplan.md`` stays
within GitHub's limit on a step's job summary.

A permit that has expired is never planned (:func:`regionguard.inputs.as_planned`):
the plan leaves those accounts out, the review warns, and the pull request
goes on; the gate record binds the plan and its inputs, and ``apply`` reads
the accounts the saved plan itself permits (``terraform show -json``) and
refuses it once one of those permits has ended (docs/decisions.md, Permit
expiry).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from regionguard import catalogue, checkovscan, local_sandbox, sarif
from regionguard.atomic import write_atomic
from regionguard.aws import Aws, AwsCallError
from regionguard.environment import Environment
from regionguard.errors import FindingsError, InputError, RegionguardError
from regionguard.expectations import STEP_4, Staged, staged_from_org, staged_from_plan, staged_text
from regionguard.findings import Finding, has_errors
from regionguard.gaterecord import (
    PlanFiles,
    Reviewed,
    check_record,
    input_hash,
    input_hashes,
    judge_saved_plan,
    private_copy,
    text_sha256,
    write_record,
)
from regionguard.inputs import (
    BACKEND_FILE,
    as_planned,
    backend_changed,
    backend_config,
    check_inputs,
    expiry_warning,
    permits_variable,
)
from regionguard.markdown import md_code, md_line
from regionguard.orgfacts import OrgFacts
from regionguard.orgmodel import read_landing_zone_deny, targets_without_landing_zone_deny
from regionguard.planfile import ATTACHMENT_TYPE, CONTROL_TYPE, POLICY_TYPE, Plan, parse_plan
from regionguard.preflight import CONSOLE_REGION_DENY_ON, record_unregistered
from regionguard.repo import command, program, relative_to_cwd
from regionguard.review import PlanReview, review_plan
from regionguard.review_format import (
    SUMMARY_LIMIT,
    comment_markdown,
    fit_markdown,
    format_review,
    utf8_size,
)
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.settings import LOCK_FILE, UNREGISTERED_TFVARS
from regionguard.terraform import Terraform, TerraformError, terminate_as_interrupt
from regionguard.validation import validate_env
from regionguard.words import count

if TYPE_CHECKING:  # the proof (and z3) is imported only when a plan runs it
    from regionguard.prove import Report

__all__ = [
    "COMMENT_FILE",
    "LOCK_TIMEOUT",
    "SARIF_FILE",
    "Applied",
    "RunOptions",
    "Stages",
    "apply",
    "destroy",
    "init_terraform",
    "plan",
    "review",
    "run_initialized",
    "terminate_as_interrupt",
    "terraform_for",
]

T = TypeVar("T")
LOCK_TIMEOUT = "120s"
REGISTRY_HOST = "registry.terraform.io"
SARIF_FILE = "tfplan.sarif"
# The pull-request comment of `regionguard review` (review_format.COMMENT_LIMIT).
COMMENT_FILE = "tfplan.comment.md"
# Resources a review note names per failed checkov check; the SARIF log has every one.
CHECKOV_NOTE_ENTRIES = 5
# Rule ids of the pipeline's own findings (validate's and the gate's keep theirs).
RULE_EXPIRED_COMMITTED = catalogue.TFVARS_EXPIRED_PERMIT.id
RULE_FACT_BROKEN = catalogue.FACT_BROKEN.id
# A property of regionguard prove that does not hold, by property: RG-PROOF-P1 ... P4.
RULE_PROOF = {property_id: rule.id for property_id, rule in catalogue.PROOF.items()}
RULE_STOPPED = catalogue.PIPELINE_STOPPED.id
_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
)


@dataclass(frozen=True)
class RunOptions:
    """How one run of the chain may go: the command line's options, nothing else."""

    timeout: float = 900.0
    sandbox_port: int = 4580
    allow_destroy: bool = False
    # False: plan without the state lock, for the read-only plan role, which
    # may read the state but not write its lock object (docs/adopt.md).
    state_lock: bool = True


# ---------------------------------------------------------------- stages


# A stage that runs longer than this says so, and again after each such stretch.
HEARTBEAT_SECONDS = 30.0
# Terraform's lines that sum up a plan, an apply or a destroy: passed through.
_TERRAFORM_SUMMARY = re.compile(
    r"^(Plan: |No changes\.|Apply complete!|Destroy complete!|Changes to Outputs:)"
)


class Stages:
    """Progress lines on stderr: one per stage, with its time, and one per stretch of silence."""

    def __init__(self, verb: str, env: Environment) -> None:
        self.prefix = f"regionguard {verb} {env.dir}"
        self.current = "start"

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        print(f"{self.prefix}: {name} ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                took = time.monotonic() - start
                print(
                    f"{self.prefix}: {name}: still running ({took:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        beat = threading.Thread(target=heartbeat, name=f"heartbeat {name}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            done.set()
            beat.join()
        took = time.monotonic() - start
        print(f"{self.prefix}: {name}: done ({took:.1f} s)", file=sys.stderr, flush=True)


def terraform_summary(line: str) -> None:
    """Pass Terraform's summary lines through ("Plan: 7 to add, ..."), on stderr."""
    if _TERRAFORM_SUMMARY.match(line):
        print(f"  terraform: {line.strip()}", file=sys.stderr, flush=True)


def terraform_for(env: Environment, options: RunOptions, endpoint: str | None) -> Terraform:
    """The Terraform of ``env``; with a sandbox, pointed at it (``local_sandbox``)."""
    env.check_single_source()  # the one door: nothing reaches Terraform unchecked
    variables = dict(os.environ)
    variables["TF_IN_AUTOMATION"] = "1"
    variables["TF_INPUT"] = "0"
    if endpoint is not None:
        variables = local_sandbox.terraform_environment(endpoint, variables)
    return Terraform(env.dir, timeout=options.timeout, env=variables, progress=terraform_summary)


def init_terraform(tf: Terraform, env: Environment) -> None:
    """``terraform init`` of ``env``, leaving the lock file as committed (``-lockfile=readonly``).

    A provider the configuration needs and the lock file does not pin would
    otherwise be installed as found and recorded (Terraform's page "Dependency
    Lock File"); the door checks that every provider the lock file pins has
    checksums (regionguard.door). The door runs again after it: Terraform's
    own record of the modules it installed (``modules.json``) must call none
    from outside the repository, whatever the configuration's syntax.
    """
    try:
        tf.run(
            "init",
            input=False,
            backend=True,
            backend_config=backend_config(env.dir),
            lock_timeout=LOCK_TIMEOUT,
            lockfile="readonly",
        )
    except TerraformError as exc:
        text = str(exc)
        if "Provider dependency changes detected" in text:
            raise InputError(
                f"terraform init in {env.dir}: the configuration needs a provider, or a "
                f"version of one, that {env.dir / LOCK_FILE} does not pin, and regionguard's "
                f"init leaves the lock file as committed (-lockfile=readonly); run "
                f"`terraform -chdir={env.dir} init`, review the change to {LOCK_FILE} and "
                "commit it"
            ) from None
        if "Backend configuration changed" in text:
            where = relative_to_cwd(env.dir)
            raise InputError(
                f"terraform init in {where}: the backend differs from the one Terraform set up "
                f"at the last init; run `terraform -chdir={where} init -reconfigure"
                f"{' -backend-config=' + BACKEND_FILE if backend_config(env.dir) else ''}` to use "
                "it as configured (or -migrate-state to move the state to it), then run the "
                "command again"
            ) from None
        if REGISTRY_HOST in text or "provider registry" in text.lower():
            found = [c for c in _MIRROR_CANDIDATES if Path(c, REGISTRY_HOST).is_dir()]
            hint = f" (this machine has one at {found[0]})" if found else ""
            raise InputError(
                f"terraform init in {env.dir} cannot reach {REGISTRY_HOST}: set "
                f"REGIONGUARD_TF_MIRROR to a provider filesystem mirror{hint}, e.g. "
                f"`export REGIONGUARD_TF_MIRROR={found[0] if found else '/path/to/mirror'}`"
            ) from None
        raise
    env.check_single_source()


# Terraform names the command that fixes a folder it cannot use as it is
# ("Module not installed", "Inconsistent dependency lock file", "Backend
# initialization required": each says to run terraform init).
_ASKS_FOR_INIT = re.compile(r"terraform init\b")


def initialized(env: Environment) -> bool:
    """True when ``terraform init`` ran in the folder: providers and modules are installed."""
    data = env.dir / ".terraform"
    return (data / "providers").is_dir() and (data / "modules" / "modules.json").is_file()


def run_initialized(
    tf: Terraform, env: Environment, stages: Stages, name: str, command: Callable[[], T]
) -> T:
    """Run one terraform ``command`` as stage ``name`` in an initialized folder.

    ``terraform init`` runs first where the folder is not initialized (a fresh
    checkout), and otherwise only when the command fails saying the folder
    needs it (the lock file, a module or the backend changed); the command
    then runs once more. Terraform itself checks, at every plan and apply,
    that the installed providers and modules match the configuration and the
    lock file, so skipping an init that would change nothing is safe.
    """
    if not initialized(env):
        with stages.stage("terraform init"):
            init_terraform(tf, env)
    else:
        _refuse_stale_backend(env)
    with stages.stage(name):
        try:
            return command()
        except TerraformError as exc:
            if not _ASKS_FOR_INIT.search(str(exc)):
                raise
            print(f"  terraform asks for terraform init in {env.dir}: running it", file=sys.stderr)
            init_terraform(tf, env)
            return command()


def _refuse_stale_backend(env: Environment) -> None:
    """Refuse to run where ``backend.hcl`` changed since the folder's last ``terraform init``.

    Terraform would go on with the backend it recorded then (the old state),
    and asks for no init: the plan would be reviewed against another state.
    """
    changed = backend_changed(env.dir)
    if changed:
        where = relative_to_cwd(env.dir)
        raise InputError(
            f"{where / BACKEND_FILE}: {', '.join(changed)} changed since terraform init last ran "
            f"in {where}, and Terraform would keep using the backend it set up then; run "
            f"`terraform -chdir={where} init -reconfigure -backend-config={BACKEND_FILE}` to use "
            "the new backend (or -migrate-state to move the state to it), then run the "
            "command again"
        )


def _record_unregistered(env: Environment, facts: OrgFacts) -> None:
    """Record the first-tier OUs Control Tower has not registered, as preflight does.

    Control Tower refuses controls on them, and no data source of the aws
    provider lists them, so Terraform reads them from
    ``unregistered_ous.auto.tfvars.json`` and leaves them out; the review
    names them as not covered, with the reason.
    """
    try:
        changed = record_unregistered(env.dir, facts)
    except (AwsCallError, InputError):
        print(
            f"  warning: cannot read which OUs Control Tower registered; {env.dir} keeps its "
            "recorded list (run `make preflight` to see why)",
            file=sys.stderr,
        )
        return
    if changed:
        env.forget("unregistered_ous")  # read again, as Terraform will
        print(
            "  the unregistered OUs changed: commit unregistered_ous.auto.tfvars.json "
            "with this change",
            file=sys.stderr,
        )


class _Outcome:
    """What one run of the chain found: the review and SARIF of `regionguard review`."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.review: PlanReview | None = None
        self.review_markdown: str | None = None
        self.notes: list[str] = []
        # What runs in the background (checkov), stopped when the chain ends.
        self.background = ExitStack()


def _plan_chain(env: Environment, options: RunOptions, out: _Outcome, stages: Stages) -> Staged:

    files = PlanFiles(env.dir)
    files.clear()
    with stages.stage("inputs"):
        check_inputs(env)
        env, lingering = as_planned(env)
        checkov_install = checkovscan.installation()  # before the plan: exit 2 if missing
        # The inputs as this run read them; the record binds these (write_record).
        inputs = input_hashes(env)
    endpoint = None
    if env.has_sandbox:
        with stages.stage("sandbox"):
            endpoint = local_sandbox.start(env, options.sandbox_port)
    with stages.stage("registration"):
        facts = OrgFacts(Aws(env.settings.home_region, endpoint))
        _record_unregistered(env, facts)
        # The one input this run writes, as it wrote it.
        inputs[UNREGISTERED_TFVARS] = input_hash(env.dir / UNREGISTERED_TFVARS)
        deny = read_landing_zone_deny(facts)  # the expectations stage evaluates with it
        if deny.unreadable is not None:
            print(
                f"  warning: cannot read whether the landing-zone Region deny is on "
                f"({deny.unreadable}); the facts are evaluated with it on and off",
                file=sys.stderr,
            )
    findings: list[Finding] = []
    if lingering:
        warning = expiry_warning(env, lingering)
        out.notes.append(f":warning: {md_line(warning)}")
        findings.append(
            Finding(RULE_EXPIRED_COMMITTED, "warning", warning, file=str(env.tfvars_path))
        )
        print(f"regionguard: warning: {warning}", file=sys.stderr)
    with stages.stage("validate"):
        findings += validate_env(env)
        out.findings.extend(findings)
        for f in findings:
            if f.level != "note":
                print(f"  {f.level}: {f.entry + ': ' if f.entry else ''}{f.message} [{f.rule_id}]")
        if has_errors(findings):
            raise FindingsError(f"validate {env.dir}: fix the errors above")
    # checkov loads while Terraform plans; it scans tfplan.json once written.
    scan = out.background.enter_context(
        checkovscan.start(timeout=options.timeout, install=checkov_install)
    )
    tf = terraform_for(env, options, endpoint)
    variables = permits_variable(env, lingering)
    with terminate_as_interrupt():
        run_initialized(
            tf,
            env,
            stages,
            "terraform plan",
            lambda: tf.plan(
                files.plan.resolve(),
                variables=variables,
                lock_timeout=LOCK_TIMEOUT,
                lock=options.state_lock,
            ),
        )
        with stages.stage("terraform show"), private_copy(files.plan) as (copy, plan_sha256):
            text = tf.show_json_text(copy)
    reviewed = Reviewed(inputs, plan_sha256, text_sha256(text))
    plan = parse_plan(text, str(files.json))
    write_atomic(files.json, text)
    scan.scan(files.json)  # runs beside the review and the expectations
    with stages.stage("review and gate"):
        review = review_plan(
            plan, allow_destroy=options.allow_destroy, account_names=env.account_names
        )
        out.review = review
        out.review_markdown = format_review(review, "markdown")
        out.findings.extend(review.reasons)
        out.findings.extend(review.warnings)
        write_atomic(files.review, _summary_file(out.review_markdown, out.notes, files))
        sys.stdout.write(format_review(review, "text", full_review=str(files.review)))
    with stages.stage("prove"):
        proof = _prove_stage(env, plan, review, files, out)
        write_atomic(files.review, _summary_file(out.review_markdown, out.notes, files))
    with stages.stage("expectations"):
        staged = staged_from_plan(env, env.expectations_path, plan, deny)
        print(staged_text(env.expectations_path, staged))
        _note_waiting(env, staged, out, files)
    runs = staged.runs
    for _scenario, outcomes in runs:
        for o in outcomes:
            if not o.holds:
                out.findings.append(
                    Finding(
                        RULE_FACT_BROKEN,
                        "error",
                        f"{o.expectation.label()}: {len(o.breaches)} of {o.calls} calls are "
                        f"not {o.expectation.expect.upper()}",
                        file=str(env.expectations_path),
                    )
                )
    checkov = _checkov_stage(scan, files, out, stages)
    broken = len(staged.broken)
    problems = []
    if not review.passed:
        problems.append(
            f"the plan gate failed ({count(len(review.reasons), 'reason')}, see {files.review})"
        )
    if proof is not None and not proof.holds:
        properties = ", ".join(f"{p.id} {p.title}" for p in proof.failed())
        problems.append(f"the proof failed ({properties}, see {files.review})")
    if broken:
        problems.append(
            f"{env.expectations_path} does not hold for this plan ({count(broken, 'broken fact')})"
        )
    if checkov.failed:
        failed = sorted({f.rule_id for f in checkov.findings})
        problems.append(f"checkov failed {', '.join(failed)} on {files.json}")
    if problems:
        raise FindingsError(
            f"plan {env.dir}: " + "; ".join(problems) + "; no gate record, so apply refuses it"
        )
    write_record(
        files,
        env,
        reviewed=reviewed,
        allow_destroy=options.allow_destroy,
        widening=[w.message for w in review.widening],
        facts=sum(len(o) for _, o in runs),
        checkov_version=checkov.version,
        permitted=env.generated.permitted_ids,
        proof={p.id: "holds" for p in proof.properties} if proof is not None else None,
    )
    print(
        f"plan {env.dir}: passed{_waiting(staged)}; review in {files.review}; "
        f"`make apply ENV={env.name}` applies exactly {files.plan}"
    )
    return staged


def _waiting(staged: Staged) -> str:
    n = len(staged.waiting)
    return f"; {count(n, 'fact')} {'waits' if n == 1 else 'wait'} for {STEP_4}" if n else ""


def _note_waiting(env: Environment, staged: Staged, out: _Outcome, files: PlanFiles) -> None:
    """Name in the review the facts that hold only once the landing-zone Region deny is off."""
    if not staged.waiting or staged.deny is None or out.review_markdown is None:
        return
    facts = "; ".join(md_code(o.expectation.fact) for o in staged.waiting)
    out.notes.append(
        f"The landing-zone Region deny is on ({md_line(staged.deny.label())}): "
        f"{count(len(staged.waiting), 'fact')} of {md_code(str(env.expectations_path))} "
        f"{'holds' if len(staged.waiting) == 1 else 'hold'} only after {STEP_4}, not right "
        f"after this apply: {facts}"
    )
    write_atomic(files.review, _summary_file(out.review_markdown, out.notes, files))


def _prove_stage(
    env: Environment, plan: Plan, review: PlanReview, files: PlanFiles, out: _Outcome
) -> Report | None:
    """The proof of the saved plan, its notes and findings added to ``out``.

    None when the proof cannot run on a plan the gate already fails (a
    value unknown until apply, an SCP that cannot be read); on a plan the
    gate passes, a policy the proof cannot read stops the chain (exit 2).
    """
    try:
        proof = _prove(env, plan, review, files)
    except InputError as exc:
        if review.passed:
            raise
        out.notes.append(f"The proof did not run: {md_line(str(exc))}")
        print(f"  the proof did not run: {exc}", file=sys.stderr)
        return None
    print(proof.text())
    whole = command(f"prove --env-dir {env.dir} --plan {files.json}")
    out.notes.extend(_proof_notes(proof, whole))
    out.findings.extend(_proof_findings(proof, files))
    return proof


def _prove(env: Environment, plan: Plan, review: PlanReview, files: PlanFiles) -> Report:
    """P1-P4 of the saved plan, P4 against the review's widenings (docs/scp-evaluation.md)."""
    # z3 and the proof load here, not for every command (docs/architecture.md).
    from regionguard.prove import listed_from_review, run

    explain = [program(), "explain", "--env-dir", str(env.dir), "--plan", str(files.json)]
    return run(env, plan=plan, listed=listed_from_review(review.widening), explain_prefix=explain)


# P4's changes the review lists at most (widenings the review does not list first), so that
# tfplan.md keeps its bound; `regionguard prove --plan` lists them all.
PROOF_CHANGES_SHOWN = 40


def _proof_notes(proof: Report, whole: str = "regionguard prove --plan") -> list[str]:
    """The proof in the review: one line per property, the counterexample of a failing one."""
    notes = []
    for p in proof.properties:
        verdict = "holds" if p.holds else "**fails**"
        line = f"Proof {p.id} ({p.title}): {verdict}; {md_line(p.checked)}"
        if p.counterexample is not None:
            line += f". Counterexample: {md_line(p.counterexample.describe())}"
        if p.explain:
            line += f"; reproduce: `{p.explain}`"
        notes.append(line)
        changes = sorted(
            p.details or (),
            key=lambda c: (c["change"] != "widening", c["listed_by"] is not None),
        )
        if len(changes) > PROOF_CHANGES_SHOWN:
            notes.append(
                f"P4: {len(changes)} changes, the first {PROOF_CHANGES_SHOWN} below; "
                f"`{whole}` lists them all"
            )
        for change in changes[:PROOF_CHANGES_SHOWN]:
            kind = "widening" if change["change"] == "widening" else "narrowing"
            listed = change["listed_by"]
            tag = f" (listed: {md_line(listed)})" if listed else ""
            if kind == "widening" and not listed:
                tag = " (**not listed by the review**)"
            whom = ", ".join(
                md_line(change[k])
                for k in ("accounts", "actions", "principals", "other")
                if change[k]
            )
            notes.append(
                f"P4 {kind}: {whom}, {md_line(', '.join(change['regions']))}, "
                f"{md_line(change['where'])}{tag}"
            )
    return notes


def _proof_findings(proof: Report, files: PlanFiles) -> list[Finding]:
    return [
        Finding(
            RULE_PROOF[p.id],
            "error",
            f"{p.id} {p.title} does not hold"
            + (f": {p.counterexample.describe()}" if p.counterexample else "")
            + (f" (reproduce: {p.explain})" if p.explain else ""),
            file=str(files.json),
        )
        for p in proof.failed()
    ]


def _checkov_stage(
    scan: checkovscan.Scan, files: PlanFiles, out: _Outcome, stages: Stages
) -> checkovscan.Verdict:
    """checkov's verdict on the plan JSON: its failures join the findings and the review."""
    with stages.stage("checkov"):
        try:
            verdict = scan.wait()
        except FindingsError as exc:
            out.findings.append(
                Finding(RULE_STOPPED, "error", f"checkov: {exc}", file=str(files.json))
            )
            raise
    out.findings.extend(verdict.findings)
    by_rule: dict[str, list[Finding]] = {}
    for f in verdict.findings:
        print(f"  {f.level}: {f.entry}: {f.message} [{f.rule_id}]")
        by_rule.setdefault(f.rule_id, []).append(f)
    for rule_id, failed in by_rule.items():  # a note per check, so the review stays short
        reason = md_line(failed[0].message)
        if len(failed) == 1:
            out.notes.append(f"checkov `{rule_id}` failed on `{failed[0].entry}`: {reason}")
            continue
        shown = ", ".join(f"`{f.entry}`" for f in failed[:CHECKOV_NOTE_ENTRIES])
        left = len(failed) - CHECKOV_NOTE_ENTRIES
        more = f" and {left} more" if left > 0 else ""
        out.notes.append(
            f"checkov `{rule_id}` failed on {len(failed)} resources ({shown}{more}); "
            f"the first: {reason}"
        )
    if verdict.failed and out.review_markdown is not None:
        write_atomic(files.review, _summary_file(out.review_markdown, out.notes, files))
    return verdict


def _with_notes(markdown: str, notes: Sequence[str]) -> str:
    if not notes:
        return markdown
    lines = [markdown.rstrip("\n"), "", "### Pipeline", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _summary_file(markdown: str, notes: Sequence[str], files: PlanFiles) -> str:
    """``tfplan.md``: the review and the notes, within a step's job summary (the notes kept)."""
    room = SUMMARY_LIMIT - utf8_size(_with_notes("", notes))
    cut = (
        "**The review is cut here to fit GitHub's limit on a job summary.** The whole review: "
        f"`{command(f'plan-diff {files.json} --format markdown')}` (or `--format json`)."
    )
    return _with_notes(fit_markdown(markdown, room, cut, size=utf8_size), notes)


def _full_review_at(files: PlanFiles) -> str:
    """Where a pull-request comment says the whole review is: the run's job summary, the file."""
    server, repository, run = (
        os.environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    run_page = (
        f"[this workflow run]({server}/{repository}/actions/runs/{run})"
        if server and repository and run
        else "this workflow run"
    )
    return f"the job summary of {run_page} and, among its artifacts, `{files.review}`"


def plan(env: Environment, options: RunOptions) -> Staged:
    """The whole chain; FindingsError (exit 1) or InputError (exit 2) when a stage stops it."""
    out = _Outcome()
    with out.background:
        return _plan_chain(env, options, out, Stages("plan", env))


def review(env: Environment, options: RunOptions) -> None:
    """The chain of ``plan``; the review and the SARIF log are written whatever happens."""
    files = PlanFiles(env.dir)
    stages = Stages("review", env)
    out = _Outcome()
    sarif_path = files.dir / SARIF_FILE
    comment_path = files.dir / COMMENT_FILE
    sarif_path.unlink(missing_ok=True)
    comment_path.unlink(missing_ok=True)
    try:
        with out.background:
            _plan_chain(env, options, out, stages)
    except (RegionguardError, KeyboardInterrupt) as exc:
        message = str(exc) if isinstance(exc, RegionguardError) else "interrupted"
        if out.review_markdown is None:
            out.findings.append(
                Finding(RULE_STOPPED, "error", f"{stages.current}: {message}", file=str(env.dir))
            )
            out.notes.append(f"**Stopped at {stages.current}**: {md_line(message)}")
        else:
            out.notes.append(f"**Failed**: {md_line(message)}")
        raise
    finally:
        write_atomic(files.review, _failure_review(env, out, stages))
        write_atomic(comment_path, _comment(env, out, stages))
        write_atomic(sarif_path, sarif.dumps(out.findings))
        print(
            f"review {env.dir}: {files.review}, {comment_path} and {sarif_path} written",
            file=sys.stderr,
        )


def _comment(env: Environment, out: _Outcome, stages: Stages) -> str:
    """The pull-request comment: the verdict and counts first, within GitHub's limit."""
    files = PlanFiles(env.dir)
    if out.review is not None and out.review_markdown is not None:
        return comment_markdown(
            out.review, out.review_markdown, notes=out.notes, full_review=_full_review_at(files)
        )
    return comment_markdown(
        None, _failure_review(env, out, stages), full_review=_full_review_at(files)
    )


def _failure_review(env: Environment, out: _Outcome, stages: Stages) -> str:
    """The review to post: the plan's review with the pipeline's notes, or what stopped it."""
    if out.review_markdown is not None:
        return _summary_file(out.review_markdown, out.notes, PlanFiles(env.dir))
    lines = [f"## Plan review: **failed** at {stages.current}", ""]
    lines.append(
        f"`regionguard plan` stopped before Terraform's plan of {env.dir} could be reviewed."
    )
    lines.append("")
    for title, level in (("Errors", "error"), ("Warnings", "warning")):
        found = [f for f in out.findings if f.level == level]
        if found:
            lines += [f"### {title}", ""]
            lines += [
                f"- {md_line((f.entry + ': ' if f.entry else '') + f.message)} `{f.rule_id}`"
                for f in found
            ]
            lines.append("")
    return _with_notes("\n".join(lines).rstrip("\n") + "\n", out.notes)


@dataclass(frozen=True)
class Applied:
    """What an apply did ("created 1 SCP, ..."), and the facts checked against the organization."""

    done: str
    staged: Staged


def apply(env: Environment, options: RunOptions) -> Applied:
    """Apply the saved plan that passed every stage, and nothing else (InputError: refused)."""
    files = PlanFiles(env.dir)
    stages = Stages("apply", env)
    with ExitStack() as held:
        with stages.stage("gate record"):
            # The saved plan as this apply reads it: checked against the record,
            # shown and applied from a private copy, so no other process can swap it.
            copy, plan_sha256 = files.plan, None
            if os.path.lexists(files.plan):
                copy, plan_sha256 = held.enter_context(private_copy(files.plan))
            problems = check_record(files, env, plan_sha256)
            if problems:
                raise InputError("\n".join(problems))
            env, _lingering = as_planned(env)
        return _apply_copy(env, options, files, stages, copy)


def _apply_copy(
    env: Environment, options: RunOptions, files: PlanFiles, stages: Stages, copy: Path
) -> Applied:
    """The part of :func:`apply` after the record: show, judge and apply the private ``copy``."""
    endpoint = None
    if env.has_sandbox:
        endpoint = local_sandbox.running_endpoint(env)
        if endpoint is None:
            raise InputError(
                f"apply {env.dir}: the sandbox is not running, so the saved plan has nothing "
                "to apply to; run `make plan` again"
            )
    tf = terraform_for(env, options, endpoint)
    with terminate_as_interrupt():
        # In a fresh checkout (the apply job of the workflow) the saved plan
        # came as an artifact, the providers and the backend did not: init.
        shown = run_initialized(
            tf,
            env,
            stages,
            "permits of the saved plan",
            lambda: tf.show_json_text(copy),
        )
        saved = judge_saved_plan(shown, files, env)
        with stages.stage("terraform apply"):
            tf.apply(copy, lock_timeout=LOCK_TIMEOUT)
    files.clear()
    done = applied_summary(saved)
    where = "the sandbox" if endpoint else "the organization"
    # Read-only, with the environment's own credentials (or the sandbox).
    with stages.stage(f"expectations against {where}"):
        facts = OrgFacts(Aws(env.settings.home_region, endpoint))
        try:
            staged = staged_from_org(env, env.expectations_path, facts)
        except InputError as exc:
            raise FindingsError(
                f"apply {env.dir}: applied ({done}), but the facts of {env.expectations_path} "
                f"could not be checked against {where}: {exc}; check them with "
                f"`{command(f'verify --env-dir {env.dir} --live')}`"
            ) from None
        print(staged_text(env.expectations_path, staged))
    if staged.broken:
        raise FindingsError(
            f"apply {env.dir}: applied ({done}); {env.expectations_path} does not hold in "
            f"{where} ({count(len(staged.broken), 'broken fact')})"
        )
    print(
        f"apply {env.dir}: applied ({done}); the facts of {env.expectations_path} hold in "
        f"{where}{_waiting(staged)}"
    )
    return Applied(done, staged)


_KINDS = {
    POLICY_TYPE: ("SCP", "SCPs"),
    ATTACHMENT_TYPE: ("SCP attachment", "SCP attachments"),
    CONTROL_TYPE: ("Region deny control", "Region deny controls"),
}
_DONE = {"create": "created", "update": "updated", "replace": "replaced", "delete": "deleted"}


def applied_summary(plan: Plan) -> str:
    """What applying ``plan`` did, in the reviewer's words: "created 1 SCP, 3 SCP attachments …"."""
    done: dict[str, dict[str, int]] = {}
    for change in plan.changes:
        if change.action in _DONE and change.resource_type in _KINDS:
            kinds = done.setdefault(change.action, {})
            kinds[change.resource_type] = kinds.get(change.resource_type, 0) + 1
    parts = []
    for action, verb in _DONE.items():
        kinds = done.get(action, {})
        if kinds:
            things = [count(n, *_KINDS[kind]) for kind, n in sorted(kinds.items(), key=_order)]
            parts.append(f"{verb} {', '.join(things)}")
    return "; ".join(parts) if parts else "nothing to change"


def _order(item: tuple[str, int]) -> int:
    return list(_KINDS).index(item[0])


def destroy(
    env: Environment,
    options: RunOptions,
    *,
    confirm: str | None,
    allow_no_region_deny: bool = False,
) -> None:
    """Destroy what ``env`` manages; any environment but one with a sandbox needs ``confirm``.

    Refused while a target lacks the landing-zone Region deny, unless
    ``allow_no_region_deny`` (docs/adopt.md, Rollback).
    """
    if not env.has_sandbox and confirm != env.name:
        raise InputError(
            f"destroy {env.dir} removes the Region deny control and the SCP from every target "
            f"OU; re-run with --confirm {env.name} (make destroy ENV={env.name} "
            f"CONFIRM={env.name})"
        )
    endpoint = local_sandbox.start(env, options.sandbox_port) if env.has_sandbox else None
    tf = terraform_for(env, options, endpoint)  # the door and the backend before AWS is read
    backend_config(env.dir)
    if not allow_no_region_deny:
        _refuse_without_region_deny(env, endpoint)
    stages = Stages("destroy", env)
    with terminate_as_interrupt():
        run_initialized(
            tf, env, stages, "terraform destroy", lambda: tf.destroy(lock_timeout=LOCK_TIMEOUT)
        )
    PlanFiles(env.dir).clear()
    print(f"destroy {env.dir}: destroyed")


def _refuse_without_region_deny(env: Environment, endpoint: str | None) -> None:
    """Refuse to destroy while a target OU lacks the landing-zone Region deny (fail closed).

    Destroying disables CT.MULTISERVICE.PV.1 on every target: where the
    landing-zone Region deny is off, that OU is left with no Region deny at
    all. An environment whose sandbox.yaml has no landing-zone Region deny
    (``region_deny: false``, envs/local) emulates an organization without it,
    so there is nothing to turn back on.
    """
    if env.has_sandbox and not load_sandbox_settings(env.dir).landing_zone_region_deny:
        return
    flags = "" if env.has_sandbox else f"CONFIRM={env.name} "
    override = (
        f"to destroy anyway, re-run with --allow-no-region-deny (make destroy ENV={env.name} "
        f"{flags}ALLOW_NO_REGION_DENY=1)"
    )
    facts = OrgFacts(Aws(env.settings.home_region, endpoint))
    try:
        bare = targets_without_landing_zone_deny(env, facts)
    except (AwsCallError, InputError) as exc:
        raise InputError(
            f"destroy {env.dir}: cannot read whether the landing-zone Region deny is on ({exc}); "
            f"destroying could leave the targets without any Region deny; {override}"
        ) from None
    if bare:
        raise InputError(
            f"destroy {env.dir}: the landing-zone Region deny is off on {', '.join(bare)}; "
            "destroying now would leave them without any Region deny. Turn it back on first "
            f"(docs/adopt.md, Rollback: {CONSOLE_REGION_DENY_ON}), check with `make preflight "
            f"ENV={env.name}` (migration step 4), then destroy; {override}"
        )
