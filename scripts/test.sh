#!/usr/bin/env bash
# The whole test suite, as CI runs it: bootstraps the project-local Python
# tools, then runs `just ci` (every check, gate and end-to-end run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/venv.sh
export PATH="$root/.venv/bin:$PATH"
exec just ci
