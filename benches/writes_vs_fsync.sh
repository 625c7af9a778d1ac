#!/usr/bin/env bash
# The write path against the disk, in one run on a release build, SQLite: refresh with rotation
# by 8 chains (wrk with the peer bench's refresh.lua), 200 sequential logouts (Python http.client),
# and fsync of a small write on the same disk; prints the logout/fsync ratio (issue 18 item 6).
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
import http.client, json, sys, time, os, statistics
port=int(sys.argv[1]); c=http.client.HTTPConnection("127.0.0.1", port)
def post(path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type":"application/json"}); r=c.getresponse(); return r.status, r.read()
toks=[]
for i in range(200):
    s,b=post("/api/token/", {"username":"alice","password":"correct horse battery staple"}); toks.append(json.loads(b)["refresh"])
lat=[]
for t in toks:
    t0=time.perf_counter(); s,b=post("/api/token/blacklist/", {"refresh":t}); lat.append(time.perf_counter()-t0); assert s==200,(s,b)
f=open(os.path.join(sys.argv[2], "fsync.tmp"),"wb"); fl=[]
for i in range(200):
    f.write(b"x"*100); f.flush(); t0=time.perf_counter(); os.fsync(f.fileno()); fl.append(time.perf_counter()-t0)
os.remove(os.path.join(sys.argv[2], "fsync.tmp"))
print("logout seq p50 %.2f ms, mean %.2f ms; fsync p50 %.2f ms; ratio %.1fx" % (statistics.median(lat)*1e3, statistics.mean(lat)*1e3, statistics.median(fl)*1e3, statistics.median(lat)/statistics.median(fl)))
PY
