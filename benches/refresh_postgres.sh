#!/usr/bin/env bash
# Refresh with rotation by 8 concurrent chains (the peer bench's wrk case: lua/refresh.lua,
# wrk -t8 -c8) against SimpleJWT 5.5.1 (gunicorn gthread 2x4 on SQLite, its best here) and
# tokenledger on PostgreSQL and on SQLite, interleaved round by round in one run: issue 18's
# "refresh >= 20x SimpleJWT on PostgreSQL". Prints each round and the medians' ratios.
#
#   ../shared/peer-bench/run.sh once first (it builds the SimpleJWT venv and project this
#   reuses), then: cargo build --release && bash benches/refresh_postgres.sh
#   ROUNDS=3 DUR=10s PG=postgres://postgres@127.0.0.1:5432/postgres (the defaults)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PEER=${PEER:-$REPO/../shared/peer-bench}
W=$REPO/target/peer-bench
BIN=${BIN:-$REPO/target/release/tokenledger}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-10s}
PG=${PG:-postgres://postgres@127.0.0.1:5432/postgres}
[ -x "$W/venv/bin/gunicorn" ] || { echo "run ../shared/peer-bench/run.sh once first"; exit 2; }
export LUA_DIR=$PEER/lua LOGIN_BODY='{"username":"alice","password":"correct horse battery staple"}'
D=$(mktemp -d "${TMPDIR:-/tmp}/refresh-pg.XXXX")
DB=tl_refresh_bench_$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql -q "$PG" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT

"$W/venv/bin/gunicorn" peerproj.wsgi:application --chdir "$W/proj" -b 127.0.0.1:8011 -w 2 \
  -k gthread --threads 4 --log-level warning >/dev/null 2>&1 &
PIDS+=($!)
psql -q "$PG" -c "CREATE DATABASE $DB" >/dev/null
serve() { # name port database-url
  local url=$3
  TOKENLEDGER_DATABASE_URL=$url TOKENLEDGER_BIND=127.0.0.1:$2 TOKENLEDGER_LOG=warn \
    TOKENLEDGER_LOGIN_THROTTLE=off TOKENLEDGER_LOGIN_THROTTLE_IP=off TOKENLEDGER_FLUSH_INTERVAL=0 \
    TOKENLEDGER_SIGNING_KEY=refresh-bench-signing-key-0123456789abcdef \
    TOKENLEDGER_BOOTSTRAP_ADMIN=admin:admin-password "$BIN" serve >"$D/$1.log" 2>&1 &
  PIDS+=($!)
  until curl -s -o /dev/null "http://127.0.0.1:$2/healthz"; do sleep 0.1; done
  printf 'correct horse battery staple\n' | TOKENLEDGER_DATABASE_URL=$url "$BIN" user create alice --password-stdin >/dev/null
}
serve postgres 8013 "${PG%/*}/$DB"
serve sqlite 8014 "sqlite://$D/db.sqlite3"
until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8011/api/me/)" = 401 ]; do sleep 0.2; done

rps() { # port: 2xx answers per second
  wrk -t8 -c8 -d"$DUR" --timeout 10s -s "$LUA_DIR/refresh.lua" "http://127.0.0.1:$1/" |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     printf "%.1f\n", v["requests"] ? v["rps"] * (v["requests"] - v["non2xx"]) / v["requests"] : 0 }'
}
: >"$D/rounds"
for r in $(seq "$ROUNDS"); do
  s=$(rps 8011); p=$(rps 8013); q=$(rps 8014)
  echo "round $r: SimpleJWT $s /s, tokenledger on PostgreSQL $p /s, on SQLite $q /s" | tee -a "$D/rounds"
done
python3 - "$D/rounds" <<'EOF'
import re, statistics, sys
rows = [list(map(float, re.findall(r"([0-9.]+) /s", line))) for line in open(sys.argv[1])]
s, p, q = (statistics.median(col) for col in zip(*rows))
print(f"medians: SimpleJWT {s:.1f} /s; tokenledger on PostgreSQL {p:.1f} /s ({p / s:.1f}x), on SQLite {q:.1f} /s ({q / s:.1f}x)")
EOF
