DROP TABLE ledger_write_lock;
DROP TABLE ledger_compactions;
DROP TABLE signing_keys;
DROP TABLE service_secrets;
DROP TABLE token_view;
DROP TABLE token_ledger;
DROP TABLE users;
