mock_provider "aws" {
  mock_resource "aws_organizations_policy" {
    defaults = {
      id  = "p-mock12345"
      arn = "arn:aws:organizations::111111111111:policy/o-mockorg123/service_control_policy/p-mock12345"
    }
  }

  mock_resource "aws_organizations_policy_attachment" {
    defaults = {
      id = "ou-mock-attached:p-mock12345"
    }
  }
}

variables {
  allowed_regions               = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"]
  bedrock_permitted_account_ids = ["111122223333", "444455556666"]
  target_ids                    = ["ou-ab12-workload1", "ou-ab12-security1"]
}

run "seed_inputs_render_the_seed_policy" {
  command = plan

  assert {
    condition     = jsondecode(output.content) == jsondecode(file("${path.module}/tests/seed_policy.json"))
    error_message = "The policy for the seed's inputs differs from the seed's policy."
  }

  assert {
    condition     = output.content == jsonencode(jsondecode(file("${path.module}/tests/seed_policy.json")))
    error_message = "The policy is not the seed's policy in minified form."
  }

  assert {
    condition     = output.content == "{\"Statement\":[{\"Action\":[\"bedrock:InvokeModel\",\"bedrock:InvokeModelWithResponseStream\"],\"Condition\":{\"StringNotEquals\":{\"aws:PrincipalAccount\":[\"111122223333\",\"444455556666\"],\"aws:RequestedRegion\":[\"ap-northeast-1\",\"ap-northeast-3\",\"us-east-1\",\"eu-west-2\"]}},\"Effect\":\"Deny\",\"Resource\":\"*\",\"Sid\":\"DenyBedrockInferenceExceptAllowRegionSpecificAccounts\"}],\"Version\":\"2012-10-17\"}"
    error_message = "The minified policy differs from the expected bytes."
  }

  assert {
    condition     = output.content_length == 377
    error_message = "The policy length is not the expected 377 characters."
  }

  assert {
    condition     = aws_organizations_policy.this["single"].type == "SERVICE_CONTROL_POLICY"
    error_message = "The policy is not a service control policy."
  }

  assert {
    condition     = aws_organizations_policy.this["single"].content == output.content
    error_message = "The policy resource does not carry the rendered document."
  }
}

run "policy_is_attached_to_every_target" {
  command = apply

  assert {
    condition     = toset(keys(aws_organizations_policy_attachment.this)) == toset(["ou-ab12-workload1", "ou-ab12-security1"])
    error_message = "The policy is not attached to exactly the targets."
  }

  assert {
    condition     = length(aws_organizations_policy_attachment.per_ou) == 0
    error_message = "The single layout must attach nothing with the per_ou layout's resource."
  }

  assert {
    condition     = terraform_data.attachments.output == { for t in ["ou-ab12-workload1", "ou-ab12-security1"] : "this/${t}" => "ou-mock-attached:p-mock12345" }
    error_message = "terraform_data.attachments must refer to every attachment, so that none is destroyed before every new one exists."
  }

  assert {
    condition     = alltrue([for a in aws_organizations_policy_attachment.this : a.policy_id == "p-mock12345"])
    error_message = "An attachment does not refer to the policy."
  }

  assert {
    condition     = output.attached_target_ids == tolist(["ou-ab12-security1", "ou-ab12-workload1"])
    error_message = "The attached targets output is wrong."
  }
}

run "empty_permitted_list_leaves_the_account_key_out" {
  command = plan

  variables {
    bedrock_permitted_account_ids = []
  }

  assert {
    condition     = keys(jsondecode(output.content).Statement[0].Condition.StringNotEquals) == ["aws:RequestedRegion"]
    error_message = "With no permitted account the condition must hold the Region key only."
  }

  assert {
    condition     = !strcontains(output.content, "aws:PrincipalAccount")
    error_message = "With no permitted account the policy must not mention aws:PrincipalAccount."
  }

  assert {
    condition     = length(jsondecode(output.content).Statement) == 1
    error_message = "The default options render one statement."
  }
}

run "global_inference_none_denies_unspecified_region_for_everyone" {
  command = plan

  variables {
    global_inference = "none"
  }

  assert {
    condition     = length(jsondecode(output.content).Statement) == 2
    error_message = "global_inference = none must add one statement."
  }

  assert {
    condition = jsondecode(output.content).Statement[1] == {
      Sid       = "DenyGlobalInferenceProfiles"
      Effect    = "Deny"
      Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      Resource  = "*"
      Condition = { StringEquals = { "aws:RequestedRegion" = "unspecified" } }
    }
    error_message = "The global inference statement is not the expected Deny on aws:RequestedRegion = unspecified."
  }
}

run "global_inference_default_keeps_the_seed_statement_only" {
  command = plan

  assert {
    condition     = !strcontains(output.content, "unspecified")
    error_message = "The default must not mention the unspecified Region: permitted accounts keep global profiles."
  }
}

run "require_inference_profile_denies_direct_out_of_region_calls" {
  command = plan

  variables {
    require_inference_profile = true
  }

  assert {
    condition = jsondecode(output.content).Statement[1] == {
      Sid      = "DenyOutOfRegionInferenceWithoutProfile"
      Effect   = "Deny"
      Action   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      Resource = "*"
      Condition = {
        StringNotEquals = { "aws:RequestedRegion" = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"] }
        ArnNotLike      = { "bedrock:InferenceProfileArn" = ["arn:aws:bedrock:*:*:inference-profile/*"] }
      }
    }
    error_message = "The inference-profile statement is not the expected Deny."
  }

  assert {
    condition     = jsondecode(output.content).Statement[0].Sid == "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"
    error_message = "The seed statement must stay first and unchanged."
  }
}

run "both_options_render_three_statements" {
  command = plan

  variables {
    global_inference          = "none"
    require_inference_profile = true
  }

  assert {
    condition     = [for s in jsondecode(output.content).Statement : s.Sid] == ["DenyBedrockInferenceExceptAllowRegionSpecificAccounts", "DenyGlobalInferenceProfiles", "DenyOutOfRegionInferenceWithoutProfile"]
    error_message = "Both options must render the three statements in order."
  }
}

run "rejects_an_eleven_digit_account_id" {
  command = plan

  variables {
    bedrock_permitted_account_ids = ["12345678901"]
  }

  expect_failures = [var.bedrock_permitted_account_ids]
}

run "rejects_an_account_id_with_letters" {
  command = plan

  variables {
    bedrock_permitted_account_ids = ["12345678901a"]
  }

  expect_failures = [var.bedrock_permitted_account_ids]
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
    allowed_regions = ["us-east-1", "US_EAST_2"]
  }

  expect_failures = [var.allowed_regions]
}

run "rejects_an_unknown_global_inference_mode" {
  command = plan

  variables {
    global_inference = "everyone"
  }

  expect_failures = [var.global_inference]
}

run "rejects_empty_guarded_actions" {
  command = plan

  variables {
    guarded_actions = []
  }

  expect_failures = [var.guarded_actions]
}

run "rejects_a_malformed_action" {
  command = plan

  variables {
    guarded_actions = ["InvokeModel"]
  }

  expect_failures = [var.guarded_actions]
}

run "rejects_a_malformed_target_id" {
  command = plan

  variables {
    target_ids = ["Workloads"]
  }

  expect_failures = [var.target_ids]
}

run "rejects_an_inference_profile_pattern_that_is_not_an_arn" {
  command = plan

  variables {
    inference_profile_arn_patterns = ["inference-profile/*"]
  }

  expect_failures = [var.inference_profile_arn_patterns]
}

run "rejects_an_invalid_policy_name" {
  command = plan

  variables {
    name = "bedrock inference"
  }

  expect_failures = [var.name]
}

run "attachment_ids_name_the_attachment_of_every_target" {
  command = apply

  assert {
    condition = output.attachment_ids == {
      "ou-ab12-workload1" = "ou-mock-attached:p-mock12345"
      "ou-ab12-security1" = "ou-mock-attached:p-mock12345"
    }
    error_message = "attachment_ids must map every target id, and only those, to its attachment's id."
  }
}

run "attachment_ids_is_empty_without_targets" {
  command = apply

  variables {
    target_ids = []
  }

  assert {
    condition     = output.attachment_ids == {}
    error_message = "attachment_ids must be empty when the policy is attached nowhere."
  }
}

run "auto_keeps_the_single_scp_while_it_fits" {
  command = plan

  variables {
    layout = "auto"
  }

  assert {
    condition     = output.layout == "single" && keys(output.documents) == ["single"]
    error_message = "auto must keep the single SCP while it fits."
  }

  assert {
    condition     = output.documents["single"].content == output.content && output.documents["single"].name == "bedrock-cross-region-inference"
    error_message = "The single SCP of auto must be the seed's policy under the configured name."
  }
}

run "auto_switches_to_per_ou_when_the_single_scp_does_not_fit" {
  command = plan

  variables {
    layout     = "auto"
    size_limit = 376
    ou_account_ids = {
      "ou-ab12-workload1" = ["111122223333", "999988887777"]
      "ou-ab12-security1" = ["444455556666"]
    }
  }

  assert {
    condition     = output.layout == "per_ou" && length(output.descend_ou_ids) == 0
    error_message = "auto must switch to per_ou when the 377-character single SCP is over a 376 limit, and each OU's list fits."
  }

  assert {
    condition     = jsondecode(output.documents["ou-ab12-workload1"].content).Statement[0].Condition.StringNotEquals["aws:PrincipalAccount"] == ["111122223333"]
    error_message = "The SCP of an OU must list only the permitted accounts placed under it."
  }

  assert {
    condition     = output.documents["ou-ab12-security1"].name == "bedrock-cross-region-inference-ou-ab12-security1" && output.documents["ou-ab12-security1"].account_count == 1
    error_message = "Each per-OU SCP is named after its OU and counts its accounts."
  }

  assert {
    condition     = output.attachment_policies["ou-ab12-workload1"] == { resource = "per_ou", key = "ou-ab12-workload1" }
    error_message = "Each target must carry its own SCP under per_ou."
  }
}

run "per_ou_attaches_each_target_s_own_scp_with_its_own_resource" {
  command = plan

  variables {
    layout         = "per_ou"
    ou_account_ids = { "ou-ab12-workload1" = ["111122223333"] }
  }

  assert {
    condition     = length(aws_organizations_policy_attachment.this) == 0 && toset(keys(aws_organizations_policy_attachment.per_ou)) == toset(["ou-ab12-workload1", "ou-ab12-security1"])
    error_message = "The per_ou layout must attach with aws_organizations_policy_attachment.per_ou, one per target, and nothing with .this."
  }
}

run "per_ou_lists_no_account_for_an_ou_without_permitted_accounts" {
  command = plan

  variables {
    layout         = "per_ou"
    ou_account_ids = { "ou-ab12-workload1" = ["111122223333"] }
  }

  assert {
    condition     = !can(jsondecode(output.documents["ou-ab12-security1"].content).Statement[0].Condition.StringNotEquals["aws:PrincipalAccount"])
    error_message = "An OU with no permitted account under it must carry the Deny for every account."
  }
}

run "per_ou_descends_to_child_ous_of_a_target_whose_list_does_not_fit" {
  command = plan

  variables {
    layout     = "per_ou"
    size_limit = 361
    ou_account_ids = {
      "ou-ab12-workload1" = ["111122223333", "444455556666", "777777777777"]
      "ou-ab12-security1" = []
    }
    org_path_prefix = "o-abcdefghij/r-ab12/"
    descended = {
      "ou-ab12-workload1" = {
        direct_account_ids = ["777777777777"]
        children = {
          "ou-ab12-childaaa1" = ["111122223333"]
          "ou-ab12-childbbb2" = ["444455556666"]
        }
      }
    }
  }

  assert {
    condition     = output.descend_ou_ids == tolist(["ou-ab12-workload1"])
    error_message = "The target whose two-account list is over the limit must be descended, and only it."
  }

  assert {
    condition = jsondecode(output.documents["ou-ab12-workload1"].content).Statement[0].Condition == {
      StringNotEquals = { "aws:RequestedRegion" = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"] }
      "ForAllValues:StringNotLike" = { "aws:PrincipalOrgPaths" = [
        "o-abcdefghij/r-ab12/ou-ab12-workload1/ou-ab12-childaaa1/*",
        "o-abcdefghij/r-ab12/ou-ab12-workload1/ou-ab12-childbbb2/*",
      ] }
    }
    error_message = "A descended target's SCP must list its direct permitted accounts (none here) and spare only its child OUs' accounts by org path."
  }

  assert {
    condition     = jsondecode(output.documents["ou-ab12-childaaa1"].content).Statement[0].Condition.StringNotEquals["aws:PrincipalAccount"] == ["111122223333"]
    error_message = "Each child OU of a descended target must carry an SCP listing its own permitted accounts."
  }

  assert {
    condition     = output.attachment_policies["ou-ab12-childbbb2"] == { resource = "second_tier", key = "ou-ab12-childbbb2" }
    error_message = "The child OUs' SCPs must be attached to the child OUs."
  }
}

run "per_ou_attaches_the_scps_of_a_descended_target_and_its_child_ous" {
  command = apply

  variables {
    layout     = "per_ou"
    size_limit = 361
    ou_account_ids = {
      "ou-ab12-workload1" = ["111122223333", "444455556666"]
    }
    org_path_prefix = "o-abcdefghij/r-ab12/"
    descended = {
      "ou-ab12-workload1" = {
        direct_account_ids = []
        children           = { "ou-ab12-childaaa1" = ["111122223333", "444455556666"] }
      }
    }
  }

  assert {
    condition     = keys(aws_organizations_policy_attachment.second_tier) == ["ou-ab12-childaaa1"] && contains(keys(output.attachment_ids), "ou-ab12-workload1")
    error_message = "A descended target must carry its own attachment and its child OU's."
  }
}

# iam/apply-role.json lets the apply role update, attach, detach and delete
# only SCPs tagged regionguard:managed = "true": every SCP of every layout
# carries it, beside the caller's tags.
run "every_scp_of_every_layout_carries_the_managed_tag" {
  command = plan

  variables {
    layout     = "per_ou"
    size_limit = 361
    tags       = { team = "platform" }
    ou_account_ids = {
      "ou-ab12-workload1" = ["111122223333", "444455556666"]
      "ou-ab12-security1" = []
    }
    org_path_prefix = "o-abcdefghij/r-ab12/"
    descended = {
      "ou-ab12-workload1" = {
        direct_account_ids = []
        children           = { "ou-ab12-childaaa1" = ["111122223333", "444455556666"] }
      }
    }
  }

  assert {
    condition     = output.managed_tag == tomap({ "regionguard:managed" = "true" })
    error_message = "The managed tag must be regionguard:managed = \"true\"."
  }

  assert {
    condition = alltrue([
      for p in concat(values(aws_organizations_policy.per_ou), values(aws_organizations_policy.second_tier)) :
      p.tags == tomap({ team = "platform", "regionguard:managed" = "true" })
    ]) && length(aws_organizations_policy.per_ou) == 2 && length(aws_organizations_policy.second_tier) == 1
    error_message = "Every per-OU and second-tier SCP must carry the caller's tags and regionguard:managed = \"true\"."
  }
}

run "the_single_scp_carries_the_managed_tag" {
  command = plan

  assert {
    condition     = aws_organizations_policy.this["single"].tags == tomap({ "regionguard:managed" = "true" })
    error_message = "The single SCP must carry regionguard:managed = \"true\"."
  }
}

run "rejects_tags_that_set_the_managed_tag" {
  command = plan

  variables {
    tags = { "regionguard:managed" = "false" }
  }

  expect_failures = [var.tags]
}
