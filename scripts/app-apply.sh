#!/usr/bin/env bash
# Applies one environment in the two phases the helm and kubernetes providers
# need (docs/app.md): their configuration comes from the EKS cluster, which
# must exist before a plan can configure them.
#
#   phase 1  synth ENV --stacks network,iam,eks; terraform init; terraform apply
#   phase 2  synth ENV (all stacks);             terraform init; terraform apply
#
# Phase 1 is skipped once the app stack is in the state: applying the AWS
# stacks alone would then plan to delete the releases.
#
# Usage: scripts/app-apply.sh ENV [--state-bucket BUCKET] [TERRAFORM_APPLY_OPTION ...]
#   e.g. scripts/app-apply.sh production --state-bucket tf-state-prod \
#          -var image_tag=1.0.0-prod
# --state-bucket goes to `synth` (state in S3 rather than a local file).
# -var/-var-file options go to phase 2 only (phase 1 declares no variables);
# every other option (-auto-approve, -input=false, ...) goes to both phases.
# APP_APPLY_OUT names the module directory (default: cdktf.out).
# Needs terraform >= 1.9, the AWS CLI (for `aws eks get-token`) and AWS credentials.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${APP_APPLY_OUT:-$root/cdktf.out}"
aws_stacks="network,iam,eks"

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 ENV [--state-bucket BUCKET] [TERRAFORM_APPLY_OPTION ...]" >&2
  exit 2
fi
env="$1"
shift

for tool in cargo terraform aws; do
  command -v "$tool" >/dev/null || { echo "app-apply: $tool is required on PATH" >&2; exit 1; }
done

synth_options=()
common=()
variables=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --state-bucket)
      [[ $# -ge 2 ]] || { echo "app-apply: $1 needs a bucket name" >&2; exit 2; }
      synth_options+=("$1" "$2")
      shift 2
      ;;
    --state-bucket=*) synth_options+=("$1"); shift ;;
    -var|-var-file)
      [[ $# -ge 2 ]] || { echo "app-apply: $1 needs a value" >&2; exit 2; }
      variables+=("$1" "$2")
      shift 2
      ;;
    -var=*|-var-file=*) variables+=("$1"); shift ;;
    *) common+=("$1"); shift ;;
  esac
done

synth() {
  (cd "$root" && cargo run --quiet --locked -- synth "$env" --out "$out" "${synth_options[@]}" "$@")
}

tf() {
  terraform -chdir="$out" "$@"
}

echo "app-apply: phase 1 of 2: the AWS stacks ($aws_stacks) of $env"
synth --stacks "$aws_stacks"
tf init -input=false
state="$(tf state list 2>/dev/null || true)"
if grep -Eq '^(data\.)?(helm_release|kubernetes_[a-z0-9_]+)\.' <<<"$state"; then
  echo "app-apply: the app stack is already deployed: skipping phase 1 (the cluster exists)"
else
  tf apply "${common[@]}"
fi

echo "app-apply: phase 2 of 2: every stack of $env"
synth
tf init -input=false
tf apply "${common[@]}" "${variables[@]}"
tf output service_url
tf output configs_url
