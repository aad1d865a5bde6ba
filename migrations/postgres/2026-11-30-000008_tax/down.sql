ALTER TABLE credit_notes DROP COLUMN tax_cents;
ALTER TABLE order_items DROP COLUMN tax_cents;
ALTER TABLE orders DROP COLUMN tax_cents;
