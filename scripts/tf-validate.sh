#!/usr/bin/env bash
# `terraform validate`, offline, on the AWS stacks (network, iam, eks) of each
# environment: synthesizes them with the CLI into a temporary directory, runs
# `terraform init -backend=false` against the provider mirror when this
# machine has one (see scripts/schema/mirror.sh), then `terraform validate`.
# This is the real hashicorp/aws provider judging every block, references
# and expressions included, which the committed schema subset cannot.
#
# Then the same stacks with every stateful construct renamed, each with its
# `moved` entry (examples/rename_stateful.rs), must validate too; and, once,
# synth/tests/refactor_terraform.rs has real terraform plan a rename over
# local state (a move, not a destroy and a create) and adopt an import.
#
# Usage: scripts/tf-validate.sh [ENV...]   (default: every stacks/config/*.toml)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command -v terraform >/dev/null || {
  echo "tf-validate: terraform is not on PATH (terraform >= 1.9 is needed; our machines have 1.11)" >&2
  exit 1
}

envs=("$@")
if [[ ${#envs[@]} -eq 0 ]]; then
  for file in stacks/config/*.toml; do
    envs+=("$(basename "$file" .toml)")
  done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/schema/mirror.sh
source "$root/scripts/schema/mirror.sh"
use_provider_mirror "$work"

cargo build --locked --quiet
for env in "${envs[@]}"; do
  out="$work/$env"
  cargo run --locked --quiet -- synth "$env" --stacks network,iam,eks --out "$out"
  if ! terraform -chdir="$out" init -backend=false -input=false -no-color >"$work/$env-init.log" 2>&1; then
    cat "$work/$env-init.log" >&2
    echo "tf-validate: terraform init failed for $env" >&2
    exit 1
  fi
  terraform -chdir="$out" validate -no-color
  echo "tf-validate: $env: network, iam, eks valid for terraform $(terraform version -json | jq -r .terraform_version) with the real aws provider" >&2

  # Same providers, so the initialised directory serves the renamed module.
  cargo run --locked --quiet --example rename_stateful -- "$root" "$env" "$out" >"$work/$env-renamed.log"
  renamed="$(grep -c ' -> ' "$work/$env-renamed.log" || true)"
  moved="$(jq -s '[.[].moved // [] | length] | add' "$out"/*.tf.json)"
  if [[ "$renamed" -eq 0 || "$moved" != "$renamed" ]]; then
    cat "$work/$env-renamed.log" >&2
    echo "tf-validate: $env: $renamed stateful constructs renamed but $moved moved blocks synthesized" >&2
    exit 1
  fi
  terraform -chdir="$out" validate -no-color
  echo "tf-validate: $env: every stateful construct renamed ($moved moved blocks) is valid too" >&2
done

echo "tf-validate: a rename and an import against local state, planned and applied by real terraform" >&2
cargo test --locked --quiet -p synth --test refactor_terraform -- --ignored
