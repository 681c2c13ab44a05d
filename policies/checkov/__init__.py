"""regionguard's checkov checks (ids CKV_RG_*), loaded with --external-checks-dir policies/checkov.

checkov 3 executes every module of this folder by itself; the imports below
load the same checks when the folder is imported as a package instead.
"""

from . import (  # noqa: F401
    ControlAllowedRegions,
    ControlExemptedActions,
    ControlIdentifier,
    ExemptionsGuarded,
    ScpAccountIds,
    ScpBedrockGuard,
    ScpDenyOnly,
    ScpNoPrincipal,
    ScpResourceAll,
    ScpSize,
)
