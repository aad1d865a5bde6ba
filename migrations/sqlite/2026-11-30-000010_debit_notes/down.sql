-- Back to refund credit notes only; fails while other notes exist.
CREATE TEMP TABLE only_refund_notes (others INTEGER CHECK (others = 0));
INSERT INTO only_refund_notes SELECT COUNT(*) FROM credit_notes WHERE cause <> 'refund';
DROP TABLE only_refund_notes;
CREATE TEMP TABLE credit_notes_before AS SELECT * FROM credit_notes;
DROP TABLE credit_notes;
CREATE TABLE credit_notes (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    invoice_number  TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    refunded_cents  BIGINT NOT NULL CHECK (refunded_cents >= amount_cents),
    reason          TEXT,
    issued_at       TIMESTAMP NOT NULL,
    tax_cents       BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0)
);
INSERT INTO credit_notes (id, number, order_id, invoice_number, amount_cents, currency,
    refunded_cents, reason, issued_at, tax_cents)
SELECT id, number, order_id, invoice_number, amount_cents, currency,
    credited_cents, reason, issued_at, tax_cents
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
DELETE FROM document_sequences WHERE kind = 'debit_note';
