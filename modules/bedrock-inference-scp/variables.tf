variable "name" {
  description = "Name of the service control policy in AWS Organizations."
  type        = string
  default     = "bedrock-cross-region-inference"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,128}$", var.name))
    error_message = "The policy name must be 1 to 128 characters of letters, digits and the characters _+=,.@-."
  }
}

variable "description" {
  description = "Description of the service control policy shown in AWS Organizations."
  type        = string
  default     = "Denies Bedrock inference outside the allowed Regions except for the permitted accounts."
}

variable "allowed_regions" {
  description = "Regions in which every account may call the guarded actions; the same list as the Region deny control's AllowedRegions."
  type        = list(string)

  validation {
    condition     = length(var.allowed_regions) > 0
    error_message = "The allowed_regions list is empty; name at least one Region, normally the Control Tower home Region."
  }

  validation {
    condition     = alltrue([for r in var.allowed_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "Every entry of allowed_regions must be a Region code such as us-east-1 or ap-northeast-3."
  }
}

variable "bedrock_permitted_account_ids" {
  description = "Accounts allowed to call the guarded actions in any Region; generated from the accounts registry."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.bedrock_permitted_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every entry of bedrock_permitted_account_ids must be an AWS account id of exactly 12 digits, written as a string."
  }
}

variable "guarded_actions" {
  description = "IAM actions the policy denies outside the allowed Regions unless the caller's account is permitted."
  type        = list(string)
  default     = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]

  validation {
    condition     = length(var.guarded_actions) > 0
    error_message = "The guarded_actions list is empty; the policy must guard at least the actions exempted from the Region deny."
  }

  validation {
    condition     = alltrue([for a in var.guarded_actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*?]+$", a))])
    error_message = "Every entry of guarded_actions must be an IAM action of the form service:Action, such as bedrock:InvokeModel."
  }
}

variable "global_inference" {
  description = "Who may use global inference profiles (aws:RequestedRegion \"unspecified\"): \"permitted_accounts\" or \"none\"."
  type        = string
  default     = "permitted_accounts"

  validation {
    condition     = contains(["permitted_accounts", "none"], var.global_inference)
    error_message = "The global_inference setting must be \"permitted_accounts\" or \"none\"."
  }
}

variable "require_inference_profile" {
  description = "Whether calls outside the allowed Regions are allowed only through an inference profile, even for permitted accounts."
  type        = bool
  default     = false
}

variable "inference_profile_arn_patterns" {
  description = "ARN patterns of the inference profiles through which out-of-Region calls stay allowed when require_inference_profile is true."
  type        = list(string)
  default     = ["arn:aws:bedrock:*:*:inference-profile/*"]

  validation {
    condition     = length(var.inference_profile_arn_patterns) > 0 && alltrue([for p in var.inference_profile_arn_patterns : startswith(p, "arn:")])
    error_message = "The inference_profile_arn_patterns list must hold at least one ARN pattern starting with arn:."
  }
}

variable "target_ids" {
  description = "Ids of the organizational units (or roots or accounts) the policy is attached to."
  type        = set(string)

  validation {
    condition     = alltrue([for t in var.target_ids : can(regex("^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}|[0-9]{12})$", t))])
    error_message = "Every entry of target_ids must be an OU id (ou-xxxx-xxxxxxxx), a root id (r-xxxx) or a 12-digit account id."
  }
}

variable "tags" {
  description = "Tags applied to the service control policies, beside the regionguard:managed tag the module sets."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.tags), "regionguard:managed")
    error_message = "The tags must not set regionguard:managed: the module sets it on every SCP it manages, and the apply role manages only SCPs that carry it (iam/apply-role.json)."
  }
}

variable "layout" {
  description = "How the permitted accounts are spread over SCPs: \"single\" (one SCP listing every permitted account, on every target), \"per_ou\" (each target lists only the permitted accounts under it, from ou_account_ids) or \"auto\" (single while it fits size_limit)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "per_ou", "auto"], var.layout)
    error_message = "The layout must be \"single\", \"per_ou\" or \"auto\"."
  }
}

variable "size_limit" {
  description = "Largest SCP, in characters, the layout lets one list grow to: auto switches to per_ou above it, and per_ou descends to the child OUs of a target whose own list is larger."
  type        = number
  default     = 10240

  validation {
    condition     = var.size_limit >= 1 && var.size_limit <= 10240 && floor(var.size_limit) == var.size_limit
    error_message = "The size_limit must be a whole number from 1 to 10240: AWS Organizations refuses an SCP over 10,240 characters."
  }
}

variable "read_placement" {
  description = "Whether the module reads the account placement from AWS Organizations itself (data sources, only under the per_ou layout); false takes ou_account_ids, descended and org_path_prefix as given."
  type        = bool
  default     = false
}

variable "ou_account_ids" {
  description = "For the per_ou layout without read_placement: the ids of every account under each target (all levels below it), as AWS Organizations places them; a target missing here lists no account."
  type        = map(list(string))
  default     = {}
}

variable "descended" {
  description = "For the per_ou layout, targets listed in the descend_ou_ids output: the accounts directly under the target, and the accounts under each of its child OUs (child OU id => account ids)."
  type = map(object({
    direct_account_ids = list(string)
    children           = map(list(string))
  }))
  default = {}
}

variable "org_path_prefix" {
  description = "The organization's path down to its root, \"<organization id>/<root id>/\", the start of every aws:PrincipalOrgPaths value; needed when descended is not empty."
  type        = string
  default     = ""

  validation {
    condition     = var.org_path_prefix == "" || can(regex("^o-[a-z0-9]{10,32}/r-[0-9a-z]{4,32}/$", var.org_path_prefix))
    error_message = "The org_path_prefix must be \"<organization id>/<root id>/\", such as o-a1b2c3d4e5/r-ab12/."
  }
}
