# Hand-written settings of the local sandbox environment: the same shape as
# prod, played against the emulated organization on loopback.
home_region = "ap-northeast-1"

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
