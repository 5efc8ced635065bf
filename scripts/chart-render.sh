#!/usr/bin/env bash
# Renders the Helm chart with one values file (on top of the chart defaults)
# into OUTDIR/templates/*.yaml, offline, with Helm's own library. Scanners
# (checkov --framework kubernetes) read the result.
#
#   scripts/chart-render.sh VALUES_FILE OUTDIR [--name RELEASE] [--namespace NS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/chart-render.sh VALUES_FILE OUTDIR [--name RELEASE] [--namespace NS]" >&2
  exit 2
fi
"$root/scripts/venv.sh"
exec "$root/.venv/bin/python" "$root/scripts/chart/render.py" "$@"
