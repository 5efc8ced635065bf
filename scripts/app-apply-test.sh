#!/usr/bin/env bash
# Tests scripts/app-apply.sh (the two-phase `just apply`) with a stand-in
# `terraform` that records each call and the stacks present in the module at
# that moment, and a no-op `aws`: no cloud, no provider binaries. Synthesis is
# real (cargo run). Each case states what a user relies on.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin"
cat >"$work/bin/terraform" <<'FAKE'
#!/usr/bin/env bash
# Stand-in terraform: logs "<command> <args> [stacks: <tf.json files>]", and
# for init the backend the module declares.
set -euo pipefail
dir="${1#-chdir=}"
shift
stacks="$(cd "$dir" && ls ./*.tf.json | sed 's|^\./||; s|\.tf\.json$||' | tr '\n' ' ')"
backend=""
if [[ "$1" == init ]]; then
  backend=" [backend: $(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["terraform"]["backend"])' "$dir/terraform.tf.json")]"
fi
echo "$* [stacks: ${stacks% }]$backend" >>"$FAKE_LOG"
case "$1" in
  state) cat "$FAKE_STATE" ;;
  apply) [[ "${FAKE_FAIL_APPLY:-}" != 1 ]] ;;
esac
FAKE
printf '#!/usr/bin/env bash\nexit 0\n' >"$work/bin/aws"
chmod +x "$work/bin/terraform" "$work/bin/aws"

failures=0
run_case() {
  local name="$1" expected="$2" expected_status="$3"
  shift 3
  : >"$FAKE_LOG"
  local status=0
  PATH="$work/bin:$PATH" APP_APPLY_OUT="$work/out" "$root/scripts/app-apply.sh" "$@" \
    >"$work/stdout" 2>&1 || status=$?
  if [[ "$status" != "$expected_status" ]]; then
    echo "FAIL $name: exit status $status, expected $expected_status"
    cat "$work/stdout"
    failures=$((failures + 1))
  elif ! diff -u <(if [[ -n "$expected" ]]; then printf '%s\n' "$expected"; fi) "$FAKE_LOG"; then
    echo "FAIL $name: terraform calls differ (above: - expected, + actual)"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

export FAKE_LOG="$work/terraform.log" FAKE_STATE="$work/state"
aws_only="eks iam network providers terraform"
everything="app eks iam network providers terraform variables"

: >"$FAKE_STATE"
run_case "a new environment gets the AWS stacks first, then everything; -var only in phase 2" \
"init -input=false [stacks: $aws_only] [backend: local]
state list [stacks: $aws_only]
apply -auto-approve [stacks: $aws_only]
init -input=false [stacks: $everything] [backend: local]
apply -auto-approve -var image_tag=1.0.0-prod -var-file=prod.tfvars [stacks: $everything]
output service_url [stacks: $everything]
output configs_url [stacks: $everything]" 0 \
  staging -auto-approve -var image_tag=1.0.0-prod -var-file=prod.tfvars

printf 'aws_vpc.main\nhelm_release.webapp\nkubernetes_namespace_v1.app\n' >"$FAKE_STATE"
run_case "a deployed environment skips phase 1, which would delete its releases; state in S3" \
"init -input=false [stacks: $aws_only] [backend: s3]
state list [stacks: $aws_only]
init -input=false [stacks: $everything] [backend: s3]
apply -input=false -var=image_tag=1.0.1 [stacks: $everything]
output service_url [stacks: $everything]
output configs_url [stacks: $everything]" 0 \
  staging --state-bucket tf-state-staging -input=false -var=image_tag=1.0.1

: >"$FAKE_STATE"
FAKE_FAIL_APPLY=1 run_case "a failed phase 1 stops before phase 2" \
"init -input=false [stacks: $aws_only] [backend: local]
state list [stacks: $aws_only]
apply [stacks: $aws_only]" 1 \
  production

run_case "a missing environment is a usage error" "" 2 -auto-approve

if [[ "$failures" -gt 0 ]]; then
  echo "app-apply-test: $failures case(s) failed" >&2
  exit 1
fi
echo "app-apply-test: all cases passed"
