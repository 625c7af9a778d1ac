DROP TABLE ledger_compactions;
ALTER TABLE token_ledger DROP COLUMN hash;
