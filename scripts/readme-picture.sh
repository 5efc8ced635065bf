#!/usr/bin/env bash
# `just readme-picture`: puts `infra graph staging` (Mermaid, which GitHub
# draws) into README.md between its picture markers. The Rust test
# `readme_shows_the_current_staging_picture` (tests/see.rs, in `just ci`)
# fails when the README's picture is not what infra prints.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
begin='<!-- infra graph staging: begin (just readme-picture) -->'
end='<!-- infra graph staging: end -->'
if ! grep -qF "$begin" README.md || ! grep -qF "$end" README.md; then
  echo "readme-picture: README.md lacks the markers $begin ... $end" >&2
  exit 1
fi
picture="$(mktemp)"
trap 'rm -f "$picture"' EXIT
cargo run --quiet --locked --bin infra -- graph staging >"$picture"
python3 - "$picture" "$begin" "$end" <<'PY'
import sys
from pathlib import Path
picture, begin, end = Path(sys.argv[1]).read_text(), sys.argv[2], sys.argv[3]
readme = Path("README.md")
text = readme.read_text()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
readme.write_text(f"{head}{begin}\n```mermaid\n{picture}```\n{end}{tail}")
PY
echo "readme-picture: README.md shows infra graph staging"
