DROP INDEX token_view_user_jti;
DROP INDEX token_view_state_jti;
DROP INDEX token_ledger_at;
DROP INDEX token_ledger_reason;
DROP INDEX token_ledger_event;
