-- MariaDB/MySQL starts at the schema SQLite reached in five steps (migrations/sqlite); the
-- three must stay equal in meaning: src/db/schema.rs is written once for all. Keys and
-- indexed text are VARCHAR (InnoDB indexes no TEXT without a prefix); the binary collation
-- compares text exactly, as SQLite and PostgreSQL do; DATETIME(6) keeps microseconds and has
-- no time zone conversion.

CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(255) NOT NULL UNIQUE,
    email         VARCHAR(255),
    password_hash TEXT         NOT NULL,
    is_active     BOOLEAN      NOT NULL DEFAULT TRUE,
    is_staff      BOOLEAN      NOT NULL DEFAULT FALSE,
    date_joined   DATETIME(6)  NOT NULL,
    last_login    DATETIME(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX users_email ON users (email);

-- The ledger: append-only. `seq` is assigned by the writer while it holds the write lock
-- (the one row of ledger_write_lock), so seq order is commit order.
CREATE TABLE token_ledger (
    seq        BIGINT       NOT NULL PRIMARY KEY,
    at         DATETIME(6)  NOT NULL,
    event      VARCHAR(32)  NOT NULL,
    jti        VARCHAR(255) NOT NULL,
    token_type VARCHAR(16)  NOT NULL,
    user_id    BIGINT       NOT NULL,
    sid        VARCHAR(255) NOT NULL,
    parent_jti VARCHAR(255),
    reason     VARCHAR(32),
    actor      VARCHAR(255),
    expires_at DATETIME(6)  NOT NULL,
    hash       VARCHAR(64)  NOT NULL DEFAULT ''
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX token_ledger_jti ON token_ledger (jti, seq);
CREATE INDEX token_ledger_user ON token_ledger (user_id, seq);
CREATE INDEX token_ledger_sid ON token_ledger (sid, seq);
CREATE INDEX token_ledger_event ON token_ledger (event, seq);
CREATE INDEX token_ledger_reason ON token_ledger (reason, seq);
CREATE INDEX token_ledger_at ON token_ledger (at);

CREATE TABLE token_view (
    jti            VARCHAR(255) NOT NULL PRIMARY KEY,
    token_type     VARCHAR(16)  NOT NULL,
    user_id        BIGINT       NOT NULL,
    sid            VARCHAR(255) NOT NULL,
    parent_jti     VARCHAR(255),
    issued_at      DATETIME(6)  NOT NULL,
    expires_at     DATETIME(6)  NOT NULL,
    state          VARCHAR(16)  NOT NULL,
    rotated_at     DATETIME(6),
    blacklisted_at DATETIME(6),
    reason         VARCHAR(32),
    last_seq       BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX token_view_user ON token_view (user_id, state);
CREATE INDEX token_view_sid ON token_view (sid);
CREATE INDEX token_view_expires ON token_view (expires_at);
CREATE INDEX token_view_revoked ON token_view (state, token_type);
CREATE INDEX token_view_parent ON token_view (parent_jti);
CREATE INDEX token_view_state_jti ON token_view (state, jti);
CREATE INDEX token_view_user_jti ON token_view (user_id, jti);

CREATE TABLE service_secrets (
    name  VARCHAR(255) NOT NULL PRIMARY KEY,
    value TEXT         NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE signing_keys (
    kid           VARCHAR(255) NOT NULL PRIMARY KEY,
    algorithm     VARCHAR(16)  NOT NULL,
    public_jwk    TEXT         NOT NULL,
    first_used_at DATETIME(6)  NOT NULL,
    retired_at    DATETIME(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE ledger_compactions (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at            DATETIME(6) NOT NULL,
    up_to_seq     BIGINT      NOT NULL,
    up_to_hash    VARCHAR(64) NOT NULL,
    removed       BIGINT      NOT NULL,
    export_sha256 VARCHAR(64) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every ledger writer, on every instance, locks this row first and keeps it until it commits.
CREATE TABLE ledger_write_lock (
    id INT NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
INSERT INTO ledger_write_lock (id) VALUES (1);
