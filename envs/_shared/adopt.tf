# Adoption of what an interrupted apply left behind.
#
# An apply killed after Control Tower accepted enable-control, or after AWS
# Organizations created the SCP or attached it, leaves the object in AWS but
# not in the state; the next apply would try to create it again and fail (the
# control is already enabled; the policy name is taken; the policy is already
# attached). These import blocks adopt such objects into the state instead.
# They are no-ops for objects already in the state, and cost, on each plan,
# one ListEnabledControls and one ListPoliciesForTarget per target OU (and per
# child OU of a descended target) and one DescribePolicy per SCP of the
# organization.

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

locals {
  # Policy names are unique per policy type: name => id of the existing SCP.
  existing_scp_ids = { for id, policy in data.aws_organizations_policy.scp : policy.name => id }
  scp_names        = module.bedrock_inference_scp.policy_names
}

import {
  for_each = { for key, name in local.scp_names.this : key => local.existing_scp_ids[name] if contains(keys(local.existing_scp_ids), name) }

  to = module.bedrock_inference_scp.aws_organizations_policy.this[each.key]
  id = each.value
}

import {
  for_each = { for key, name in local.scp_names.per_ou : key => local.existing_scp_ids[name] if contains(keys(local.existing_scp_ids), name) }

  to = module.bedrock_inference_scp.aws_organizations_policy.per_ou[each.key]
  id = each.value
}

import {
  for_each = { for key, name in local.scp_names.second_tier : key => local.existing_scp_ids[name] if contains(keys(local.existing_scp_ids), name) }

  to = module.bedrock_inference_scp.aws_organizations_policy.second_tier[each.key]
  id = each.value
}

data "aws_organizations_policies_for_target" "scp" {
  for_each = local.target_ous

  target_id = each.key
  filter    = "SERVICE_CONTROL_POLICY"
}

data "aws_organizations_policies_for_target" "second_tier" {
  for_each = local.scp_names.second_tier

  target_id = each.key
  filter    = "SERVICE_CONTROL_POLICY"
}

locals {
  # The id of the SCP each target carries under the layout in use, where AWS
  # has it attached to that target.
  attached_scp_ids = {
    for id, name in local.target_scp_names : id => local.existing_scp_ids[name]
    if contains(keys(local.existing_scp_ids), name) && contains(data.aws_organizations_policies_for_target.scp[id].ids, lookup(local.existing_scp_ids, name, ""))
  }
  # The name of the SCP each target carries under the layout in use.
  target_scp_names = { for id, ou in local.target_ous : id => merge(local.scp_names.this, local.scp_names.per_ou)[module.bedrock_inference_scp.layout == "single" ? "single" : id] }
}

# Each layout has its own attachment resource (modules/bedrock-inference-scp):
# an attachment is adopted at the address of the layout in use.
import {
  for_each = module.bedrock_inference_scp.layout == "single" ? local.attached_scp_ids : {}

  to = module.bedrock_inference_scp.aws_organizations_policy_attachment.this[each.key]
  id = "${each.key}:${each.value}"
}

import {
  for_each = module.bedrock_inference_scp.layout == "single" ? {} : local.attached_scp_ids

  to = module.bedrock_inference_scp.aws_organizations_policy_attachment.per_ou[each.key]
  id = "${each.key}:${each.value}"
}

import {
  for_each = {
    for id, name in local.scp_names.second_tier : id => local.existing_scp_ids[name]
    if contains(keys(local.existing_scp_ids), name) && contains(data.aws_organizations_policies_for_target.second_tier[id].ids, lookup(local.existing_scp_ids, name, ""))
  }

  to = module.bedrock_inference_scp.aws_organizations_policy_attachment.second_tier[each.key]
  id = "${each.key}:${each.value}"
}
