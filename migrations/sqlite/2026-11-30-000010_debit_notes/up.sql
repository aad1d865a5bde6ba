-- The notes that correct an invoice after it was issued, each for one
-- cause, all immutable:
--   refund           credit note (CN-…): a refund was counted
--   dispute          credit note (CN-…): a chargeback took the money back
--   refund_reversed  debit note (DN-…): a counted refund failed or was
--                    canceled, so the money stayed with the shop
--   dispute_won      debit note (DN-…): the chargeback was decided for the
--                    shop and its money came back
-- `source_id` names the refund or dispute (none for refunds, which are
-- counted from the charge's total); one note per cause and source.
-- `credited_cents` (was `refunded_cents`) is the invoice's credited total
-- once the note counts: credit notes less debit notes.
--
-- SQLite cannot drop a CHECK (credited >= amount no longer holds for a
-- debit note), so the table is rebuilt; nothing references it.
CREATE TEMP TABLE credit_notes_before AS SELECT * FROM credit_notes;
DROP TABLE credit_notes;

CREATE TABLE credit_notes (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    invoice_number  TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    credited_cents  BIGINT NOT NULL CHECK (credited_cents >= 0),
    reason          TEXT,
    issued_at       TIMESTAMP NOT NULL,
    tax_cents       BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0 AND tax_cents <= amount_cents),
    cause           TEXT NOT NULL DEFAULT 'refund'
                    CHECK (cause IN ('refund', 'dispute', 'refund_reversed', 'dispute_won')),
    source_id       TEXT,
    CHECK (number LIKE CASE WHEN cause IN ('refund', 'dispute') THEN 'CN-%' ELSE 'DN-%' END),
    CHECK (cause = 'refund' OR source_id IS NOT NULL),
    UNIQUE (cause, source_id)
);
INSERT INTO credit_notes (id, number, order_id, invoice_number, amount_cents, currency,
    credited_cents, reason, issued_at, tax_cents, cause)
SELECT id, number, order_id, invoice_number, amount_cents, currency,
    refunded_cents, reason, issued_at, tax_cents, 'refund'
FROM credit_notes_before ORDER BY id;
DROP TABLE credit_notes_before;
CREATE INDEX credit_notes_order ON credit_notes (order_id);

CREATE TRIGGER credit_notes_no_update
    BEFORE UPDATE ON credit_notes
BEGIN
    SELECT RAISE(ABORT, 'credit_notes are immutable: UPDATE is not allowed');
END;
CREATE TRIGGER credit_notes_no_delete
    BEFORE DELETE ON credit_notes
BEGIN
    SELECT RAISE(ABORT, 'credit_notes are immutable: DELETE is not allowed');
END;
