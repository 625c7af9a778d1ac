-- A token's successors (rotation, and the access tokens it minted): REUSE_GRACE replays them.
CREATE INDEX token_view_parent ON token_view (parent_jti);
