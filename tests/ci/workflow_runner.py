"""Run a GitHub workflow's job, or an Atlantis workflow, step by step on this machine.

A job's ``run:`` steps run in order with bash (``-eo pipefail``, as GitHub's
runners do) in a clone of the repository, with ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` files, after the ``${{ }}`` expressions of GitHub's
expression language are evaluated (the subset these workflows use: contexts,
``==``/``!=``, ``!``, ``&&``/``||`` with their value semantics, ``always()``,
``success()``, ``failure()``, ``hashFiles``, ``format``, ``fromJSON``). Each
``uses:`` step goes to a recorder, a function that asserts its inputs and
does, on this machine, what the action would do where that matters
(artifacts are kept and restored; github-script runs under node against a
recording stand-in of the GitHub API). A ``run:`` step that a predicate
names (one that needs the real backend) is recorded instead of run.

Each ``uses:`` call also carries the OIDC claims GitHub would put in the
job's token (:func:`oidc_claims`), or None when the job may not request one,
so that a recorder of the credentials action can evaluate a role's trust
policy against the token the job would really hold.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Recorder = Callable[["UsesCall"], None]


@dataclass(frozen=True)
class UsesCall:
    """A ``uses:`` step as the runner met it: the action, its evaluated inputs and env.

    ``ref`` is what follows ``@`` in ``uses:``; ``oidc`` the claims of the
    job's OIDC token (None: the job cannot request one).
    """

    action: str
    name: str
    inputs: Mapping[str, str]
    env: Mapping[str, str]
    continue_on_error: bool
    root: Path
    ref: str = ""
    oidc: Mapping[str, str] | None = None


def oidc_claims(
    job: Mapping[str, Any], github: Mapping[str, Any], environment: str | None
) -> dict[str, str] | None:
    """The claims of the OIDC token GitHub issues to ``job``, or None when it issues none.

    GitHub's OpenID Connect reference (docs.github.com/en/actions/reference/
    security/oidc, "Example subject claims"): the subject is
    ``repo:OWNER/REPO:environment:NAME`` when the job references an
    environment; otherwise ``repo:OWNER/REPO:pull_request`` for a pull_request
    event; otherwise ``repo:OWNER/REPO:ref:<git ref>``. A job gets a token
    only with ``permissions: id-token: write`` (the workflow's permissions
    when the job sets none). The audience is sts.amazonaws.com, the one
    aws-actions/configure-aws-credentials requests.
    """
    permissions = job.get("permissions", github.get("workflow_permissions"))
    if not isinstance(permissions, Mapping) or permissions.get("id-token") != "write":
        return None
    repository = str(github["repository"])
    if environment:
        context = f"environment:{environment}"
    elif github["event_name"] == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{github['ref']}"
    claims = {
        "sub": f"repo:{repository}:{context}",
        "aud": "sts.amazonaws.com",
        "repository": repository,
        "event_name": str(github["event_name"]),
        "ref": str(github["ref"]),
    }
    if environment:
        claims["environment"] = environment
    return claims


class StepFailure(Exception):
    """Raised by a recorder when the action would fail the step (the message is its error)."""


@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str  # success, failure, skipped, recorded
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobResult:
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""
    calls: list[UsesCall] = field(default_factory=list)
    recorded_runs: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    environment: str | None = None
    oidc: dict[str, str] | None = None

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def outcomes(self) -> list[tuple[str, str]]:
        return [(s.name, s.outcome) for s in self.steps]


# ---------------------------------------------------------------- expressions

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||<=|>=|[<>!()\[\],.])"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, float) and value != value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def _equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings case-insensitively; other mixed types as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b):
        return bool(a == b)
    return _number(a) == _number(b)


class Evaluator:
    """Evaluates one expression against contexts and status functions."""

    def __init__(self, contexts: Mapping[str, Any], status: str, root: Path) -> None:
        self.contexts = contexts
        self.status = status
        self.root = root

    def __call__(self, text: str) -> Any:
        self.toks = _tokens(text)
        self.pos = 0
        value = self._or()
        if self.pos != len(self.toks):
            raise ValueError(f"unexpected {self.toks[self.pos][1]!r} in {text!r}")
        return value

    def _peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.pos]
        if expected is not None and tok[1] != expected:
            raise ValueError(f"expected {expected!r}, found {tok[1]!r}")
        self.pos += 1
        return tok

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._eq()
        while self._peek() == "&&":
            self._take()
            right = self._eq()
            left = right if truthy(left) else left
        return left

    def _eq(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            right = self._unary()
            left = _equal(left, right) if op == "==" else not _equal(left, right)
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        value = self._primary()
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            value = _index(value, key)
        return value

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "id":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take()
            args: list[Any] = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take(")")
            return self._call(text, args)
        return self.contexts.get(text)

    def _call(self, name: str, args: list[Any]) -> Any:
        if name == "always":
            return True
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "cancelled":
            return False
        if name == "format":
            return re.sub(r"\{(\d+)\}", lambda m: _text(args[1 + int(m.group(1))]), str(args[0]))
        if name == "fromJSON":
            return json.loads(str(args[0]))
        if name == "hashFiles":
            files = sorted(p for pattern in args for p in glob.glob(str(self.root / str(pattern))))
            files = [f for f in files if Path(f).is_file()]
            if not files:
                return ""
            digest = hashlib.sha256()
            for f in files:
                digest.update(hashlib.sha256(Path(f).read_bytes()).digest())
            return digest.hexdigest()
        raise ValueError(f"function {name}() is not supported by this runner")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get(str(key))
    if isinstance(value, list) and isinstance(key, float | int):
        return value[int(key)] if 0 <= int(key) < len(value) else None
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def substitute(text: str, evaluate: Evaluator) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(evaluate(m.group(1))), text, flags=re.S)


def _condition(text: str | bool | None, evaluate: Evaluator) -> bool:
    if text is None:
        return evaluate.status == "success"
    if isinstance(text, bool):
        return text
    expr = text.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    uses_status = re.search(r"\b(always|success|failure|cancelled)\(", expr) is not None
    value = truthy(evaluate(expr))
    # Without a status function GitHub adds success() to a step's condition.
    return value if uses_status else value and evaluate.status == "success"


# ---------------------------------------------------------------- jobs


@dataclass
class Runner:
    """Runs jobs of the workflows of ``root`` (a clone of the repository)."""

    root: Path
    base_env: Mapping[str, str]
    github: Mapping[str, Any]
    vars: Mapping[str, str]
    secrets: Mapping[str, str]
    recorders: Mapping[str, Recorder]
    record_run: Callable[[str], bool] = lambda command: False
    timeout: float = 900.0

    def run_job(
        self,
        workflow: str,
        job_id: str,
        *,
        matrix: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
    ) -> JobResult:
        data = yaml.safe_load((self.root / workflow).read_text())
        job = data["jobs"][job_id]
        tmp = self.root / ".harness" / job_id
        tmp.mkdir(parents=True, exist_ok=True)
        summary_file = tmp / "summary.md"
        summary_file.write_text("")
        result = JobResult()
        steps_ctx: dict[str, Any] = {}
        status = "success"
        contexts: dict[str, Any] = {
            "github": dict(self.github),
            "vars": dict(self.vars),
            "secrets": dict(self.secrets),
            "inputs": dict(inputs or {}),
            "matrix": dict(matrix),
            "steps": steps_ctx,
            "env": {},
        }
        evaluate = Evaluator(contexts, status, self.root)
        job_env = {
            **{k: substitute(_text(v), evaluate) for k, v in (data.get("env") or {}).items()},
            **{k: substitute(_text(v), evaluate) for k, v in (job.get("env") or {}).items()},
        }
        environment = job.get("environment")
        if isinstance(environment, Mapping):
            environment = environment.get("name")
        result.environment = substitute(_text(environment), evaluate) if environment else None
        github = {**self.github, "workflow_permissions": data.get("permissions")}
        result.oidc = oidc_claims(job, github, result.environment)
        for index, step in enumerate(job["steps"]):
            evaluate.status = status
            uses = str(step.get("uses", ""))
            name = step.get("name") or uses.split("@", 1)[0] or f"step {index}"
            step_id = step.get("id")
            env = dict(job_env)
            contexts["env"] = env
            for key, value in (step.get("env") or {}).items():
                env[key] = substitute(_text(value), evaluate)
            if not _condition(step.get("if"), evaluate):
                result.steps.append(StepResult(name, step_id, "skipped"))
                continue
            outputs: dict[str, str] = {}
            if "uses" in step:
                action, _, ref = uses.partition("@")
                inputs_ = {
                    k: substitute(_text(v), evaluate) for k, v in (step.get("with") or {}).items()
                }
                call = UsesCall(
                    action,
                    name,
                    inputs_,
                    env,
                    bool(step.get("continue-on-error")),
                    self.root,
                    ref,
                    result.oidc,
                )
                result.calls.append(call)
                try:
                    self.recorders[action](call)
                except StepFailure as failure:
                    outcome = "failure"
                    result.steps.append(StepResult(name, step_id, outcome, stderr=str(failure)))
                else:
                    outcome = "success"
                    result.steps.append(StepResult(name, step_id, outcome))
            else:
                command = substitute(str(step["run"]), evaluate)
                if self.record_run(command):
                    result.recorded_runs.append((command, env))
                    result.steps.append(StepResult(name, step_id, "recorded"))
                    outcome = "success"
                else:
                    output_file = tmp / f"output-{index}"
                    output_file.write_text("")
                    done = self._bash(command, env, output_file, summary_file)
                    outcome = "success" if done.returncode == 0 else "failure"
                    outputs = _outputs(output_file.read_text())
                    result.steps.append(
                        StepResult(name, step_id, outcome, done.stdout, done.stderr)
                    )
            if outcome == "failure" and not step.get("continue-on-error"):
                status = "failure"
            if step_id:
                steps_ctx[step_id] = {"outputs": outputs, "outcome": outcome}
        result.summary = summary_file.read_text()
        return result

    def _bash(
        self, command: str, env: Mapping[str, str], output: Path, summary: Path
    ) -> subprocess.CompletedProcess[str]:
        variables = {
            **self.base_env,
            **env,
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(self.root),
            "CI": "true",
        }
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            cwd=self.root,
            env=variables,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )


def _outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            key, marker = line.split("<<", 1)
            value = []
            for more in lines:
                if more == marker:
                    break
                value.append(more)
            out[key] = "\n".join(value)
        elif "=" in line:
            key, value_ = line.split("=", 1)
            out[key] = value_
    return out


# ---------------------------------------------------------------- atlantis


@dataclass
class AtlantisResult:
    steps: list[StepResult] = field(default_factory=list)
    recorded_runs: list[str] = field(default_factory=list)
    set_by_steps: dict[str, str] = field(default_factory=dict)  # what each env step set

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)


def server_repo_settings(server: Mapping[str, Any], repo_id: str) -> dict[str, Any]:
    """The settings of the server-side repo config for ``repo_id``.

    Atlantis (Server Side Repo Config, Reference): an ``id`` is an exact repo
    ID or a regex between slashes; when several entries match, a later one's
    keys override an earlier one's, and Atlantis's defaults come first.
    """
    settings: dict[str, Any] = {
        "workflow": "default",
        "allowed_overrides": [],
        "allow_custom_workflows": False,
        "apply_requirements": [],
    }
    for entry in server.get("repos") or []:
        pattern = str(entry["id"])
        if pattern.startswith("/") and pattern.endswith("/"):
            matched = re.search(pattern[1:-1], repo_id) is not None
        else:
            matched = pattern == repo_id
        if matched:
            settings.update({k: v for k, v in entry.items() if k != "id"})
    return settings


def run_atlantis_stage(
    root: Path,
    stage: str,
    *,
    project: Mapping[str, Any],
    server_config: Path,
    repo_id: str,
    base_env: Mapping[str, str],
    record_run: Callable[[str], bool],
    env_override: Mapping[str, str | None],
    timeout: float = 900.0,
) -> AtlantisResult:
    """Run one stage (plan, apply) of the project's server-side workflow as Atlantis does.

    The workflow is the one the server-side repo config ``server_config``
    sets for ``repo_id`` (a project of the repository's atlantis.yaml may
    not name one). Each ``run`` step runs with ``sh -c`` in the project's
    folder, with the variables Atlantis sets (DIR, REPO_REL_DIR,
    PROJECT_NAME, PLANFILE, ...); ``env`` steps set a variable for the later
    steps, then ``env_override`` replaces the values the harness maps (None:
    leave the variable unset). Atlantis stops at the first failing step.
    """
    server = yaml.safe_load(server_config.read_text())
    workflow = project.get("workflow") or server_repo_settings(server, repo_id)["workflow"]
    steps = server["workflows"][workflow][stage]["steps"]
    rel = project["dir"]
    env = {
        **base_env,
        "DIR": str(root / rel),
        "REPO_REL_DIR": rel,
        "PROJECT_NAME": project["name"],
        "WORKSPACE": "default",
        "PLANFILE": str(root / rel / "default.tfplan"),
        "SHOWFILE": str(root / rel / "default.tfplan.json"),
    }
    result = AtlantisResult()
    for step in steps:
        if "env" in step:
            spec = step["env"]
            value = spec.get("value")
            if value is None:
                value = subprocess.run(
                    ["sh", "-c", spec["command"]],
                    cwd=root / rel,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
            result.set_by_steps[spec["name"]] = value
            mapped = env_override.get(spec["name"], value)
            if mapped is None:
                env.pop(spec["name"], None)
            else:
                env[spec["name"]] = mapped
            continue
        run = step["run"]
        command = run if isinstance(run, str) else run["command"]
        if record_run(command):
            result.recorded_runs.append(command)
            result.steps.append(StepResult(command, None, "recorded"))
            continue
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=root / rel,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        outcome = "success" if done.returncode == 0 else "failure"
        result.steps.append(StepResult(command, None, outcome, done.stdout, done.stderr))
        if outcome == "failure":
            break
    return result


__all__ = [
    "AtlantisResult",
    "Evaluator",
    "JobResult",
    "Runner",
    "StepFailure",
    "StepResult",
    "UsesCall",
    "oidc_claims",
    "run_atlantis_stage",
    "server_repo_settings",
    "substitute",
    "truthy",
]
