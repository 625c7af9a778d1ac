-- Tamper evidence: each event's hash covers its fields and the previous event's hash.
-- Rows written before this migration get theirs when the service next opens the ledger.
ALTER TABLE token_ledger ADD COLUMN hash TEXT NOT NULL DEFAULT '';

-- Each retention compaction: the events up to `up_to_seq` were exported, then removed; the
-- chain of what remains starts from `up_to_hash`.
CREATE TABLE ledger_compactions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TIMESTAMP NOT NULL,
    up_to_seq     BIGINT    NOT NULL,
    up_to_hash    TEXT      NOT NULL,
    removed       BIGINT    NOT NULL,
    export_sha256 TEXT      NOT NULL
);
