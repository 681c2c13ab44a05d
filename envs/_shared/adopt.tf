# Adoption of what an interrupted apply left behind.
#
# An apply killed after Control Tower accepted enable-control, or after AWS
# Organizations created the SCP or attached it, leaves the object in AWS but
# not in the state; the next apply would try to create it again and fail (the
# control is already enabled; the policy name is taken; the policy is already
# attached). These import blocks adopt such objects into the state instead.
# They are no-ops for objects already in the state, and cost, on each plan,
# one ListEnabledControls and one ListPoliciesForTarget per target OU and one
# DescribePolicy per SCP of the organization.

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

locals {
  # Policy names are unique per policy type, so this holds at most one id.
  existing_scp_ids = [for id, policy in data.aws_organizations_policy.scp : id if policy.name == var.scp_name]
}

data "aws_organizations_policies_for_target" "scp" {
  for_each = local.target_ous

  target_id = each.key
  filter    = "SERVICE_CONTROL_POLICY"
}

import {
  for_each = {
    for pair in setproduct(keys(local.target_ous), local.existing_scp_ids) : pair[0] => pair[1]
    if contains(data.aws_organizations_policies_for_target.scp[pair[0]].ids, pair[1])
  }

  to = module.bedrock_inference_scp.aws_organizations_policy_attachment.this[each.key]
  id = "${each.key}:${each.value}"
}
