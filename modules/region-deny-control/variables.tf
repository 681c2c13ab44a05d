variable "control_identifier" {
  description = "Identifier of the OU-level Region deny control CT.MULTISERVICE.PV.1 in the Control Catalog; see the module README for how to look it up."
  type        = string
  default     = "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1"
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(controlcatalog:::control/[0-9a-z]+|controltower:[a-z0-9-]+::control/[A-Za-z0-9_.-]+)$", var.control_identifier))
    error_message = "The control_identifier must be a control ARN such as arn:aws:controlcatalog:::control/<id>; find it with aws controlcatalog list-controls."
  }
}

variable "targets" {
  description = "OUs on which the control is enabled, as a map from OU id to OU ARN."
  type        = map(string)

  validation {
    condition     = alltrue([for id, arn in var.targets : can(regex("^arn:aws[a-z-]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/${id}$", arn))])
    error_message = "Every value of targets must be the ARN of the OU named by its key, such as arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-cdef3456; the control can be enabled on OUs only."
  }
}

variable "scp_attachment_ids" {
  description = "The OUs the companion SCP module attaches an SCP to, as a map from OU id to a value (bedrock-inference-scp's scp_targets, or its attachment_ids); a control on an OU missing here is refused. Order the two modules with depends_on on the module call (or pass attachment_ids, which makes each control depend on its OU's attachment)."
  type        = map(string)
  nullable    = false
}

variable "allowed_regions" {
  description = "Regions in which API calls are allowed (the control's AllowedRegions); must include the Control Tower home Region."
  type        = list(string)

  validation {
    condition     = length(var.allowed_regions) > 0
    error_message = "The allowed_regions list is empty; the control requires at least one Region, normally the Control Tower home Region."
  }

  validation {
    condition     = alltrue([for r in var.allowed_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "Every entry of allowed_regions must be a Region code such as us-east-1 or ap-northeast-3."
  }

  validation {
    condition     = length(distinct(var.allowed_regions)) == length(var.allowed_regions)
    error_message = "The allowed_regions list names a Region twice; list each Region once."
  }
}

variable "home_region" {
  description = "The Control Tower home Region; the control must not deny it."
  type        = string

  validation {
    condition     = contains(var.allowed_regions, var.home_region)
    error_message = "The home_region is not in allowed_regions; denying the Control Tower home Region breaks the landing zone, so add it to allowed_regions."
  }
}

variable "guarded_actions" {
  description = "IAM actions that the companion Bedrock inference SCP denies outside the allowed Regions; pass that module's guarded_actions output."
  type        = list(string)
}

variable "exempted_actions" {
  description = "IAM actions left out of the Region deny (the control's ExemptedActions); each must be guarded by the companion SCP."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.exempted_actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9*?]+$", a))])
    error_message = "Every entry of exempted_actions must be an IAM action of the form service:Action, such as bedrock:InvokeModel."
  }

  # regionguard.rules.covers, the rule validate and the plan gate apply
  # (tests/test_rule_bindings.py runs both over the same cases): a concrete
  # action is guarded by a pattern that matches it, ignoring case; a wildcard
  # action only by the same pattern or by a literal prefix followed by *.
  validation {
    condition = alltrue([for a in var.exempted_actions : anytrue([for g in var.guarded_actions :
      length(regexall("[*?]", a)) == 0
      ? can(regex("^(?i)${replace(replace(g, "*", ".*"), "?", ".")}$", a))
      : lower(g) == lower(a) || (endswith(g, "*") && length(regexall("[*?]", trimsuffix(g, "*"))) == 0 && startswith(lower(a), lower(trimsuffix(g, "*"))))
    ])])
    error_message = "Every entry of exempted_actions must be guarded by guarded_actions: an exempted action that the Bedrock inference SCP does not deny is open to every account in every Region."
  }
}

variable "exempted_principal_arns" {
  description = "IAM or STS principal ARNs left out of the Region deny (the control's ExemptedPrincipalArns); wildcards allowed."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.exempted_principal_arns : can(regex("^arn:(aws|aws-us-gov):(iam|sts)::.+:.+$", p))])
    error_message = "Every entry of exempted_principal_arns must be an IAM or STS principal ARN such as arn:aws:iam::*:role/Admin."
  }
}
