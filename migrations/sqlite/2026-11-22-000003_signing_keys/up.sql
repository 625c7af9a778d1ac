-- Public halves of the asymmetric keys this service has signed with, shared by every instance,
-- so a retired key keeps verifying (and stays in the JWKS) until its last token has expired.
CREATE TABLE signing_keys (
    kid         TEXT      NOT NULL PRIMARY KEY,
    algorithm   TEXT      NOT NULL,
    public_jwk  TEXT      NOT NULL,
    first_used_at TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);
