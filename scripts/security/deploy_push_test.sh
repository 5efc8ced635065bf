#!/usr/bin/env bash
# Tests the digest gate of .github/actions/deploy: the step "Push the image,
# keeping its digest" is taken from the action file as it is and run with
# stand-in `aws` and `skopeo` commands, so what is tested is what GitHub runs.
# It must push only when the tag is absent, and deploy nothing unless ECR ends
# up holding exactly the digest the build recorded.
# Prints "N passed, N failed"; exits 1 on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/venv.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/deploy-push-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$root/.venv/bin/python" "$root/scripts/security/action_step.py" "$root/.github/actions/deploy/action.yml" \
  "Push the image, keeping its digest" "$work/push.sh"

# Stand-ins: the "registry" is one file holding the digest under the tag.
# shellcheck source=scripts/security/ecr_stand_ins.sh
source "$root/scripts/security/ecr_stand_ins.sh"
ecr_stand_ins "$work/bin"

built="sha256:$(printf 'a%.0s' {1..64})"
other="sha256:$(printf 'b%.0s' {1..64})"
passed=0
failed=0

# case NAME WANT_EXIT WANT_PUSHES REGISTRY_BEFORE ARCHIVE_DIGEST RECORDED_DIGEST
case_() {
  local name="$1" want="$2" want_pushes="$3" got=0 pushes
  printf '%s' "$4" >"$work/registry"
  : >"$work/skopeo.log"
  PATH="$work/bin:$PATH" REGISTRY_STATE="$work/registry" SKOPEO_LOG="$work/skopeo.log" \
    ARCHIVE_DIGEST="$5" IMAGE_DIGEST="$6" REGISTRY=111122223333.dkr.ecr.eu-west-1.amazonaws.com \
    ECR_REPOSITORY=webapp-staging IMAGE_TAG=0123abcd RUNNER_TEMP="$work" \
    GITHUB_STEP_SUMMARY="$work/summary" bash -e -o pipefail "$work/push.sh" >"$work/out" 2>&1 || got=$?
  pushes="$(wc -l <"$work/skopeo.log")"
  if [[ ( "$want" == 0 && "$got" == 0 || "$want" != 0 && "$got" != 0 ) && "$pushes" == "$want_pushes" ]]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $got (wanted $([[ $want == 0 ]] && echo 0 || echo non-zero)), $pushes pushes (wanted $want_pushes)"
    sed 's/^/     /' "$work/out"
  fi
}

case_ "pushes a new tag and accepts the built digest" 0 1 "" "$built" "$built"
case_ "refuses when the pushed image has another digest" 1 1 "" "$other" "$built"
case_ "a re-run finds the tag and does not push again" 0 0 "$built" "$built" "$built"
case_ "refuses a tag that already names another image" 1 0 "$other" "$built" "$built"
case_ "refuses a recorded digest that is not sha256" 1 0 "" "$built" "latest"

echo "deploy push test: $passed passed, $failed failed"
((failed == 0))
