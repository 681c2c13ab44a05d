variable "home_region" {
  description = "The Control Tower home Region: the aws provider calls Control Tower there, and the control never denies it."
  type        = string
}

variable "allowed_regions" {
  description = "Regions in which every API call is allowed (the control's AllowedRegions); must include home_region."
  type        = list(string)
}

variable "targets" {
  description = "The OUs the control is enabled on, as a map from OU id to OU ARN; each must be registered with Control Tower."
  type        = map(string)
}

variable "guard_policy_id" {
  description = "Id (p-...) of the SCP that denies guarded_actions outside allowed_regions except for the accounts you permit; it is attached to every target."
  type        = string
}

variable "guarded_actions" {
  description = "The actions the SCP of guard_policy_id denies outside allowed_regions; the control exempts exactly these."
  type        = list(string)
  default     = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
}
