-- Three of the view's eight indexes cost every write and bought no query (the SQLite
-- migration of the same name says why): (user_id, state), (state, token_type), (parent_jti).
DROP INDEX token_view_user;
DROP INDEX token_view_revoked;
DROP INDEX token_view_parent;
