#!/usr/bin/env python3
"""Figures of the revocation feed and the webhooks (README "Following revocations"):

- webhook delivery latency, p50/p99, from the logout's HTTP answer (its transaction has
  committed) to the receiver's receipt, and delivery throughput, under a burst of logouts;
- the same latency for the SSE stream;
- memory per open idle stream: the server's RSS with 0 and then N open streams.

    cargo build --release && python3 benches/feed.py [--bin target/release/tokenledger]

Standard library only. Everything on 127.0.0.1; a fresh SQLite file (or
TOKENLEDGER_DATABASE_URL=postgres://...) per run.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_dGhpcnR5LXR3byBieXRlcyBvZiB3ZWJob29rIGtleSE="
FEED_KEY = "bench-feed-key-0123456789abcdef0123456789"
ADMIN = ("admin", "admin-password")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = {}  # seq -> monotonic receipt time
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        with self.lock:
            Receiver.received.setdefault(body["data"]["jti"], time.monotonic())
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def call(base, path, body=None, bearer=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", "Bearer " + bearer)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def jti(token):
    import base64
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/tokenledger")
    parser.add_argument("--logouts", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="tokenledger-feed-bench-")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    env = dict(
        os.environ,
        TOKENLEDGER_DATABASE_URL=os.environ.get(
            "TOKENLEDGER_DATABASE_URL", "sqlite://" + os.path.join(work, "tokenledger.db")),
        TOKENLEDGER_BIND="127.0.0.1:%d" % port,
        TOKENLEDGER_SIGNING_KEY="feed-bench-signing-key-0123456789abcdef0123456789",
        TOKENLEDGER_BOOTSTRAP_ADMIN="%s:%s" % ADMIN,
        TOKENLEDGER_FEED_KEYS=FEED_KEY,
        TOKENLEDGER_WEBHOOK_URLS="http://127.0.0.1:%d/hook" % receiver.server_address[1],
        TOKENLEDGER_WEBHOOK_SECRET=SECRET,
        TOKENLEDGER_WEBHOOK_EVENTS="blacklisted",
        TOKENLEDGER_LOG="warn",
        TOKENLEDGER_LOGIN_THROTTLE="off",
        TOKENLEDGER_LOGIN_THROTTLE_IP="off",
    )
    server = subprocess.Popen([args.bin, "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        users = ["bench%d" % i for i in range(args.concurrency)]
        for user in users:
            subprocess.run([args.bin, "user", "create", user, "--password-stdin"],
                           input=b"bench-password\n", env=env, check=True, stdout=subprocess.DEVNULL)

        # Logins first (argon2 is the slow part and not what is measured), then the burst.
        def login(user):
            return call(base, "/api/token/", {"username": user, "password": "bench-password"})
        with ThreadPoolExecutor(args.concurrency) as pool:
            pairs = list(pool.map(login, [users[i % len(users)] for i in range(args.logouts)]))

        # An SSE client, to time the stream too.
        stream_seen = {}
        stream_ready = threading.Event()

        with urllib.request.urlopen(base + "/readyz", timeout=10) as ready:
            head = json.loads(ready.read())["ledger_seq"]

        def follow():
            request = urllib.request.Request(base + "/api/revocations/stream?after=%d" % head)
            request.add_header("Authorization", "Bearer " + FEED_KEY)
            with urllib.request.urlopen(request, timeout=120) as response:
                stream_ready.set()
                for raw in response:
                    line = raw.decode()
                    if line.startswith("data: "):
                        stream_seen.setdefault(json.loads(line[6:])["jti"], time.monotonic())
        # After the head: only what happens from now on.
        threading.Thread(target=follow, daemon=True).start()
        stream_ready.wait(10)

        answered = {}

        def logout(pair):
            call(base, "/api/token/blacklist/", {"refresh": pair["refresh"]})
            now = time.monotonic()
            answered[jti(pair["refresh"])] = now
            answered[jti(pair["access"])] = now

        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(logout, pairs))
        burst = time.monotonic() - started
        deadline = time.monotonic() + 120
        while len(Receiver.received) < len(answered) and time.monotonic() < deadline:
            time.sleep(0.01)
        delivered_all = max(Receiver.received.values()) - started
        hook = [Receiver.received[j] - answered[j] for j in answered if j in Receiver.received]
        sse = [stream_seen[j] - answered[j] for j in answered if j in stream_seen]
        print("logout burst: %d logouts (%d revocations) by %d clients in %.2fs (%.0f logouts/s)"
              % (args.logouts, len(answered), args.concurrency, burst, args.logouts / burst))
        print("webhooks: %d of %d delivered, all within %.2fs of the burst's start: %.0f events/s"
              % (len(hook), len(answered), delivered_all, len(hook) / delivered_all))
        print("webhook latency (logout answered -> receipt): p50 %.1f ms, p99 %.1f ms"
              % (1000 * percentile(hook, 50), 1000 * percentile(hook, 99)))
        if sse:
            print("SSE latency (logout answered -> event read): p50 %.1f ms, p99 %.1f ms (%d events)"
                  % (1000 * percentile(sse, 50), 1000 * percentile(sse, 99), len(sse)))

        # Unloaded: one logout at a time, 50 ms apart (commit to receipt without a queue).
        with ThreadPoolExecutor(args.concurrency) as pool:
            single = list(pool.map(login, [users[i % len(users)] for i in range(100)]))
        answered.clear()
        Receiver.received.clear()
        stream_seen.clear()
        for pair in single:
            logout(pair)
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while len(Receiver.received) < len(answered) and time.monotonic() < deadline:
            time.sleep(0.01)
        hook = [Receiver.received[j] - answered[j] for j in answered if j in Receiver.received]
        sse = [stream_seen[j] - answered[j] for j in answered if j in stream_seen]
        print("one logout at a time (%d revocations): webhook p50 %.1f ms, p99 %.1f ms; "
              "SSE p50 %.1f ms, p99 %.1f ms"
              % (len(hook), 1000 * percentile(hook, 50), 1000 * percentile(hook, 99),
                 1000 * percentile(sse, 50), 1000 * percentile(sse, 99)))

        # Memory per idle stream.
        time.sleep(1)
        before = rss_kib(server.pid)
        sockets = []
        for _ in range(args.streams):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(("GET /api/revocations/stream HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % FEED_KEY).encode())
            sockets.append(s)
        for s in sockets:
            s.settimeout(10)
            head = s.recv(4096)
            assert b" 200 " in head.split(b"\r\n", 1)[0], head[:200]
        time.sleep(2)
        after = rss_kib(server.pid)
        print("idle streams: RSS %d KiB with none, %d KiB with %d open: %.1f KiB per stream"
              % (before, after, args.streams, (after - before) / args.streams))
        for s in sockets:
            s.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        receiver.shutdown()


if __name__ == "__main__":
    main()
