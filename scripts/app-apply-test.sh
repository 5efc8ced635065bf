#!/usr/bin/env bash
# Tests scripts/app-apply.sh (the two-phase `just apply`) with a stand-in
# `terraform` that records each call and the stacks present in the module at
# that moment, and a stand-in `aws` whose `ssm start-session` listens on the
# tunnel's port as the Session Manager plugin would: no cloud, no provider
# binaries. Synthesis is real (cargo run). Each case states what a user
# relies on.
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
tunnel=""
if [[ "$1" == apply && -n "${TF_VAR_cluster_api_tunnel:-}" ]]; then
  # The providers get the tunnel only while it is open.
  port="${TF_VAR_cluster_api_tunnel##*:}"
  if [[ "$TF_VAR_cluster_api_tunnel" =~ ^https://127\.0\.0\.1:[0-9]+$ ]] &&
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    tunnel=" [tunnel: open]"
  else
    tunnel=" [tunnel: $TF_VAR_cluster_api_tunnel, not open]"
  fi
fi
echo "$* [stacks: ${stacks% }]$backend$tunnel" >>"$FAKE_LOG"
case "$1 ${2:-} ${3:-}" in
  state*) cat "$FAKE_STATE" ;;
  apply*) [[ "${FAKE_FAIL_APPLY:-}" != 1 ]] ;;
  "output -json api_tunnel")
    [[ "${FAKE_PRIVATE_API:-}" == 1 ]] || exit 1
    echo '{"api_host":"ABC.gr7.eu-west-1.eks.amazonaws.com","document":"AWS-StartPortForwardingSessionToRemoteHost","instance_id":"i-0123456789abcdef0","region":"eu-west-1"}'
    ;;
  "output service_url "|"output configs_url ") [[ "${FAKE_SERVICE_URL:-}" == 1 ]] && echo '"http://lb.example"' ;;
esac
FAKE
cat >"$work/bin/aws" <<'FAKE'
#!/usr/bin/env bash
# Stand-in aws: `ssm start-session` listens on the requested local port (as
# the Session Manager plugin does) until it is stopped; anything else is a no-op.
[[ "$1 $2" == "ssm start-session" ]] || exit 0
echo "aws $*" >>"$FAKE_AWS_LOG"
port="$(sed -n 's/.*localPortNumber=\([0-9]*\).*/\1/p' <<<"$*")"
echo "$$" >"$FAKE_TUNNEL_PID"
exec python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
while True:
    s.accept()[0].close()
' "$port"
FAKE
printf '#!/usr/bin/env bash\nexit 0\n' >"$work/bin/session-manager-plugin"
chmod +x "$work/bin/terraform" "$work/bin/aws" "$work/bin/session-manager-plugin"

failures=0
run_case() {
  local name="$1" expected="$2" expected_status="$3"
  shift 3
  : >"$FAKE_LOG"
  local status=0
  PATH="${FAKE_BIN:-$work/bin}:$PATH" APP_APPLY_OUT="$work/out" "$root/scripts/app-apply.sh" "$@" \
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

export FAKE_LOG="$work/terraform.log" FAKE_STATE="$work/state" FAKE_AWS_LOG="$work/aws.log" \
  FAKE_TUNNEL_PID="$work/tunnel.pid"
aws_only="eks iam network providers terraform"
everything="app eks iam network providers terraform variables"

: >"$FAKE_STATE"
FAKE_PRIVATE_API=1 run_case "a new environment with a private API: AWS stacks, then the bootstrap through the bastion's tunnel" \
"init -input=false [stacks: $aws_only] [backend: local]
state list [stacks: $aws_only]
apply -auto-approve [stacks: $aws_only]
output -json api_tunnel [stacks: $aws_only]
init -input=false [stacks: $everything] [backend: local]
apply -auto-approve -var-file=prod.tfvars [stacks: $everything] [tunnel: open]
output service_url [stacks: $everything]
output -raw load_balancer_hostname [stacks: $everything]" 0 \
  staging -auto-approve -var-file=prod.tfvars
tunnel_case() {
  local name="$1"
  shift
  if "$@"; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    cat "$work/stdout"
    failures=$((failures + 1))
  fi
}
tunnel_went_to_the_bastion_and_closed() {
  grep -q -- "--target i-0123456789abcdef0 --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters host=ABC.gr7.eu-west-1.eks.amazonaws.com,portNumber=443,localPortNumber=" "$FAKE_AWS_LOG" &&
    ! kill -0 "$(cat "$FAKE_TUNNEL_PID")" 2>/dev/null
}
tunnel_case "the tunnel goes to the bastion's instance and the API's host, and is closed at the end" \
  tunnel_went_to_the_bastion_and_closed
tunnel_case "with Argo CD delivering, phase 2 points at git instead of a service URL" \
  grep -q "Argo CD now syncs staging from its GitOps tree in git" "$work/stdout"
tunnel_case "... and, before the load balancer exists, says the public name needs another apply" \
  grep -q "staging's public name has no record yet: once Argo CD has synced the service, apply again" "$work/stdout"

printf 'aws_vpc.main\nhelm_release.webapp\nkubernetes_namespace_v1.app\n' >"$FAKE_STATE"
FAKE_SERVICE_URL=1 run_case "a deployed environment skips phase 1, which would delete its releases; state in S3; a public API needs no tunnel" \
"init -input=false [stacks: $aws_only] [backend: s3]
state list [stacks: $aws_only]
output -json api_tunnel [stacks: $aws_only]
init -input=false [stacks: $everything] [backend: s3]
apply -input=false -var=image_tag=1.0.1 [stacks: $everything]
output service_url [stacks: $everything]
output configs_url [stacks: $everything]
output -raw load_balancer_hostname [stacks: $everything]" 0 \
  staging --state-bucket tf-state-staging -input=false -var=image_tag=1.0.1

: >"$FAKE_STATE"
mkdir -p "$work/no-plugin"
for tool in terraform aws; do ln -sf "$work/bin/$tool" "$work/no-plugin/$tool"; done
FAKE_PRIVATE_API=1 FAKE_BIN="$work/no-plugin" run_case \
  "a private API without the Session Manager plugin stops before phase 2, saying what to install" \
"init -input=false [stacks: $aws_only] [backend: local]
state list [stacks: $aws_only]
apply [stacks: $aws_only]
output -json api_tunnel [stacks: $aws_only]" 1 \
  production
tunnel_case "... and says so" grep -q "install the AWS Session Manager plugin" "$work/stdout"

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
