#!/usr/bin/env bash
# `just bench-report` (a benchmark, not a test; figures in docs/benchmarks.md):
# the whole process of `infra cost production` and `infra graph production`,
# release build, with hyperfine, and their peak RSS with GNU time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-report: $tool is missing (apt-get install hyperfine time)" >&2; exit 1; }
done
cargo build --quiet --release --locked --bin infra
hyperfine --shell=none --warmup 5 --runs 50 \
  "target/release/infra cost production --as-of 2026-12-01" \
  "target/release/infra graph production" \
  "target/release/infra graph production --format box-svg" \
  "target/release/infra synth production --out /dev/shm/bench-report-synth"
for args in "cost production --as-of 2026-12-01" "graph production"; do
  # shellcheck disable=SC2086 # the arguments are meant to split
  /usr/bin/time -f "infra $args: peak RSS %M KiB" target/release/infra $args >/dev/null
done
rm -rf /dev/shm/bench-report-synth
