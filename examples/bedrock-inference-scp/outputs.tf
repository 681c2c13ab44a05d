output "policy_id" {
  description = "Id of the SCP."
  value       = module.bedrock_inference_scp.policy_id
}

output "content_length" {
  description = "Length of the SCP in characters, against the 10,240-character limit of AWS Organizations."
  value       = module.bedrock_inference_scp.content_length
}

output "guarded_actions" {
  description = "The actions the SCP guards: a Region deny control may exempt these, and only these."
  value       = module.bedrock_inference_scp.guarded_actions
}
