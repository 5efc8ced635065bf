#!/usr/bin/env bash
# `just report-browser-test`: the report and the pictures as a reader sees
# them, in a real headless Chromium (installed by scripts/browser/install.sh
# when missing). For staging and production: `infra report` writes the page;
# Chromium loads it from disk on a desktop and a phone viewport and prints
# it; the console must stay free of errors, the page must make no network
# request, the screenshots must not be blank, nothing may be wider than a
# phone's screen. A selftest first proves those checks fail on a bad page.
# Then Mermaid's own parser reads `infra graph` of both environments, and
# Graphviz draws their DOT. Screenshots and PDFs stay in .report-test/.
# About 20 s on a warm build (22 s measured at load average 6).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
chromium="$(scripts/browser/install.sh)"
mermaid="$(scripts/browser/mermaid.sh)"
cargo build --quiet --locked --bin infra
infra="$root/target/debug/infra"
out="$root/.report-test"
rm -rf "$out"
mkdir -p "$out"
check=(timeout 180 python3 scripts/browser/check_page.py --chromium "$chromium" --out "$out")

"${check[@]}" --selftest
for env in staging production; do
  "$infra" report "$env" --out "$out/$env.html"
  "$infra" graph "$env" >"$out/$env.mmd"
  "$infra" graph "$env" --format svg --out "$out/$env-graphviz.svg"
  grep -q '<svg' "$out/$env-graphviz.svg" || { echo "report-browser-test: Graphviz drew no SVG for $env" >&2; exit 1; }
done
"${check[@]}" "$out/staging.html" "$out/production.html"
"${check[@]}" --mermaid "$mermaid" "$out/staging.mmd" "$out/production.mmd"
echo "report-browser-test: both reports and pictures pass in $("$chromium" --version 2>/dev/null | head -n1)"
