-- Audit queries filter by kind, reason and time and page by seq; without these a filter that
-- matches rarely (reuse_detected, lockout) walks the whole ledger.
CREATE INDEX token_ledger_event ON token_ledger (event, seq);
CREATE INDEX token_ledger_reason ON token_ledger (reason, seq) WHERE reason IS NOT NULL;
CREATE INDEX token_ledger_at ON token_ledger (at);
-- The admin token list pages the view in jti order within a state or a user; without these
-- each page sorts every matching row (373 ms for 166,000 blacklisted tokens).
CREATE INDEX token_view_state_jti ON token_view (state, jti);
CREATE INDEX token_view_user_jti ON token_view (user_id, jti);
