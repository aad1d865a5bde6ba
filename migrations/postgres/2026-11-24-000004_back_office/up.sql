-- Tamper evidence: each journal row carries the hash of its own content
-- and of the row before it. Rows from before this migration have none.
ALTER TABLE financial_journals ADD COLUMN prev_hash TEXT;
ALTER TABLE financial_journals ADD COLUMN row_hash TEXT;

-- The chain's head. Appending takes this single row's lock first, so
-- concurrent writers chain one after another on both engines.
CREATE TABLE journal_chain (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_hash TEXT NOT NULL,
    length    BIGINT NOT NULL
);
INSERT INTO journal_chain (id, last_hash, length) VALUES (1, '', 0);

-- The sandbox provider's refunds, cumulative as Stripe's amount_refunded.
ALTER TABLE sandbox_payment_intents ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;

CREATE INDEX financial_journals_created ON financial_journals (created_at);
