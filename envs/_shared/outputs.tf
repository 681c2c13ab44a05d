output "targets" {
  description = "The first-tier OUs that receive the Region deny control and the SCP, as a map from OU id to OU name."
  value       = { for id, ou in local.target_ous : id => ou.name }

  precondition {
    condition     = length(local.unmatched_ou_selectors) == 0
    error_message = "These entries of target_ou_include or target_ou_exclude match no first-tier OU by name or id: ${join(", ", local.unmatched_ou_selectors)}. Correct or remove them."
  }

  precondition {
    condition     = length(local.target_ous) > 0
    error_message = "No first-tier OU is targeted: the organization has none, or target_ou_include and target_ou_exclude leave none."
  }
}

output "untargeted_first_tier_ous" {
  description = "First-tier OUs left without the Region deny control and the SCP, as a map from OU id to OU name."
  value       = { for id, ou in local.not_covered_ous : id => ou.name }
}

output "not_covered_first_tier_ous" {
  description = "First-tier OUs left without the Region deny control and the SCP, as a map from OU id to an object with the OU name and the reason."
  value       = local.not_covered_ous
}

output "scp_id" {
  description = "Id of the single Bedrock inference SCP; null under the per_ou layout (see scp_ids)."
  value       = module.bedrock_inference_scp.policy_id
}

output "scp_ids" {
  description = "Id of every Bedrock inference SCP, as a map from its key (\"single\", or the OU id it is attached to) to the policy id."
  value       = module.bedrock_inference_scp.policy_ids
}

output "scp_layout" {
  description = "The SCP layout in use and why: an object with layout (\"single\" or \"per_ou\"), reason, and descended (the first-tier OUs whose SCPs are split over their child OUs)."
  value = {
    layout    = module.bedrock_inference_scp.layout
    reason    = module.bedrock_inference_scp.layout_reason
    descended = module.bedrock_inference_scp.descend_ou_ids
  }
}

output "scp_attachment_policies" {
  description = "Which Bedrock inference SCP each target carries, known at plan time: a map from target id (first-tier OU, or child OU of a descended one) to the policy resource of module.bedrock_inference_scp (\"this\" or \"second_tier\") and its key; the plan review reads it."
  value       = module.bedrock_inference_scp.attachment_policies
}

output "scp_documents" {
  description = "Every Bedrock inference SCP of the layout, as a map from its key (\"single\", or the OU id it is attached to) to its name, the number of permitted accounts it lists and its content."
  value       = module.bedrock_inference_scp.documents
}

output "scp_content" {
  description = "The single Bedrock inference SCP (every permitted account in one list), as sent to AWS Organizations under the single layout."
  value       = module.bedrock_inference_scp.content
}

output "scp_content_length" {
  description = "Length of the single Bedrock inference SCP in characters."
  value       = module.bedrock_inference_scp.content_length
}

output "control_parameters" {
  description = "Parameters of the Region deny control, each value JSON-encoded as sent to Control Tower."
  value       = module.region_deny_control.parameters
}

output "enabled_controls" {
  description = "The enabled Region deny control per OU: a map from OU id to enabled-control ARN."
  value       = module.region_deny_control.enabled_controls
}
