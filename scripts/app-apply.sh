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
# With GitOps on and a private API (docs/gitops.md), phase 2 is the bootstrap:
# it installs Argo CD and the root Application through an SSM port-forwarding
# session to the API via the bastion phase 1 made (terraform output
# api_tunnel), which this script opens on a free loopback port and passes as
# TF_VAR_cluster_api_tunnel, and closes when it ends. That needs the AWS
# Session Manager plugin, and credentials of the admin role.
#
# Usage: scripts/app-apply.sh ENV [--state-bucket BUCKET] [TERRAFORM_APPLY_OPTION ...]
#   e.g. TF_VAR_grafana_admin_password=... TF_VAR_gitops_deploy_key="$(cat key)" \
#          scripts/app-apply.sh production --state-bucket tf-state-prod
#   (with GitOps off, the image is a variable: add -var image_tag=1.0.0-prod)
# --state-bucket goes to `synth` (state in S3 rather than a local file).
# -var/-var-file options go to phase 2 only (phase 1 declares no variables);
# every other option (-auto-approve, -input=false, ...) goes to both phases.
# APP_APPLY_OUT names the module directory (default: cdktf.out).
# Needs terraform >= 1.9, the AWS CLI (for `aws eks get-token`), python3 and
# AWS credentials.
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

tunnel_pid=""
tunnel_log="$(mktemp)"
close_tunnel() {
  if [[ -n "$tunnel_pid" ]] && kill -0 "$tunnel_pid" 2>/dev/null; then
    # Its own process group: the session manager plugin the CLI starts goes too.
    kill -- "-$tunnel_pid" 2>/dev/null || kill "$tunnel_pid" 2>/dev/null || true
    wait "$tunnel_pid" 2>/dev/null || true
  fi
  rm -f "$tunnel_log"
}
trap close_tunnel EXIT

# With a private API, phase 2 reaches it through the bastion: an SSM port
# forwarding session on a free loopback port, handed to the providers.
open_tunnel() {
  local tunnel fields port
  tunnel="$(tf output -json api_tunnel 2>/dev/null || true)"
  [[ -n "$tunnel" && "$tunnel" != null ]] || return 0
  command -v session-manager-plugin >/dev/null || {
    echo "app-apply: $env's API is private; install the AWS Session Manager plugin to reach it through the bastion (docs/gitops.md)" >&2
    exit 1
  }
  fields="$(python3 -c 'import json, sys; t = json.load(sys.stdin); print(t["instance_id"], t["region"], t["api_host"], t["document"])' <<<"$tunnel")"
  read -r instance region host document <<<"$fields"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "app-apply: $env's API is private: tunnel through bastion $instance to $host on 127.0.0.1:$port"
  setsid aws ssm start-session --region "$region" --target "$instance" --document-name "$document" \
    --parameters "host=$host,portNumber=443,localPortNumber=$port" >"$tunnel_log" 2>&1 &
  tunnel_pid=$!
  for _ in $(seq 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export TF_VAR_cluster_api_tunnel="https://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$tunnel_pid" 2>/dev/null || break
    sleep 1
  done
  cat "$tunnel_log" >&2
  echo "app-apply: the tunnel to $env's API did not open within 60 s" >&2
  exit 1
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
open_tunnel
synth
tf init -input=false
tf apply "${common[@]}" "${variables[@]}"
if tf output service_url 2>/dev/null; then
  tf output configs_url
fi
if python3 -c 'import json, sys; sys.exit("argo_cd" not in json.load(open(sys.argv[1])).get("resource", {}).get("helm_release", {}))' \
  "$out/app.tf.json"; then
  # Argo CD delivers the releases: it deploys what git holds, not this checkout.
  echo "app-apply: Argo CD now syncs $env from its GitOps tree in git; \`cargo run -- diff $env\` shows whether this checkout's tree differs from the config"
  # The public name follows the load balancer the controller makes once
  # Argo CD has synced the service (docs/edge.md): none yet, no record yet.
  if [[ -z "$(tf output -raw load_balancer_hostname 2>/dev/null)" ]]; then
    echo "app-apply: $env's public name has no record yet: once Argo CD has synced the service, apply again and the plan adds it"
  fi
fi
