resource "aws_controltower_control" "pass_default_identifier" {
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

resource "aws_controltower_control" "fail_other_identifier" {
  control_identifier = "arn:aws:controlcatalog:::control/0000000000000000000000000"
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

resource "aws_controltower_control" "other_control_with_own_parameters" {
  control_identifier = "arn:aws:controlcatalog:::control/1111111111111111111111111"
  target_identifier  = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456"

  parameters {
    key   = "ExemptedPrincipalArnz"
    value = jsonencode(["x"])
  }
}

resource "aws_controltower_control" "unknown_identifier_variable" {
  control_identifier = var.control_identifier
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

variable "control_identifier" {
  type    = string
  default = null
}
