resource "aws_organizations_policy" "pass_small" {
  name = "pass_small"
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

resource "aws_organizations_policy" "fail_too_large" {
  name = "fail_too_large"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Deny"
        Action   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource = "*"
        Condition = { StringNotEquals = {
          "aws:RequestedRegion"  = ["us-east-1", "eu-west-2", "ap-northeast-1", "ap-northeast-3"],
          "aws:PrincipalAccount" = ["100000000001", "100000000002", "100000000003", "100000000004", "100000000005", "100000000006", "100000000007", "100000000008"]
        } }
      }
    ]
  })
}
