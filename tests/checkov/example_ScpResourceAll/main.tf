resource "aws_organizations_policy" "pass_star" {
  name = "pass_star"
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

resource "aws_organizations_policy" "pass_star_in_list" {
  name = "pass_star_in_list"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = ["*"]
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_narrow" {
  name = "fail_narrow"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "arn:aws:bedrock:*::foundation-model/*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_not_resource" {
  name = "fail_not_resource"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect      = "Deny"
        Action      = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Condition   = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
        NotResource = "arn:aws:bedrock:*::foundation-model/x"
      }
    ]
  })
}
