#!/usr/bin/env bash
# Issue 17's figures, measured against a built binary (not a timed assert anywhere):
#   1. peak RSS (VmHWM) of the server after a burst of N parallel logins for unknown
#      usernames, and (a fresh server) after the same burst against a known user;
#   2. /readyz latency while a burst of N parallel wrong-old-password changes runs.
# Usage: benches/hardening.sh [BINARY] [N]   (default target/debug/tokenledger, 64)
# Needs curl and python3. Each server gets a fresh SQLite file and a free port.
set -euo pipefail
BIN=${1:-target/debug/tokenledger}
N=${2:-64}
WORK=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start() {
  local db="$WORK/$1.db"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export TOKENLEDGER_DATABASE_URL="sqlite://$db"
  export TOKENLEDGER_SIGNING_KEY="hardening-bench-signing-key-0123456789abcdef"
  export TOKENLEDGER_BOOTSTRAP_ADMIN="admin:admin-password"
  export TOKENLEDGER_LOGIN_THROTTLE=off TOKENLEDGER_LOGIN_THROTTLE_IP=off
  export TOKENLEDGER_BIND="127.0.0.1:$PORT" TOKENLEDGER_LOG=warn
  "$BIN" user create alice --password-stdin <<<"alice-password" >/dev/null 2>&1 || true
  "$BIN" serve 2>"$WORK/$1.log" &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; cat "$WORK/$1.log" >&2; exit 1
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

hwm() { awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status"; }

burst_logins() {  # $1: username pattern (%d is the request's number)
  seq "$N" | xargs -P "$N" -I{} sh -c \
    "curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
      -d \"{\\\"username\\\": \\\"$1\\\", \\\"password\\\": \\\"wrong\\\"}\" \
      http://127.0.0.1:$PORT/api/token/" | sort | uniq -c | tr '\n' ' '
}

start unknown
before=$(hwm)
codes=$(burst_logins "nobody-{}")
echo "unknown usernames: $N parallel logins: statuses [$codes] peak RSS $before -> $(hwm)"
stop

start known
before=$(hwm)
codes=$(burst_logins "alice")
echo "known username:    $N parallel logins: statuses [$codes] peak RSS $before -> $(hwm)"
stop

start password
access=$(curl -s -H 'Content-Type: application/json' \
  -d '{"username": "alice", "password": "alice-password"}' \
  "http://127.0.0.1:$PORT/api/token/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
idle=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/readyz")
seq "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -H "Authorization: Bearer $access" \
  -H 'Content-Type: application/json' -d '{"old_password": "wrong", "new_password": "x"}' \
  "http://127.0.0.1:$PORT/api/me/password/" &
BURST=$!
sleep 0.05
worst=0
for _ in $(seq 10); do
  t=$(curl -s -o /dev/null -w '%{time_total} %{http_code}' "http://127.0.0.1:$PORT/readyz")
  worst=$(python3 -c "import sys; a='$t'.split(); print(max(float(a[0]), $worst)) if a[1]=='200' else print('503')")
  [ "$worst" = 503 ] && break
  sleep 0.02
done
wait "$BURST"
echo "/readyz: idle ${idle}s; worst of 10 during $N parallel wrong password changes: ${worst}s"
stop
