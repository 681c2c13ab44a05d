locals {
  # An empty value list is not valid policy grammar: with no permitted
  # account the key is left out and the Deny applies to every account.
  region_condition = merge(
    { "aws:RequestedRegion" = var.allowed_regions },
    length(var.bedrock_permitted_account_ids) > 0 ? { "aws:PrincipalAccount" = var.bedrock_permitted_account_ids } : {},
  )

  seed_statement = {
    Sid       = "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"
    Effect    = "Deny"
    Action    = var.guarded_actions
    Resource  = "*"
    Condition = { StringNotEquals = local.region_condition }
  }

  global_inference_statements = var.global_inference == "none" ? [
    {
      Sid       = "DenyGlobalInferenceProfiles"
      Effect    = "Deny"
      Action    = var.guarded_actions
      Resource  = "*"
      Condition = { StringEquals = { "aws:RequestedRegion" = "unspecified" } }
    },
  ] : []

  inference_profile_statements = var.require_inference_profile ? [
    {
      Sid      = "DenyOutOfRegionInferenceWithoutProfile"
      Effect   = "Deny"
      Action   = var.guarded_actions
      Resource = "*"
      Condition = {
        StringNotEquals = { "aws:RequestedRegion" = var.allowed_regions }
        ArnNotLike      = { "bedrock:InferenceProfileArn" = var.inference_profile_arn_patterns }
      }
    },
  ] : []

  # One local per statement group, concatenated inside jsonencode(): the
  # checkov checks (policies/checkov) can then read the default document in
  # HCL mode; see docs/policy-as-code.md.
  content = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.seed_statement], local.global_inference_statements, local.inference_profile_statements)
  })
}

resource "aws_organizations_policy" "this" {
  name        = var.name
  description = var.description
  type        = "SERVICE_CONTROL_POLICY"
  content     = local.content
  tags        = var.tags
}

resource "aws_organizations_policy_attachment" "this" {
  for_each = var.target_ids

  policy_id = aws_organizations_policy.this.id
  target_id = each.value
}
