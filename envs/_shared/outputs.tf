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
  description = "Id of the Bedrock inference SCP."
  value       = module.bedrock_inference_scp.policy_id
}

output "scp_content" {
  description = "The Bedrock inference SCP exactly as sent to AWS Organizations."
  value       = module.bedrock_inference_scp.content
}

output "scp_content_length" {
  description = "Length of the Bedrock inference SCP in characters."
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
