#!/usr/bin/env bash
# Fetches Mermaid's browser bundle, pinned by version and npm integrity hash,
# into .cache/ (once), and prints its path. The browser test parses the
# Mermaid that `infra graph` prints with it: the library GitHub draws
# Mermaid blocks with.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="12.3.0"
integrity="sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6yZ69J4f8rVYWW8zRk65UYw=="
cache="$root/.cache/mermaid-$version"
if [[ ! -f "$cache/mermaid.min.js" ]]; then
  command -v npm >/dev/null || { echo "browser/mermaid: npm is needed to fetch mermaid@$version" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack "mermaid@$version" --silent >/dev/null)
  actual="sha512-$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$work/mermaid-$version.tgz")"
  if [[ "$actual" != "$integrity" ]]; then
    echo "browser/mermaid: mermaid-$version.tgz has integrity $actual, expected $integrity" >&2
    exit 1
  fi
  tar -xzf "$work/mermaid-$version.tgz" -C "$work" package/dist/mermaid.min.js
  mkdir -p "$cache"
  mv "$work/package/dist/mermaid.min.js" "$cache/mermaid.min.js"
fi
echo "$cache/mermaid.min.js"
