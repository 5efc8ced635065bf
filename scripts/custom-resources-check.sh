#!/usr/bin/env bash
# Renders the charts of custom resources each environment installs (NodePool,
# ServiceMonitor, ExternalSecret, Application...) with Helm's own library, as
# their helm_releases would, and validates every object against its CRD's
# schema at the pinned chart version; then runs checkov on what they render.
#
# Usage: scripts/custom-resources-check.sh [ENV ...]   (default: staging production)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/venv.sh" >/dev/null
py="$root/.venv/bin/python"

envs=("$@")
if [[ ${#envs[@]} -eq 0 ]]; then
  envs=(staging production)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$py" -m pytest -q "$root/scripts/upstream/test_crds.py" "$root/scripts/upstream/test_karpenter_objects.py"
(cd "$root" && cargo build --quiet --locked --bin infra)
infra="$root/target/debug/infra"
status=0
for env in "${envs[@]}"; do
  "$infra" synth "$env" --root "$root" --out "$work/$env" >/dev/null
  "$infra" values "$env" --root "$root" >"$work/$env-values.json"
  "$py" "$root/scripts/upstream/custom_resources.py" "$work/$env" "$work/$env-values.json" \
    "$work/rendered/$env" || status=1
done
if [[ -d "$work/rendered" ]]; then
  CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true \
    "$root/.venv/bin/checkov" --quiet --compact --skip-download --framework kubernetes \
    -d "$work/rendered" || status=1
fi
exit "$status"
