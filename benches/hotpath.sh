#!/usr/bin/env bash
# The protected-request hot path against the service's own /healthz, in one run, as ratios.
# Usage: benches/hotpath.sh [seconds] [connections]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
TOKENLEDGER_DATABASE_URL="sqlite://$work/bench.db" TOKENLEDGER_BIND=127.0.0.1:0 \
TOKENLEDGER_BOOTSTRAP_ADMIN=bench:bench-password TOKENLEDGER_LOG=warn,tokenledger=info \
  ./target/release/tokenledger serve 2>"$work/server.log" &
server=$!
for _ in $(seq 50); do grep -q 'listening on' "$work/server.log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/server.log" | head -1)
access=$(curl -s -X POST "$base/api/token/" -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')

# wrk prints "Requests/sec: N" and, with --latency, a "99% Xms" line.
measure() {
  local out
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}
to_ms() { python3 -c "import sys; v=sys.argv[1]; u=v.lstrip('0123456789.'); n=float(v[:len(v)-len(u)]); print(n*{'us':0.001,'ms':1,'s':1000}[u])" "$1"; }

read -r health_rps health_p99 < <(measure "$base/healthz")
read -r me_rps me_p99 < <(measure -H "Authorization: Bearer $access" "$base/api/me/")
python3 - "$health_rps" "$(to_ms "$health_p99")" "$me_rps" "$(to_ms "$me_p99")" "$seconds" "$connections" <<'PY'
import sys
h_rps, h_p99, m_rps, m_p99 = map(float, sys.argv[1:5])
print(f"{'endpoint':<12} {'req/s':>10} {'p99 ms':>8}   ({sys.argv[5]} s, {sys.argv[6]} connections, wrk -t2)")
print(f"{'/healthz':<12} {h_rps:>10.0f} {h_p99:>8.2f}")
print(f"{'/api/me/':<12} {m_rps:>10.0f} {m_p99:>8.2f}")
print(f"ratio /api/me/ to /healthz: throughput {m_rps / h_rps:.2f}x, p99 {m_p99 / h_p99:.2f}x")
PY

# Forward auth (docs/gateways.md): the same bearer check behind /api/auth/check, in this run.
read -r check_rps check_p99 < <(measure -H "Authorization: Bearer $access" "$base/api/auth/check/orders/42")
python3 - "$health_rps" "$check_rps" "$(to_ms "$check_p99")" <<'PY'
import sys
h_rps, c_rps, c_p99 = map(float, sys.argv[1:4])
print(f"{'/api/auth/check':<12} {c_rps:>10.0f} {c_p99:>8.2f}   ({c_rps / h_rps:.2f}x of /healthz)")
PY
