variable "home_region" {
  description = "The Region the aws provider calls AWS Organizations from, such as the Control Tower home Region."
  type        = string
}

variable "allowed_regions" {
  description = "Regions in which every account may call Bedrock inference; the Region deny control's AllowedRegions."
  type        = list(string)
}

variable "permitted_account_ids" {
  description = "12-digit ids of the accounts allowed to call Bedrock inference in any Region (cross-Region inference)."
  type        = list(string)
  default     = []
}

variable "target_ou_ids" {
  description = "Ids of the OUs the SCP is attached to: the OUs whose Region deny control exempts the Bedrock inference actions."
  type        = set(string)
}
