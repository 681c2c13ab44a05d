output "policy_id" {
  description = "Id of the service control policy."
  value       = aws_organizations_policy.this.id
}

output "policy_arn" {
  description = "ARN of the service control policy."
  value       = aws_organizations_policy.this.arn
}

output "content" {
  description = "The policy document exactly as sent to AWS Organizations."
  value       = local.content
}

output "content_length" {
  description = "Length of the policy document in characters, as AWS counts it against the SCP size limit."
  value       = length(local.content)
}

output "guarded_actions" {
  description = "The IAM actions the policy guards; every action exempted from the Region deny must be one of them."
  value       = var.guarded_actions
}

output "attached_target_ids" {
  description = "Ids of the targets the policy is attached to."
  value       = sort([for a in aws_organizations_policy_attachment.this : a.target_id])
}

output "attachment_ids" {
  description = "The policy's attachment per target, as a map from target id to attachment id; pass it to region-deny-control's scp_attachment_ids so that each control is enabled after, and disabled before, its OU's attachment."
  value       = { for id, a in aws_organizations_policy_attachment.this : id => a.id }
}
