"""SQLite's own cost of a flush, without tokenledger: how fast can the engine append one
`expired` event and drop one view row per token on this schema, by order, batch size, page
cache and synchronous mode? (docs/performance.md, "Maintenance at a million tokens".)

    benches/sqlite/seed.sh 200000 /tmp/base.db
    python3 benches/sqlite/flush_orders.py /tmp/base.db ORDER CACHE_KIB BATCH [PRAGMA ...]

ORDER is expires (the flush's order: the `expires_at` index), jti or rowid; CACHE_KIB 0 keeps
the default 2 MB cache; LIM=N stops after N tokens; MEMORY=1 runs on an in-memory copy. Works on a copy next to the file.
"""
import sqlite3, sys, time, shutil, os
src, order, cache, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = src + '.flush-copy.db'
for ext in ('', '-wal', '-shm'):
    if os.path.exists(db+ext): os.remove(db+ext)
shutil.copy(src, db)
if os.environ.get('MEMORY'):
    # No disk at all: the engine's CPU cost alone.
    c = sqlite3.connect(':memory:', isolation_level=None)
    sqlite3.connect(db).backup(c)
else:
    c = sqlite3.connect(db, isolation_level=None)
    c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=FULL')
if cache: c.execute(f'PRAGMA cache_size=-{cache}')
extra = sys.argv[5:]
for s in extra: c.execute(s)
now = '2099-01-01'
orders = {'expires': 'ORDER BY expires_at', 'jti': 'ORDER BY jti', 'rowid': 'ORDER BY rowid'}
t = time.time(); total = 0
LIMIT = int(os.environ.get("LIM", "10000000"))
while total < LIMIT:
    c.execute('BEGIN IMMEDIATE')
    rows = c.execute(f"SELECT rowid, jti, token_type, user_id, sid, expires_at, last_seq FROM token_view WHERE expires_at <= ? {orders[order]} LIMIT ?", (now, batch)).fetchall()
    if not rows:
        c.execute('COMMIT'); break
    head = c.execute('SELECT max(seq) FROM token_ledger').fetchone()[0]
    ev = [(head+i+1, '2026-12-02 04:00:00.000000', 'expired', r[1], r[2], r[3], r[4], None, None, None, r[5], 'h'*64) for i, r in enumerate(rows)]
    c.executemany('INSERT INTO token_ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?)', ev)
    if order == 'rowid':
        c.executemany('DELETE FROM token_view WHERE rowid = ?', [(r[0],) for r in rows])
    else:
        c.executemany('DELETE FROM token_view WHERE jti = ?', [(r[1],) for r in rows])
    c.execute('COMMIT')
    total += len(rows)
el = time.time() - t
wal = os.path.getsize(db + '-wal') if os.path.exists(db + '-wal') else 0
print(f'{order} cache={cache}KiB batch={batch} {extra}: {total} in {el:.1f}s = {total/el:.0f}/s; wal {wal/1e6:.0f} MB')
for ext in ('', '-wal', '-shm'):
    if os.path.exists(db + ext):
        os.remove(db + ext)
