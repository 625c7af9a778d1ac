#!/usr/bin/env bash
# The revocation feed and the webhooks from outside: a receiver verifying every delivery with
# the PyPI `standardwebhooks` package, and the example consumer (examples/revocation-consumer)
# following the stream, against target/debug/tokenledger on a free port, through a kill -9 and
# a restart (tests/clients/feed_check.py). Ends with "N passed, N failed" (exit 1 if any failed).
#
#   cargo build && bash .ci/feed.sh
set -uo pipefail
cd "$(dirname "$0")/.."

STANDARDWEBHOOKS_VERSION=1.1.0
BIN=${TOKENLEDGER_BIN:-target/debug/tokenledger}
VENV=target/feed-venv
CHECKS=5

if [ ! -x "$BIN" ]; then
    echo "no $BIN: run cargo build first" >&2
    echo "0 passed, $CHECKS failed"
    exit 1
fi
if ! "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    echo "== feed: pip install standardwebhooks==$STANDARDWEBHOOKS_VERSION (into $VENV)"
    if ! { python3 -m venv "$VENV" &&
        "$VENV/bin/pip" install -q --disable-pip-version-check "standardwebhooks==$STANDARDWEBHOOKS_VERSION"; }; then
        echo "could not install standardwebhooks" >&2
        echo "0 passed, $CHECKS failed"
        exit 1
    fi
fi
TOKENLEDGER_BIN="$BIN" timeout 180 "$VENV/bin/python" tests/clients/feed_check.py
