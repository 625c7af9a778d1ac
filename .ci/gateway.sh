#!/usr/bin/env bash
# Gateways and browsers for real (issue 19): Debian's nginx in front of a small upstream with
# tokenledger as its auth_request server; the gateway's req/s with and without the auth
# subrequest (wrk, one run); the browser SPA example with the refresh cookie in chromium;
# PyJWT's PyJWKClient verifying an ES256 token through the discovery document's jwks_uri;
# the Caddy, Traefik and Envoy examples parsed. Installs its own tools, starts
# target/debug/tokenledger on free ports, ends with "N passed, N failed" (exit 1 if any failed).
#
#   cargo build && bash .ci/gateway.sh
#
# Artifacts (screenshots, logs, the figures) go to target/ci-artifacts/gateway/.
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${TOKENLEDGER_BIN:-target/debug/tokenledger}
CLIENTS=tests/clients
VENV=target/gateway-venv
ARTIFACTS=target/ci-artifacts/gateway
CHROMIUM=/usr/bin/chromium
EXAMPLES=examples/gateways
CHECKS=8

started=$(date +%s)
say() { echo "== gateway: $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
give_up() { echo "$1" >&2; echo "0 passed, $CHECKS failed"; exit 1; }

install_tools() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v caddy >/dev/null || missing+=(caddy)
    [ -x "$CHROMIUM" ] || missing+=(chromium)
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]} (Debian)"
        as_root apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null ||
            return 1
    fi
    if [ ! -d "$CLIENTS/node_modules/playwright-core" ] || [ ! -x "$CLIENTS/node_modules/.bin/newman" ]; then
        say "npm ci ($CLIENTS)"
        (cd "$CLIENTS" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    fi
    if ! "$VENV/bin/python" -c 'import jwt, yaml, cryptography' 2>/dev/null; then
        say "pip install PyJWT[crypto] PyYAML (into $VENV)"
        python3 -m venv "$VENV" &&
            "$VENV/bin/pip" install -q --disable-pip-version-check "PyJWT[crypto]==2.10.1" "PyYAML==6.0.2" ||
            return 1
    fi
}

[ -x "$BIN" ] || give_up "no $BIN: run cargo build first"
install_tools || give_up "could not install the gateway tools"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    cp "$WORK"/*.log "$ARTIFACTS/" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ALICE_PASSWORD="correct horse battery staple"
ADMIN_PASSWORD="admin-$(date +%s)-pw"
SPA_PORT=$(free_port)
FORGED_PORT=$(free_port)
SPA="http://127.0.0.1:$SPA_PORT"

# start_server NAME [VAR=VALUE...]: a tokenledger on a free port; sets BASE.
start_server() {
    local name=$1
    shift
    env TOKENLEDGER_DATABASE_URL="sqlite://$WORK/$name.db" TOKENLEDGER_BIND=127.0.0.1:0 \
        TOKENLEDGER_BOOTSTRAP_ADMIN="admin:$ADMIN_PASSWORD" TOKENLEDGER_LOG=warn,tokenledger=info \
        TOKENLEDGER_LOGIN_THROTTLE=off TOKENLEDGER_LOGIN_THROTTLE_IP=off \
        TOKENLEDGER_ACCESS_TOKEN_LIFETIME=30m "$@" "$BIN" serve >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    BASE=
    for _ in $(seq 1 300); do
        BASE=$(grep -o 'listening on http://[0-9.:]*' "$WORK/$name.log" | head -n1 | sed 's/listening on //')
        [ -n "$BASE" ] && break
        sleep 0.1
    done
    [ -n "$BASE" ] || give_up "tokenledger ($name) did not start: $(cat "$WORK/$name.log")"
    printf '%s\n' "$ALICE_PASSWORD" | env TOKENLEDGER_DATABASE_URL="sqlite://$WORK/$name.db" \
        TOKENLEDGER_LOG=warn "$BIN" user create alice --password-stdin >"$WORK/$name.alice"
}

start_server main TOKENLEDGER_REFRESH_COOKIE=tl_refresh TOKENLEDGER_COOKIE_SECURE=false \
    TOKENLEDGER_CORS_ORIGINS="$SPA"
TL=$BASE
ALICE_ID=$(cat "$WORK/main.alice")
say "tokenledger at $TL (alice is user $ALICE_ID)"

# --- nginx from the example: only the ports changed, plus the echo upstream ---------------
GW_PORT=$(free_port)
UP_PORT=$(free_port)
mkdir -p "$WORK/nginx"
python3 - "$EXAMPLES/nginx.conf" "$WORK/nginx/nginx.conf" "${TL#http://}" "$UP_PORT" "$GW_PORT" <<'PY'
import sys
source, target, tokenledger, upstream, gateway = sys.argv[1:]
conf = open(source).read()
for old, new in [("127.0.0.1:8000", tokenledger), ("127.0.0.1:9000", f"127.0.0.1:{upstream}"),
                 ("listen 127.0.0.1:8080", f"listen 127.0.0.1:{gateway}")]:
    assert old in conf, old
    conf = conf.replace(old, new)
conf = conf.replace("worker_processes auto;", "worker_processes 2;")
# The measurement's control: the same upstream without the auth subrequest.
conf = conf.replace("        # Everything else is the protected API.", """        location /public/ {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://api;
        }

        # Everything else is the protected API.""")
# The small upstream: echoes the identity headers it received.
conf = conf.rstrip().removesuffix("}") + f"""
    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            default_type application/json;
            return 200 '{{"user_id":"$http_x_auth_user_id","username":"$http_x_auth_username","is_staff":"$http_x_auth_is_staff","uri":"$request_uri"}}';
        }}
    }}
}}
"""
open(target, "w").write(conf)
PY
nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx-error.log" \
    -g "daemon off; pid $WORK/nginx/nginx.pid;" &
PIDS+=($!)
GW="http://127.0.0.1:$GW_PORT"
for _ in $(seq 50); do curl -s -o /dev/null "$GW/public/" && break; sleep 0.1; done
say "nginx at $GW, upstream at 127.0.0.1:$UP_PORT"

passed=0
failed=0
results=()
check() {
    local name=$1
    shift
    # ONLY=word runs just the checks whose name has it (while working on one).
    if [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]]; then return 0; fi
    local begin
    begin=$(date +%s)
    say "$name"
    if "$@"; then
        passed=$((passed + 1))
        results+=("ok      $name ($(($(date +%s) - begin))s)")
    else
        failed=$((failed + 1))
        results+=("FAILED  $name ($(($(date +%s) - begin))s)")
    fi
}
expect() { # expect WHAT EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then echo "   ok: $1"; else echo "   FAILED: $1: expected $2, got $3"; return 1; fi
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }
login() { # login VIA -> "refresh access"
    curl -s -X POST "$1/api/token/" -H 'Content-Type: application/json' \
        -d "{\"username\":\"alice\",\"password\":\"$ALICE_PASSWORD\"}" |
        python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["refresh"], b["access"])'
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

nginx_gateway() {
    local ok=0 refresh access body
    read -r refresh access < <(login "$GW")
    expect "no token: 401 at the gateway" 401 "$(status "$GW/orders/42")" || ok=1
    expect "a bad token: 401" 401 "$(status -H 'Authorization: Bearer nope' "$GW/orders/42")" || ok=1
    expect "a forged X-Auth-User-Id without a token: 401" 401 \
        "$(status -H 'X-Auth-User-Id: 1' "$GW/orders/42")" || ok=1
    body=$(curl -s -H "Authorization: Bearer $access" -H 'X-Auth-User-Id: 1' "$GW/orders/42?x=1")
    echo "   upstream saw: $body"
    expect "a valid token reaches the upstream with X-Auth-User-Id" "$ALICE_ID" \
        "$(json_field user_id <<<"$body")" || ok=1
    expect "X-Auth-Username" alice "$(json_field username <<<"$body")" || ok=1
    expect "the original URI" "/orders/42?x=1" "$(json_field uri <<<"$body")" || ok=1
    expect "WWW-Authenticate comes through on 401" 'Bearer realm="api"' \
        "$(curl -s -o /dev/null -D - "$GW/x" | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')" || ok=1

    # Logout (through the gateway): the same access token is refused at once.
    expect "logout" 200 "$(status -X POST "$GW/api/token/blacklist/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$refresh\"}")" || ok=1
    expect "after logout: 401 at the gateway at once" 401 "$(status -H "Authorization: Bearer $access" "$GW/orders/42")" || ok=1

    # Logout-all (tokenledger's own endpoint).
    read -r refresh access < <(login "$GW")
    expect "before logout-all: 200" 200 "$(status -H "Authorization: Bearer $access" "$GW/orders/42")" || ok=1
    expect "logout-all" 200 "$(status -X POST -H "Authorization: Bearer $access" "$TL/api/logout/all/")" || ok=1
    expect "after logout-all: 401 at once" 401 "$(status -H "Authorization: Bearer $access" "$GW/orders/42")" || ok=1

    # Reuse detection: a rotated refresh token presented again revokes the session.
    read -r refresh access < <(login "$GW")
    local next
    next=$(curl -s -X POST "$GW/api/token/refresh/" -H 'Content-Type: application/json' \
        -d "{\"refresh\":\"$refresh\"}" | json_field access)
    expect "the rotated session's access token: 200" 200 "$(status -H "Authorization: Bearer $next" "$GW/orders/42")" || ok=1
    expect "reuse of the rotated refresh token: 401" 401 "$(status -X POST "$GW/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$refresh\"}")" || ok=1
    expect "after reuse detection: 401 at once" 401 "$(status -H "Authorization: Bearer $next" "$GW/orders/42")" || ok=1
    expect "and the older access token too" 401 "$(status -H "Authorization: Bearer $access" "$GW/orders/42")" || ok=1
    return $ok
}

rps() { wrk -t2 -c32 -d"${SECONDS_PER_RUN:-4}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
gateway_figures() {
    local refresh access
    read -r refresh access < <(login "$TL")
    local public auth health check me
    public=$(rps "$GW/public/orders/42")
    auth=$(rps -H "Authorization: Bearer $access" "$GW/orders/42")
    health=$(rps "$TL/healthz")
    check=$(rps -H "Authorization: Bearer $access" "$TL/api/auth/check")
    me=$(rps -H "Authorization: Bearer $access" "$TL/api/me/")
    [ -n "$public" ] && [ -n "$auth" ] && [ -n "$health" ] && [ -n "$check" ] && [ -n "$me" ] || return 1
    python3 - "$public" "$auth" "$health" "$check" "$me" "$BIN" <<'PY' | tee "$ARTIFACTS/figures.txt"
import sys
public, auth, health, check, me = map(float, sys.argv[1:6])
print(f"gateway figures ({sys.argv[6]}, wrk -t2 -c32, one run, 2 shared cores: compare ratios)")
print(f"  nginx -> upstream, no auth subrequest   {public:>9.0f} req/s")
print(f"  nginx -> auth_request -> upstream       {auth:>9.0f} req/s  ({auth / public:.2f}x)")
print(f"  tokenledger /healthz                    {health:>9.0f} req/s")
print(f"  tokenledger /api/auth/check             {check:>9.0f} req/s  ({check / health:.2f}x of /healthz)")
print(f"  tokenledger /api/me/                    {me:>9.0f} req/s  ({me / health:.2f}x of /healthz)")
PY
}

spa_browser() {
    python3 -m http.server "$SPA_PORT" --bind 127.0.0.1 --directory examples/spa >"$WORK/spa-server.log" 2>&1 &
    PIDS+=($!)
    python3 -m http.server "$FORGED_PORT" --bind 127.0.0.1 --directory examples/spa/forged >"$WORK/forged-server.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do curl -s -o /dev/null "$SPA/index.html" && break; sleep 0.1; done
    BASE_URL=$TL SPA_URL=$SPA FORGED_URL="http://127.0.0.1:$FORGED_PORT" \
        TL_USERNAME=alice TL_PASSWORD=$ALICE_PASSWORD CHROMIUM=$CHROMIUM \
        SCREENSHOT_DIR="$ARTIFACTS/spa" timeout 120 node "$CLIENTS/spa.mjs"
}

pyjwt_discovery() {
    start_server es256 TOKENLEDGER_ALGORITHM=ES256 \
        TOKENLEDGER_SIGNING_KEY_FILE=tests/fixtures/keys/ec256-a.pem
    local refresh access
    read -r refresh access < <(login "$BASE")
    "$VENV/bin/python" - "$BASE" "$access" <<'PY'
import json, sys, urllib.request
import jwt
base, token = sys.argv[1:]
meta = json.load(urllib.request.urlopen(f"{base}/.well-known/oauth-authorization-server"))
print("   discovery:", json.dumps(meta))
client = jwt.PyJWKClient(meta["jwks_uri"])
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["ES256"])
assert claims["token_type"] == "access" and claims["user_id"], claims
print("   PyJWT verified the ES256 token through jwks_uri: user_id", claims["user_id"])
head, body, sig = token.split(".")
forged = jwt.utils.base64url_encode(json.dumps({**claims, "user_id": "1"}).encode()).decode()
try:
    jwt.decode(f"{head}.{forged}.{sig}", key.key, algorithms=["ES256"])
except jwt.InvalidSignatureError:
    print("   and refused the same token with a changed payload")
else:
    sys.exit("a forged token verified")
PY
}

postman_cookie_jar() {
    timeout 120 "$CLIENTS/node_modules/.bin/newman" run openapi/tokenledger.postman_collection.json \
        --folder "6. Gateways and browser apps" \
        --env-var "baseUrl=$TL" --env-var "username=alice" --env-var "password=$ALICE_PASSWORD" \
        --reporters cli,junit --reporter-junit-export "$ARTIFACTS/newman.xml" \
        --color off --disable-unicode >"$WORK/newman.log" 2>&1
    local rc=$?
    tail -n 25 "$WORK/newman.log"
    # Every cookie step ran (none skipped): the server has the cookie on.
    if grep -q "skipped" "$WORK/newman.log"; then echo "   FAILED: cookie steps were skipped"; return 1; fi
    return $rc
}

caddy_example() {
    caddy validate --config "$EXAMPLES/Caddyfile" --adapter caddyfile 2>&1 | tail -n 1 | grep -q "Valid configuration"
}

nginx_example() {
    # The example exactly as shipped parses (nginx -t binds nothing).
    nginx -t -p "$WORK/nginx/" -c "$PWD/$EXAMPLES/nginx.conf" -e "$WORK/nginx-t.log" -g "pid $WORK/nginx/t.pid;" 2>&1 | tail -n 1
    nginx -t -q -p "$WORK/nginx/" -c "$PWD/$EXAMPLES/nginx.conf" -e "$WORK/nginx-t.log" -g "pid $WORK/nginx/t.pid;"
}

yaml_examples() {
    "$VENV/bin/python" - "$EXAMPLES/traefik.yml" "$EXAMPLES/envoy.yaml" <<'PY'
import sys, yaml
traefik = yaml.safe_load(open(sys.argv[1]))
auth = traefik["http"]["middlewares"]["tokenledger-auth"]["forwardAuth"]
assert auth["address"].endswith("/api/auth/check"), auth
assert "X-Auth-User-Id" in auth["authResponseHeaders"], auth
assert "tokenledger-auth" in traefik["http"]["routers"]["api"]["middlewares"]
envoy = yaml.safe_load(open(sys.argv[2]))
hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
authz = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.ext_authz")
service = authz["typed_config"]["http_service"]
assert service["path_prefix"] == "/api/auth/check", service
assert authz["typed_config"]["failure_mode_allow"] is False
clusters = {c["name"] for c in envoy["static_resources"]["clusters"]}
assert service["server_uri"]["cluster"] in clusters, clusters
print("   traefik.yml and envoy.yaml parse, and point at /api/auth/check")
PY
}

check "nginx auth_request: upstream, 401s, revoked at once" nginx_gateway
check "gateway req/s with and without the auth subrequest" gateway_figures
check "browser app with the refresh cookie (chromium)" spa_browser
check "Postman: the cookie flow through newman's cookie jar" postman_cookie_jar
check "PyJWT PyJWKClient through the discovery jwks_uri (ES256)" pyjwt_discovery
check "nginx example parses (nginx -t)" nginx_example
check "Caddy example (caddy validate)" caddy_example
check "Traefik and Envoy examples parse (YAML)" yaml_examples

cleanup
trap - EXIT
echo
say "done in $(($(date +%s) - started))s; artifacts in $ARTIFACTS"
printf '  %s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
