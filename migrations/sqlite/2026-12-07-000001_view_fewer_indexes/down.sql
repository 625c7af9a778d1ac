CREATE INDEX token_view_user ON token_view (user_id, state);
CREATE INDEX token_view_revoked ON token_view (state, token_type);
CREATE INDEX token_view_parent ON token_view (parent_jti);
