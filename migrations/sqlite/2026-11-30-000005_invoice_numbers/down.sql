-- Back to one number per order, as it was: INV-<year>-<id>.
UPDATE orders SET number = COALESCE(legacy_number, 'INV-' || substr(number, 5))
WHERE legacy_number IS NOT NULL OR number LIKE 'ORD-%';
DROP INDEX orders_legacy_number;
DROP INDEX orders_invoice_number;
ALTER TABLE orders DROP COLUMN legacy_number;
ALTER TABLE orders DROP COLUMN invoice_number;
DROP TABLE document_sequences;
