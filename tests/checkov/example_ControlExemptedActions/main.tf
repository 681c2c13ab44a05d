resource "aws_controltower_control" "pass_seed_actions" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

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
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }
}

resource "aws_controltower_control" "pass_batch_inference" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:CreateModelInvocationJob", "bedrock:InvokeModel"])
  }
}

resource "aws_controltower_control" "fail_wildcard" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:*", "bedrock:InvokeModel"])
  }
}

resource "aws_controltower_control" "fail_unapproved" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["s3:PutObject", "bedrock:InvokeModel"])
  }
}
