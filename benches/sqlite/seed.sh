#!/bin/bash
# Seeds a bare SQLite file with the schema and N ended tokens (one `issued` event and one
# outstanding view row each) in seconds, for the engine-level experiments in flush_orders.py and
# for timing `view check` / `view rebuild` at a million without the bench's slow seeding. The
# hashes are random (not a chain): `ledger verify` fails on it by design.
# jtis and sids are in issue order as tokenledger's own (UUIDv7) are; ORDER=random makes them
# random, as tokens imported from SimpleJWT (uuid4) are.
# Usage: [ORDER=random] benches/sqlite/seed.sh N OUT.db
set -e
if [ "${ORDER:-time}" = random ]; then ID="lower(hex(randomblob(16)))"
else ID="printf('%016x', i) || lower(hex(randomblob(8)))"; fi
N=$1; OUT=$2; rm -f $OUT $OUT-wal $OUT-shm
for f in "$(dirname "$0")"/../../migrations/sqlite/*/up.sql; do cat $f; echo; done > "$OUT.schema.sql"
sqlite3 $OUT <<SQL
PRAGMA journal_mode=WAL;
.read "$OUT.schema.sql"
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $N)
INSERT INTO token_ledger(seq, at, event, jti, token_type, user_id, sid, parent_jti, reason, actor, expires_at, hash)
SELECT i, strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 hours', '+' || ((i % 3600000)/1000.0) || ' seconds'), 'issued',
 $ID, CASE i%2 WHEN 0 THEN 'access' ELSE 'refresh' END, 1, $ID, NULL, NULL, NULL,
 strftime('%Y-%m-%d %H:%M:%f', 'now', '-115 minutes', '+' || ((i % 3600000)/1000.0) || ' seconds'), lower(hex(randomblob(32))) FROM n;
INSERT INTO token_view SELECT jti, token_type, user_id, sid, parent_jti, at, expires_at, 'outstanding', NULL, NULL, NULL, seq FROM token_ledger ORDER BY seq;
COMMIT;
-- diesel's record of the applied migrations, so the CLI opens the file as its own.
CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL,
                                         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
SQL
for dir in "$(dirname "$0")"/../../migrations/sqlite/*/; do
  version=$(basename "$dir" | sed 's/_.*//; s/-//g')
  sqlite3 $OUT "INSERT INTO __diesel_schema_migrations (version) VALUES ('$version')"
done
rm -f "$OUT.schema.sql"
ls -la $OUT
