-- Failed and throttled logins: the audit record of brute-force attempts, and the state the
-- login throttle counts (so every instance on one database counts the same failures).
CREATE TABLE login_failures (
    id       BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at       DATETIME(6)  NOT NULL,
    username VARCHAR(255) NOT NULL,
    client   VARCHAR(64)  NOT NULL,
    user_id  BIGINT,
    outcome  VARCHAR(32)  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX login_failures_client ON login_failures (client, at);
CREATE INDEX login_failures_username ON login_failures (username, client, at);
