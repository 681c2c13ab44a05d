variable "sandbox_endpoint" {
  description = "URL of the local sandbox that emulates AWS Organizations, STS and Control Tower on loopback."
  type        = string
  default     = "http://127.0.0.1:4580"

  validation {
    condition     = can(regex("^http://(127\\.[0-9]+\\.[0-9]+\\.[0-9]+|localhost|\\[::1\\]):[0-9]+$", var.sandbox_endpoint))
    error_message = "The sandbox_endpoint must be a loopback URL such as http://127.0.0.1:4580; the local environment never talks to AWS."
  }
}

provider "aws" {
  region     = var.home_region
  access_key = "sandbox"
  secret_key = "sandbox"

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  # A sandbox that is down must fail the command quickly, not after minutes
  # of retries with back-off. The sandbox drops no call (docs/sandbox.md,
  # "Calls sent twice"): a "retrying request" line in TF_LOG=DEBUG output is
  # a fault, and make bench-scale-sandbox counts them.
  #
  # Terraform's -parallelism (default 10) bounds how many Control Tower
  # operations one apply has in progress, since each control's create waits
  # for its operation; AWS allows 100 at once for the whole account. The
  # time a first apply takes at AWS pace for each parallelism is in
  # docs/benchmarks.md ("Control Tower at AWS pace").
  max_retries = 2

  endpoints {
    controltower  = var.sandbox_endpoint
    iam           = var.sandbox_endpoint
    organizations = var.sandbox_endpoint
    sts           = var.sandbox_endpoint
  }

  default_tags {
    tags = { "managed-by" = "regionguard", "environment" = "local" }
  }
}
