#!/usr/bin/env bash
# Builds the release `webapp` binary as the image ships it, and copies it to
# OUT (default target/image/webapp). The Dockerfile's build stage runs this
# same script, so `just image` on a host without a Docker engine produces the
# binary the image would contain.
#
#   scripts/build-service.sh [OUT]
#
# Static: glibc linked with crt-static (the musl target is not installable
# offline). The service resolves no names and uses no NSS, so nothing is
# loaded at run time and the binary runs on distroless/static or scratch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-$root/target/image/webapp}"
# The revision shows in /metrics (webapp_build_info) and the start log line.
# The Docker build has no .git and passes it as a build argument instead.
WEBAPP_REVISION="${WEBAPP_REVISION:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
export WEBAPP_REVISION
triple="$(rustc -vV | sed -n 's/^host: //p')"
[[ -n "$triple" ]] || { echo "build-service: cannot tell the host target from rustc -vV" >&2; exit 1; }
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked --target "$triple" -p service --bin webapp
install -D -m 0755 "${CARGO_TARGET_DIR:-$root/target}/$triple/release/webapp" "$out"
echo "build-service: $out ($(stat -c %s "$out") bytes, $triple, static)" >&2
