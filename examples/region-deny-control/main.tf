# The OU-level Region deny control CT.MULTISERVICE.PV.1 alone, on the OUs you
# name, exempting the Bedrock inference actions. Those exemptions are open to
# every account in every Region unless an SCP denies the same actions outside
# the allowed Regions: this root attaches such an SCP that you manage (for
# example the one examples/bedrock-inference-scp creates) to every target OU,
# and the module refuses a control on an OU without that attachment.

provider "aws" {
  region = var.home_region
}

resource "aws_organizations_policy_attachment" "guard" {
  for_each = var.targets

  policy_id = var.guard_policy_id
  target_id = each.key
}

module "region_deny_control" {
  source = "../../modules/region-deny-control"

  targets          = var.targets
  home_region      = var.home_region
  allowed_regions  = var.allowed_regions
  guarded_actions  = var.guarded_actions
  exempted_actions = var.guarded_actions

  # Each control depends on its OU's attachment: it is enabled after the SCP
  # is attached, and disabled before the SCP is detached.
  scp_attachment_ids = { for id, attachment in aws_organizations_policy_attachment.guard : id => attachment.id }
}
