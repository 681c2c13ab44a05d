# Adoption of what an interrupted apply left behind.
#
# An apply killed after Control Tower accepted enable-control, or after AWS
# Organizations created the SCP, leaves the object in AWS but not in the
# state; the next apply would try to create it again and fail (the control is
# already enabled; the policy name is taken). These import blocks adopt such
# objects into the state instead. They are no-ops for objects already in the
# state, and cost one ListEnabledControls per target OU and one DescribePolicy
# per SCP of the organization on each plan.

data "aws_controltower_controls" "enabled" {
  for_each = local.target_ous

  target_identifier = each.value.arn
}

import {
  for_each = {
    for id, ou in local.target_ous : id => ou.arn
    if contains(data.aws_controltower_controls.enabled[id].enabled_controls, module.region_deny_control.control_identifier)
  }

  to = module.region_deny_control.aws_controltower_control.this[each.key]
  id = "${each.value},${module.region_deny_control.control_identifier}"
}

data "aws_organizations_policies" "scp" {
  filter = "SERVICE_CONTROL_POLICY"
}

data "aws_organizations_policy" "scp" {
  for_each = toset(data.aws_organizations_policies.scp.ids)

  policy_id = each.key
}

import {
  for_each = { for id, policy in data.aws_organizations_policy.scp : id => policy if policy.name == var.scp_name }

  to = module.bedrock_inference_scp.aws_organizations_policy.this
  id = each.key
}
