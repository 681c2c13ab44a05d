"""``terraform init`` as regionguard runs it leaves the lock file as committed.

The door refuses a lock file that is missing or pins a provider without
checksums (the ``door/lock-file-*`` cases of tests/fixtures/hostile). A
provider the configuration needs and the lock file does not pin is
Terraform's own refusal under ``-lockfile=readonly``: Terraform checks a
package against the lock file's checksums "if any" and would record a new
provider as it found it (Terraform's page "Dependency Lock File"). This test
runs that refusal with real Terraform, from a filesystem mirror holding the
real aws provider and a provider of no one's.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from conftest import cli_configuration, copy_local_env, missing
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.pipeline import init_terraform
from regionguard.settings import LOCK_FILE
from regionguard.terraform import Terraform

pytestmark = pytest.mark.terraform

AWS = Path("registry.terraform.io", "hashicorp", "aws")
# A module of the environment's own that needs one more provider.
EXTRA_TF = 'module "extra" {\n  source = "./extra"\n}\n'
EXTRA_MODULE = """terraform {
  required_providers {
    extra = {
      source = "example/extra"
    }
  }
}
"""


def _mirror() -> Path:
    """The filesystem mirror of the CLI configuration the tests run with (make tf-config)."""
    data = cli_configuration()
    if data is None:
        missing("TF_CLI_CONFIG_FILE naming a CLI configuration with a filesystem_mirror")
    for block in data.get("provider_installation", []):
        for mirror in block.get("filesystem_mirror", []):
            if (Path(mirror["path"]) / AWS).is_dir():
                return Path(mirror["path"])
    missing(f"a filesystem_mirror holding {AWS} in {os.environ['TF_CLI_CONFIG_FILE']}")


def test_init_refuses_a_provider_the_lock_file_does_not_pin(tmp_path: Path) -> None:
    real = _mirror()
    [version] = sorted((real / AWS).iterdir())
    [platform] = sorted(p.name for p in version.iterdir())
    mirror = tmp_path / "mirror"
    # Terraform's mirror search does not follow a linked folder: link the files.
    (mirror / AWS / version.name / platform).mkdir(parents=True)
    for file in (version / platform).iterdir():
        (mirror / AWS / version.name / platform / file.name).symlink_to(file)
    extra = mirror / "registry.terraform.io" / "example" / "extra" / "1.0.0" / platform
    extra.mkdir(parents=True)
    (extra / "terraform-provider-extra_v1.0.0").write_text("#!/bin/sh\nexit 1\n")
    (extra / "terraform-provider-extra_v1.0.0").chmod(0o755)
    cli = tmp_path / "cli.tfrc"
    cli.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    env_dir = copy_local_env(tmp_path / "repo")
    committed = (env_dir / LOCK_FILE).read_bytes()
    env = Environment(env_dir, datetime.date(2026, 12, 7))
    tf = Terraform(env_dir, timeout=120, env={**os.environ, "TF_CLI_CONFIG_FILE": str(cli)})

    (env_dir / "extra").mkdir()
    (env_dir / "extra" / "main.tf").write_text(EXTRA_MODULE)
    (env_dir / "extra.tf").write_text(EXTRA_TF)
    with pytest.raises(InputError) as refused:
        init_terraform(tf, env)
    assert f"needs a provider, or a version of one, that {env_dir / LOCK_FILE} does not pin" in str(
        refused.value
    )
    assert (env_dir / LOCK_FILE).read_bytes() == committed

    # Without it, the same init passes: the committed lock file pins aws.
    (env_dir / "extra.tf").unlink()
    init_terraform(tf, env)
    assert (env_dir / LOCK_FILE).read_bytes() == committed
