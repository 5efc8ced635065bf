#!/usr/bin/env bash
# End to end for one environment: plain terraform applies the synthesized AWS
# stacks (network, iam, eks) to a local AWS API emulator, twice.
#
#   scripts/e2e/run.sh ENV
#
# 1. Local state: synth with --emulator; the ECR repository the stacks
#    declare is created beforehand through the emulator's API and adopted by
#    an [[state.import]] entry in a test copy of the config; terraform init
#    (offline provider mirror when the machine has one), validate, apply (1
#    imported: the same repository, now managed), a second
#    `plan -detailed-exitcode` that must exit 0, destroy, and a check through
#    the emulator's API that nothing is left.
# 2. S3 backend: bootstrap a versioned, encrypted state bucket in the emulator,
#    synth with --state-bucket (use_lockfile), and apply while a second
#    terraform run must be refused by the lock; then the same clean re-plan,
#    destroy and emptiness check, and the state bucket is removed.
#
# Where the config keeps terraform's prevent_destroy on (production), each
# destroy must first be refused by terraform, naming every protected
# resource, with nothing destroyed; then the protection is lifted as an
# operator tearing the environment down would (config and floor, in a test
# copy) and the destroy runs.
#
# The environment's hosted zone (`[edge].hosted_zone`) exists before the
# stacks, delegated from a registrar: it is created in the emulator first and
# removed last. After each apply, every generated secret must hold a value
# the rotation function made; after each destroy, the secrets it scheduled
# for deletion are deleted for good, so the next run can create them again.
# With GitOps on, the local-state phase also makes the load balancer the
# controller would make for the service, and the public name's record must
# follow it at the next plan (and go with the destroy).
#
# The emulator (scripts/e2e/emulator.py: moto server + EKS shim) listens on
# 127.0.0.1 on a port the kernel picks and is stopped by its PID on exit,
# also on failure or interrupt. Work files and logs: .e2e/ENV/. Every
# terraform command is bounded by E2E_STEP_TIMEOUT seconds (default 600).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/schema/mirror.sh
source "$root/scripts/schema/mirror.sh"

py="$root/.venv/bin/python"
step_timeout="${E2E_STEP_TIMEOUT:-600}"
emulator_pid=""
holder_pid=""
env_name=""
work=""
url=""
region=""
prevent_destroy=""
zone=""

log() { printf '[e2e %s %s] %s\n' "$env_name" "$(date -u +%H:%M:%S)" "$*"; }
die() {
  log "$*" >&2
  exit 1
}

# Stops what this run started, by PID: a terraform still holding the lock,
# then the emulator; and says how the run ended.
on_exit() {
  local status="$1" pid
  for pid in "$holder_pid" "$emulator_pid"; do
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [[ "$status" -ne 0 ]]; then
    log "FAILED (exit $status); logs in ${work:-.e2e/$env_name}/" >&2
  fi
}

start_emulator() {
  local port_file="$work/emulator.port"
  "$py" "$root/scripts/e2e/emulator.py" --port-file "$port_file" >"$work/emulator.log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 300); do
    [[ -s "$port_file" ]] && break
    kill -0 "$emulator_pid" 2>/dev/null || die "emulator exited at start: $(tail -n 20 "$work/emulator.log")"
    sleep 0.1
  done
  [[ -s "$port_file" ]] || die "emulator did not report its port within 30 s (see $work/emulator.log)"
  url="http://127.0.0.1:$(cat "$port_file")"
  log "emulator (moto $("$py" -c 'import moto; print(moto.__version__)') + EKS shim) pid $emulator_pid on $url"
  log "gap 1: AWS managed IAM policies loaded (MOTO_IAM_LOAD_MANAGED_POLICIES=true, set by emulator.py)"
}

# tf LOGNAME ARGS...: one bounded terraform command, output in a log file
# whose tail is shown when it fails. Returns terraform's exit status.
tf() {
  local name="$1" dir="$2" status=0
  shift 2
  timeout --kill-after=10 "$step_timeout" terraform -chdir="$dir" "$@" >"$work/$name.log" 2>&1 || status=$?
  return "$status"
}

# step LOGNAME DIR ARGS...: a terraform command that must succeed.
step() {
  local name="$1" started=$SECONDS
  if ! tf "$@"; then
    tail -n 60 "$work/$name.log" >&2
    die "terraform ${3} (log: $work/$name.log)"
  fi
  log "$name: ok in $((SECONDS - started)) s"
}

# The emulator overlay prints what the emulator does not cover; it is shown
# on every run. Extra arguments (--root, --state-bucket) go to synth.
synth() {
  local out="$1"
  shift
  (cd "$root" && indented cargo run --locked --quiet -- synth "$env_name" --stacks network,iam,eks \
    --emulator "$url" --out "$out" "$@")
}

# The second plan after apply: any change is a perpetual diff.
plan_is_clean() {
  local name="$1" dir="$2" status=0 started=$SECONDS
  tf "$name" "$dir" plan -detailed-exitcode -input=false -no-color || status=$?
  case "$status" in
    0) log "$name: no changes after apply (exit 0) in $((SECONDS - started)) s" ;;
    2)
      grep -E '^\s*[#~+-]|Plan:' "$work/$name.log" >&2 || true
      die "$name: the plan after apply is not empty (perpetual diff), see $work/$name.log"
      ;;
    *)
      tail -n 40 "$work/$name.log" >&2
      die "$name: terraform plan failed with status $status"
      ;;
  esac
}

# Output of helper commands, indented under the step that ran them.
indented() { "$@" 2>&1 | sed -u "s/^/[e2e $env_name]   /"; }

probe() { indented "$py" "$root/scripts/e2e/probe.py" "$url" "$region" "$@"; }

# test_root DIR keep|lift [IMPORT_TO IMPORT_ID]: a copy of the environment's
# config and floors in DIR (the chart linked) for `synth --root`. `lift`
# turns terraform's prevent_destroy off in both, as an operator tearing the
# environment down does; an import entry adopts an existing object.
test_root() {
  local dir="$1"
  rm -rf "$dir"
  mkdir -p "$dir/stacks/config" "$dir/stacks/policy"
  ln -s "$root/helm-chart" "$dir/helm-chart"
  "$py" - "$root" "$env_name" "$@" <<'PY'
import pathlib
import re
import sys

root, env, dir_, mode, *entry = sys.argv[1:]
config = pathlib.Path(root, "stacks/config", f"{env}.toml").read_text()
policy = pathlib.Path(root, "stacks/policy", f"{env}.toml").read_text()
if mode == "lift":
    config, n = re.subn(r"(?m)^prevent_destroy = true$", "prevent_destroy = false", config)
    policy, m = re.subn(r"(?m)^require_prevent_destroy = true$", "require_prevent_destroy = false", policy)
    if n != 1:
        sys.exit(f"{env}.toml: no `prevent_destroy = true` to lift")
if entry:
    to, id_ = entry
    config += f'\n[[state.import]]\nto = "{to}"\nid = "{id_}"\n'
pathlib.Path(dir_, "stacks/config", f"{env}.toml").write_text(config)
pathlib.Path(dir_, "stacks/policy", f"{env}.toml").write_text(policy)
PY
}

# The ECR repository the stacks declare, created through the emulator's API
# before terraform runs (as by hand, before the stacks managed it), then
# synthesized again from a test copy of the config whose [[state.import]]
# entry adopts it. Sets adopted_* for adopted_check.
adopted_name=""
adopted_tag=""
adopted_created=""
adopt_repository() {
  local dir="$1" body
  body="$(jq -c '.resource.aws_ecr_repository.service' "$dir/eks.tf.json")"
  adopted_name="$(jq -r .name <<<"$body")"
  adopted_tag="$(jq -r .tags.Name <<<"$body")"
  adopted_created="$("$py" "$root/scripts/e2e/probe.py" "$url" "$region" repository-create "$adopted_name")" ||
    die "could not create the repository $adopted_name to adopt"
  log "adopt: ECR repository $adopted_name created through the emulator's API, not by terraform"
  test_root "$work/root" keep aws_ecr_repository.service "$adopted_name"
  synth "$dir" --root "$work/root"
  [[ "$(jq -c .import "$dir/refactor.tf.json")" == "[{\"id\":\"$adopted_name\",\"to\":\"aws_ecr_repository.service\"}]" ]] ||
    die "refactor.tf.json has no import block for $adopted_name: $(jq -c .import "$dir/refactor.tf.json")"
}

# After the apply: one object imported, and it is the repository made before.
adopted_check() {
  local log_file="$work/$1.log"
  grep -Eq 'Apply complete! Resources: 1 imported,' "$log_file" ||
    die "$1 did not import the repository: $(grep 'Apply complete' "$log_file")"
  log "$1: $(grep -o 'Resources: .*' "$log_file")"
  probe repository-adopted "$adopted_name" --created-at "$adopted_created" --tag "Name=$adopted_tag"
}

# teardown LOGNAME DIR ROOT_ARGS...: the destroy. With prevent_destroy in the
# environment's config, terraform must refuse it first: only resources the
# module protects named (terraform stops its walk at the first ones it
# meets in destroy order), and the state unchanged. Then a synth from a copy
# of the config with the protection lifted (ROOT_ARGS: test_root's, then
# synth's extra arguments after --) lets it run.
teardown() {
  local name="$1" dir="$2" status=0 protected refused held
  shift 2
  if [[ "$prevent_destroy" == "True" ]]; then
    protected="$(jq -rs '[.[].resource // {} | to_entries[] | .key as $type | .value | to_entries[]
      | select(.value.lifecycle.prevent_destroy == true) | "\($type).\(.key)"] | .[]' "$dir"/*.tf.json |
      LC_ALL=C sort)"
    held="$(terraform -chdir="$dir" state list 2>/dev/null | wc -l)"
    tf "$name-refused" "$dir" destroy -auto-approve -input=false -no-color || status=$?
    # terraform wraps its diagnostics: join the lines before matching.
    refused="$(tr '\n' ' ' <"$work/$name-refused.log" |
      grep -oE 'Resource [a-z0-9_]+\.[A-Za-z0-9_-]+ +has +lifecycle\.prevent_destroy' |
      awk '{print $2}' | LC_ALL=C sort -u)"
    if [[ "$status" -eq 0 || -z "$refused" ]] || LC_ALL=C comm -23 <(echo "$refused") <(echo "$protected") | grep -q .; then
      tail -n 40 "$work/$name-refused.log" >&2
      die "$name: terraform destroy exited $status naming [${refused//$'\n'/ }]; expected a refusal naming some of [${protected//$'\n'/ }]"
    fi
    [[ "$held" -gt 0 && "$(terraform -chdir="$dir" state list 2>/dev/null | wc -l)" -eq "$held" ]] ||
      die "$name: the refused destroy changed the state ($held resources before)"
    log "$name: terraform refused to destroy (exit $status): prevent_destroy on ${refused//$'\n'/, }; all $held resources still in state"
    probe inventory --expect applied "${inventory_args[@]}"
    local lifted="$work/root-lifted" root_args=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do
      root_args+=("$1")
      shift
    done
    [[ $# -gt 0 ]] && shift
    test_root "$lifted" lift "${root_args[@]}"
    synth "$dir" --root "$lifted" "$@"
    log "$name: prevent_destroy lifted in a copy of the config and floors, as for a teardown"
  fi
  step "$name" "$dir" destroy -auto-approve -input=false -no-color
}

inventory_args=()

# With GitOps on, the public name's record follows the load balancer the
# controller makes once Argo CD has synced the service (network stack,
# stacks/src/webapp/public_name.rs). After the first apply there is none and
# no record; then one is made through the emulator's API with the tags the
# controller gives it, and the next plan must add exactly the record, the
# apply make it, the plan after be clean. Sets `balancer` to its name, which
# the caller deletes after the destroy, as the controller would.
balancer=""
public_name_follows() {
  local dir="$1" tags name="$env_name-webapp" status=0 started=$SECONDS
  tags="$(jq -c '.data.aws_lbs.webapp.tags // empty' "$dir/network.tf.json")"
  if [[ -z "$tags" ]]; then
    log "public name: made after the release by terraform (GitOps off), in the app stack: not applied here"
    return
  fi
  probe balancer-create "$name" --tags "$tags"
  tf local-record-plan "$dir" plan -detailed-exitcode -input=false -no-color || status=$?
  local planned
  planned="$(grep -E '^  # .* will be ' "$work/local-record-plan.log" || true)"
  if [[ "$status" -ne 2 || "$planned" != "  # aws_route53_record.webapp[0] will be created" ]] ||
    ! grep -q 'Plan: 1 to add, 0 to change, 0 to destroy.' "$work/local-record-plan.log"; then
    tail -n 40 "$work/local-record-plan.log" >&2
    die "local-record-plan: expected exactly the public name's record to be added once the load balancer exists (exit $status)"
  fi
  log "local-record-plan: the load balancer exists, so the plan adds the public name's record alone (exit 2)"
  step local-record-apply "$dir" apply -auto-approve -input=false -no-color
  plan_is_clean local-record-replan "$dir"
  log "public name: follows the controller's load balancer in $((SECONDS - started)) s"
  balancer="$name"
}

local_state_run() {
  local dir="$work/local" started=$SECONDS
  log "--- local state"
  synth "$dir"
  adopt_repository "$dir"
  step local-init "$dir" init -input=false -no-color
  step local-validate "$dir" validate -no-color
  step local-apply "$dir" apply -auto-approve -input=false -no-color
  adopted_check local-apply
  probe inventory --expect applied
  probe secrets --expect rotated
  plan_is_clean local-plan "$dir"
  public_name_follows "$dir"
  inventory_args=()
  teardown local-destroy "$dir" aws_ecr_repository.service "$adopted_name"
  [[ -z "$balancer" ]] || probe balancer-delete "$balancer"
  probe inventory --expect empty
  probe secrets-purge
  log "local state: ok in $((SECONDS - started)) s"
}

# Applies with the S3 backend; while that apply waits for its approval (it
# holds the lock from before planning until it ends) a second terraform run
# must be refused by the lock. Then the first is approved and completes.
apply_while_locked() {
  local dir="$1" bucket="$2" key="$3" fifo="$work/approve.fifo" status=0 started=$SECONDS
  rm -f "$fifo"
  mkfifo "$fifo"
  timeout --kill-after=10 "$step_timeout" terraform -chdir="$dir" apply -input=true -no-color \
    <"$fifo" >"$work/s3-apply.log" 2>&1 &
  holder_pid=$!
  exec 3>"$fifo"
  # The approval question, not any other prompt (a variable's, for one).
  local prompt='Do you want to perform these actions?'
  for _ in $(seq "$step_timeout"); do
    grep -q "$prompt" "$work/s3-apply.log" && break
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 1
  done
  if ! grep -q "$prompt" "$work/s3-apply.log"; then
    exec 3>&-
    tail -n 40 "$work/s3-apply.log" >&2
    die "s3-apply never reached its approval prompt"
  fi
  log "s3-apply: planned, waiting for approval and holding the state lock"
  local held lock_id
  held="$("$py" "$root/scripts/e2e/probe.py" "$url" "$region" lock "$bucket" "$key" --expect held)" ||
    die "s3-apply waits for approval but holds no lock object in the bucket"
  log "  $held"
  [[ "$held" =~ ID\ ([0-9a-f-]+) ]] || die "no lock ID in: $held"
  lock_id="${BASH_REMATCH[1]}"

  # Refused by that very lock: the error must name the holder's lock ID.
  tf s3-concurrent "$dir" plan -lock-timeout=0s -input=false -no-color || status=$?
  if [[ "$status" -eq 0 ]] || ! grep -q 'Error acquiring the state lock' "$work/s3-concurrent.log" ||
    ! grep -Eq "ID: +$lock_id" "$work/s3-concurrent.log"; then
    exec 3>&-
    tail -n 40 "$work/s3-concurrent.log" >&2
    die "a concurrent terraform plan was not refused by the S3 lock $lock_id (exit $status)"
  fi
  log "s3-concurrent: a second terraform plan was refused by lock $lock_id (exit $status)"

  echo yes >&3
  exec 3>&-
  status=0
  wait "$holder_pid" || status=$?
  holder_pid=""
  if [[ "$status" -ne 0 ]] || ! grep -q 'Apply complete!' "$work/s3-apply.log"; then
    tail -n 60 "$work/s3-apply.log" >&2
    die "s3-apply failed after approval (exit $status)"
  fi
  log "s3-apply: ok in $((SECONDS - started)) s"
  probe lock "$bucket" "$key" --expect released
}

s3_backend_run() {
  local dir="$work/s3" bucket="e2e-tfstate-$env_name" key="$env_name/terraform.tfstate" started=$SECONDS
  log "--- S3 backend (use_lockfile)"
  probe bucket-create "$bucket"
  synth "$dir" --state-bucket "$bucket"
  step s3-init "$dir" init -input=false -no-color
  apply_while_locked "$dir" "$bucket" "$key"
  probe inventory --expect applied --allow-bucket "$bucket"
  probe secrets --expect rotated
  plan_is_clean s3-plan "$dir"
  inventory_args=(--allow-bucket "$bucket")
  teardown s3-destroy "$dir" -- --state-bucket "$bucket"
  probe inventory --expect empty --allow-bucket "$bucket"
  probe secrets-purge
  probe state-versions "$bucket" "$key" --min 2
  log "gap 4: moto fails DeleteObjects on a versioning-suspended bucket; removing versions one by one instead"
  probe bucket-delete "$bucket"
  probe zone-delete "$zone"
  probe inventory --expect empty
  log "S3 backend: ok in $((SECONDS - started)) s"
}

shim_report() {
  log "served or patched by the e2e shim, not by moto (gaps 2, 3, 5, 6, the launch template tags, instance monitoring, security group rules and the cluster security group):"
  indented "$py" -c 'import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_e2e/shim-report", timeout=5) as response:
    for call, n in sorted(json.load(response).items()):
        print(f"{n:3d} x {call}")' "$url" || die "the emulator's shim report is unavailable"
}

main() {
  [[ $# -eq 1 ]] || {
    echo "usage: $0 ENV   (an environment of stacks/config/)" >&2
    exit 2
  }
  env_name="$1"
  local config="$root/stacks/config/$env_name.toml" started=$SECONDS
  [[ -f "$config" ]] || {
    echo "e2e: no environment '$env_name': $config does not exist" >&2
    exit 2
  }
  command -v terraform >/dev/null || die "terraform is not on PATH"
  "$root/scripts/venv.sh"
  region="$("$py" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["region"])' "$config")"
  prevent_destroy="$("$py" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("state", {}).get("prevent_destroy", False))' "$config")"
  zone="$("$py" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["edge"]["hosted_zone"])' "$config")"

  work="$root/.e2e/$env_name"
  rm -rf "$work"
  mkdir -p "$work"
  use_provider_mirror "$work"
  # The run must never reach a real account, whatever the caller's shell has.
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

  trap 'on_exit $?' EXIT
  trap 'exit 130' INT TERM
  start_emulator
  probe zone-create "$zone"
  log "gap 5: ACM issues the certificate once its validation record is in the zone (the shim checks it; moto would issue it after a minute regardless)"
  log "gap 6: RotateSecret runs the rotation function's code in the emulator process (moto fails it on a secret without a value and needs Docker for Lambda)"
  local_state_run
  s3_backend_run
  shim_report
  log "PASSED in $((SECONDS - started)) s ($(terraform version | head -n1), region $region)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
