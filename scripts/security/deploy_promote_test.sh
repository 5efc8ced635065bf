#!/usr/bin/env bash
# Tests the GitOps promotion of .github/actions/deploy: the steps "Push the
# image, keeping its digest" and "Promote the image in git" are taken from the
# action file as they are and run, in a clone of a local bare repository
# standing in for GitHub (real git), with stand-in `aws` and `skopeo` (the
# registry: one file) and a stand-in `gh` that records pull requests. What is
# tested is what GitHub runs:
#   - staging: the digest ECR holds is committed to gitops/staging/image.yaml
#     on main, and nothing else changes; a re-run changes nothing; an older
#     run never replaces a newer image; a push race is retried; a revert of
#     the commit rolls the image back;
#   - production: a branch with the image and one pull request, main untouched;
#   - refusals: a digest ECR does not hold is never promoted, a bad digest or
#     an environment without a GitOps tree is refused before anything moves;
#   - the workflow promotes each environment the way its config delivers it.
# Prints "N passed, N failed"; exits 1 on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/venv.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/deploy-promote-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

for step in "Push the image, keeping its digest:push.sh" "Promote the image in git:promote.sh"; do
  "$root/.venv/bin/python" "$root/scripts/security/action_step.py" "$root/.github/actions/deploy/action.yml" \
    "${step%:*}" "$work/${step##*:}"
done

# shellcheck source=scripts/security/ecr_stand_ins.sh
source "$root/scripts/security/ecr_stand_ins.sh"
ecr_stand_ins "$work/bin"
cat >"$work/bin/gh" <<'EOF'
#!/usr/bin/env bash
# gh pr list ... --jq length: how many open pull requests the head has;
# gh pr create ...: records the pull request.
echo "gh $*" >>"$GH_LOG"
case "$1 $2" in
  "pr list") grep -c "^gh pr create .*--head $4 " "$GH_LOG" || true ;;
  "pr create") echo "https://github.com/example-org/webapp/pull/1" ;;
  *) exit 1 ;;
esac
EOF
chmod +x "$work/bin/gh"

git_quiet() { git -c init.defaultBranch=main -c user.name=t -c user.email=t@example.org "$@" >/dev/null 2>&1; }

sha() { printf '%040x' "$1"; }
digest() { printf 'sha256:%064x' "$1"; }

# A fresh "GitHub": a bare repository whose main has the two trees and two
# commits (old, new) the runs below build images of.
new_remote() {
  rm -rf "$work/origin.git" "$work/seed" "$work/clone"
  git_quiet init --bare "$work/origin.git"
  git_quiet init "$work/seed"
  mkdir -p "$work/seed/gitops/staging" "$work/seed/gitops/production"
  echo "tree" >"$work/seed/gitops/staging/manifest.json"
  echo "tree" >"$work/seed/gitops/production/manifest.json"
  git_quiet -C "$work/seed" add -A
  git_quiet -C "$work/seed" commit -m old
  old="$(git -C "$work/seed" rev-parse HEAD)"
  echo change >"$work/seed/README"
  git_quiet -C "$work/seed" add -A
  git_quiet -C "$work/seed" commit -m new
  new="$(git -C "$work/seed" rev-parse HEAD)"
  git_quiet -C "$work/seed" push "$work/origin.git" HEAD:refs/heads/main
}

# Runs the push step, then the promotion step, in a fresh checkout of main
# (as actions/checkout leaves it): promote ENV PROMOTION TAG DIGEST [ARCHIVE_DIGEST]
promote() {
  local env="$1" promotion="$2" tag="$3" recorded="$4" archive="${5:-$4}" status=0
  rm -rf "$work/clone"
  git_quiet clone "$work/origin.git" "$work/clone"
  printf '%s' "" >"$work/registry"
  : >"$work/summary"
  (
    cd "$work/clone"
    export PATH="$work/bin:$PATH" REGISTRY_STATE="$work/registry" GH_LOG="$work/gh.log" \
      GITHUB_STEP_SUMMARY="$work/summary" GITHUB_SERVER_URL=https://github.com \
      GITHUB_REPOSITORY=example-org/webapp GITHUB_RUN_ID=42 RUNNER_TEMP="$work" \
      REGISTRY=111122223333.dkr.ecr.eu-west-1.amazonaws.com ECR_REPOSITORY="webapp-$env" \
      IMAGE_TAG="$tag" IMAGE_DIGEST="$recorded" ARCHIVE_DIGEST="$archive" TARGET_ENV="$env" \
      PROMOTION="$promotion" BASE_BRANCH=main GH_TOKEN=token GH_REPO=example-org/webapp
    bash -e -o pipefail "$work/push.sh" && bash -e -o pipefail "$work/promote.sh"
  ) >"$work/out" 2>&1 || status=$?
  return "$status"
}

remote_file() { git -C "$work/origin.git" show "$1:gitops/$2/image.yaml" 2>/dev/null; }
commits() { git -C "$work/origin.git" rev-list --count "$1"; }

passed=0
failed=0
check() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$work/out"
  fi
}

: >"$work/gh.log"

staging_commits_the_digest_to_main() {
  new_remote
  promote staging commit "$new" "$(digest 1)" || return 1
  [[ "$(commits main)" == 3 ]] || return 1
  [[ "$(git -C "$work/origin.git" diff --name-only main~1 main)" == gitops/staging/image.yaml ]] || return 1
  remote_file main staging | grep -qx "  digest: \"$(digest 1)\"" &&
    remote_file main staging | grep -qx "  tag: \"$new\"" &&
    git -C "$work/origin.git" log -1 --format=%s main | grep -qx "deploy(staging): webapp ${new:0:12}"
}
check "staging: the digest ECR holds is committed to main, nothing else" staging_commits_the_digest_to_main

a_rerun_changes_nothing() {
  promote staging commit "$new" "$(digest 1)" || return 1
  [[ "$(commits main)" == 3 ]] && grep -q "already runs $new" "$work/summary"
}
check "staging: a re-run of the same deploy changes nothing" a_rerun_changes_nothing

an_older_run_never_replaces_a_newer_image() {
  promote staging commit "$old" "$(digest 2)" || return 1
  [[ "$(commits main)" == 3 ]] && remote_file main staging | grep -q "$new" &&
    grep -q "a later commit than $old" "$work/summary"
}
check "staging: an older run never replaces a newer image" an_older_run_never_replaces_a_newer_image

a_push_race_is_retried() {
  new_remote
  # Someone else's commit lands on main between the fetch and the first push.
  cat >"$work/bin/git" <<EOF
#!/usr/bin/env bash
if [[ " \$* " == *" push "* && ! -e "$work/raced" ]]; then
  touch "$work/raced"
  /usr/bin/git -C "$work/seed" commit --quiet --allow-empty -m "someone else's" &&
    /usr/bin/git -C "$work/seed" push --quiet "$work/origin.git" HEAD:refs/heads/main
fi
exec /usr/bin/git "\$@"
EOF
  chmod +x "$work/bin/git"
  local status=0
  promote staging commit "$new" "$(digest 3)" || status=$?
  rm -f "$work/bin/git" "$work/raced"
  [[ "$status" == 0 ]] && [[ "$(commits main)" == 4 ]] &&
    remote_file main staging | grep -q "$(digest 3)" && grep -q "moved while promoting" "$work/out"
}
check "staging: main moving during the promotion is retried, no commit lost" a_push_race_is_retried

a_revert_rolls_back() {
  new_remote
  promote staging commit "$old" "$(digest 4)" || return 1
  promote staging commit "$new" "$(digest 5)" || return 1
  git_quiet -C "$work/seed" fetch "$work/origin.git" main
  git_quiet -C "$work/seed" checkout --detach FETCH_HEAD
  git_quiet -C "$work/seed" revert --no-edit HEAD
  git_quiet -C "$work/seed" push "$work/origin.git" HEAD:refs/heads/main
  remote_file main staging | grep -q "$(digest 4)"
}
check "staging: reverting the promotion brings the previous image back" a_revert_rolls_back

production_opens_one_pull_request() {
  new_remote
  : >"$work/gh.log"
  promote production pull-request "$new" "$(digest 6)" || return 1
  local branch="deploy/production/$new"
  [[ "$(commits main)" == 2 ]] || return 1
  remote_file "$branch" production | grep -qx "  digest: \"$(digest 6)\"" || return 1
  [[ "$(git -C "$work/origin.git" diff --name-only main "$branch")" == gitops/production/image.yaml ]] || return 1
  grep -q "^gh pr create --base main --head $branch --title deploy(production): webapp ${new:0:12} " "$work/gh.log" || return 1
  promote production pull-request "$new" "$(digest 6)" || return 1
  [[ "$(grep -c '^gh pr create' "$work/gh.log")" == 1 ]] && grep -q "already open" "$work/summary"
}
check "production: a branch and one pull request; main is left to the reviewers" production_opens_one_pull_request

refused() {
  local before
  new_remote
  before="$(git -C "$work/origin.git" for-each-ref)"
  if promote "$@"; then return 1; fi
  [[ "$(git -C "$work/origin.git" for-each-ref)" == "$before" ]]
}
check "a digest ECR does not hold is never promoted" \
  refused staging commit "$(sha 7)" "$(digest 7)" "$(digest 8)"
check "a recorded digest that is not sha256 is refused" \
  refused staging commit "$(sha 9)" latest
check "an environment without a GitOps tree is refused" \
  refused preview commit "$(sha 10)" "$(digest 10)"
check "an unknown promotion is refused" \
  refused staging merge "$(sha 11)" "$(digest 11)"

the_workflow_delivers_as_the_configs_say() {
  "$root/.venv/bin/python" - "$root" >"$work/out" 2>&1 <<'EOF'
import sys, tomllib, yaml
from pathlib import Path
root = Path(sys.argv[1])
workflow = yaml.safe_load((root / ".github/workflows/deploy.yml").read_text())
seen = 0
for job in workflow["jobs"].values():
    for step in job.get("steps", []):
        if step.get("uses") != "./.github/actions/deploy":
            continue
        env = step["with"]["environment"]
        config = tomllib.loads((root / f"stacks/config/{env}.toml").read_text())
        floors = tomllib.loads((root / f"stacks/policy/{env}.toml").read_text())
        gitops = config.get("gitops", {}).get("enabled", False)
        want = "gitops" if gitops else "terraform"
        if step["with"].get("delivery") != want:
            sys.exit(f"deploy.yml delivers {env} by {step['with'].get('delivery')}, its config by {want}")
        if gitops and floors.get("gitops", {}).get("required") and step["with"].get("promotion") != "pull-request":
            sys.exit(f"deploy.yml commits {env} directly; its floors require GitOps, so a reviewed pull request")
        seen += 1
if seen < 2:
    sys.exit(f"deploy.yml deploys {seen} environment(s)")
EOF
}
check "the workflow promotes each environment as its config delivers it" the_workflow_delivers_as_the_configs_say

echo "deploy promote test: $passed passed, $failed failed"
((failed == 0))
