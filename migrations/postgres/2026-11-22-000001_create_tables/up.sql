-- PostgreSQL starts at the schema SQLite reached in five steps (migrations/sqlite); the two
-- must stay equal in meaning: src/db/schema.rs is written once for both.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT      NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT      NOT NULL,
    is_active     BOOLEAN   NOT NULL DEFAULT TRUE,
    is_staff      BOOLEAN   NOT NULL DEFAULT FALSE,
    date_joined   TIMESTAMP NOT NULL,
    last_login    TIMESTAMP
);
CREATE INDEX users_email ON users (email);

-- The ledger: append-only, one row per change of a token's state. `seq` is assigned by the
-- writer while it holds the write lock (an advisory lock every instance shares), so seq order
-- is commit order: no sequence, whose values commit out of order.
CREATE TABLE token_ledger (
    seq        BIGINT    PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    event      TEXT      NOT NULL,
    jti        TEXT      NOT NULL,
    token_type TEXT      NOT NULL,
    user_id    BIGINT    NOT NULL,
    sid        TEXT      NOT NULL,
    parent_jti TEXT,
    reason     TEXT,
    actor      TEXT,
    expires_at TIMESTAMP NOT NULL,
    hash       TEXT      NOT NULL DEFAULT ''
);
CREATE INDEX token_ledger_jti ON token_ledger (jti, seq);
CREATE INDEX token_ledger_user ON token_ledger (user_id, seq);
CREATE INDEX token_ledger_sid ON token_ledger (sid, seq);
CREATE INDEX token_ledger_event ON token_ledger (event, seq);
CREATE INDEX token_ledger_reason ON token_ledger (reason, seq) WHERE reason IS NOT NULL;
CREATE INDEX token_ledger_at ON token_ledger (at);

-- The view folded from the ledger: one row per token that has not been flushed.
CREATE TABLE token_view (
    jti            TEXT      NOT NULL PRIMARY KEY,
    token_type     TEXT      NOT NULL,
    user_id        BIGINT    NOT NULL,
    sid            TEXT      NOT NULL,
    parent_jti     TEXT,
    issued_at      TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    state          TEXT      NOT NULL,
    rotated_at     TIMESTAMP,
    blacklisted_at TIMESTAMP,
    reason         TEXT,
    last_seq       BIGINT    NOT NULL
);
CREATE INDEX token_view_user ON token_view (user_id, state);
CREATE INDEX token_view_sid ON token_view (sid);
CREATE INDEX token_view_expires ON token_view (expires_at);
CREATE INDEX token_view_revoked ON token_view (state, token_type);
CREATE INDEX token_view_parent ON token_view (parent_jti);
CREATE INDEX token_view_state_jti ON token_view (state, jti);
CREATE INDEX token_view_user_jti ON token_view (user_id, jti);

-- Instance-wide secrets that every instance on this database shares (the generated signing key).
CREATE TABLE service_secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- Public halves of the asymmetric keys this service has signed with.
CREATE TABLE signing_keys (
    kid           TEXT      NOT NULL PRIMARY KEY,
    algorithm     TEXT      NOT NULL,
    public_jwk    TEXT      NOT NULL,
    first_used_at TIMESTAMP NOT NULL,
    retired_at    TIMESTAMP
);

-- Each retention compaction: the events up to `up_to_seq` were exported, then removed.
CREATE TABLE ledger_compactions (
    id            BIGSERIAL PRIMARY KEY,
    at            TIMESTAMP NOT NULL,
    up_to_seq     BIGINT    NOT NULL,
    up_to_hash    TEXT      NOT NULL,
    removed       BIGINT    NOT NULL,
    export_sha256 TEXT      NOT NULL
);
