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

  # The exemptions are safe only while the SCP that guards them is attached
  # to the OU. This reference makes each control depend on the attachments:
  # Terraform creates SCP -> attachments -> controls, updates the SCP before
  # the controls, and destroys controls -> attachments -> SCP, so no apply,
  # finished or interrupted, leaves an exemption without its guard.
  lifecycle {
    precondition {
      condition     = contains(keys(var.scp_attachment_ids), each.key)
      error_message = "The OU ${each.key} has no attachment of the Bedrock inference SCP in scp_attachment_ids; its exempted actions would be open to every account in every Region. Attach the SCP to every target OU (pass bedrock-inference-scp's attachment_ids)."
    }
  }
}
