# Both modules on every first-tier OU of the organization, as the
# environments of this repository compose them (envs/_shared/main.tf), without
# the Python tooling: the permitted accounts are a plain variable here.

provider "aws" {
  region = var.home_region
}

data "aws_organizations_organization" "this" {}

data "aws_organizations_organizational_units" "first_tier" {
  parent_id = data.aws_organizations_organization.this.roots[0].id
}

locals {
  # Every first-tier OU, so that an OU created later is covered by the next
  # plan. SCPs and the control are inherited by every OU and account below.
  targets = {
    for ou in data.aws_organizations_organizational_units.first_tier.children : ou.id => ou.arn
    if !contains(var.excluded_ou_ids, ou.id)
  }
}

module "bedrock_inference_scp" {
  source = "../../modules/bedrock-inference-scp"

  allowed_regions               = var.allowed_regions
  bedrock_permitted_account_ids = var.permitted_account_ids
  target_ids                    = toset(keys(local.targets))
}

module "region_deny_control" {
  source = "../../modules/region-deny-control"

  targets            = local.targets
  home_region        = var.home_region
  allowed_regions    = var.allowed_regions
  guarded_actions    = module.bedrock_inference_scp.guarded_actions
  exempted_actions   = module.bedrock_inference_scp.guarded_actions
  scp_attachment_ids = module.bedrock_inference_scp.scp_targets

  # Every SCP and attachment exists before any control is enabled and
  # outlives every control.
  depends_on = [module.bedrock_inference_scp]
}
