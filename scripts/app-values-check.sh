#!/usr/bin/env bash
# Checks that the chart values each environment's webapp helm_release passes
# render through the chart: synthesizes the environment, has terraform evaluate
# the release's values documents (and the variables' validations), adds the
# `set` entries (computed ones replaced by stand-ins), and runs the chart's
# checks on the result (helm lint/render, kubernetes-validate --strict, Pod
# Security, checkov) with scripts/chart-check.sh. Then proves, per
# environment, who may read the service's Secret (scripts/rbac/check.py over
# the rendered Role/RoleBinding and the module's EKS access entries), after
# the evaluator's own tests. Needs terraform on PATH.
#
# Usage: scripts/app-values-check.sh [ENV ...]   (default: staging production)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/venv.sh" >/dev/null

envs=("$@")
if [[ ${#envs[@]} -eq 0 ]]; then
  envs=(staging production)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

files=()
for env in "${envs[@]}"; do
  echo "app-values-check: synthesizing $env"
  (cd "$root" && cargo run --quiet --locked -- synth "$env" --out "$work/$env")
  # With GitOps on, the service's release is Argo CD's: its values come from `infra values`.
  (cd "$root" && cargo run --quiet --locked -- values "$env" --release webapp) >"$work/$env-values.json"
  values="$work/webapp-values-$env.yaml"
  "$root/.venv/bin/python" "$root/scripts/app-values-check.py" "$work/$env" "$values" "$work/$env-values.json"
  files+=("$values")
done

echo "app-values-check: who may read the service's secrets"
"$root/.venv/bin/python" -m pytest -q -p no:cacheprovider "$root/scripts/rbac"
for env in "${envs[@]}"; do
  "$root/.venv/bin/python" "$root/scripts/rbac/check.py" "$env" "$work/$env" "$work/webapp-values-$env.yaml"
done

echo "app-values-check: checking ${files[*]##*/} with the chart"
"$root/scripts/chart-check.sh" "${files[@]}"
