output "policy_id" {
  description = "Id of the single SCP; null under the per_ou layout (see policy_ids)."
  value       = try(aws_organizations_policy.this["single"].id, null)
}

output "policy_arn" {
  description = "ARN of the single SCP; null under the per_ou layout."
  value       = try(aws_organizations_policy.this["single"].arn, null)
}

output "policy_ids" {
  description = "Id of every SCP of the layout, as a map from its key (\"single\", or the OU id it is attached to) to the policy id."
  value = merge(
    { for k, p in aws_organizations_policy.this : k => p.id },
    { for k, p in aws_organizations_policy.per_ou : k => p.id },
    { for k, p in aws_organizations_policy.second_tier : k => p.id },
  )
}

output "content" {
  description = "The single SCP document exactly as sent to AWS Organizations (the one list of every permitted account), whichever layout is used."
  value       = local.content
}

output "content_length" {
  description = "Length of the single SCP document in characters, as AWS counts it against the SCP size limit."
  value       = length(local.content)
}

output "layout" {
  description = "The layout in use: \"single\" or \"per_ou\"."
  value       = local.layout
}

output "layout_reason" {
  description = "Why that layout is in use, in words."
  value       = local.layout_reason
}

output "descend_ou_ids" {
  description = "Targets whose per-OU list does not fit size_limit: pass their child OUs and accounts as descended."
  value       = local.descend_ou_ids
}

output "documents" {
  description = "Every SCP of the layout as sent, as a map from its key (\"single\", or the OU id it is attached to) to an object with the policy name, the number of permitted accounts it lists and its content."
  value = {
    for k, g in merge(local.first_tier_groups, local.second_tier_groups) : k => {
      name          = g.name
      account_count = length(g.account_ids)
      content       = k == "single" ? local.content : local.documents[k]
    }
  }
}

output "policy_names" {
  description = "The name of every SCP of the layout, by resource: this (key \"single\"), per_ou (key: the first-tier OU id) and second_tier (key: the child OU id); envs/_shared/adopt.tf adopts an SCP of that name left behind by an interrupted apply."
  value = {
    this        = local.layout == "single" ? tomap({ single = var.name }) : tomap({})
    per_ou      = local.layout == "single" ? tomap({}) : tomap({ for k, g in local.first_tier_groups : k => g.name })
    second_tier = tomap({ for k, g in local.second_tier_groups : k => g.name })
  }
}

output "scp_targets" {
  description = "The targets the module attaches an SCP to, as a map from target id to itself; known at plan time. Pass it to region-deny-control's scp_attachment_ids, and make that module depend on this one (depends_on), so that no control is enabled before, or disabled after, its OU's SCP."
  value       = { for t in var.target_ids : t => t }
}

output "attachment_policies" {
  description = "Which SCP each attachment attaches, known at plan time: a map from target id to the policy resource (\"this\", \"per_ou\" or \"second_tier\") and its key."
  value = merge(
    { for t in var.target_ids : t => { resource = local.layout == "single" ? "this" : "per_ou", key = local.layout == "single" ? "single" : t } },
    { for c, g in local.second_tier_groups : c => { resource = "second_tier", key = c } },
  )
}

output "guarded_actions" {
  description = "The IAM actions the policy guards; every action exempted from the Region deny must be one of them."
  value       = var.guarded_actions
}

output "attached_target_ids" {
  description = "Ids of the targets an SCP of the layout is attached to (first-tier targets; the child OUs of a descended target are in attachment_policies)."
  value       = sort([for a in local.first_tier_attachments : a.target_id])
}

output "attachment_ids" {
  description = "The SCP attachment per target, as a map from target id to attachment id. Passed to region-deny-control's scp_attachment_ids, it makes each control depend on its OU's attachment (a per-OU SCP depends on its child OUs' attachments, so a control waits for those too)."
  value       = { for id, a in local.first_tier_attachments : id => a.id }
}

output "managed_tag" {
  description = "The tag every SCP of this module carries; the apply role (iam/apply-role.json) manages only SCPs that carry it."
  value       = local.managed_tag
}
