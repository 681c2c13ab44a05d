# The Bedrock inference SCP alone: it denies the guarded Bedrock actions
# outside the allowed Regions unless the caller's account is permitted, and is
# attached to the OUs you name. Use it where the OU-level Region deny control
# that exempts those actions is managed elsewhere; examples/complete manages
# both.

provider "aws" {
  region = var.home_region
}

module "bedrock_inference_scp" {
  source = "../../modules/bedrock-inference-scp"

  allowed_regions               = var.allowed_regions
  bedrock_permitted_account_ids = var.permitted_account_ids
  target_ids                    = var.target_ou_ids
}
