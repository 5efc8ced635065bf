#!/usr/bin/env bash
# Regenerates stacks/schemas/helm.json and stacks/schemas/kubernetes.json: compact provider
# schemas (terraform `providers schema -json` format) for the blocks the app stack writes.
# No helm or kubernetes provider binary is available offline, so the schemas are rebuilt from
# the published CDKTF bindings, which were generated from those providers' schemas; each
# package's package.json names the provider version it was generated from, and this script
# refuses a package whose provider version is not the one the stacks pin.
#
# Usage: scripts/schema/helm-k8s.sh [--check]
#   --check  regenerate into a temporary directory and fail if the committed files differ.
# Needs: node >= 18 and npm with access to the npm registry.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out_dir="$repo/stacks/schemas"
extractor="$repo/scripts/schema/helm-k8s.mjs"

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch PACKAGE@VERSION EXPECTED_PROVIDER EXPECTED_PROVIDER_VERSION -> prints the unpacked dir
fetch() {
  local spec="$1" provider="$2" provider_version="$3"
  local dir="$work/${spec//[@\/]/_}"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$spec" >/dev/null)
  tar -xzf "$dir"/*.tgz -C "$dir"
  local declared
  declared="$(node -e '
    const p = require(process.argv[1]).cdktf?.provider ?? {};
    process.stdout.write(p.name + "@" + p.version);
  ' "$dir/package/package.json")"
  if [[ "$declared" != "$provider@$provider_version" ]]; then
    echo "error: $spec was generated from $declared, expected $provider@$provider_version" >&2
    exit 1
  fi
  echo "$dir/package"
}

helm_pkg="$(fetch @cdktf/provider-helm@12.1.2 registry.terraform.io/hashicorp/helm 3.1.1)"
k8s_pkg="$(fetch @cdktf/provider-kubernetes@12.1.1 registry.terraform.io/hashicorp/kubernetes 2.38.0)"

generated="$work/out"
mkdir -p "$generated"

# helm 3.x is a plugin-framework provider: its nested values (provider `kubernetes`, release
# `postrender`, `timeouts`) are attributes, never blocks.
node "$extractor" --package "$helm_pkg" --source registry.terraform.io/hashicorp/helm \
  --single-nested attribute --provider --resource helm_release >"$generated/helm.json"

# kubernetes 2.x resources are SDKv2: nested values are blocks (`metadata`, `timeouts`).
node "$extractor" --package "$k8s_pkg" --source registry.terraform.io/hashicorp/kubernetes \
  --single-nested block --provider \
  --resource kubernetes_namespace_v1 --resource kubernetes_secret_v1 \
  --resource kubernetes_storage_class_v1 \
  --data kubernetes_service_v1 >"$generated/kubernetes.json"

if $check; then
  status=0
  for file in helm.json kubernetes.json; do
    if ! diff -u "$out_dir/$file" "$generated/$file"; then
      echo "error: stacks/schemas/$file is stale; run scripts/schema/helm-k8s.sh" >&2
      status=1
    fi
  done
  if [[ "$status" == 0 ]]; then
    echo "stacks/schemas/helm.json and kubernetes.json match the bindings"
  fi
  exit "$status"
fi

mkdir -p "$out_dir"
cp "$generated/helm.json" "$generated/kubernetes.json" "$out_dir/"
echo "wrote $out_dir/helm.json and $out_dir/kubernetes.json"
