#!/usr/bin/env bash
# The production recipe, run for real: gunicorn (deploy/gunicorn.conf.py) with DEBUG=false,
# an https SITE_URL and collectstatic into a temporary STATIC_ROOT, on a local port, behind
# no proxy. Called by .ci/run; by hand: bash deploy/smoke.sh (DATABASE_URL, else a temporary
# SQLite file; SMOKE_PORT, else 18765).
#
# No TLS on a local port: phase 1 keeps SECURE_SSL_REDIRECT on (the default) and checks that
# plain http is sent to https (and that /healthz/ is not, for load balancers' probes); phase 2
# turns it off so the pages themselves can be fetched over http.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${SMOKE_PORT:-18765}"
BASE="http://127.0.0.1:$PORT"
VENV="${VENV:-.venv}"
TMP="$(mktemp -d)"
GUNICORN_PID=""

stop_gunicorn() {
  if [ -n "$GUNICORN_PID" ]; then
    kill -TERM "$GUNICORN_PID" 2>/dev/null || true
    wait "$GUNICORN_PID" 2>/dev/null || true
    GUNICORN_PID=""
  fi
}
cleanup() { stop_gunicorn; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

fail() {
  echo "smoke: FAILED: $*" >&2
  [ -f "$TMP/gunicorn.log" ] && { echo "--- gunicorn log ---" >&2; tail -n 40 "$TMP/gunicorn.log" >&2; }
  exit 1
}

if curl -s -o /dev/null --max-time 2 "$BASE/"; then
  fail "port $PORT is already in use; set SMOKE_PORT"
fi

export DEBUG=false
SECRET_KEY="smoke-$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-not-used-anywhere-else"
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export SITE_URL=https://crm.example.com
export STATIC_ROOT="$TMP/static"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$TMP/smoke.sqlite3}"
export TWILIO_ACCOUNT_SID="AC00000000000000000000000000000000"
export TWILIO_AUTH_TOKEN="smoke-auth-token"
export HEALTH_TOKEN="smoke-health-token"
export LOG_FORMAT=json
# Behind no proxy: gunicorn trusts X-Forwarded-* from nobody.
export GUNICORN_FORWARDED_ALLOW_IPS=""
export GUNICORN_BIND="127.0.0.1:$PORT"
export GUNICORN_WORKERS=2
unset SECURE_SSL_REDIRECT TRUST_X_FORWARDED_PROTO

echo "smoke: migrate and collectstatic (STATIC_ROOT=$STATIC_ROOT)"
"$VENV/bin/python" manage.py migrate --noinput -v0
"$VENV/bin/python" manage.py collectstatic --noinput -v0
[ -f "$STATIC_ROOT/staticfiles.json" ] || fail "collectstatic wrote no manifest"

start_gunicorn() {
  "$VENV/bin/gunicorn" -c deploy/gunicorn.conf.py >>"$TMP/gunicorn.log" 2>&1 &
  GUNICORN_PID=$!
  for _ in $(seq 1 60); do
    kill -0 "$GUNICORN_PID" 2>/dev/null || fail "gunicorn exited at start"
    curl -s -o /dev/null --max-time 2 "$BASE/healthz/" && return 0
    sleep 0.5
  done
  fail "gunicorn did not answer on $BASE within 30 s"
}

# expect NAME EXPECTED ACTUAL
expect() {
  if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; fi
  echo "smoke: ok  $1: $3"
}
header() { grep -i "^$1:" "$2" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

echo "smoke: phase 1, defaults (SECURE_SSL_REDIRECT on)"
start_gunicorn
expect "plain http is redirected to https" "301 https://127.0.0.1:$PORT/admin/login/" \
  "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/admin/login/")"
expect "a forged X-Forwarded-Proto is not believed (TRUST_X_FORWARDED_PROTO off)" "301" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Proto: https' "$BASE/admin/login/")"
expect "/healthz/ answers over http (no worker here: 503)" "503" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz/")"
stop_gunicorn

echo "smoke: phase 2, SECURE_SSL_REDIRECT=false"
export SECURE_SSL_REDIRECT=false
start_gunicorn

code="$(curl -s -o "$TMP/login.html" -w '%{http_code}' "$BASE/admin/login/")"
expect "admin login page" "200" "$code"
grep -q "FitCRM" "$TMP/login.html" || fail "the login page does not say FitCRM"

# The page links the hashed name collectstatic wrote; WhiteNoise serves it compressed,
# cached for a year.
css="$(grep -o '/static/admin/css/base\.[0-9a-f]\{12\}\.css' "$TMP/login.html" | head -n 1)"
[ -n "$css" ] || fail "the login page links no hashed admin/css/base.css"
code="$(curl -s -D "$TMP/static.headers" -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' "$BASE$css")"
expect "static file $css" "200" "$code"
expect "static file is compressed" "gzip" "$(header Content-Encoding "$TMP/static.headers")"
expect "static file is cached for good" "max-age=315360000, public, immutable" \
  "$(header Cache-Control "$TMP/static.headers")"

expect "Twilio webhook without a signature" "403" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'MessageSid=SM1&MessageStatus=delivered' \
    "$BASE/messaging/twilio/status/")"

code="$(curl -s -o "$TMP/health.json" -w '%{http_code}' -H "Authorization: Bearer $HEALTH_TOKEN" "$BASE/healthz/")"
expect "/healthz/ with the token (no worker here)" "503" "$code"
"$VENV/bin/python" - "$TMP/health.json" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
assert body["failing"] == ["worker"], body
assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"], body
assert "queued_by_channel" in body["figures"], body
print("smoke: ok  /healthz/ names the worker check and shows the figures")
PY

grep -q '"level": "WARNING", "logger": "monitoring.views"' "$TMP/gunicorn.log" ||
  fail "LOG_FORMAT=json did not write JSON log lines"
echo "smoke: ok  JSON log lines"

stop_gunicorn
echo "smoke: passed"
