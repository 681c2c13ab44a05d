resource "aws_organizations_policy" "pass_no_principal" {
  name = "pass_no_principal"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_principal" {
  name = "fail_principal"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
        Principal = { AWS = "arn:aws:iam::123456789012:root" }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_not_principal" {
  name = "fail_not_principal"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect       = "Deny"
        Action       = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource     = "*"
        Condition    = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
        NotPrincipal = { AWS = "arn:aws:iam::123456789012:root" }
      }
    ]
  })
}
