-- Who an invoice is from and to. A student's billing details (company,
-- address, tax id: all optional) are remembered for next time; the
-- order keeps its own copy, and the seller's details as configured when
-- it was placed: a later change rewrites no issued document.
CREATE TABLE billing_details (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id),
    company    TEXT,
    address    TEXT,
    tax_id     TEXT,
    updated_at TIMESTAMP NOT NULL
);

ALTER TABLE orders ADD COLUMN seller_details TEXT;
ALTER TABLE orders ADD COLUMN buyer_company TEXT;
ALTER TABLE orders ADD COLUMN buyer_address TEXT;
ALTER TABLE orders ADD COLUMN buyer_tax_id TEXT;
