#!/usr/bin/env python3
"""The revocation feed and the webhooks against a live tokenledger, from outside (.ci/feed.sh).

Starts the server (target/debug/tokenledger) on a free 127.0.0.1 port with a fresh SQLite
file, a webhook receiver on 127.0.0.1 that verifies every delivery with the PyPI
`standardwebhooks` package (and answers 500 to the first three), and the example consumer
(examples/revocation-consumer). Then logs out, kill -9s the server mid-way, restarts it, and
checks what each client saw. Ends with "N passed, N failed".
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("TOKENLEDGER_BIN", os.path.join(ROOT, "target/debug/tokenledger"))
SECRET = "whsec_dGhpcnR5LXR3byBieXRlcyBvZiB3ZWJob29rIGtleSE="
FEED_KEY = "ci-feed-key-0123456789abcdef0123456789"
ADMIN = ("admin", "admin-password")
ALICE = ("alice", "correct horse battery staple")
FAIL_FIRST = 3

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(BaseHTTPRequestHandler):
    verifier = Webhook(SECRET)
    lock = threading.Lock()
    deliveries = []  # (webhook-id, seq, status)
    forged = []
    failing = FAIL_FIRST

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = self.verifier.verify(body, headers)
        except Exception as err:  # any verification failure
            with self.lock:
                Receiver.forged.append(repr(err))
            self.send_response(400)
            self.end_headers()
            return
        with self.lock:
            status = 500 if Receiver.failing > 0 else 204
            Receiver.failing = max(0, Receiver.failing - 1)
            Receiver.deliveries.append((headers["webhook-id"], payload["data"]["seq"], status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, env, port):
        self.env, self.port = env, port
        self.log = open(os.path.join(env["WORK"], "server.log"), "a")
        self.process = subprocess.Popen(
            [BIN, "serve"], env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url("/healthz"), timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start; see server.log")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def call(server, method, path, body=None, bearer=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url(path), data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", "Bearer " + bearer)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def login(server, who):
    status, body = call(server, "POST", "/api/token/", {"username": who[0], "password": who[1]})
    assert status == 200, (status, body)
    return body


def logouts(server, times):
    for _ in range(times):
        pair = login(server, ALICE)
        status, _ = call(server, "POST", "/api/token/blacklist/", {"refresh": pair["refresh"]})
        assert status == 200


def revocation_seqs(server):
    status, body = call(server, "GET", "/api/revocations/?limit=1000", bearer=FEED_KEY)
    assert status == 200, body
    return [item["seq"] for item in body["revocations"]]


def selected_seqs(server):
    admin = login(server, ADMIN)["access"]
    seqs = []
    for kind in ("blacklisted", "reuse_detected"):
        _, page = call(server, "GET", "/api/admin/ledger/?event=%s&limit=1000" % kind, bearer=admin)
        seqs += [event["seq"] for event in page["events"]]
    return sorted(seqs)


def consumer_seqs(path):
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [json.loads(line)["seq"] for line in log if line.strip()]


def wait_until(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def main():
    work = tempfile.mkdtemp(prefix="tokenledger-feed-")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    env = dict(
        os.environ,
        WORK=work,
        TOKENLEDGER_DATABASE_URL="sqlite://" + os.path.join(work, "tokenledger.db"),
        TOKENLEDGER_BIND="127.0.0.1:%d" % port,
        TOKENLEDGER_SIGNING_KEY="feed-check-signing-key-0123456789abcdef0123456789",
        TOKENLEDGER_BOOTSTRAP_ADMIN="%s:%s" % ADMIN,
        TOKENLEDGER_FEED_KEYS=FEED_KEY,
        TOKENLEDGER_WEBHOOK_URLS="http://127.0.0.1:%d/hook" % receiver.server_address[1],
        TOKENLEDGER_WEBHOOK_SECRET=SECRET,
        TOKENLEDGER_WEBHOOK_RETRY="200ms",
        TOKENLEDGER_WEBHOOK_LEASE="1s",
        TOKENLEDGER_LOG="info",
    )
    server = Server(env, port)
    subprocess.run(
        [BIN, "user", "create", ALICE[0], "--password-stdin"],
        input=(ALICE[1] + "\n").encode(), env=env, check=True, stdout=subprocess.DEVNULL,
    )
    consumer_log = os.path.join(work, "consumer.jsonl")
    consumer = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "examples/revocation-consumer/consumer.py"),
         "--url", server.url(""), "--key", FEED_KEY, "--log", consumer_log],
        stderr=open(os.path.join(work, "consumer.err"), "w"),
    )
    try:
        logouts(server, 4)
        # A reuse: a rotated refresh token presented again revokes its session.
        pair = login(server, ALICE)
        call(server, "POST", "/api/token/refresh/", {"refresh": pair["refresh"]})
        call(server, "POST", "/api/token/refresh/", {"refresh": pair["refresh"]})
        listed = revocation_seqs(server)
        wait_until(lambda: consumer_seqs(consumer_log) == listed, 10)
        check("consumer: every revocation, once, in order", consumer_seqs(consumer_log) == listed,
              "%s vs %s" % (consumer_seqs(consumer_log), listed))

        server.kill9()
        server = Server(env, port)
        logouts(server, 3)
        listed = revocation_seqs(server)
        wait_until(lambda: consumer_seqs(consumer_log) == listed, 15)
        check("consumer: after kill -9 and restart, resumed without gap or repeat",
              consumer_seqs(consumer_log) == listed, "%s vs %s" % (consumer_seqs(consumer_log), listed))

        expected = selected_seqs(server)
        delivered = lambda: [seq for _, seq, status in Receiver.deliveries if status < 300]
        wait_until(lambda: set(expected) <= set(delivered()), 20)
        seen, firsts = set(), []
        for seq in delivered():
            if seq not in seen:
                seen.add(seq)
                firsts.append(seq)
        check("webhooks: every event after the 500s, in seq order, none lost across kill -9",
              firsts == expected, "%s vs %s" % (firsts, expected))
        failed = [(i, seq) for i, seq, status in Receiver.deliveries if status >= 500]
        ids = {seq: i for i, seq, status in Receiver.deliveries if status < 300}
        check("webhooks: retries repeat the webhook-id",
              len(failed) == FAIL_FIRST and all(ids.get(seq) == i for i, seq in failed), str(failed))
        check("webhooks: every delivery verifies with the PyPI standardwebhooks package",
              not Receiver.forged and len(Receiver.deliveries) > 0, str(Receiver.forged[:3]))
    finally:
        consumer.terminate()
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill9()
        receiver.shutdown()
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, SystemExit) as err:
        if isinstance(err, SystemExit) and isinstance(err.code, int):
            raise
        print("feed check aborted: %r" % (err,))
        print("%d passed, %d failed" % (sum(results), 5 - sum(results)))
        sys.exit(1)
