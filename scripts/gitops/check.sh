#!/usr/bin/env bash
# Checks each environment's GitOps tree offline (docs/gitops.md):
#   - the committed tree (gitops/<env>/) is exactly what `infra synth <env>`
#     writes from the config and the stacks (`infra diff` over the tree);
#   - scripts/gitops/check.py on a fresh synthesis: every Application renders
#     from the tree's chart with the root Application's values and validates
#     against the Application CRD, carried charts' objects against theirs, and
#     the service renders identically by Argo CD and by terraform;
#   - the committed image.yaml files are what the deploy writes;
#   - checkov on everything rendered; the check's own tests (pytest).
#
# Usage: scripts/gitops/check.sh [ENV ...]   (default: staging production)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/venv.sh" >/dev/null
py="$root/.venv/bin/python"

envs=("$@")
if [[ ${#envs[@]} -eq 0 ]]; then
  envs=(staging production)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$root" && cargo build --quiet --locked --bin infra)
"$py" -m pytest -q "$root/scripts/gitops/test_check.py"
infra="$root/target/debug/infra"
status=0
for env in "${envs[@]}"; do
  "$infra" synth "$env" --root "$root" --out "$work/$env" --gitops-out "$work/$env-tree" >/dev/null
  "$infra" values "$env" --root "$root" >"$work/$env-values.json"
  if ! "$py" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["gitops_tree"] else 1)' \
    "$work/$env-values.json"; then
    echo "gitops-check: $env has GitOps off; nothing to check"
    continue
  fi
  "$py" "$root/scripts/gitops/check.py" "$work/$env-tree" "$work/$env-values.json" \
    --images "$root/gitops" --out "$work/rendered" || status=1
  tree="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["gitops_tree"])' "$work/$env-values.json")"
  if "$infra" diff "$env" --root "$root" --out "$work/$env" --gitops-out "$root/$tree" >"$work/$env-diff.txt"; then
    echo "gitops-check: $tree is what infra synth $env writes"
  else
    sed 's/^/  /' "$work/$env-diff.txt" >&2
    echo "gitops-check: $tree is not what the config and stacks say; run \`cargo run -- synth $env\` and commit $tree" >&2
    status=1
  fi
done
if [[ -d "$work/rendered" ]]; then
  CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true \
    "$root/.venv/bin/checkov" --quiet --compact --skip-download --framework kubernetes \
    -d "$work/rendered" || status=1
fi
exit "$status"
