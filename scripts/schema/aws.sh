#!/usr/bin/env bash
# Regenerates stacks/schemas/aws.json: the subset of the real hashicorp/aws
# provider schema (`terraform providers schema -json`) for the resource and data
# source types the stacks use. The subset is committed so that `cargo test`
# checks every AWS block against the real provider without terraform; this
# script is how it is refreshed after a provider bump or a new resource type.
#
# Usage: scripts/schema/aws.sh [OUT]   (default: stacks/schemas/aws.json)
#        scripts/schema/aws.sh --check  (fails if the committed subset differs
#                                        from what the provider prints)
#
# A local filesystem mirror of the provider (as on our machines, under
# /opt/tf-plugins) is used when present, so the script works offline; without
# one terraform downloads the provider as usual.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
committed="$root/stacks/schemas/aws.json"
check=false
if [[ "${1:-}" == "--check" ]]; then
  check=true
  out=""
else
  out="${1:-$committed}"
fi
# Keep in step with the types used in stacks/src; a type missing here makes
# the schema check in `cargo test` fail with "unknown resource type".
version="5.100.0"
resources=(
  aws_acm_certificate
  aws_acm_certificate_validation
  aws_cloudwatch_event_rule
  aws_cloudwatch_event_target
  aws_cloudwatch_log_group
  aws_cloudwatch_log_resource_policy
  aws_default_security_group
  aws_ec2_tag
  aws_ecr_lifecycle_policy
  aws_ecr_repository
  aws_eip
  aws_eks_access_entry
  aws_eks_access_policy_association
  aws_eks_addon
  aws_eks_cluster
  aws_eks_node_group
  aws_flow_log
  aws_iam_instance_profile
  aws_iam_openid_connect_provider
  aws_iam_policy
  aws_iam_role
  aws_iam_role_policy
  aws_iam_role_policy_attachment
  aws_instance
  aws_internet_gateway
  aws_kms_alias
  aws_kms_key
  aws_lambda_function
  aws_lambda_permission
  aws_launch_template
  aws_nat_gateway
  aws_route
  aws_route53_record
  aws_route_table
  aws_route_table_association
  aws_s3_bucket
  aws_s3_bucket_lifecycle_configuration
  aws_s3_bucket_ownership_controls
  aws_s3_bucket_policy
  aws_s3_bucket_public_access_block
  aws_s3_bucket_server_side_encryption_configuration
  aws_s3_bucket_versioning
  aws_secretsmanager_secret
  aws_secretsmanager_secret_rotation
  aws_security_group
  aws_sns_topic
  aws_sqs_queue
  aws_sqs_queue_policy
  aws_subnet
  aws_vpc
  aws_vpc_endpoint
  aws_vpc_security_group_egress_rule
  aws_vpc_security_group_ingress_rule
  aws_wafv2_web_acl
  aws_wafv2_web_acl_logging_configuration
)
data_sources=(
  aws_caller_identity
  aws_iam_openid_connect_provider
  aws_iam_policy_document
  aws_lb
  aws_lbs
  aws_route53_zone
  aws_ssm_parameter
)

command -v terraform >/dev/null || { echo "aws.sh: terraform is not on PATH" >&2; exit 1; }
command -v jq >/dev/null || { echo "aws.sh: jq is not on PATH (apt-get install -y jq)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/schema/mirror.sh
source "$root/scripts/schema/mirror.sh"
use_provider_mirror "$work"

cat >"$work/main.tf.json" <<JSON
{"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "$version"}}}}
JSON
terraform -chdir="$work" init -input=false -no-color >"$work/init.log" 2>&1 || {
  cat "$work/init.log" >&2
  echo "aws.sh: terraform init failed" >&2
  exit 1
}
terraform -chdir="$work" providers schema -json >"$work/schema.json"

# Descriptions stay: the typed builders (bindings/, `just bindings`) carry them
# as doc comments, so the editor shows the provider's own words. Only the
# provider configuration's attributes and a few resources' have one (about
# 22 KB here); `description_kind` (always "plain") goes.
# aws_wafv2_web_acl nests statements in statements (and/or/not, scope-down)
# three levels deep, 1.3 MB of schema that every synth would parse. Its rules
# keep only the statement kinds the stacks use (AWS managed rule groups and
# rate limits, without scope-down statements, custom aggregation keys or
# managed group configs): 5 KB instead. A rule of another kind, or one that
# combines statements, fails the schema check until its blocks are added
# back here.
jq --sort-keys \
  --argjson resources "$(printf '%s\n' "${resources[@]}" | jq -R . | jq -s .)" \
  --argjson data "$(printf '%s\n' "${data_sources[@]}" | jq -R . | jq -s .)" '
  # Only string-valued keys are documentation: an attribute may itself be
  # called "description_kind", and that must stay.
  def strip: walk(if type == "object"
                  then with_entries(select(((.key == "description_kind")
                                             and ((.value | type) == "string")) | not))
                  else . end);
  def pick($names): with_entries(select(.key as $k | $names | index($k)));
  def waf_rules: .block.block_types.rule.block.block_types.statement.block.block_types |=
                   (with_entries(select(.key | IN("managed_rule_group_statement", "rate_based_statement")))
                    | .managed_rule_group_statement.block.block_types |= with_entries(select(.key == "rule_action_override" | not))
                    | walk(if type == "object" and has("block_types")
                           then .block_types |= with_entries(select(.key | IN("scope_down_statement",
                                  "managed_rule_group_configs", "custom_key") | not))
                           else . end));
  .provider_schemas["registry.terraform.io/hashicorp/aws"] as $aws
  | ($aws.resource_schemas | keys) as $have_r
  | ($aws.data_source_schemas | keys) as $have_d
  | if ($resources - $have_r) != [] or ($data - $have_d) != []
    then error("types not in the provider: \(($resources - $have_r) + ($data - $have_d))")
    else . end
  | {format_version,
     provider_schemas: {"registry.terraform.io/hashicorp/aws": {
       provider: $aws.provider,
       resource_schemas: ($aws.resource_schemas | pick($resources)
                          | if has("aws_wafv2_web_acl") then .aws_wafv2_web_acl |= waf_rules else . end),
       data_source_schemas: ($aws.data_source_schemas | pick($data))
     } | strip}}
' "$work/schema.json" >"$work/aws.json"

if [[ "$check" == true ]]; then
  if ! diff -u "$committed" "$work/aws.json" >"$work/schema.diff"; then
    head -n 60 "$work/schema.diff" >&2
    echo "aws.sh: stacks/schemas/aws.json is not what hashicorp/aws $version prints; run scripts/schema/aws.sh" >&2
    exit 1
  fi
  echo "aws.sh: stacks/schemas/aws.json matches hashicorp/aws $version" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
mv "$work/aws.json" "$out"
echo "aws.sh: wrote $out ($(wc -c <"$out") bytes, ${#resources[@]} resource and ${#data_sources[@]} data source types, hashicorp/aws $version)" >&2
