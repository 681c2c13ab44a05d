# CKV_RG_6 holds an SCP at the root of a scan to the root variable
# scp_size_limit, as checkov renders it from terraform.tfvars.
variable "scp_size_limit" {
  type    = number
  default = 10240
}
