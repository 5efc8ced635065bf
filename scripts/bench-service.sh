#!/usr/bin/env bash
# `just bench-service`: the service benchmark of docs/benchmarks.md. Builds the
# image's binary, installs wrk and nginx (apt) and a Flask + gunicorn baseline
# (.bench/flask-venv, from PyPI), then runs scripts/bench/bench_service.py:
# every server pinned to CPU 0, wrk to CPU 1, servers alternating within each
# round. Prints a Markdown report; raw figures go to .bench/service-results.json.
# Not a test: it asserts nothing and takes about 4 minutes.
#
#   scripts/bench-service.sh [--rounds N] [--seconds S] [--connections C]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

(($(nproc) >= 2)) || { echo "bench-service: needs two cores (server and wrk each pinned to one)" >&2; exit 1; }
missing=()
for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  apt-get update -qq
  apt-get install -y -qq wrk nginx util-linux >/dev/null
fi

mkdir -p .bench
scripts/build-service.sh "$root/.bench/webapp"

venv="$root/.bench/flask-venv"
requirements="$root/scripts/bench/requirements-flask.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/gunicorn" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  echo "$want" >"$stamp"
fi

exec python3 scripts/bench/bench_service.py \
  --webapp "$root/.bench/webapp" --flask-venv "$venv" \
  --json "$root/.bench/service-results.json" "$@"
