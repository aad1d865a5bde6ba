-- Checkout: promo limits as a counter that a conditional UPDATE can hold
-- under concurrency, the cart an order was made from, and the sandbox
-- payment provider's own PaymentIntents.

-- Reserved + redeemed redemptions. Reserving is
-- `UPDATE ... SET reserved_count = reserved_count + 1 WHERE reserved_count < max_redemptions`:
-- the row lock serialises concurrent checkouts, so the limit cannot be overrun.
ALTER TABLE promo_codes ADD COLUMN reserved_count BIGINT NOT NULL DEFAULT 0 CHECK (reserved_count >= 0);

-- What the order was made from (course ids, prices, promo code): an
-- unchanged cart reuses its pending order instead of making another.
ALTER TABLE orders ADD COLUMN cart_fingerprint TEXT;
CREATE INDEX orders_user_pending ON orders (user_id, status);

CREATE TABLE sandbox_payment_intents (
    id            TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    last_error    TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
