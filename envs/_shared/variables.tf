variable "home_region" {
  description = "The Control Tower home Region; Terraform calls AWS there and the Region deny never denies it."
  type        = string
}

variable "allowed_regions" {
  description = "Regions in which every account may work: the Region deny control's AllowedRegions and the SCP's allowed Regions."
  type        = list(string)
}

variable "exempted_actions" {
  description = "IAM actions left out of the Region deny; each must be guarded by the Bedrock inference SCP."
  type        = list(string)
  default     = []
}

variable "exempted_principal_arns" {
  description = "IAM or STS principal ARNs left out of the Region deny."
  type        = list(string)
  default     = []

  validation {
    condition     = var.allow_wildcard_principal_exemptions || alltrue([for arn in var.exempted_principal_arns : length(regexall("[*?]", arn)) == 0])
    error_message = "A wildcard (* or ?) in exempted_principal_arns exempts every principal it matches, in every account, from the Region deny; name each role, or set allow_wildcard_principal_exemptions = true."
  }
}

variable "bedrock_permitted_account_ids" {
  description = "Accounts allowed to call the guarded Bedrock actions in any Region; generated into accounts.auto.tfvars.json from accounts.yaml."
  type        = list(string)
  default     = []
}

variable "guarded_actions" {
  description = "IAM actions the Bedrock inference SCP denies outside the allowed Regions unless the caller's account is permitted."
  type        = list(string)
  default     = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
}

variable "global_inference" {
  description = "Who may use global inference profiles: \"permitted_accounts\" (the default) or \"none\"."
  type        = string
  default     = "permitted_accounts"
}

variable "require_inference_profile" {
  description = "Whether calls outside the allowed Regions are allowed only through an inference profile."
  type        = bool
  default     = false
}

variable "control_identifier" {
  description = "Control Catalog ARN of CT.MULTISERVICE.PV.1; null keeps the module's default."
  type        = string
  default     = null
}

variable "target_ou_include" {
  description = "First-tier OUs to target, by name or id; empty targets every first-tier OU of the organization."
  type        = list(string)
  default     = []
}

variable "target_ou_exclude" {
  description = "First-tier OUs, by name or id, left without the Region deny control and the SCP."
  type        = list(string)
  default     = []
}

variable "scp_name" {
  description = "Name of the Bedrock inference SCP in AWS Organizations."
  type        = string
  default     = "bedrock-cross-region-inference"
}

variable "tags" {
  description = "Tags applied to the resources that support them."
  type        = map(string)
  default     = {}
}

variable "scp_layout" {
  description = "How the permitted accounts are spread over SCPs: \"single\" (the seed's one SCP on every target), \"per_ou\" (each targeted first-tier OU lists only the permitted accounts AWS Organizations places under it, descending to its child OUs when that list does not fit) or \"auto\" (single while it fits scp_size_limit, else per_ou)."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["single", "per_ou", "auto"], var.scp_layout)
    error_message = "The scp_layout must be \"single\", \"per_ou\" or \"auto\"."
  }
}

variable "scp_size_limit" {
  description = "Largest Bedrock inference SCP, in characters, that `regionguard validate` and the plan gate accept, and the size at which scp_layout \"auto\" switches to per-OU SCPs; AWS allows 10,240 (5,120 before May 2026)."
  type        = number
  default     = 10240

  validation {
    condition     = var.scp_size_limit >= 1 && var.scp_size_limit <= 10240 && floor(var.scp_size_limit) == var.scp_size_limit
    error_message = "The scp_size_limit must be a whole number from 1 to 10240: AWS Organizations refuses an SCP over 10,240 characters, so no setting can raise the limit."
  }
}

variable "allow_wildcard_exemptions" {
  description = "Whether `regionguard validate` accepts a wildcard such as bedrock:Invoke* in exempted_actions."
  type        = bool
  default     = false
}

variable "allow_wildcard_principal_exemptions" {
  description = "Whether a wildcard (* or ?) may appear in exempted_principal_arns; `regionguard validate` then reports it as a warning."
  type        = bool
  default     = false
}
