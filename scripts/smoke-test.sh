#!/usr/bin/env bash
# `just smoke-test [URL]`: checks the service end to end over HTTP.
#
#   scripts/smoke-test.sh          build the image's binary, start it on a free
#                                  127.0.0.1 port, check every endpoint, send
#                                  SIGTERM and check the drain and a clean exit
#   scripts/smoke-test.sh URL      check a deployed service, e.g. the public
#                                  URL the app stack outputs (terraform output
#                                  -raw service_url)
#
# Against an https:// URL it also checks the edge: plain HTTP on the same name
# is redirected to HTTPS, TLS 1.3 is negotiated and TLS 1.1 refused, and a
# request carrying a known bad input (a Log4Shell JNDI lookup in a header,
# which the WAF's AWSManagedRulesKnownBadInputsRuleSet blocks) gets 403.
#   SMOKE_CA_FILE    a CA certificate to trust besides the system's (tests)
#   SMOKE_HTTP_PORT  the plain HTTP port of the name (default 80)
# Without a URL, after the local checks, scripts/smoke-edge-standin.sh runs
# these edge checks against a local stand-in of the ALB and WAF (nginx with
# TLS and a 403 rule, in front of the service) and against a broken one,
# which they must fail.
#
# Every check prints one line; the last line counts passes and failures, and
# the exit status is non-zero when any check failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

passed=0
failed=0
scratch="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

ok() {
  passed=$((passed + 1))
  echo "  ok    $*"
}
fail() {
  failed=$((failed + 1))
  echo "  FAIL  $*"
}

# Extra curl options for every request (a CA to trust, from SMOKE_CA_FILE).
curl_tls=()
if [[ -n "${SMOKE_CA_FILE:-}" ]]; then
  curl_tls=(--cacert "$SMOKE_CA_FILE")
fi

# fetch NAME METHOD PATH [curl args...]: response body to $scratch/NAME.body,
# headers to $scratch/NAME.headers; prints the status code (000 if none).
fetch() {
  local name="$1" method="$2" path="$3"
  shift 3
  : >"$scratch/$name.body"
  : >"$scratch/$name.headers"
  curl -sS --connect-timeout 5 --max-time 10 -X "$method" "${curl_tls[@]}" \
    -o "$scratch/$name.body" -D "$scratch/$name.headers" -w '%{http_code}' \
    "$@" "$base_url$path" 2>"$scratch/$name.err" || true
}

# header NAME HEADER: the value of HEADER in the last response of NAME.
header() {
  tr -d '\r' <"$scratch/$1.headers" | awk -v h="$2" 'BEGIN { IGNORECASE = 1 } index(tolower($0), tolower(h) ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print }' | tail -n 1
}

# json_field NAME EXPR: a Python expression over the parsed body `d`.
json_field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$scratch/$1.body" "$2" 2>/dev/null || echo "<not JSON>"
}

expect_status() {
  local name="$1" want="$2" got="$3" what="$4"
  if [[ "$got" == "$want" ]]; then ok "$what -> $got"; else fail "$what -> $got, want $want $(cat "$scratch/$name.err" 2>/dev/null)"; fi
}

# check_security_headers NAME [HEADER...]: every response carries the API
# set; the HTML page also the document headers passed as extra arguments.
check_security_headers() {
  local name="$1" missing=() h
  shift
  for h in x-content-type-options content-security-policy cache-control strict-transport-security "$@"; do
    [[ -n "$(header "$name" "$h")" ]] || missing+=("$h")
  done
  if ((${#missing[@]} == 0)); then ok "$name: security headers present"; else fail "$name: missing ${missing[*]}"; fi
}

check_endpoints() {
  local status
  status="$(fetch index GET /)"
  expect_status index 200 "$status" "GET /"
  if [[ "$(json_field index 'd["service"]')" == webapp ]]; then ok "GET / names the service"; else fail "GET / body: $(head -c 300 "$scratch/index.body")"; fi
  check_security_headers index

  status="$(fetch html GET / -H 'Accept: text/html')"
  if [[ "$status" == 200 && "$(header html content-type)" == text/html* ]]; then ok "GET / as a browser -> HTML"; else fail "GET / as a browser -> $status $(header html content-type)"; fi
  check_security_headers html x-frame-options referrer-policy cross-origin-opener-policy cross-origin-resource-policy
  # Two CSP fields would both be enforced, and the API one forbids the page's style.
  local policies
  policies="$(tr -d '\r' <"$scratch/html.headers" | grep -ci '^content-security-policy:' || true)"
  if [[ "$policies" == 1 && "$(header html content-security-policy)" == *"style-src 'unsafe-inline'"* ]]; then ok "html: one CSP, allowing its inline style"; else fail "html: $policies CSP fields: $(header html content-security-policy)"; fi

  status="$(fetch configs GET /configs)"
  expect_status configs 200 "$status" "GET /configs"
  if [[ "$(json_field configs '"service" in d and "secrets" in d')" == True ]]; then ok "GET /configs lists settings and secrets"; else fail "GET /configs body: $(head -c 300 "$scratch/configs.body")"; fi

  status="$(fetch healthz GET /healthz)"
  expect_status healthz 200 "$status" "GET /healthz"
  status="$(fetch readyz GET /readyz)"
  expect_status readyz 200 "$status" "GET /readyz"

  status="$(fetch metrics GET /metrics)"
  expect_status metrics 200 "$status" "GET /metrics"
  if grep -q '^webapp_http_requests_total{route="/",status="200"}' "$scratch/metrics.body" &&
    grep -q '^webapp_build_info{' "$scratch/metrics.body"; then
    ok "GET /metrics counts requests and shows build info"
  else
    fail "GET /metrics lacks request counts or build info"
  fi

  status="$(fetch missing GET /no-such-page)"
  expect_status missing 404 "$status" "GET /no-such-page"
  check_security_headers missing

  status="$(fetch post POST /)"
  expect_status post 405 "$status" "POST /"
  if [[ "$(header post allow)" == *GET* ]]; then ok "POST / names the allowed methods"; else fail "POST / has no Allow header"; fi
}

# tls_protocol [openssl s_client options...]: the protocol the server
# negotiates with such a client, or nothing when the handshake fails
# (s_client then prints `New, (NONE), ...`).
tls_protocol() {
  { timeout 10 openssl s_client -connect "$host:$port" -servername "$host" "$@" </dev/null 2>/dev/null || true; } |
    sed -n 's/^New, \(TLSv[0-9.]*\), Cipher is .*/\1/p' | sed -n 1p
}

# The way in: HTTPS only, TLS 1.3, and the WAF in front.
check_edge() {
  local status location want
  # The ALB's redirect names the port; a default port is the same URL.
  want="https://$host:$port/configs?smoke=1"
  status="$(curl -sS --connect-timeout 5 --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' \
    "http://$host:${SMOKE_HTTP_PORT:-80}/configs?smoke=1" 2>"$scratch/redirect.err" || true)"
  location="${status#* }"
  location="${location/#https:\/\/$host\//https://$host:443/}"
  if [[ "${status%% *}" =~ ^30[18]$ && "$location" == "$want" ]]; then
    ok "plain HTTP redirects to HTTPS (${status%% *} to $location)"
  else
    fail "plain HTTP on port ${SMOKE_HTTP_PORT:-80} -> $status, want 301 or 308 to $want $(cat "$scratch/redirect.err")"
  fi

  local negotiated
  negotiated="$(tls_protocol)"
  if [[ "$negotiated" == TLSv1.3 ]]; then ok "TLS 1.3 negotiated"; else fail "TLS negotiated: ${negotiated:-no handshake}, want TLSv1.3"; fi
  # The client allows TLS 1.1 (security level 0), so a handshake that fails
  # was refused by the server.
  negotiated="$(tls_protocol -tls1_1 -cipher 'DEFAULT@SECLEVEL=0')"
  if [[ -z "$negotiated" ]]; then ok "TLS 1.1 refused"; else fail "TLS 1.1 accepted ($negotiated)"; fi

  # shellcheck disable=SC2016 # the JNDI lookup is the literal text the rule matches
  status="$(fetch waf_block GET / -H 'User-Agent: ${jndi:ldap://smoke-test.invalid/a}')"
  if [[ "$status" == 403 ]]; then
    ok "a known bad input (a JNDI lookup in User-Agent) is blocked with 403"
  else
    fail "a known bad input (a JNDI lookup in User-Agent) -> $status, want 403 from the WAF"
  fi
}

if (($# > 1)); then
  echo "usage: scripts/smoke-test.sh [URL]" >&2
  exit 2
fi

if (($# == 1)); then
  base_url="${1%/}"
  [[ "$base_url" == http://* || "$base_url" == https://* ]] || base_url="http://$base_url"
  echo "smoke-test: checking the deployed service at $base_url"
  check_endpoints
  if [[ "$base_url" == https://* ]]; then
    authority="${base_url#https://}"
    authority="${authority%%/*}"
    host="${authority%:*}"
    port=443
    [[ "$authority" == *:* ]] && port="${authority##*:}"
    check_edge
  else
    echo "  skip  the edge checks (redirect, TLS, WAF) need an https:// URL"
  fi
else
  scripts/build-service.sh "$scratch/webapp"
  secret="smoke-$RANDOM-$RANDOM-secret"
  env -i PORT=0 SERVICE_LISTEN_ADDRESS=127.0.0.1 APP_ENV=smoke SERVICE_DRAIN_SECONDS=2 \
    APP_SMOKE_PASSWORD="$secret" APP_GREETING=hello \
    "$scratch/webapp" >"$scratch/stdout.log" 2>"$scratch/stderr.log" &
  pid=$!
  address=""
  for _ in $(seq 1 200); do
    address="$(sed -n 's/.*"msg":"listening","address":"\([^"]*\)".*/\1/p' "$scratch/stdout.log" | head -n 1)"
    [[ -n "$address" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z "$address" ]]; then
    echo "smoke-test: the service did not start:" >&2
    cat "$scratch/stderr.log" "$scratch/stdout.log" >&2
    exit 1
  fi
  base_url="http://$address"
  echo "smoke-test: started pid $pid on $base_url"
  check_endpoints
  if [[ "$(json_field configs 'd["secrets"]["APP_SMOKE_PASSWORD"]')" == set ]] &&
    ! grep -q "$secret" "$scratch"/*.body; then
    ok "GET /configs shows the secret as set, never its value"
  else
    fail "GET /configs shows a secret wrongly"
  fi

  if scripts/smoke-edge-standin.sh "$address" >"$scratch/edge.log" 2>&1; then
    ok "the edge checks pass against a stand-in ALB and WAF, and fail against a broken one"
    sed 's/^/        /' "$scratch/edge.log"
  else
    fail "the edge checks against local stand-ins:"
    sed 's/^/        /' "$scratch/edge.log"
  fi

  kill -TERM "$pid"
  sleep 0.5
  status="$(fetch draining GET /readyz)"
  expect_status draining 503 "$status" "GET /readyz while draining"
  status="$(fetch draining_live GET /)"
  expect_status draining_live 200 "$status" "GET / while draining"
  exit_status=0
  wait "$pid" || exit_status=$?
  pid=""
  if ((exit_status == 0)); then ok "exit status 0 after SIGTERM"; else fail "exit status $exit_status after SIGTERM"; fi
  if grep -q '"msg":"shutdown complete"' "$scratch/stdout.log"; then ok "logged a complete shutdown"; else fail "no shutdown complete log line"; fi
  if python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$scratch/stdout.log" 2>/dev/null; then
    ok "every log line is JSON ($(wc -l <"$scratch/stdout.log") lines)"
  else
    fail "a log line is not JSON"
  fi
  if grep -q "$secret" "$scratch/stdout.log" "$scratch/stderr.log"; then fail "the log shows the secret"; else ok "the log never shows the secret"; fi
fi

echo "smoke-test: $passed passed, $failed failed"
((failed == 0))
