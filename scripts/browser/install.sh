#!/usr/bin/env bash
# Installs what the report's browser test and `infra graph --format svg`
# need when it is missing, the way the other scripts install their tools:
# a Chromium (Debian package `chromium`) and Graphviz (`graphviz`), with
# apt-get. Prints the Chromium to use on stdout: $CHROMIUM if set, else the
# first of chromium, chromium-browser, google-chrome on PATH.
set -euo pipefail

find_chromium() {
  if [[ -n "${CHROMIUM:-}" ]]; then
    echo "$CHROMIUM"
    return
  fi
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return
    fi
  done
}

missing=()
[[ -n "$(find_chromium)" ]] || missing+=(chromium)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "browser/install: ${missing[*]} missing and not root; apt-get install ${missing[*]}" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  echo "browser/install: installing ${missing[*]} (apt-get)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
chromium="$(find_chromium)"
[[ -n "$chromium" ]] || { echo "browser/install: no Chromium after installing it" >&2; exit 1; }
echo "$chromium"
