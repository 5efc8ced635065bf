#!/usr/bin/env bash
# Proves the smoke test's edge checks on loopback, with no AWS: a stand-in of
# the ALB and its WAF (nginx on 127.0.0.1: plain HTTP redirected to HTTPS,
# TLS 1.2 and 1.3 with a certificate of a throwaway CA, a 403 rule for a JNDI
# lookup in User-Agent, everything else passed to the service) must pass
# them, and a broken stand-in (no redirect, TLS 1.2 only, no 403 rule) must
# fail each of them.
#
# Usage: scripts/smoke-edge-standin.sh HOST:PORT   (a running service)
# Called by scripts/smoke-test.sh without a URL; needs nginx and openssl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
upstream="${1:?usage: scripts/smoke-edge-standin.sh HOST:PORT}"
for tool in nginx openssl; do
  command -v "$tool" >/dev/null || { echo "smoke-edge-standin: $tool is not installed" >&2; exit 1; }
done

scratch="$(mktemp -d)"
nginx_pid=""
stop_nginx() {
  if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  nginx_pid=""
}
# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
  stop_nginx
  rm -rf "$scratch"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A CA for this run only, and a certificate for localhost it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=smoke-test throwaway CA" -keyout "$scratch/ca.key" -out "$scratch/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$scratch/server.key" -out "$scratch/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$scratch/san.ext"
openssl x509 -req -in "$scratch/server.csr" -CA "$scratch/ca.pem" -CAkey "$scratch/ca.key" \
  -CAcreateserial -days 1 -extfile "$scratch/san.ext" -out "$scratch/server.pem" 2>/dev/null

http_port="$(free_port)"
tls_port="$(free_port)"

# start_nginx good|broken
start_nginx() {
  local variant="$1" plain protocols waf
  if [[ "$variant" == good ]]; then
    plain="return 301 https://\$host:$tls_port\$request_uri;"
    protocols="TLSv1.2 TLSv1.3"
    # shellcheck disable=SC2016 # an nginx variable, for nginx to expand
    waf='if ($http_user_agent ~* "jndi:") { return 403; }'
  else
    plain="location / { proxy_pass http://$upstream; }"
    protocols="TLSv1.2"
    waf=""
  fi
  mkdir -p "$scratch/$variant"
  cat >"$scratch/$variant/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $scratch/$variant/nginx.pid;
error_log $scratch/$variant/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $scratch/$variant/body;
    proxy_temp_path $scratch/$variant/proxy;
    fastcgi_temp_path $scratch/$variant/fastcgi;
    uwsgi_temp_path $scratch/$variant/uwsgi;
    scgi_temp_path $scratch/$variant/scgi;
    server {
        listen 127.0.0.1:$http_port;
        $plain
    }
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $scratch/server.pem;
        ssl_certificate_key $scratch/server.key;
        ssl_protocols $protocols;
        location / {
            $waf
            proxy_pass http://$upstream;
            proxy_set_header Host \$host;
        }
    }
}
CONF
  nginx -p "$scratch/$variant" -c "$scratch/$variant/nginx.conf" &
  nginx_pid=$!
  for _ in $(seq 100); do
    if (: <"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && (: <"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "smoke-edge-standin: nginx ($variant) did not start:" >&2
  cat "$scratch/$variant/error.log" >&2
  exit 1
}

smoke() {
  SMOKE_CA_FILE="$scratch/ca.pem" SMOKE_HTTP_PORT="$http_port" \
    "$root/scripts/smoke-test.sh" "https://localhost:$tls_port" >"$scratch/$1.log" 2>&1
}

status=0
start_nginx good
if smoke good; then
  echo "stand-in ALB and WAF (nginx on 127.0.0.1:$http_port and :$tls_port): the smoke test passes"
else
  echo "stand-in ALB and WAF: the smoke test failed:"
  status=1
fi
grep -E '^  (ok|FAIL) ' "$scratch/good.log" | grep -Ei 'redirect|TLS|known bad input' || true
stop_nginx

start_nginx broken
if smoke broken; then
  echo "broken stand-in: the smoke test passed, but must fail"
  status=1
fi
for expected in "FAIL  plain HTTP on port" "FAIL  TLS negotiated: TLSv1.2" "FAIL  a known bad input"; do
  if grep -qF "$expected" "$scratch/broken.log"; then
    echo "broken stand-in: the smoke test reports \"$expected...\""
  else
    echo "broken stand-in: the smoke test does not report \"$expected...\""
    status=1
  fi
done
if ((status != 0)); then
  cat "$scratch/good.log" "$scratch/broken.log"
fi
exit "$status"
