# Hand-written settings of the staging environment. The permitted accounts are
# not here: they come from accounts.yaml through accounts.auto.tfvars.json.
management_account_id = "222222222222"
home_region           = "ap-northeast-1"

allowed_regions = [
  "ap-northeast-1",
  "ap-northeast-3",
  "us-east-1",
  "eu-west-2",
]

exempted_actions = [
  "bedrock:InvokeModel",
  "bedrock:InvokeModelWithResponseStream",
]

exempted_principal_arns = []
