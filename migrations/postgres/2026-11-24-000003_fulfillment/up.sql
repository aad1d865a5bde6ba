-- Fulfilment: a payment that does not match its order (amount, currency,
-- or an order no longer pending) is never applied; the order is flagged
-- for staff with the reason, next to the journal row that records it.
ALTER TABLE orders ADD COLUMN review_note TEXT;
