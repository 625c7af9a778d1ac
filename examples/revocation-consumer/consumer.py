#!/usr/bin/env python3
"""Follow tokenledger's revocation stream and keep a local deny list.

A service that verifies access tokens locally (signature and `exp` through the JWKS, no round
trip per request) calls `deny.is_revoked(jti)` as well, and so refuses a revoked token within
about a second of its revocation, on whichever tokenledger instance it happened.

Standard library only (Python 3.8+). Usage:

    TOKENLEDGER_URL=http://127.0.0.1:8000 TOKENLEDGER_FEED_KEY=... python3 consumer.py

The stream is resumed with `Last-Event-ID` after any disconnect, so no revocation is missed
and none is seen twice. An entry is forgotten once its token would have expired anyway.
With `--state FILE` the deny list and the last seq survive a restart of the consumer too.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone


def parse_time(text):
    # Python < 3.11 does not read a trailing "Z".
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DenyList:
    """jti -> expiry of every revoked token that has not expired yet. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}
        self.last_seq = 0

    def add(self, revocation):
        with self._lock:
            self._entries[revocation["jti"]] = parse_time(revocation["expires_at"])
            self.last_seq = max(self.last_seq, int(revocation["seq"]))

    def is_revoked(self, jti):
        with self._lock:
            expires = self._entries.get(jti)
            return expires is not None and expires > datetime.now(timezone.utc)

    def prune(self):
        now = datetime.now(timezone.utc)
        with self._lock:
            for jti in [j for j, exp in self._entries.items() if exp <= now]:
                del self._entries[jti]

    def snapshot(self):
        with self._lock:
            return {
                "last_seq": self.last_seq,
                "deny": {jti: exp.isoformat() for jti, exp in self._entries.items()},
            }

    def load(self, state):
        with self._lock:
            self.last_seq = int(state.get("last_seq", 0))
            self._entries = {j: parse_time(e) for j, e in state.get("deny", {}).items()}


def events(response):
    """Yields (id, event, data) for each event of an SSE response; comments are skipped."""
    event_id, kind, data = None, None, []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data or kind:
                yield event_id, kind or "message", "\n".join(data)
            event_id, kind, data = None, None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "id":
                event_id = value
            elif field == "event":
                kind = value
            elif field == "data":
                data.append(value)


def follow(base_url, feed_key, deny, on_revoked=None, stop=None, state_file=None):
    """Follows the stream until `stop` is set, reconnecting (with Last-Event-ID) as needed."""
    stop = stop or threading.Event()
    delay = 0.5
    while not stop.is_set():
        request = urllib.request.Request(
            base_url.rstrip("/") + "/api/revocations/stream",
            headers={"Authorization": "Bearer " + feed_key, "Accept": "text/event-stream"},
        )
        if deny.last_seq:
            request.add_header("Last-Event-ID", str(deny.last_seq))
        try:
            # The server sends a comment at least every 15 s: a silent minute is a dead link.
            with urllib.request.urlopen(request, timeout=60) as response:
                delay = 0.5
                for event_id, kind, data in events(response):
                    if kind != "revoked":
                        continue
                    revocation = json.loads(data)
                    deny.add(revocation)
                    if on_revoked:
                        on_revoked(revocation)
                    if state_file:
                        save(state_file, deny)
                    if stop.is_set():
                        return
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise SystemExit("the feed refused the key: %d %s" % (err.code, err.read()))
            print("stream: HTTP %d; retrying in %.1fs" % (err.code, delay), file=sys.stderr)
        except (OSError, ValueError) as err:
            print("stream: %s; retrying in %.1fs" % (err, delay), file=sys.stderr)
        deny.prune()
        stop.wait(delay)
        delay = min(delay * 2, 10)


def save(path, deny):
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump(deny.snapshot(), out)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TOKENLEDGER_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("TOKENLEDGER_FEED_KEY"))
    parser.add_argument("--state", help="JSON file keeping the deny list and last seq")
    parser.add_argument("--log", help="append each revocation received as a JSON line here")
    args = parser.parse_args()
    if not args.key:
        parser.error("set TOKENLEDGER_FEED_KEY or --key")
    deny = DenyList()
    if args.state and os.path.exists(args.state):
        with open(args.state) as state:
            deny.load(json.load(state))
    log = open(args.log, "a", buffering=1) if args.log else None

    def on_revoked(revocation):
        line = json.dumps(revocation)
        if log:
            log.write(line + "\n")
        else:
            print(line, flush=True)

    try:
        follow(args.url, args.key, deny, on_revoked, state_file=args.state)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
