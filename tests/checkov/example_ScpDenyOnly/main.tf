resource "aws_organizations_policy" "pass_deny" {
  name = "pass_deny"
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

resource "aws_organizations_policy" "fail_allow" {
  name = "fail_allow"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_allow_beside_deny" {
  name = "fail_allow_beside_deny"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      },
      {
        Effect   = "Allow"
        Action   = "s3:*"
        Resource = "*"
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_unresolved" {
  name    = "fail_unresolved"
  content = var.document
}

variable "document" {
  type = string
}

resource "aws_organizations_policy" "other_tag_policy" {
  name    = "other_tag_policy"
  type    = "TAG_POLICY"
  content = jsonencode({ tags = { team = { tag_key = { "@@assign" = "team" } } } })
}
