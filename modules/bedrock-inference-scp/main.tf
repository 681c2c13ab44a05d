locals {
  # An empty value list is not valid policy grammar: with no permitted
  # account the key is left out and the Deny applies to every account.
  region_condition = merge(
    { "aws:RequestedRegion" = var.allowed_regions },
    length(var.bedrock_permitted_account_ids) > 0 ? { "aws:PrincipalAccount" = var.bedrock_permitted_account_ids } : {},
  )

  seed_statement = {
    Sid       = "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"
    Effect    = "Deny"
    Action    = var.guarded_actions
    Resource  = "*"
    Condition = { StringNotEquals = local.region_condition }
  }

  global_inference_statements = var.global_inference == "none" ? [
    {
      Sid       = "DenyGlobalInferenceProfiles"
      Effect    = "Deny"
      Action    = var.guarded_actions
      Resource  = "*"
      Condition = { StringEquals = { "aws:RequestedRegion" = "unspecified" } }
    },
  ] : []

  inference_profile_statements = var.require_inference_profile ? [
    {
      Sid      = "DenyOutOfRegionInferenceWithoutProfile"
      Effect   = "Deny"
      Action   = var.guarded_actions
      Resource = "*"
      Condition = {
        StringNotEquals = { "aws:RequestedRegion" = var.allowed_regions }
        ArnNotLike      = { "bedrock:InferenceProfileArn" = var.inference_profile_arn_patterns }
      }
    },
  ] : []

  # The single SCP: the seed's policy, every permitted account in one list.
  # One local per statement group, concatenated inside jsonencode(): the
  # checkov checks (policies/checkov) can then read the default document in
  # HCL mode; see docs/policy-as-code.md.
  content = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.seed_statement], local.global_inference_statements, local.inference_profile_statements)
  })

  # ---------------------------------------------------------------- layout
  #
  # "single": one SCP on every target (the seed's design). "per_ou": each
  # target carries an SCP that lists only the permitted accounts placed under
  # it (var.ou_account_ids, read from AWS Organizations), so that no list has
  # to hold every permitted account; a target whose own list is still too
  # large (descend_ou_ids) carries an SCP listing the permitted accounts
  # directly under it, which spares the accounts of its child OUs by their
  # aws:PrincipalOrgPaths, and each child OU carries the SCP of its own
  # accounts (var.descended). "auto": single while it fits var.size_limit.
  layout = var.layout == "auto" ? (length(local.content) <= var.size_limit ? "single" : "per_ou") : var.layout

  layout_reason = (
    var.layout != "auto" ? "scp_layout is \"${var.layout}\"" :
    local.layout == "single" ? "auto: the single SCP (${length(local.content)} characters, ${length(var.bedrock_permitted_account_ids)} permitted accounts) fits the ${var.size_limit}-character limit" :
    "auto: the single SCP would be ${length(local.content)} characters for ${length(var.bedrock_permitted_account_ids)} permitted accounts, over the ${var.size_limit}-character limit"
  )

  # The permitted accounts of an account list, in the order of the permitted
  # list: the loops below run over the list's own accounts and look each one
  # up among the permitted accounts. (A loop over every permitted account per
  # list, with contains(), took Terraform minutes at 200 OUs and 2,000
  # permitted accounts; bench/scale_bench.py.) A zero-padded position in
  # front of each id makes sort() give back the permitted list's order,
  # duplicates kept.
  permitted_positions = { for i, id in var.bedrock_permitted_account_ids : id => format("%08d", i)... }

  # Permitted accounts under each target.
  ou_permitted = {
    for t in var.target_ids : t => [
      for key in sort(flatten([for id in distinct(lookup(var.ou_account_ids, t, [])) : [for p in try(local.permitted_positions[id], []) : "${p}${id}"]])) : substr(key, 8, -1)
    ]
  }

  # Permitted accounts directly under each descended target (key
  # "<target>/direct") and under each of its child OUs (key: the child OU id).
  # Apart from ou_permitted, which decides what is descended.
  descended_permitted = {
    for k, ids in merge(
      { for t, d in var.descended : "${t}/direct" => d.direct_account_ids },
      merge([for t, d in var.descended : d.children]...),
      ) : k => [
      for key in sort(flatten([for id in distinct(ids) : [for p in try(local.permitted_positions[id], []) : "${p}${id}"]])) : substr(key, 8, -1)
    ]
  }

  # Every SCP of the layout: key => name, permitted accounts, spared org paths.
  # Key "single" for the single SCP, else the OU id it is attached to.
  first_tier_groups = local.layout == "single" ? {
    single = { name = var.name, account_ids = var.bedrock_permitted_account_ids, org_paths = [] }
    } : {
    for t in var.target_ids : t => contains(keys(var.descended), t) ? {
      name        = "${var.name}-${t}"
      account_ids = local.descended_permitted["${t}/direct"]
      org_paths   = [for c in sort(keys(var.descended[t].children)) : "${var.org_path_prefix}${t}/${c}/*"]
      } : {
      name        = "${var.name}-${t}"
      account_ids = local.ou_permitted[t]
      org_paths   = []
    }
  }

  second_tier_groups = local.layout == "single" ? {} : merge([
    for t, d in var.descended : {
      for c in keys(d.children) : c => {
        name        = "${var.name}-${c}"
        account_ids = local.descended_permitted[c]
        org_paths   = []
      }
    } if contains(var.target_ids, t)
  ]...)

  documents = {
    for k, g in merge(local.first_tier_groups, local.second_tier_groups) : k => jsonencode({
      Version = "2012-10-17"
      Statement = concat([
        {
          Sid      = "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"
          Effect   = "Deny"
          Action   = var.guarded_actions
          Resource = "*"
          Condition = merge(
            {
              StringNotEquals = merge(
                { "aws:RequestedRegion" = var.allowed_regions },
                length(g.account_ids) > 0 ? { "aws:PrincipalAccount" = g.account_ids } : {},
              )
            },
            length(g.org_paths) > 0 ? { "ForAllValues:StringNotLike" = { "aws:PrincipalOrgPaths" = g.org_paths } } : {},
          )
        },
      ], local.global_inference_statements, local.inference_profile_statements)
    })
  }

  # Targets whose own per-OU list does not fit: the caller reads their child
  # OUs and passes them back as var.descended.
  descend_ou_ids = local.layout == "single" ? [] : sort([
    for t in var.target_ids : t
    if length(jsonencode({
      Version = "2012-10-17"
      Statement = concat([merge(local.seed_statement, {
        Condition = { StringNotEquals = merge(
          { "aws:RequestedRegion" = var.allowed_regions },
          length(local.ou_permitted[t]) > 0 ? { "aws:PrincipalAccount" = local.ou_permitted[t] } : {},
        ) }
      })], local.global_inference_statements, local.inference_profile_statements)
    })) > var.size_limit
  ])

  attachment_policy = { for t in var.target_ids : t => local.layout == "single" ? "single" : t }
}

moved {
  from = aws_organizations_policy.this
  to   = aws_organizations_policy.this["single"]
}

# The SCPs of second-tier OUs exist, and are attached, before a first-tier SCP
# spares those OUs' accounts (depends_on below); when a first-tier SCP stops
# sparing them, Terraform updates it before it detaches them.
resource "aws_organizations_policy" "second_tier" {
  for_each = local.second_tier_groups

  name        = each.value.name
  description = "${var.description} (accounts under ${each.key})"
  type        = "SERVICE_CONTROL_POLICY"
  content     = local.documents[each.key]
  tags        = var.tags
}

resource "aws_organizations_policy_attachment" "second_tier" {
  for_each = local.second_tier_groups

  policy_id = aws_organizations_policy.second_tier[each.key].id
  target_id = each.key

  # A new SCP is attached before the one it replaces is detached.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_organizations_policy" "this" {
  for_each = local.first_tier_groups

  name        = each.value.name
  description = each.key == "single" ? var.description : "${var.description} (accounts under ${each.key})"
  type        = "SERVICE_CONTROL_POLICY"
  content     = each.key == "single" ? local.content : local.documents[each.key]
  tags        = var.tags

  depends_on = [aws_organizations_policy_attachment.second_tier]
}

resource "aws_organizations_policy_attachment" "this" {
  for_each = var.target_ids

  policy_id = aws_organizations_policy.this[local.attachment_policy[each.value]].id
  target_id = each.value

  # Switching layouts changes the SCP of a target: the new one is attached
  # before the old one is detached, so the target is never without a guard.
  lifecycle {
    create_before_destroy = true
  }
}
