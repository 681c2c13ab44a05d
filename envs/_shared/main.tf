data "aws_organizations_organization" "this" {}

data "aws_organizations_organizational_units" "first_tier" {
  parent_id = data.aws_organizations_organization.this.roots[0].id
}

variable "unregistered_ous" {
  description = "First-tier OUs not registered with Control Tower, as a map from OU id to OU name; regionguard preflight --write-tfvars writes it to unregistered_ous.auto.tfvars.json."
  type        = map(string)
  default     = {}
}

locals {
  first_tier_ous = { for ou in data.aws_organizations_organizational_units.first_tier.children : ou.id => ou }

  # Why each first-tier OU is left out (no reason: it is a target). Every
  # first-tier OU is a target unless the settings narrow the set, so an OU
  # created later is covered by the next plan without any edit here. Control
  # Tower refuses controls on an OU that is not registered with it
  # (ResourceNotFoundException), and no data source of the aws provider lists
  # registered OUs, so preflight records them in var.unregistered_ous.
  exclusion_reasons = {
    for id, ou in local.first_tier_ous : id => compact([
      contains(keys(var.unregistered_ous), id) ? "not registered with AWS Control Tower, which refuses controls on it; register it, then run regionguard preflight --write-tfvars" : "",
      length(var.target_ou_include) > 0 && !contains(var.target_ou_include, id) && !contains(var.target_ou_include, ou.name) ? "not in target_ou_include" : "",
      contains(var.target_ou_exclude, id) || contains(var.target_ou_exclude, ou.name) ? "in target_ou_exclude" : "",
    ])
  }

  target_ous = { for id, ou in local.first_tier_ous : id => ou if length(local.exclusion_reasons[id]) == 0 }

  not_covered_ous = {
    for id, reasons in local.exclusion_reasons : id => { name = local.first_tier_ous[id].name, reason = join("; ", reasons) }
    if length(reasons) > 0
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

  layout         = var.scp_layout
  size_limit     = var.scp_size_limit
  read_placement = true
}

module "region_deny_control" {
  source = "../../modules/region-deny-control"

  control_identifier      = var.control_identifier
  targets                 = { for id, ou in local.target_ous : id => ou.arn }
  allowed_regions         = var.allowed_regions
  home_region             = var.home_region
  guarded_actions         = module.bedrock_inference_scp.guarded_actions
  scp_attachment_ids      = module.bedrock_inference_scp.scp_targets
  exempted_actions        = var.exempted_actions
  exempted_principal_arns = var.exempted_principal_arns

  # Every SCP and attachment of the module exists before any control is
  # enabled and outlives every control; an SCP update comes before a control
  # update (docs/scale.md, "Ordering").
  depends_on = [module.bedrock_inference_scp]
}
