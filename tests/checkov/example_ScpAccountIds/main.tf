resource "aws_organizations_policy" "pass_twelve_digits" {
  name = "pass_twelve_digits"
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

resource "aws_organizations_policy" "pass_no_account" {
  name = "pass_no_account"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_eleven_digits" {
  name = "fail_eleven_digits"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1"], "aws:PrincipalAccount" = ["123456789012", "12345678901"] } }
      }
    ]
  })
}

resource "aws_organizations_policy" "fail_letters" {
  name = "fail_letters"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1"], "aws:PrincipalAccount" = ["12345678901a", "123456789012"] } }
      }
    ]
  })
}
