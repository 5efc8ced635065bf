#!/usr/bin/env bash
# Sourced by the deploy action's tests: `ecr_stand_ins DIR` writes stand-in
# `aws` and `skopeo` commands into DIR. The "registry" is one file
# ($REGISTRY_STATE) holding the digest stored under the tag; skopeo "pushes"
# the archive, whose digest the test chose ($ARCHIVE_DIGEST), and logs each
# call to $SKOPEO_LOG when it is set.
ecr_stand_ins() {
  local dir="$1"
  mkdir -p "$dir"
  cat >"$dir/aws" <<'STANDIN'
#!/usr/bin/env bash
# aws ecr describe-images ... : the digest stored for the tag, or not found.
[[ -s "$REGISTRY_STATE" ]] || { echo "ImageNotFoundException" >&2; exit 254; }
cat "$REGISTRY_STATE"
STANDIN
  cat >"$dir/skopeo" <<'STANDIN'
#!/usr/bin/env bash
# skopeo copy ...
if [[ -n "${SKOPEO_LOG:-}" ]]; then echo "skopeo $*" >>"$SKOPEO_LOG"; fi
echo "$ARCHIVE_DIGEST" >"$REGISTRY_STATE"
STANDIN
  chmod +x "$dir/aws" "$dir/skopeo"
}
