data "aws_organizations_organization" "this" {}

data "aws_organizations_organizational_units" "first_tier" {
  parent_id = data.aws_organizations_organization.this.roots[0].id
}

locals {
  first_tier_ous = { for ou in data.aws_organizations_organizational_units.first_tier.children : ou.id => ou }

  # Every first-tier OU is a target unless the settings narrow the set, so an
  # OU created later is covered by the next plan without any edit here.
  target_ous = {
    for id, ou in local.first_tier_ous : id => ou
    if(length(var.target_ou_include) == 0 || contains(var.target_ou_include, id) || contains(var.target_ou_include, ou.name))
    && !contains(var.target_ou_exclude, id) && !contains(var.target_ou_exclude, ou.name)
  }

  unmatched_ou_selectors = [
    for s in distinct(concat(var.target_ou_include, var.target_ou_exclude)) : s
    if !anytrue([for id, ou in local.first_tier_ous : s == id || s == ou.name])
  ]
}

module "bedrock_inference_scp" {
  source = "../../modules/bedrock-inference-scp"

  name                          = var.scp_name
  allowed_regions               = var.allowed_regions
  bedrock_permitted_account_ids = var.bedrock_permitted_account_ids
  guarded_actions               = var.guarded_actions
  global_inference              = var.global_inference
  require_inference_profile     = var.require_inference_profile
  target_ids                    = toset(keys(local.target_ous))
  tags                          = var.tags
}

module "region_deny_control" {
  source = "../../modules/region-deny-control"

  control_identifier      = var.control_identifier
  targets                 = { for id, ou in local.target_ous : id => ou.arn }
  allowed_regions         = var.allowed_regions
  home_region             = var.home_region
  guarded_actions         = module.bedrock_inference_scp.guarded_actions
  exempted_actions        = var.exempted_actions
  exempted_principal_arns = var.exempted_principal_arns
}
