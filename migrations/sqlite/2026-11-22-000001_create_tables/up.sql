CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    is_staff      BOOLEAN NOT NULL DEFAULT 0,
    date_joined   TIMESTAMP NOT NULL,
    last_login    TIMESTAMP
);
CREATE INDEX users_email ON users (email);

-- The ledger: append-only, one row per change of a token's state. `seq` is assigned by the
-- writer inside its write transaction, so seq order is commit order.
CREATE TABLE token_ledger (
    seq        INTEGER PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    event      TEXT      NOT NULL,
    jti        TEXT      NOT NULL,
    token_type TEXT      NOT NULL,
    user_id    INTEGER   NOT NULL,
    sid        TEXT      NOT NULL,
    parent_jti TEXT,
    reason     TEXT,
    actor      TEXT,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX token_ledger_jti ON token_ledger (jti, seq);
CREATE INDEX token_ledger_user ON token_ledger (user_id, seq);
CREATE INDEX token_ledger_sid ON token_ledger (sid, seq);

-- The view folded from the ledger: one row per token that has not been flushed.
CREATE TABLE token_view (
    jti            TEXT      NOT NULL PRIMARY KEY,
    token_type     TEXT      NOT NULL,
    user_id        INTEGER   NOT NULL,
    sid            TEXT      NOT NULL,
    parent_jti     TEXT,
    issued_at      TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    state          TEXT      NOT NULL,
    rotated_at     TIMESTAMP,
    blacklisted_at TIMESTAMP,
    reason         TEXT,
    last_seq       INTEGER   NOT NULL
);
CREATE INDEX token_view_user ON token_view (user_id, state);
CREATE INDEX token_view_sid ON token_view (sid);
CREATE INDEX token_view_expires ON token_view (expires_at);
CREATE INDEX token_view_revoked ON token_view (state, token_type);

-- Instance-wide secrets that every instance on this database shares (the generated signing key).
CREATE TABLE service_secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
