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

  # Where the calls go. regionguard points the four services the sandbox
  # emulates (Control Tower, IAM, Organizations, STS) at the sandbox on
  # loopback with AWS_ENDPOINT_URL_<SERVICE>
  # (regionguard.local_sandbox.terraform_environment). Every other address,
  # AWS's own included, goes to a proxy at a port nothing can listen on, so
  # the local environment never talks to AWS: without regionguard's
  # variables every call fails here. Loopback addresses are never proxied,
  # and no_proxy replaces an operator's NO_PROXY. Why not an `endpoints`
  # block: docs/decisions.md, "The sandbox's address".
  http_proxy  = "http://127.0.0.1:0"
  https_proxy = "http://127.0.0.1:0"
  no_proxy    = "localhost,127.0.0.1,::1"

  default_tags {
    tags = { "managed-by" = "regionguard", "environment" = "local" }
  }
}
