resource "aws_controltower_control" "pass_two_regions" {
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

resource "aws_controltower_control" "pass_one_region" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1"])
  }
}

resource "aws_controltower_control" "fail_empty" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode([])
  }
}

resource "aws_controltower_control" "fail_missing" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "ExemptedActions"
    value = jsonencode(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
  }
}

resource "aws_controltower_control" "fail_not_region_code" {
  control_identifier = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "AllowedRegions"
    value = jsonencode(["us-east-1", "Tokyo"])
  }
}
