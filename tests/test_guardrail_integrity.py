"""Guardrail integrity through every failure, and convergence from any partial state.

The invariant: no first-tier OU has an enabled CT.MULTISERVICE.PV.1 control
whose ExemptedActions is non-empty unless the Bedrock inference SCP is
attached to that OU and denies each of those actions
(``regionguard.rules.unguarded_actions``). It is read through boto3 from the
emulated organization.

Each of the two modules (this one; tests/test_guardrail_switch.py for the
layout switches) has a rig: a real sandbox process and a copy of envs/local
on two first-tier OUs (OUS). A module's tests run in file order on one
pytest-xdist worker (``--dist loadfile``), each starting where the one before
it converged; every case still starts from whatever its rig holds, so any one
of them also runs alone.

Terraform reaches the sandbox through a recording proxy in this process,
which sees every mutating call of Control Tower (enable-control,
update-enabled-control, disable-control) and AWS Organizations (CreatePolicy,
UpdatePolicy, DeletePolicy, AttachPolicy, DetachPolicy, TagResource,
UntagResource). The proxy checks the invariant before it forwards each such
call, with every other mutating call held back meanwhile, so the check sees
the organization as it is between two calls. It can also SIGKILL Terraform's
process group right after the sandbox accepted the n-th call: AWS has done
it, Terraform never learns it.

``test_each_apply_mutates_in_guarded_order`` records the calls of an
uninterrupted create, update and destroy; the parametrized test then kills
each of them at each of those calls in turn, checks the invariant at the kill and
once the operations in flight have ended, and converges with
``regionguard plan`` and ``regionguard apply`` (``main([...])``): both exit 0,
apply's check of expectations.yaml against the sandbox holds, and nothing is
left to change (``Rig.not_as_deployed``, through the deployment model; after
the last point of each kind, a real ``terraform plan`` is empty too). Then
a partial update by each fault kind (fail, conflict, throttle, sandbox
restart; a kill is the interruption case update-2) converges the same way.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import pytest

from conftest import cpu_seconds
from regionguard import deployment as dep
from regionguard import local_sandbox, orgmodel
from regionguard.aws import sandbox_client
from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.rules import unguarded_actions
from regionguard.sandbox import process
from regionguard.terraform import Terraform

pytestmark = [pytest.mark.sandbox, pytest.mark.terraform]

REPO = Path(__file__).resolve().parent.parent
CONTROL = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
SCP_NAME = "bedrock-cross-region-inference"
ORGANIZATIONS_TARGET = "AWSOrganizationsV20161128."
ORGANIZATIONS_MUTATIONS = (
    "CreatePolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "AttachPolicy",
    "DetachPolicy",
    "TagResource",
    "UntagResource",
)
CONTROLTOWER_MUTATIONS = {
    "/enable-control": "EnableControl",
    "/update-enabled-control": "UpdateEnabledControl",
    "/disable-control": "DisableControl",
}
# The update every update case makes: one more allowed Region changes the
# SCP's document and every control's AllowedRegions; the next update case
# takes it out again.
BASE_REGIONS = '  "eu-west-2",\n]'
# The layout switch: one SCP per OU instead of the single SCP.
LAYOUT_LINE = 'scp_layout = "per_ou"\n'
MORE_REGIONS = '  "eu-west-2",\n  "eu-west-1",\n]'

# The organization of every case: envs/local with two first-tier OUs instead
# of three (_two_ous: log-archive moves from Security to Sandbox). Two OUs
# give every state a third would: for each kind of call, the first of a run
# (one OU done, one not) and the last (every OU done).
OUS = ("Sandbox", "Workloads")
# The mutating calls of an uninterrupted run, in the order the dependency of
# each control on its OU's SCP attachment imposes (asserted below).
EXPECTED_CALLS = {
    "create": ["CreatePolicy"] + ["AttachPolicy"] * len(OUS) + ["EnableControl"] * len(OUS),
    "update": ["UpdatePolicy"] + ["UpdateEnabledControl"] * len(OUS),
    "destroy": ["DisableControl"] * len(OUS) + ["DetachPolicy"] * len(OUS) + ["DeletePolicy"],
}
# Every call of create, update and destroy is a point.
POINTS = [(kind, n) for kind, calls in EXPECTED_CALLS.items() for n in range(1, len(calls) + 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mutation(path: str, headers: Any) -> str | None:
    """The name of a mutating call, or None for a read."""
    target = headers.get("X-Amz-Target", "")
    if target.startswith(ORGANIZATIONS_TARGET):
        action = target[len(ORGANIZATIONS_TARGET) :]
        return action if action in ORGANIZATIONS_MUTATIONS else None
    return CONTROLTOWER_MUTATIONS.get(path)


def _canonical(document: str) -> str:
    return json.dumps(json.loads(document), sort_keys=True)


def _project_scp(name: str) -> bool:
    """This project's SCPs: the single one, or a per-OU one (``<name>-<target>``)."""
    return name == SCP_NAME or name.startswith(SCP_NAME + "-")


def _ours(name: str) -> bool:
    """This project's SCPs, and the SCP Control Tower attaches for an enabled control."""
    return _project_scp(name) or name.startswith("aws-guardrails-")


def _state_objects(path: Path) -> dict[str, dict[str, str]]:
    """The SCPs, attachments and controls a Terraform state holds, keyed as AWS names them."""
    out: dict[str, dict[str, str]] = {"policies": {}, "attachments": {}, "controls": {}}
    for resource in json.loads(path.read_text())["resources"] if path.exists() else []:
        if resource["mode"] != "managed":
            continue
        for instance in resource["instances"]:
            values = instance["attributes"]
            if resource["type"] == "aws_organizations_policy":
                out["policies"][values["id"]] = _canonical(values["content"])
            elif resource["type"] == "aws_organizations_policy_attachment":
                out["attachments"][f"{values['target_id']}:{values['policy_id']}"] = values[
                    "target_id"
                ]
            elif resource["type"] == "aws_controltower_control":
                parameters = {p["key"]: json.loads(p["value"]) for p in values["parameters"]}
                out["controls"][values["arn"]] = _canonical(json.dumps(parameters))
    return out


@dataclass
class Rig:
    """The sandbox, the proxy in front of it, the environment copy and the hooks."""

    root: Path
    env_dir: Path
    port: int
    token: str = ""
    proxy_url: str = ""
    calls: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    victim: subprocess.Popen[bytes] | None = None
    kill_at: int | None = None
    restart_at: int | None = None
    arm_at: tuple[int, dict[str, Any]] | None = None
    hit: str | None = None
    stopped: bool = False
    gate: threading.Lock = field(default_factory=threading.Lock)
    regions_added: bool = False
    converged_at: bool | None = None
    per_ou: bool = False
    # The layout of a converged deployment (True: per_ou), None when not converged.
    layout_converged: bool | None = None
    # clients(): made once, under the lock, for every thread of the proxy.
    gate_clients: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _clients: tuple[Any, Any] | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.root / ".sandbox"

    def start_sandbox(self) -> None:
        info, _ = process.up(self.state_dir, self.env_dir, port=self.port)
        self.token = info.token
        with self.gate_clients:
            self._clients = None  # no connection kept to a sandbox that stopped

    def clients(self) -> tuple[Any, Any]:
        """Control Tower and Organizations clients of the sandbox, made once per rig.

        boto3's clients are thread-safe (its sessions are not), so the proxy's
        threads share them; a session and two clients cost about 55 ms of CPU,
        and the proxy reads the organization before every mutating call.
        """
        with self.gate_clients:
            if self._clients is None:
                config = botocore.config.Config(retries={"total_max_attempts": 1})
                session = boto3.session.Session()
                self._clients = (
                    sandbox_client("controltower", self.endpoint, config=config, session=session),
                    sandbox_client("organizations", self.endpoint, config=config, session=session),
                )
            return self._clients

    def first_tier(self) -> list[dict[str, Any]]:
        _, org = self.clients()
        [root] = org.list_roots()["Roots"]
        return list(
            org.list_organizational_units_for_parent(ParentId=root["Id"])["OrganizationalUnits"]
        )

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return process.admin(self.endpoint, method, path, body, token=self.token)

    # ----------------------------------------------------------- invariant

    def unguarded(self) -> list[str]:
        """``OU: action`` for each exempted action of a control that its OU's SCP leaves open."""
        ct, org = self.clients()
        out = []
        for summary in ct.list_enabled_controls()["enabledControls"]:
            if summary["controlIdentifier"] != CONTROL:
                continue
            try:
                details = ct.get_enabled_control(enabledControlIdentifier=summary["arn"])
            except ct.exceptions.ResourceNotFoundException:
                # A disable in flight ended between the list and the read:
                # the control is gone, and exempts nothing any more.
                continue
            parameters = {
                p["key"]: p["value"] for p in details["enabledControlDetails"]["parameters"]
            }
            exempted = parameters.get("ExemptedActions", [])
            if not exempted:
                continue
            ou = summary["targetIdentifier"].rsplit("/", 1)[1]
            documents = [
                json.loads(org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"])
                for p in org.list_policies_for_target(TargetId=ou, Filter="SERVICE_CONTROL_POLICY")[
                    "Policies"
                ]
                if _project_scp(p["Name"])
            ]
            out += [f"{ou}: {a}" for a in unguarded_actions(exempted, documents)]
        return sorted(out)

    def not_as_deployed(self) -> list[str]:
        """What an empty re-plan would find, read through the project's deployment model.

        Two halves, each a difference an empty ``terraform plan`` rules out:
        the organization carries on each first-tier OU exactly the SCPs the
        environment deploys (``deployment.from_environment`` on the
        organization's OUs, the control as the SCP Control Tower attaches for
        it, ``orgmodel.ou_policies``); and the Terraform state holds exactly
        this project's objects in the organization, with their values: each
        SCP (id, content), each attachment (target, SCP) and each control
        (target, parameters). An object AWS has and the state lacks is one the
        next plan would create again; one the state has and AWS lacks, one it
        would create anew. Empty: converged.
        """
        facts = orgmodel.sandbox_facts(self.endpoint)
        env = Environment(self.env_dir, datetime.date.today())
        expected = dep.from_environment(env, orgmodel.first_tier_from_org(facts), complete=True)
        problems = []
        for ou in facts.first_tier:
            item = expected.find(ou.id, ou.name)
            want = (
                sorted(_canonical(p.document) for p in orgmodel.ou_policies(item)) if item else []
            )
            have = sorted(
                _canonical(facts.policy_content(s.id))
                for s in facts.scps_of(ou.id)
                if _ours(s.name) and not facts.is_landing_zone_region_deny(s)
            )
            if want != have:
                problems.append(f"{ou.name}: the SCPs {have}, the environment deploys {want}")
        state = _state_objects(self.env_dir / "terraform.tfstate")
        remote = self.remote_objects(facts)
        for kind in ("policies", "attachments", "controls"):
            if state[kind] != remote[kind]:
                problems.append(f"{kind}: the state has {state[kind]}, AWS {remote[kind]}")
        return problems

    def remote_objects(self, facts: Any) -> dict[str, dict[str, str]]:
        """This project's SCPs, their attachments and the controls, as AWS has them."""
        ct, _ = self.clients()
        policies = {
            p.id: _canonical(facts.policy_content(p.id))
            for target in facts.attachments.values()
            for p in target
            if _project_scp(p.name)
        }
        attachments = {
            f"{target}:{p.id}": target
            for target, attached in facts.attachments.items()
            for p in attached
            if p.id in policies
        }
        # An SCP of this project attached to nothing is listed by no target.
        for summary in facts.aws.pages(
            "organizations", "list_policies", "Policies", Filter="SERVICE_CONTROL_POLICY"
        ):
            if _project_scp(summary["Name"]):
                policies.setdefault(summary["Id"], _canonical(facts.policy_content(summary["Id"])))
        controls = {}
        for summary in ct.list_enabled_controls()["enabledControls"]:
            if summary["controlIdentifier"] == CONTROL:
                details = ct.get_enabled_control(enabledControlIdentifier=summary["arn"])
                parameters = details["enabledControlDetails"]["parameters"]
                controls[summary["arn"]] = _canonical(
                    json.dumps({p["key"]: p["value"] for p in parameters})
                )
        return {"policies": policies, "attachments": attachments, "controls": controls}

    def settled_unguarded(self) -> list[str]:
        """The invariant once every Control Tower operation in flight has ended."""
        ct, _ = self.clients()
        deadline = time.monotonic() + 60
        while any(
            operation["status"] == "IN_PROGRESS"
            for page in ct.get_paginator("list_control_operations").paginate()
            for operation in page["controlOperations"]
        ):
            assert time.monotonic() < deadline, "a Control Tower operation never ended"
            time.sleep(0.05)
        return self.unguarded()

    # ----------------------------------------------------------- terraform

    def terraform_env(self, endpoint: str) -> dict[str, str]:
        return local_sandbox.terraform_environment(endpoint, dict(os.environ, TF_IN_AUTOMATION="1"))

    def run_through_proxy(self, verb: str) -> tuple[int, str]:
        """``terraform apply|destroy -auto-approve`` against the proxy; exit code and output."""
        self.calls.clear()
        self.hit = None
        self.stopped = False
        self.converged_at = None
        log = self.root / f"{verb}.log"
        with log.open("wb") as out:
            self.victim = subprocess.Popen(
                ["terraform", verb, "-auto-approve", "-input=false", "-no-color"],
                cwd=self.env_dir,
                env=self.terraform_env(self.proxy_url),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = self.victim.wait(timeout=300)
            finally:
                if self.victim.poll() is None:
                    os.killpg(self.victim.pid, signal.SIGKILL)
                    self.victim.wait()
                self.victim = None
                self.kill_at = self.restart_at = self.arm_at = None
        return code, log.read_text()

    def set_regions(self, added: bool) -> None:
        settings = self.env_dir / "terraform.tfvars"
        text = settings.read_text()
        old, new = (BASE_REGIONS, MORE_REGIONS) if added else (MORE_REGIONS, BASE_REGIONS)
        if old in text:
            settings.write_text(text.replace(old, new, 1))
        self.regions_added = added

    def set_layout(self, per_ou: bool) -> None:
        """The per_ou SCP layout (one SCP per OU), or the default single SCP."""
        settings = self.env_dir / "terraform.tfvars"
        text = settings.read_text().replace(LAYOUT_LINE, "")
        settings.write_text(text + LAYOUT_LINE if per_ou else text)
        self.per_ou = per_ou

    def regionguard(
        self, verb: str, capsys: pytest.CaptureFixture[str], *extra: str, proxy: bool = False
    ) -> tuple[int, str]:
        """``regionguard <verb>`` on the environment copy; with ``proxy``, through the proxy.

        Through the proxy, the command finds the sandbox at the proxy's
        address (the pipeline asks ``local_sandbox`` where it is), so the
        proxy checks the invariant before each mutating call of its apply too.
        """
        args = [verb, "--env-dir", str(self.env_dir), "--sandbox-port", str(self.port), *extra]
        with pytest.MonkeyPatch.context() as patch:
            if proxy:
                patch.setattr(local_sandbox, "start", lambda env, port: self.proxy_url)
                patch.setattr(local_sandbox, "running_endpoint", lambda env: self.proxy_url)
            code = main(args)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    def converge(
        self,
        capsys: pytest.CaptureFixture[str],
        *extra: str,
        proxy: bool = False,
        replan: bool = False,
    ) -> None:
        """regionguard plan + apply exit 0 (apply checks expectations.yaml), then nothing to do.

        Nothing left is :meth:`not_as_deployed` empty; with ``replan``, a real
        ``terraform plan`` is empty as well (the cases that run both bind the
        model's check to Terraform's).
        """
        code, output = self.regionguard("plan", capsys, *extra, proxy=proxy)
        assert code == 0, output
        code, output = self.regionguard("apply", capsys, proxy=proxy)
        assert code == 0, output
        assert "hold in the sandbox" in output, output
        assert self.not_as_deployed() == [], "the deployment after convergence"
        if replan:
            self.assert_empty_plan("the plan after convergence must be empty")
        assert self.unguarded() == []
        self.converged_at = self.regions_added

    def assert_empty_plan(self, why: str) -> None:
        tf = Terraform(self.env_dir, timeout=300, env=self.terraform_env(self.endpoint))
        assert tf.plan() is False, why

    def ensure_converged(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A converged deployment at the current settings (the previous case usually left one)."""
        if self.converged_at is not self.regions_added:
            self.converge(capsys)

    def parameters_by_ou(self) -> dict[str, str]:
        """Each enabled control's parameters, JSON-encoded, by OU id."""
        ct, _ = self.clients()
        out = {}
        for summary in ct.list_enabled_controls()["enabledControls"]:
            details = ct.get_enabled_control(enabledControlIdentifier=summary["arn"])
            parameters = details["enabledControlDetails"]["parameters"]
            out[summary["targetIdentifier"].rsplit("/", 1)[1]] = json.dumps(parameters)
        return out

    def empty(self) -> None:
        """Nothing deployed and no state: forget the organization, seed it afresh."""
        self.admin("POST", "reset")
        for path in self.env_dir.glob("terraform.tfstate*"):
            path.unlink()
        self.converged_at = None
        self.layout_converged = None


class _Proxy(BaseHTTPRequestHandler):
    rig: Rig

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        name = _mutation(urlsplit(self.path).path, self.headers)
        rig = self.rig
        if name is None:
            self._answer(*self._forward(body))
            return
        with rig.gate:
            if rig.stopped:
                # Terraform is dead: a call the proxy had read but not yet
                # forwarded is one Terraform never sent.
                return
            unguarded = rig.unguarded()
            if unguarded:
                rig.violations.append(f"before call {len(rig.calls) + 1} ({name}): {unguarded}")
            rig.calls.append(name)
            number = len(rig.calls)
            if rig.arm_at is not None and number == rig.arm_at[0]:
                rig.admin("POST", "faults", rig.arm_at[1])
            if number == rig.restart_at:
                # The sandbox stops and starts again, forgetting the
                # organization, before this call reaches it.
                rig.hit = name
                process.down(rig.state_dir)
                rig.start_sandbox()
            answer = self._forward(body)
            if number == rig.kill_at and rig.victim is not None:
                rig.hit = name
                rig.stopped = True
                os.killpg(rig.victim.pid, signal.SIGKILL)
                return
        self._answer(*answer)

    do_GET = do_POST

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.rig.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            connection.request(self.command, self.path, body=body, headers=headers)
            reply = connection.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            connection.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


def _two_ous(env_dir: Path) -> None:
    """envs/local with the first-tier OUs of OUS: Security goes, its account moves to Sandbox."""
    sandbox = env_dir / "sandbox.yaml"
    text = sandbox.read_text()
    assert "  - Security\n  - Sandbox\n  - Workloads\n" in text
    sandbox.write_text(text.replace("  - Security\n", "", 1))
    accounts = env_dir / "accounts.yaml"
    text = accounts.read_text()
    assert text.count("    ou: Security\n") == 1
    accounts.write_text(text.replace("    ou: Security\n", "    ou: Sandbox\n"))


@contextlib.contextmanager
def _rig(root: Path) -> Iterator[Rig]:
    """A sandbox, a copy of envs/local on the OUs of OUS, and the proxy in front."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "tests")
    shutil.copytree(REPO / "modules", root / "modules", ignore=ignore)
    shutil.copytree(REPO / "envs" / "_shared", root / "envs" / "_shared", ignore=ignore)
    shutil.copytree(REPO / "envs" / "local", root / "envs" / "local", symlinks=True, ignore=ignore)
    _two_ous(root / "envs" / "local")
    setup = Rig(root, root / "envs" / "local", _free_port())
    handler = type("Proxy", (_Proxy,), {"rig": setup})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    setup.proxy_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REGIONGUARD_ROOT", str(root))
        try:
            setup.start_sandbox()
            Terraform(setup.env_dir, env=setup.terraform_env(setup.endpoint)).init()
            yield setup
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            process.down(setup.state_dir)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with _rig(tmp_path_factory.mktemp("integrity")) as setup:
        yield setup


# ------------------------------------------------------------------ the order


def test_each_apply_mutates_in_guarded_order(rig: Rig) -> None:
    rig.empty()
    rig.set_regions(False)
    for kind in EXPECTED_CALLS:
        if kind == "update":
            rig.set_regions(True)
        code, output = rig.run_through_proxy("destroy" if kind == "destroy" else "apply")
        assert code == 0, output
        assert rig.calls == EXPECTED_CALLS[kind], kind
        assert rig.violations == [], kind
        assert rig.settled_unguarded() == []
    rig.set_regions(False)


def test_the_model_check_finds_what_a_plan_would_change(rig: Rig) -> None:
    """Rig.not_as_deployed, which stands in for most empty re-plans, sees each kind of drift."""
    rig.empty()
    code, output = rig.run_through_proxy("apply")
    assert code == 0, output
    assert rig.not_as_deployed() == []
    state = rig.env_dir / "terraform.tfstate"
    saved = state.read_text()
    data = json.loads(saved)
    for resource in data["resources"]:
        if resource["type"] == "aws_organizations_policy_attachment":
            resource["instances"].pop()
            break
    state.write_text(json.dumps(data))
    [problem] = rig.not_as_deployed()
    assert problem.startswith("attachments: the state has"), problem
    state.write_text(saved)
    rig.set_regions(True)
    problems = rig.not_as_deployed()
    assert len(problems) == len(OUS) and all("the environment deploys" in p for p in problems)
    rig.set_regions(False)
    _, org = rig.clients()
    [ou] = [o for o in rig.first_tier() if o["Name"] == OUS[0]]
    [policy] = [
        p
        for p in org.list_policies_for_target(TargetId=ou["Id"], Filter="SERVICE_CONTROL_POLICY")[
            "Policies"
        ]
        if p["Name"] == SCP_NAME
    ]
    org.detach_policy(PolicyId=policy["Id"], TargetId=ou["Id"])
    try:
        problems = rig.not_as_deployed()
        assert [p.split(":")[0] for p in problems] == [OUS[0], "attachments"], problems
    finally:
        org.attach_policy(PolicyId=policy["Id"], TargetId=ou["Id"])
    assert rig.not_as_deployed() == []
    rig.converged_at = False


# ------------------------------------------------------------ interruptions

_counted: dict[str, int] = {}


@pytest.mark.parametrize(("kind", "point"), POINTS, ids=[f"{k}-{n}" for k, n in POINTS])
def test_an_interruption_at_each_call_keeps_the_invariant_and_converges(
    rig: Rig, capsys: pytest.CaptureFixture[str], kind: str, point: int
) -> None:
    if kind == "create":
        rig.empty()
    else:
        rig.ensure_converged(capsys)
        if kind == "update":
            rig.set_regions(not rig.regions_added)
    wall, cpu = time.monotonic(), cpu_seconds()
    rig.violations.clear()
    rig.kill_at = point
    code, output = rig.run_through_proxy("destroy" if kind == "destroy" else "apply")
    assert code != 0, output
    assert rig.violations == []
    assert rig.unguarded() == [], "right after the kill"
    assert rig.settled_unguarded() == [], "once the operations in flight ended"
    assert rig.hit == EXPECTED_CALLS[kind][point - 1], (rig.calls, output)
    # Killed right after the first OU's update-enabled-control: a partial
    # update, the OUs left with different parameters (the partial-state cases
    # below make the same state by each fault kind).
    partial = (kind, point) == ("update", 2)
    if partial:
        assert len(set(rig.parameters_by_ou().values())) == 2, "the OUs' parameters must differ"
    # The model's check after each point; Terraform's empty plan as well after
    # the last point of each kind.
    rig.converge(capsys, replan=point == len(EXPECTED_CALLS[kind]))
    if partial:
        assert len(set(rig.parameters_by_ou().values())) == 1
    _counted[kind] = _counted.get(kind, 0) + 1
    with capsys.disabled():
        print(
            f"\ninterruption point {kind} #{point} ({rig.hit}): invariant held, converged "
            f"[{sum(_counted.values())} of {len(POINTS)} points so far: {_counted}; "
            f"{time.monotonic() - wall:.1f} s wall, {cpu_seconds() - cpu:.1f} s CPU]"
        )


# ------------------------------------------------- partial states, each kind

# Call 1 of an update is UpdatePolicy, calls 2 and 3 each OU's
# update-enabled-control: a fault armed at call 3 fails the second OU's
# update once the first OU took the new parameters, so the OUs are left with
# different ones (a kill right after call 2 does the same: the interruption
# case update-2 above checks it). The sandbox restarts before call 2, after
# the SCP took the new document.
FAULTS = {
    "fail": {"kind": "fail", "action": "update-enabled-control", "count": 2},
    "conflict": {"kind": "conflict", "action": "update-enabled-control", "count": 2},
    "throttle": {"kind": "throttle", "action": "update-enabled-control", "count": 12},
}


@pytest.mark.parametrize("kind", [*FAULTS, "sandbox-restart"])
def test_a_partial_update_is_reviewed_not_refused_and_converges(
    rig: Rig, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    rig.ensure_converged(capsys)
    rig.set_regions(not rig.regions_added)
    if kind in FAULTS:
        rig.arm_at = (3, FAULTS[kind])
    else:
        rig.restart_at = 2
    code, output = rig.run_through_proxy("apply")
    rig.admin("DELETE", "faults")
    assert code != 0, output
    assert rig.calls[:2] == ["UpdatePolicy", "UpdateEnabledControl"]
    assert rig.settled_unguarded() == []
    parameters = rig.parameters_by_ou()
    if kind == "sandbox-restart":
        assert parameters == {}, "a restarted sandbox has forgotten the deployment"
    else:
        assert len(parameters) == len(OUS)
        assert len(set(parameters.values())) == 2, "the OUs must be left with different parameters"
    rig.converge(capsys, replan=kind == "sandbox-restart")
    assert len(set(rig.parameters_by_ou().values())) == 1
