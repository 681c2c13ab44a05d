variable "management_account_id" {
  description = "Id of the organization's management account; Terraform refuses to run with credentials of any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.management_account_id))
    error_message = "The management_account_id must be an AWS account id of exactly 12 digits."
  }
}

provider "aws" {
  region              = var.home_region
  allowed_account_ids = [var.management_account_id]

  default_tags {
    tags = { "managed-by" = "regionguard", "environment" = "prod" }
  }
}
