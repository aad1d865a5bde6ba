-- Sales tax (PPN, VAT) in the prices: each order keeps the tax its total
-- holds, spread over its lines (the rate and name it was sold under are
-- in its seller snapshot); each credit note the tax part of what it
-- credits.
ALTER TABLE orders ADD COLUMN tax_cents BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0);
ALTER TABLE order_items ADD COLUMN tax_cents BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0);
ALTER TABLE credit_notes ADD COLUMN tax_cents BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0);
