ALTER TABLE orders DROP COLUMN buyer_tax_id;
ALTER TABLE orders DROP COLUMN buyer_address;
ALTER TABLE orders DROP COLUMN buyer_company;
ALTER TABLE orders DROP COLUMN seller_details;
DROP TABLE billing_details;
