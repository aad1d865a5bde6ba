DROP INDEX financial_journals_created;
ALTER TABLE sandbox_payment_intents DROP COLUMN amount_refunded;
DROP TABLE journal_chain;
ALTER TABLE financial_journals DROP COLUMN row_hash;
ALTER TABLE financial_journals DROP COLUMN prev_hash;
