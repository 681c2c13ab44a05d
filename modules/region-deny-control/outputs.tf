output "enabled_controls" {
  description = "The enabled control per OU: a map from OU id to the enabled control's ARN."
  value       = { for id, c in aws_controltower_control.this : id => c.arn }
}

output "parameters" {
  description = "The control's parameters as sent to Control Tower, each value JSON-encoded."
  value       = { for k, v in local.parameters : k => jsonencode(v) }
}

output "target_arns" {
  description = "ARNs of the OUs on which the control is enabled."
  value       = sort(values(var.targets))
}

output "control_identifier" {
  description = "Identifier of the control enabled on every target."
  value       = var.control_identifier
}
