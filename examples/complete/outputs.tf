output "targets" {
  description = "The first-tier OUs that receive the control and the SCP, as a map from OU id to OU ARN."
  value       = local.targets
}

output "scp_id" {
  description = "Id of the Bedrock inference SCP."
  value       = module.bedrock_inference_scp.policy_id
}

output "scp_content_length" {
  description = "Length of the SCP in characters, against the 10,240-character limit of AWS Organizations."
  value       = module.bedrock_inference_scp.content_length
}

output "enabled_controls" {
  description = "The enabled Region deny control per OU: a map from OU id to the enabled control's ARN."
  value       = module.region_deny_control.enabled_controls
}
