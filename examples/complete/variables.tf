variable "home_region" {
  description = "The Control Tower home Region: the aws provider calls AWS there, and the Region deny never denies it."
  type        = string
}

variable "allowed_regions" {
  description = "Regions in which every account may work: the control's AllowedRegions and the SCP's allowed Regions; must include home_region."
  type        = list(string)
}

variable "permitted_account_ids" {
  description = "12-digit ids of the accounts allowed to call Bedrock inference in any Region (cross-Region inference)."
  type        = list(string)
  default     = []
}

variable "excluded_ou_ids" {
  description = "Ids of first-tier OUs left without the control and the SCP, such as OUs not registered with Control Tower."
  type        = list(string)
  default     = []
}
