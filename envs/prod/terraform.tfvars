# Hand-written settings of the prod environment. The permitted accounts are
# not here: they come from accounts.yaml through accounts.auto.tfvars.json.
management_account_id = "111111111111"
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
