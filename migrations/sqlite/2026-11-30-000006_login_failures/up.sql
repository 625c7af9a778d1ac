-- Failed and throttled logins: the audit record of brute-force attempts, and the state the
-- login throttle counts (so every instance on one database counts the same failures).
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TIMESTAMP NOT NULL,
    username TEXT      NOT NULL,
    client   TEXT      NOT NULL,
    user_id  BIGINT,
    outcome  TEXT      NOT NULL
);
CREATE INDEX login_failures_client ON login_failures (client, at);
CREATE INDEX login_failures_username ON login_failures (username, client, at);
