"""The trust policies of iam/trust/, filled in, and who may assume each role.

The files hold placeholders (OWNER/REPO, ACCOUNT_ID, ENVIRONMENT,
ATLANTIS_SERVER_ROLE) that an adopter replaces; :func:`trust_policy` replaces
them the same way. The verdicts come from regionguard.oracle.trust_allows
(principalmapper's condition evaluation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regionguard.oracle import trust_allows

REPO_ROOT = Path(__file__).resolve().parents[2]
TRUST = REPO_ROOT / "iam" / "trust"
ACCOUNT = "111111111111"
GITHUB_ISSUER = "token.actions.githubusercontent.com"


def github_provider(account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{GITHUB_ISSUER}"


def trust_policy(
    name: str,
    *,
    repository: str = "example/regionguard",
    account: str = ACCOUNT,
    environment: str = "prod",
    atlantis_server_role: str = "atlantis-server",
) -> dict[str, Any]:
    text = (TRUST / name).read_text()
    for placeholder, value in (
        ("OWNER/REPO", repository),
        ("ACCOUNT_ID", account),
        ("ENVIRONMENT", environment),
        ("ATLANTIS_SERVER_ROLE", atlantis_server_role),
    ):
        text = text.replace(placeholder, value)
    document: dict[str, Any] = json.loads(text)
    return document


def github_may_assume(
    trust: Mapping[str, Any], claims: Mapping[str, str] | None, account: str = ACCOUNT
) -> bool:
    """AssumeRoleWithWebIdentity with a GitHub OIDC token of these claims (None: no token)."""
    if claims is None:
        return False
    context = {f"{GITHUB_ISSUER}:sub": claims["sub"], f"{GITHUB_ISSUER}:aud": claims["aud"]}
    return trust_allows(
        trust, "Federated", github_provider(account), "sts:AssumeRoleWithWebIdentity", context
    )
