# The root module shared by every environment: first-tier OU discovery and
# the include/exclude settings, against a mocked organization.

mock_provider "aws" {
  override_data {
    target = data.aws_organizations_organization.this
    values = {
      roots = [{ id = "r-ab12", arn = "arn:aws:organizations::111111111111:root/o-abcdefghij/r-ab12", name = "Root", policy_types = [] }]
    }
  }

  override_data {
    target = data.aws_organizations_organizational_units.first_tier
    values = {
      children = [
        { id = "ou-ab12-workload1", name = "Workloads", arn = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1" },
        { id = "ou-ab12-security1", name = "Security", arn = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-security1" },
        { id = "ou-ab12-sandbox01", name = "Sandbox", arn = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-sandbox01" },
      ]
    }
  }
}

run "every_first_tier_ou_is_a_target_by_default" {
  command = plan

  assert {
    condition = output.targets == {
      "ou-ab12-workload1" = "Workloads"
      "ou-ab12-security1" = "Security"
      "ou-ab12-sandbox01" = "Sandbox"
    }
    error_message = "Every first-tier OU must be a target by default."
  }

  assert {
    condition     = output.untargeted_first_tier_ous == {}
    error_message = "No OU may be left out by default."
  }

  assert {
    condition = module.region_deny_control.target_arns == tolist([
      "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-sandbox01",
      "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-security1",
      "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1",
    ])
    error_message = "The control must be enabled on every first-tier OU, by ARN."
  }

  assert {
    condition     = toset(keys(output.enabled_controls)) == toset(keys(output.targets))
    error_message = "The control and the SCP must cover the same OUs."
  }
}

run "exclude_by_name_leaves_that_ou_out_and_names_it" {
  command = plan

  variables {
    target_ou_exclude = ["Sandbox"]
  }

  assert {
    condition     = keys(output.targets) == ["ou-ab12-security1", "ou-ab12-workload1"]
    error_message = "Excluding Sandbox by name must leave the two other OUs."
  }

  assert {
    condition     = output.untargeted_first_tier_ous == { "ou-ab12-sandbox01" = "Sandbox" }
    error_message = "The excluded OU must be named as untargeted."
  }
}

run "include_by_id_targets_only_that_ou" {
  command = plan

  variables {
    target_ou_include = ["ou-ab12-workload1"]
  }

  assert {
    condition     = output.targets == { "ou-ab12-workload1" = "Workloads" }
    error_message = "Including one OU by id must target that OU only."
  }
}

run "control_and_scp_receive_the_same_settings" {
  command = plan

  assert {
    condition     = output.control_parameters["AllowedRegions"] == jsonencode(jsondecode(output.scp_content).Statement[0].Condition.StringNotEquals["aws:RequestedRegion"])
    error_message = "The control's AllowedRegions and the SCP's allowed Regions must be the same list."
  }

  assert {
    condition     = jsondecode(output.scp_content).Statement[0].Condition.StringNotEquals["aws:PrincipalAccount"] == ["100000000001", "100000000003"]
    error_message = "The permitted accounts must come from accounts.auto.tfvars.json."
  }
}

run "a_selector_matching_no_ou_fails_the_plan" {
  command = plan

  variables {
    target_ou_exclude = ["Sandbx"]
  }

  expect_failures = [output.targets]
}

run "a_selection_leaving_no_ou_fails_the_plan" {
  command = plan

  variables {
    target_ou_include = ["Sandbox"]
    target_ou_exclude = ["ou-ab12-sandbox01"]
  }

  expect_failures = [output.targets]
}

run "every_targeted_ou_has_the_scp_attachment_its_control_depends_on" {
  command = plan

  variables {
    target_ou_exclude = ["Sandbox"]
  }

  assert {
    condition     = toset(keys(module.bedrock_inference_scp.attachment_ids)) == toset(["ou-ab12-workload1", "ou-ab12-security1"])
    error_message = "The SCP must be attached to exactly the targeted OUs."
  }

  assert {
    condition     = toset(keys(module.bedrock_inference_scp.attachment_ids)) == toset(keys(output.enabled_controls))
    error_message = "Each OU with the control must have the SCP attachment the control depends on."
  }
}
