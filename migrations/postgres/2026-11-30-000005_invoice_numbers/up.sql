-- Gap-free document numbers: an order keeps the ORD- number it got at
-- checkout; an invoice number (INV-<year>-<n>) is given only when it is
-- paid, from a per-year sequence incremented in the payment's
-- transaction (a rolled-back payment takes its number back with it).
CREATE TABLE document_sequences (
    kind        TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_number BIGINT NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (kind, year)
);

ALTER TABLE orders ADD COLUMN invoice_number TEXT UNIQUE;
-- The number an order had before this migration (INV-<year>-<id>): still
-- found by searches and old links.
ALTER TABLE orders ADD COLUMN legacy_number TEXT UNIQUE;

UPDATE orders SET legacy_number = number, number = 'ORD-' || substr(number, 5)
WHERE number LIKE 'INV-%';

-- Orders paid so far are numbered in the order they were paid.
WITH ranked AS (
    SELECT id,
           EXTRACT(YEAR FROM paid_at)::INTEGER AS year,
           ROW_NUMBER() OVER (PARTITION BY EXTRACT(YEAR FROM paid_at) ORDER BY paid_at, id) AS n
    FROM orders WHERE paid_at IS NOT NULL
)
UPDATE orders SET invoice_number = 'INV-' || ranked.year || '-' || lpad(ranked.n::TEXT, 6, '0')
FROM ranked WHERE orders.id = ranked.id;

INSERT INTO document_sequences (kind, year, last_number)
SELECT 'invoice', CAST(substr(invoice_number, 5, 4) AS INTEGER), COUNT(*)
FROM orders WHERE invoice_number IS NOT NULL
GROUP BY substr(invoice_number, 5, 4);
