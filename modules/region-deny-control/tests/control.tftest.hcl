mock_provider "aws" {
  mock_resource "aws_controltower_control" {
    defaults = {
      arn = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/MOCKENABLED1"
    }
  }
}

variables {
  home_region     = "ap-northeast-1"
  allowed_regions = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"]
  guarded_actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
  exempted_actions = [
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
  ]
  targets = {
    "ou-ab12-workload1" = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1"
    "ou-ab12-security1" = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-security1"
  }
  scp_attachment_ids = {
    "ou-ab12-workload1" = "ou-ab12-workload1:p-mock12345"
    "ou-ab12-security1" = "ou-ab12-security1:p-mock12345"
  }
}

run "control_is_enabled_on_every_target_ou_with_the_seed_parameters" {
  command = plan

  assert {
    condition     = toset(keys(aws_controltower_control.this)) == toset(["ou-ab12-workload1", "ou-ab12-security1"])
    error_message = "The control is not enabled on exactly the target OUs."
  }

  assert {
    condition     = aws_controltower_control.this["ou-ab12-workload1"].target_identifier == "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1"
    error_message = "The control's target is not the OU ARN."
  }

  assert {
    condition     = alltrue([for c in aws_controltower_control.this : c.control_identifier == "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"])
    error_message = "The control identifier is not the documented default."
  }

  assert {
    condition = alltrue([for c in aws_controltower_control.this : { for p in c.parameters : p.key => p.value } == {
      AllowedRegions  = "[\"ap-northeast-1\",\"ap-northeast-3\",\"us-east-1\",\"eu-west-2\"]"
      ExemptedActions = "[\"bedrock:InvokeModel\",\"bedrock:InvokeModelWithResponseStream\"]"
    }])
    error_message = "Each OU's control must carry AllowedRegions and ExemptedActions, JSON-encoded, and nothing else."
  }

  assert {
    condition = output.parameters == {
      AllowedRegions  = "[\"ap-northeast-1\",\"ap-northeast-3\",\"us-east-1\",\"eu-west-2\"]"
      ExemptedActions = "[\"bedrock:InvokeModel\",\"bedrock:InvokeModelWithResponseStream\"]"
    }
    error_message = "The parameters output differs from what is sent."
  }
}

run "exempted_principals_are_sent_with_their_exact_key" {
  command = plan

  variables {
    exempted_principal_arns = ["arn:aws:iam::*:role/BreakGlass", "arn:aws:sts::123456789012:assumed-role/Admin/*"]
  }

  assert {
    condition     = alltrue([for c in aws_controltower_control.this : contains([for p in c.parameters : p.key], "ExemptedPrincipalArns")])
    error_message = "The parameter key must be ExemptedPrincipalArns, with that casing."
  }

  assert {
    condition     = output.parameters["ExemptedPrincipalArns"] == "[\"arn:aws:iam::*:role/BreakGlass\",\"arn:aws:sts::123456789012:assumed-role/Admin/*\"]"
    error_message = "The exempted principals are not sent JSON-encoded in order."
  }
}

run "empty_exemptions_send_only_allowed_regions" {
  command = plan

  variables {
    exempted_actions = []
  }

  assert {
    condition     = keys(output.parameters) == ["AllowedRegions"]
    error_message = "Without exemptions the control must receive AllowedRegions only."
  }
}

run "enabled_control_arns_are_reported_per_ou" {
  command = apply

  assert {
    condition = output.enabled_controls == {
      "ou-ab12-workload1" = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/MOCKENABLED1"
      "ou-ab12-security1" = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/MOCKENABLED1"
    }
    error_message = "The enabled control ARNs are not reported per OU."
  }
}

run "control_identifier_can_be_overridden" {
  command = plan

  variables {
    control_identifier = "arn:aws:controlcatalog:::control/abcdefghijklmnopqrstuvwxy"
  }

  assert {
    condition     = alltrue([for c in aws_controltower_control.this : c.control_identifier == "arn:aws:controlcatalog:::control/abcdefghijklmnopqrstuvwxy"])
    error_message = "The control identifier input is not used."
  }
}

run "rejects_an_exempted_action_the_scp_does_not_guard" {
  command = plan

  variables {
    exempted_actions = ["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"]
  }

  expect_failures = [var.exempted_actions]
}

run "rejects_a_wildcard_exemption_the_scp_does_not_guard" {
  command = plan

  variables {
    exempted_actions = ["bedrock:*"]
  }

  expect_failures = [var.exempted_actions]
}

run "rejects_a_malformed_exempted_action" {
  command = plan

  variables {
    guarded_actions  = ["bedrock InvokeModel"]
    exempted_actions = ["bedrock InvokeModel"]
  }

  expect_failures = [var.exempted_actions]
}

run "rejects_empty_allowed_regions" {
  command = plan

  variables {
    allowed_regions = []
  }

  expect_failures = [var.allowed_regions]
}

run "rejects_a_malformed_region_code" {
  command = plan

  variables {
    allowed_regions = ["ap-northeast-1", "Tokyo"]
  }

  expect_failures = [var.allowed_regions]
}

run "rejects_a_region_listed_twice" {
  command = plan

  variables {
    allowed_regions = ["ap-northeast-1", "us-east-1", "us-east-1"]
  }

  expect_failures = [var.allowed_regions]
}

run "rejects_allowed_regions_without_the_home_region" {
  command = plan

  variables {
    allowed_regions = ["us-east-1", "eu-west-2"]
  }

  expect_failures = [var.home_region]
}

run "rejects_a_malformed_exempted_principal" {
  command = plan

  variables {
    exempted_principal_arns = ["arn:aws:s3:::bucket"]
  }

  expect_failures = [var.exempted_principal_arns]
}

run "rejects_an_account_as_target" {
  command = plan

  variables {
    targets = {
      "123456789012" = "arn:aws:organizations::111111111111:account/o-abcdefghij/123456789012"
    }
  }

  expect_failures = [var.targets]
}

run "rejects_a_malformed_control_identifier" {
  command = plan

  variables {
    control_identifier = "CT.MULTISERVICE.PV.1"
  }

  expect_failures = [var.control_identifier]
}

run "refuses_a_control_on_an_ou_without_the_scp_attachment" {
  command = plan

  variables {
    scp_attachment_ids = {
      "ou-ab12-workload1" = "ou-ab12-workload1:p-mock12345"
    }
  }

  expect_failures = [aws_controltower_control.this["ou-ab12-security1"]]
}

run "refuses_every_control_when_the_scp_is_attached_nowhere" {
  command = plan

  variables {
    scp_attachment_ids = {}
  }

  expect_failures = [
    aws_controltower_control.this["ou-ab12-workload1"],
    aws_controltower_control.this["ou-ab12-security1"],
  ]
}

run "attachments_to_other_targets_do_not_stand_in_for_the_ous_own" {
  command = plan

  variables {
    scp_attachment_ids = {
      "ou-ab12-workload1" = "ou-ab12-workload1:p-mock12345"
      "r-ab12"            = "r-ab12:p-mock12345"
    }
  }

  expect_failures = [aws_controltower_control.this["ou-ab12-security1"]]
}
