#!/usr/bin/env bash
# Synth benchmark (a benchmark, not a test; figures go to docs/benchmarks.md):
#   1. whole-process `infra synth production` (release build), hyperfine;
#   2. N generated environments (N = 1, 10, 100) synthesized in one process
#      by examples/synth_many.rs: wall time (hyperfine) and peak RSS (GNU time).
# Each run starts from an empty output directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-synth: $tool is missing (apt-get install hyperfine time)" >&2; exit 1; }
done
cargo build --quiet --release --locked --bin infra --example synth_many
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== whole process: infra synth production"
hyperfine --shell=none --warmup 5 --runs 40 \
  --prepare "rm -rf $work/one" \
  "target/release/infra synth production --out $work/one"
/usr/bin/time -f "peak RSS %M KiB" target/release/infra synth production --out "$work/one-rss" >/dev/null

for n in 1 10 100; do
  envroot="$work/root-$n"
  mkdir -p "$envroot/stacks/config" "$envroot/stacks/policy"
  cp -r helm-chart "$envroot/helm-chart"
  for i in $(seq -w 1 "$n"); do
    # Alternate the two real configurations under generated names.
    if (( 10#$i % 2 )); then src=staging; else src=production; fi
    cp "stacks/config/$src.toml" "$envroot/stacks/config/env$i.toml"
    cp "stacks/policy/$src.toml" "$envroot/stacks/policy/env$i.toml"
  done
  echo "== $n environment(s) in one process"
  hyperfine --shell=none --warmup 2 --runs 10 \
    --prepare "rm -rf $work/out-$n" \
    "target/release/examples/synth_many $envroot $work/out-$n"
  rm -rf "$work/out-$n"
  /usr/bin/time -f "peak RSS %M KiB" target/release/examples/synth_many "$envroot" "$work/out-$n"
  # The same on tmpfs: what synthesis costs when file creation is not disk-bound.
  if [[ -d /dev/shm ]]; then
    shm="$(mktemp -d /dev/shm/bench-synth.XXXXXX)"
    hyperfine --shell=none --warmup 2 --runs 10 \
      --prepare "rm -rf $shm/out" \
      "target/release/examples/synth_many $envroot $shm/out"
    rm -rf "$shm"
  fi
done
