DROP TABLE sandbox_payment_intents;
DROP INDEX orders_user_pending;
ALTER TABLE orders DROP COLUMN cart_fingerprint;
ALTER TABLE promo_codes DROP COLUMN reserved_count;
