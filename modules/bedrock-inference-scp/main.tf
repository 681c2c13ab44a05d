locals {
  # Every SCP of this module carries this tag: iam/apply-role.json lets the
  # apply role update, attach, detach and delete only SCPs that carry it.
  managed_tag = tomap({ "regionguard:managed" = "true" })
  policy_tags = merge(var.tags, local.managed_tag)

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
  # it (local.ou_account_ids, read from AWS Organizations), so that no list has
  # to hold every permitted account; a target whose own list is still too
  # large (descend_ou_ids) carries an SCP listing the permitted accounts
  # directly under it, which spares the accounts of its child OUs by their
  # aws:PrincipalOrgPaths, and each child OU carries the SCP of its own
  # accounts (local.descended). "auto": single while it fits var.size_limit.
  layout = var.layout == "auto" ? (length(local.content) <= var.size_limit ? "single" : "per_ou") : var.layout

  layout_reason = (
    var.layout != "auto" ? "scp_layout is \"${var.layout}\"" :
    local.layout == "single" ? "auto: the single SCP (${length(local.content)} characters, ${length(var.bedrock_permitted_account_ids)} permitted account${length(var.bedrock_permitted_account_ids) == 1 ? "" : "s"}) fits the ${var.size_limit}-character limit" :
    "auto: the single SCP would be ${length(local.content)} characters for ${length(var.bedrock_permitted_account_ids)} permitted account${length(var.bedrock_permitted_account_ids) == 1 ? "" : "s"}, over the ${var.size_limit}-character limit"
  )

  # Where AWS Organizations places the accounts: read by the data sources
  # below when read_placement is true, else given as inputs.
  ou_account_ids = var.read_placement ? {
    for t, d in data.aws_organizations_organizational_unit_descendant_accounts.target : t => [for a in d.accounts : a.id]
  } : var.ou_account_ids

  descended = var.read_placement ? {
    for t, d in data.aws_organizations_organizational_units.descend : t => {
      direct_account_ids = [for a in data.aws_organizations_organizational_unit_child_accounts.descend[t].accounts : a.id]
      children           = { for c in d.children : c.id => [for a in data.aws_organizations_organizational_unit_descendant_accounts.second_tier[c.id].accounts : a.id] }
    }
  } : var.descended

  org_path_prefix = var.read_placement ? join("", [for o in data.aws_organizations_organization.this : "${o.id}/${o.roots[0].id}/"]) : var.org_path_prefix

  # The permitted accounts of a list of accounts, in the order of the
  # permitted list. The loop runs over the list's own accounts and looks each
  # one up among the permitted accounts: a loop over every permitted account
  # per list, with contains(), took Terraform minutes at 200 OUs and 2,000
  # permitted accounts (make bench-scale). A zero-padded position in front of
  # each id makes sort() give back the permitted list's order.
  permitted_positions = { for i, id in var.bedrock_permitted_account_ids : id => format("%08d", i)... }

  # Permitted accounts under each target.
  ou_permitted = {
    for t in var.target_ids : t => [
      for key in sort(flatten([for id in distinct(lookup(local.ou_account_ids, t, [])) : [for p in try(local.permitted_positions[id], []) : "${p}${id}"]])) : substr(key, 8, -1)
    ]
  }

  # Permitted accounts directly under a descended target ("<target>/direct")
  # and under each of its child OUs (the child OU id). Kept apart from
  # ou_permitted, which decides what is descended.
  descended_lists = merge(
    { for t, d in local.descended : "${t}/direct" => d.direct_account_ids },
    { for pair in flatten([for t, d in local.descended : [for c, ids in d.children : { child = c, ids = ids }]]) : pair.child => pair.ids },
  )
  descended_permitted = {
    for k, ids in local.descended_lists : k => [
      for key in sort(flatten([for id in distinct(ids) : [for p in try(local.permitted_positions[id], []) : "${p}${id}"]])) : substr(key, 8, -1)
    ]
  }

  # Every SCP of the layout: key => name, permitted accounts, spared org paths.
  # Key "single" for the single SCP, else the OU id it is attached to.
  first_tier_groups = local.layout == "single" ? {
    single = { name = var.name, account_ids = var.bedrock_permitted_account_ids, org_paths = [] }
    } : {
    for t in var.target_ids : t => contains(keys(local.descended), t) ? {
      name        = "${var.name}-${t}"
      account_ids = local.descended_permitted["${t}/direct"]
      org_paths   = [for c in sort(keys(local.descended[t].children)) : "${local.org_path_prefix}${t}/${c}/*"]
      } : {
      name        = "${var.name}-${t}"
      account_ids = local.ou_permitted[t]
      org_paths   = []
    }
  }

  second_tier_groups = local.layout == "single" ? {} : {
    for pair in flatten([
      for t, d in local.descended : [for c in keys(d.children) : { child = c }] if contains(var.target_ids, t)
      ]) : pair.child => {
      name        = "${var.name}-${pair.child}"
      account_ids = local.descended_permitted[pair.child]
      org_paths   = []
    }
  }

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

  # Targets whose own per-OU list does not fit: their child OUs are read
  # OUs (data sources below, or var.descended without read_placement).
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

}

# Account placement, read from AWS Organizations (never from the registry's
# `ou`), only under the per_ou layout: the accounts under each target, and,
# for a target whose own list does not fit, the accounts directly under it
# and under each of its child OUs. An account moved out of band to another OU
# is then listed by no SCP above it until the next apply: it loses its
# permit, never gains one.
data "aws_organizations_organizational_unit_descendant_accounts" "target" {
  for_each = var.read_placement && local.layout == "per_ou" ? var.target_ids : toset([])

  parent_id = each.value
}

data "aws_organizations_organizational_units" "descend" {
  for_each = var.read_placement ? toset(local.descend_ou_ids) : toset([])

  parent_id = each.value
}

data "aws_organizations_organizational_unit_child_accounts" "descend" {
  for_each = var.read_placement ? toset(local.descend_ou_ids) : toset([])

  parent_id = each.value
}

data "aws_organizations_organizational_unit_descendant_accounts" "second_tier" {
  for_each = { for pair in flatten([for t, d in data.aws_organizations_organizational_units.descend : [for c in d.children : { child = c.id, parent = t }]]) : pair.child => pair.parent }

  parent_id = each.key
}

# The organization and root ids start every aws:PrincipalOrgPaths value.
data "aws_organizations_organization" "this" {
  count = var.read_placement && length(local.descend_ou_ids) > 0 ? 1 : 0
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
  tags        = local.policy_tags
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

# The single SCP: its content is the seed's document (local.content), which
# checkov reads in HCL mode (docs/policy-as-code.md).
resource "aws_organizations_policy" "this" {
  for_each = local.layout == "single" ? toset(["single"]) : toset([])

  name        = var.name
  description = var.description
  type        = "SERVICE_CONTROL_POLICY"
  content     = local.content
  tags        = local.policy_tags
}

# The per-OU SCPs: their lists come from AWS Organizations' placement, known
# at plan time only; checkov checks them in plan mode.
resource "aws_organizations_policy" "per_ou" {
  for_each = local.layout == "single" ? {} : local.first_tier_groups

  name        = each.value.name
  description = "${var.description} (accounts under ${each.key})"
  type        = "SERVICE_CONTROL_POLICY"
  content     = local.documents[each.key]
  tags        = local.policy_tags

  depends_on = [aws_organizations_policy_attachment.second_tier]
}

# One attachment resource per layout, each keyed by its target: a layout
# switch creates the attachments of one resource and destroys those of the
# other, never replaces one. Every remote attachment (an SCP on a target) then
# has an address of its own, so an apply interrupted half-way leaves nothing
# the next plan cannot read: an attachment AWS has and the state lacks is
# adopted (envs/_shared/adopt.tf), one the state has and AWS lacks is
# forgotten on refresh. terraform_data.attachments orders the two: the new
# attachment of a target exists before the old one is detached.
#
# The single layout's attachments keep the address they have always had.
resource "aws_organizations_policy_attachment" "this" {
  for_each = local.layout == "single" ? var.target_ids : toset([])

  policy_id = aws_organizations_policy.this["single"].id
  target_id = each.value

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_organizations_policy_attachment" "per_ou" {
  for_each = local.layout == "single" ? toset([]) : var.target_ids

  policy_id = aws_organizations_policy.per_ou[each.value].id
  target_id = each.value

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # The first-tier attachments of the layout in use, by target id (the other
  # layout's resource has none).
  first_tier_attachments = merge(aws_organizations_policy_attachment.this, aws_organizations_policy_attachment.per_ou)
}

# No attachment is destroyed before every attachment of the same apply is
# created. This resource refers to every attachment, so Terraform updates it
# once the new ones exist; and since every attachment is
# create_before_destroy, Terraform destroys one only after it updated what
# refers to it (docs/scale.md, "Ordering"). A layout switch thus attaches each
# target's new SCP before it detaches the old one, so the target is never
# without a guard. It calls no API; its value is the id of each attachment.
resource "terraform_data" "attachments" {
  input = merge(
    { for t, a in aws_organizations_policy_attachment.this : "this/${t}" => a.id },
    { for t, a in aws_organizations_policy_attachment.per_ou : "per_ou/${t}" => a.id },
    { for c, a in aws_organizations_policy_attachment.second_tier : "second_tier/${c}" => a.id },
  )
}
