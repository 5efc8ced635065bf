#!/usr/bin/env bash
# Creates (or refreshes) the project-local virtualenv .venv with the pinned
# Python tools from scripts/requirements.txt. Idempotent: a stamp holding the
# requirements' hash skips the install when nothing changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$venv/bin/python" -m pip install --quiet -r "$req"
echo "$want" >"$stamp"
echo "venv: installed $(wc -l <"$req") lines of requirements into $venv" >&2
