#!/usr/bin/env bash
# Runs the end-to-end test (scripts/e2e/run.sh) for several environments,
# staging and production by default, side by side: each has its own emulator
# on its own port, its own work directory and its own resource names, and most
# of a run is spent in the provider's fixed waits, not on the CPU.
#
#   scripts/e2e/all.sh [ENV...]        E2E_JOBS=1 runs them one after another
#
# Prints each environment's result and wall time; fails if any failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
envs=("$@")
((${#envs[@]} > 0)) || envs=(staging production)
jobs="${E2E_JOBS:-${#envs[@]}}"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || {
  echo "e2e: E2E_JOBS must be a positive integer, got '$jobs'" >&2
  exit 2
}

"$root/scripts/venv.sh"
# Built once here so the parallel runs do not queue on cargo's build lock.
(cd "$root" && cargo build --locked --quiet)

declare -A pid_of=() env_of=() started_of=() status_of=() took_of=()
running=()
running_pids=()

# Each run is the leader of its own process group (setsid below), so this
# stops it together with its terraform and emulator at once.
# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
  local env
  for env in "${running[@]}"; do
    kill -- "-${pid_of[$env]}" 2>/dev/null || true
  done
  for env in "${running[@]}"; do
    wait "${pid_of[$env]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for whichever environment finishes next and records its result.
reap() {
  local pid="" status=0 env e rest=()
  wait -n -p pid "${running_pids[@]}" || status=$?
  env="${env_of[$pid]}"
  status_of[$env]=$status
  took_of[$env]=$((SECONDS - started_of[$env]))
  for e in "${running[@]}"; do
    [[ "$e" == "$env" ]] || rest+=("$e")
  done
  running=("${rest[@]}")
  running_pids=()
  for e in "${running[@]}"; do running_pids+=("${pid_of[$e]}"); done
}

started=$SECONDS
for env in "${envs[@]}"; do
  while ((${#running[@]} >= jobs)); do reap; done
  started_of[$env]=$SECONDS
  setsid "$root/scripts/e2e/run.sh" "$env" &
  pid_of[$env]=$!
  env_of[$!]=$env
  running+=("$env")
  running_pids+=("$!")
done
while ((${#running[@]} > 0)); do reap; done

failed=0
echo "e2e summary (wall time $((SECONDS - started)) s, $jobs at a time):"
for env in "${envs[@]}"; do
  if [[ "${status_of[$env]}" -eq 0 ]]; then
    echo "  $env: passed in ${took_of[$env]} s"
  else
    echo "  $env: FAILED (exit ${status_of[$env]}) after ${took_of[$env]} s; logs in .e2e/$env/"
    failed=1
  fi
done
exit "$failed"
