-- A credit note for every refund counted on an invoiced order
-- (CN-<year>-<n>, gap-free like invoices), issued in the refund's
-- transaction. Documents are immutable once issued: what they show is
-- kept here, not looked up again.
CREATE TABLE credit_notes (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    -- The invoice it credits, as it was numbered.
    invoice_number  TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    -- The order's refunded total once this note is counted.
    refunded_cents  BIGINT NOT NULL CHECK (refunded_cents >= amount_cents),
    reason          TEXT,
    issued_at       TIMESTAMP NOT NULL
);
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

-- Refunds counted before credit notes existed get theirs, numbered in the
-- order they were journalled.
WITH refunds AS (
    SELECT j.id, j.reference_id AS order_id, j.amount_cents, j.currency, j.created_at,
           COALESCE(o.invoice_number, o.number) AS invoice_number,
           SUM(j.amount_cents) OVER (PARTITION BY j.reference_id ORDER BY j.id) AS refunded,
           strftime('%Y', j.created_at) AS year,
           ROW_NUMBER() OVER (PARTITION BY strftime('%Y', j.created_at) ORDER BY j.id) AS n
    FROM financial_journals j JOIN orders o ON o.id = j.reference_id
    WHERE j.type = 'refund' AND j.status = 'success' AND j.amount_cents > 0
)
INSERT INTO credit_notes (number, order_id, invoice_number, amount_cents, currency, refunded_cents, reason, issued_at)
SELECT 'CN-' || year || '-' || printf('%06d', n), order_id, invoice_number, amount_cents, currency,
       refunded, NULL, created_at
FROM refunds;

INSERT INTO document_sequences (kind, year, last_number)
SELECT 'credit_note', CAST(substr(number, 4, 4) AS INTEGER), COUNT(*)
FROM credit_notes GROUP BY substr(number, 4, 4);
