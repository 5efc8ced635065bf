# Daily tasks. `just --list` shows them; `just ci` runs exactly what CI runs.
# Each area keeps its recipes in its own file under just/.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

import 'just/rust.just'
import 'just/chart.just'
import 'just/security.just'
import 'just/service.just'
import 'just/app.just'
import 'just/stacks.just'
import 'just/e2e.just'
import 'just/upstream.just'
import 'just/report.just'
import 'just/gitops.just'

default:
    @just --list

# Everything CI checks (scripts/test.sh runs this after creating .venv).
ci: fmt-check clippy test-rust report-browser-test chart-check app-values-check upstream-facts-check custom-resources-check gitops-check app-apply-test tf-validate schema-aws-check app-schemas-check smoke-test image e2e-shim-test e2e security security-selftest
    @echo "ci: every check passed"
