# An OU not registered with Control Tower, recorded by regionguard preflight
# --write-tfvars, is left out of the targets and named as not covered with
# the reason, against a mocked organization.

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
        { id = "ou-ab12-suspend01", name = "Suspended", arn = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-suspend01" },
        { id = "ou-ab12-sandbox01", name = "Sandbox", arn = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-sandbox01" },
      ]
    }
  }
}

run "an_unregistered_ou_is_not_a_target_and_is_named_with_the_reason" {
  command = plan

  variables {
    unregistered_ous = { "ou-ab12-suspend01" = "Suspended" }
  }

  assert {
    condition     = keys(output.targets) == ["ou-ab12-sandbox01", "ou-ab12-workload1"]
    error_message = "The unregistered OU must not be a target."
  }

  assert {
    condition     = output.untargeted_first_tier_ous == { "ou-ab12-suspend01" = "Suspended" }
    error_message = "The unregistered OU must be named as untargeted."
  }

  assert {
    condition = output.not_covered_first_tier_ous == {
      "ou-ab12-suspend01" = {
        name   = "Suspended"
        reason = "not registered with AWS Control Tower, which refuses controls on it; register it, then run regionguard preflight --write-tfvars"
      }
    }
    error_message = "The unregistered OU must be reported as not covered, with the reason."
  }

  assert {
    condition     = toset(keys(output.enabled_controls)) == toset(keys(output.targets))
    error_message = "The control and the SCP must cover the same OUs."
  }
}

run "every_reason_that_applies_is_named" {
  command = plan

  variables {
    unregistered_ous  = { "ou-ab12-suspend01" = "Suspended" }
    target_ou_exclude = ["Suspended", "Sandbox"]
  }

  assert {
    condition = output.not_covered_first_tier_ous == {
      "ou-ab12-suspend01" = {
        name   = "Suspended"
        reason = "not registered with AWS Control Tower, which refuses controls on it; register it, then run regionguard preflight --write-tfvars; in target_ou_exclude"
      }
      "ou-ab12-sandbox01" = { name = "Sandbox", reason = "in target_ou_exclude" }
    }
    error_message = "Each OU left out must carry every reason that applies."
  }

  assert {
    condition     = output.targets == { "ou-ab12-workload1" = "Workloads" }
    error_message = "Only Workloads remains a target."
  }
}

run "an_ou_outside_target_ou_include_says_so" {
  command = plan

  variables {
    target_ou_include = ["Workloads"]
  }

  assert {
    condition     = output.not_covered_first_tier_ous["ou-ab12-sandbox01"] == { name = "Sandbox", reason = "not in target_ou_include" }
    error_message = "An OU outside target_ou_include must say so."
  }
}
