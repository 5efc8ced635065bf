# shellcheck shell=bash
# Sourced by scripts that run terraform. Points terraform at a local provider
# filesystem mirror when this machine has one (ours keep hashicorp/aws under
# /opt/tf-plugins), through a CLI config file of our own in the given work
# directory; machine-wide terraform settings are never edited. Without a mirror
# nothing changes and terraform downloads providers as usual.
# TF_PROVIDER_MIRROR overrides the search.

# Prints the mirror root (the directory holding registry.terraform.io/) or nothing.
find_provider_mirror() {
  if [[ -n "${TF_PROVIDER_MIRROR:-}" ]]; then
    printf '%s\n' "$TF_PROVIDER_MIRROR"
    return
  fi
  local candidate
  for candidate in /opt/tf-plugins /usr/share/terraform/plugins /usr/local/share/terraform/plugins \
    "${HOME:-/root}/.terraform.d/plugins"; do
    if [[ -d "$candidate/registry.terraform.io/hashicorp/aws" ]]; then
      printf '%s\n' "$candidate"
      return
    fi
  done
}

# use_provider_mirror WORKDIR: exports TF_CLI_CONFIG_FILE for this process tree.
use_provider_mirror() {
  local workdir="$1" mirror
  mirror="$(find_provider_mirror)"
  if [[ -z "$mirror" ]]; then
    echo "terraform: no local provider mirror found; providers are downloaded" >&2
    return
  fi
  cat >"$workdir/terraformrc" <<HCL
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
HCL
  export TF_CLI_CONFIG_FILE="$workdir/terraformrc"
  # Keeps terraform from asking the registry about its own version.
  export CHECKPOINT_DISABLE=1
}
