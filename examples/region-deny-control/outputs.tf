output "enabled_controls" {
  description = "The enabled control per OU: a map from OU id to the enabled control's ARN."
  value       = module.region_deny_control.enabled_controls
}

output "parameters" {
  description = "The control's parameters as sent to Control Tower."
  value       = module.region_deny_control.parameters
}
