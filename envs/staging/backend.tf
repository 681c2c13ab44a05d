# Partial configuration: bucket and region come from backend.hcl
# (terraform init -backend-config=backend.hcl), so that no account-specific
# name is committed here.
terraform {
  backend "s3" {
    key          = "regionguard/staging.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
