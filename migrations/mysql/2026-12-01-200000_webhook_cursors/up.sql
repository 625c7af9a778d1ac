-- Each webhook URL's delivery position and its lease: the last seq delivered (so a restart
-- resumes there), and which instance delivers to it until when (one deliverer per URL across
-- instances; another takes over once the lease has run out). `endpoint` is the SHA-256 of
-- the URL, so credentials in a URL never reach the database.
CREATE TABLE webhook_cursors (
    endpoint       VARCHAR(64) NOT NULL PRIMARY KEY,
    position       BIGINT      NOT NULL,
    holder         VARCHAR(64),
    lease_until_ms BIGINT      NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
