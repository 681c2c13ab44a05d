locals {
  # Empty lists are left out rather than sent as [] so that the control
  # receives only the parameters that carry a value.
  parameters = merge(
    { AllowedRegions = var.allowed_regions },
    length(var.exempted_actions) > 0 ? { ExemptedActions = var.exempted_actions } : {},
    length(var.exempted_principal_arns) > 0 ? { ExemptedPrincipalArns = var.exempted_principal_arns } : {},
  )
}

resource "aws_controltower_control" "this" {
  for_each = var.targets

  control_identifier = var.control_identifier
  target_identifier  = each.value

  dynamic "parameters" {
    for_each = local.parameters

    content {
      key   = parameters.key
      value = jsonencode(parameters.value)
    }
  }
}
