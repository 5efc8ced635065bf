#!/usr/bin/env bash
# Checks the Helm chart offline with Helm's own library (no helm binary, no
# cluster): strict lint, render, kubernetes-validate --strict (1.31 and the
# newest shipped schema), Pod Security "restricted", the service contract and
# checkov with 0 failed checks.
#
#   scripts/chart-check.sh                 the chart defaults, values-staging.yaml,
#                                          values-production.yaml, helm-chart/ci/*.yaml
#                                          and the bad-values / rollout behaviour tests
#   scripts/chart-check.sh FILE [FILE...]  only these values files, each on top of
#                                          the chart defaults (the app stack's use)
#
# Extra pytest options may follow `--`, e.g. `scripts/chart-check.sh -- -x`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/venv.sh"

args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --) shift; break ;;
    -*) echo "chart-check: unknown option $1 (pytest options go after --)" >&2; exit 2 ;;
    *)
      if [[ ! -f "$1" ]]; then
        echo "chart-check: values file not found: $1" >&2
        exit 2
      fi
      args+=("--values-file" "$1")
      shift
      ;;
  esac
done

exec "$root/.venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$root/scripts/chart" \
  "$root/scripts/chart" "${args[@]}" "$@"
