#!/usr/bin/env bash
# `just image`: builds the webapp image. With a Docker engine this is a plain
# `docker build`. These machines have none, so instead the Dockerfile's build
# step (scripts/build-service.sh) runs on the host and the binary is checked
# for what the image relies on: statically linked, under 10 MB, and starting
# with an empty environment as uid 65532 without writing any file (the root
# filesystem is read-only), answering its probes and exiting 0 on SIGTERM.
#
#   scripts/image.sh [TAG]        (TAG defaults to webapp:dev)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tag="${1:-webapp:dev}"
max_bytes=$((10 * 1024 * 1024))

die() {
  echo "image: $*" >&2
  exit 1
}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build --build-arg WEBAPP_REVISION="$(git rev-parse --short=12 HEAD)" -t "$tag" .
  exit 0
fi
echo "image: no Docker engine on this machine; building the binary the Dockerfile builds and checking it" >&2

bin="$root/target/image/webapp"
scripts/build-service.sh "$bin"

if readelf --program-headers "$bin" | grep -q 'program interpreter'; then
  die "$bin is dynamically linked; distroless/static cannot run it"
fi
if readelf --dynamic "$bin" | grep -q NEEDED; then
  die "$bin needs shared libraries: $(readelf --dynamic "$bin" | grep NEEDED)"
fi
size="$(stat -c %s "$bin")"
((size < max_bytes)) || die "$bin is $size bytes, over the 10 MB budget"

# The image runs with no variables but the Dockerfile's PORT=8080.
if ss -ltnH 'sport = :8080' | grep -q .; then
  die "port 8080 is in use; the empty-environment start check needs it (the image's default port)"
fi
scratch="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
# Copied where uid 65532 can read it: the checkout may sit under /root.
chmod 0755 "$scratch"
install -m 0555 "$bin" "$scratch/webapp"
tracer=()
if command -v strace >/dev/null 2>&1; then
  tracer=(strace -f -qq -o "$scratch/files.trace" -e "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat")
else
  echo "image: strace not installed; skipping the no-file-writes check" >&2
fi
"${tracer[@]}" setpriv --reuid=65532 --regid=65532 --clear-groups \
  env -i PORT=8080 "$scratch/webapp" >"$scratch/stdout.log" 2>"$scratch/stderr.log" &
pid=$!
# Under strace the service is strace's child; setpriv and env exec in place.
app_pid=""
for _ in $(seq 1 200); do
  app_pid="$(pgrep -P "$pid" || echo "$pid")"

  grep -q '"msg":"listening"' "$scratch/stdout.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || die "the binary exited at start: $(cat "$scratch/stderr.log" "$scratch/stdout.log")"
  sleep 0.05
done
grep -q '"msg":"listening"' "$scratch/stdout.log" || die "the binary did not report listening within 10 s"
for path in /healthz /readyz /; do
  curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:8080$path" || die "GET $path failed on the empty-environment start"
done
"$scratch/webapp" healthcheck || die "webapp healthcheck (the image's HEALTHCHECK) failed"
kill -TERM "$app_pid"
status=0
wait "$pid" || status=$?
pid=""
((status == 0)) || die "exit status $status after SIGTERM (want 0): $(cat "$scratch/stderr.log")"
grep -q '"msg":"shutdown complete"' "$scratch/stdout.log" || die "no 'shutdown complete' log line"
if [[ -f "$scratch/files.trace" ]]; then
  if grep -E 'O_WRONLY|O_RDWR|O_CREAT|creat\(|mkdir|rename|unlink' "$scratch/files.trace"; then
    die "the binary touched the filesystem for writing (above); the image runs on a read-only root filesystem"
  fi
fi
echo "image: $bin: static, $size bytes, started with an empty environment as uid 65532, wrote no files, exited 0 on SIGTERM"
echo "image: no image was built (no Docker engine); the Dockerfile packs this binary into gcr.io/distroless/static-debian12:nonroot"
