#!/usr/bin/env bash
# The write path against the disk, in one run on a release build, SQLite: refresh with rotation
# by 8 chains (wrk with the peer bench's refresh.lua), 200 sequential logouts (Python http.client),
# and fsync of a small write on the same disk; prints the logout/fsync ratio (issue 18 item 6),
# and beside it the logout's parts: HTTP from the same client (`/healthz`) and the same
# transaction run by SQLite alone (Python's sqlite3) on a copy of the file.
#   cargo build --release && bash benches/writes_vs_fsync.sh     (needs wrk, python3; DUR=5s)
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/tokenledger}
D=$(mktemp -d "${TMPDIR:-/tmp}/writes.XXXX"); PORT=${PORT:-8099}
export TOKENLEDGER_DATABASE_URL=sqlite://$D/db.sqlite3 TOKENLEDGER_BIND=127.0.0.1:$PORT \
  TOKENLEDGER_LOGIN_THROTTLE=off TOKENLEDGER_LOGIN_THROTTLE_IP=off TOKENLEDGER_LOG=warn \
  TOKENLEDGER_FLUSH_INTERVAL=0 TOKENLEDGER_SIGNING_KEY=quick-bench-signing-key-0123456789abcdef
"$BIN" migrate >/dev/null 2>&1
printf 'correct horse battery staple\n' | "$BIN" user create alice --password-stdin >/dev/null
"$BIN" serve >$D/log 2>&1 & P=$!
trap 'kill $P; rm -rf $D' EXIT
until curl -s -o /dev/null http://127.0.0.1:$PORT/healthz; do sleep 0.1; done
export LUA_DIR=$(cd "$(dirname "$0")/../.." && pwd)/shared/peer-bench/lua LOGIN_BODY='{"username":"alice","password":"correct horse battery staple"}'
wrk -t8 -c8 -d${DUR:-5s} --latency -s $LUA_DIR/refresh.lua http://127.0.0.1:$PORT/ 2>&1 | grep -E "^RESULT|Requests/sec|Non-2xx"
# the fsync file sits beside the database, on the same disk
python3 - $PORT "$D" <<'PY'
import http.client, json, sys, time, os, statistics, shutil, sqlite3
port=int(sys.argv[1]); d=sys.argv[2]; c=http.client.HTTPConnection("127.0.0.1", port)
def req(method, path, body=None):
    c.request(method, path, json.dumps(body) if body is not None else None, {"Content-Type":"application/json"}); r=c.getresponse(); return r.status, r.read()
def p50(xs): return statistics.median(xs)*1e3
toks=[]
for i in range(200):
    s,b=req("POST", "/api/token/", {"username":"alice","password":"correct horse battery staple"}); toks.append(json.loads(b)["refresh"])
# the engine's own share: the same transaction as a logout (the token's row, its session's
# rows, two events in, two view rows blacklisted) on a copy of the file taken now, by Python's
# sqlite3 with the service's settings (WAL, synchronous=FULL), no HTTP and no Rust
for ext in ("", "-wal"):
    if os.path.exists(os.path.join(d, "db.sqlite3"+ext)): shutil.copy(os.path.join(d, "db.sqlite3"+ext), os.path.join(d, "copy.sqlite3"+ext))
health=[]
for i in range(200):
    t0=time.perf_counter(); s,b=req("GET", "/healthz"); health.append(time.perf_counter()-t0)
lat=[]
for t in toks:
    t0=time.perf_counter(); s,b=req("POST", "/api/token/blacklist/", {"refresh":t}); lat.append(time.perf_counter()-t0); assert s==200,(s,b)
db=sqlite3.connect(os.path.join(d, "copy.sqlite3"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
refresh=db.execute("SELECT jti, sid FROM token_view WHERE token_type='refresh' AND state='outstanding'").fetchall()
seq=db.execute("SELECT max(seq) FROM token_ledger").fetchone()[0]
now="2026-12-07 12:00:00.000000"; engine=[]
for jti, sid in refresh[:200]:
    t0=time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    row=db.execute("SELECT * FROM token_view WHERE jti=?", (jti,)).fetchone()
    session=db.execute("SELECT jti, token_type, user_id, expires_at FROM token_view WHERE sid=? AND state='outstanding'", (sid,)).fetchall()
    for j, ty, uid, exp in session:
        seq+=1
        db.execute("INSERT INTO token_ledger (seq, at, event, jti, token_type, user_id, sid, parent_jti, reason, actor, expires_at, hash) VALUES (?,?,'blacklisted',?,?,?,?,NULL,'logout',NULL,?,?)", (seq, now, j, ty, uid, sid, exp, "%064x" % seq))
        db.execute("UPDATE token_view SET state='blacklisted', blacklisted_at=?, reason='logout', last_seq=? WHERE jti=?", (now, seq, j))
    db.execute("COMMIT"); engine.append(time.perf_counter()-t0)
db.close()
for ext in ("", "-wal", "-shm"):
    if os.path.exists(os.path.join(d, "copy.sqlite3"+ext)): os.remove(os.path.join(d, "copy.sqlite3"+ext))
f=open(os.path.join(d, "fsync.tmp"),"wb"); fl=[]
for i in range(200):
    f.write(b"x"*100); f.flush(); t0=time.perf_counter(); os.fsync(f.fileno()); fl.append(time.perf_counter()-t0)
os.remove(os.path.join(d, "fsync.tmp"))
print("logout seq p50 %.2f ms, mean %.2f ms; fsync p50 %.2f ms; ratio %.1fx" % (p50(lat), statistics.mean(lat)*1e3, p50(fl), p50(lat)/p50(fl)))
print("the parts, same run: GET /healthz p50 %.2f ms (HTTP from this client); the logout's transaction by SQLite alone p50 %.2f ms (%.1fx of the fsync); logout = %.1fx of HTTP + that transaction" % (p50(health), p50(engine), p50(engine)/p50(fl), p50(lat)/(p50(health)+p50(engine))))
PY
