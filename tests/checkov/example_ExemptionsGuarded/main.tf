resource "aws_organizations_policy" "guard" {
  name = "guard"
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

resource "aws_organizations_policy" "s3_only" {
  name = "s3_only"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Deny"
        Action    = "s3:*"
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:RequestedRegion" = ["us-east-1", "eu-west-2"], "aws:PrincipalAccount" = ["123456789012", "210987654321"] } }
      }
    ]
  })
}

resource "aws_organizations_policy_attachment" "guard_ou1" {
  policy_id = aws_organizations_policy.guard.id
  target_id = "ou-ab12-aaaa1111"
}

resource "aws_organizations_policy_attachment" "guard_ou2" {
  policy_id = aws_organizations_policy.guard.id
  target_id = "ou-ab12-bbbb2222"
}

resource "aws_organizations_policy_attachment" "s3_ou3" {
  policy_id = aws_organizations_policy.s3_only.id
  target_id = "ou-ab12-cccc3333"
}

resource "aws_controltower_control" "pass_guarded" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-aaaa1111"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1", "eu-west-2"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
  }
}

resource "aws_controltower_control" "pass_no_exemption" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cccc3333"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }
}

resource "aws_controltower_control" "fail_batch_not_guarded" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-bbbb2222"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"])
  }
}

resource "aws_controltower_control" "fail_scp_guards_other_actions" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cccc3333"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1", "eu-west-2"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
  }
}

resource "aws_controltower_control" "fail_no_scp_on_ou" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-dddd4444"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1", "eu-west-2"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
  }
}
