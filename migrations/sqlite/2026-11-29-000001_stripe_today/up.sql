-- Stripe as today's API has it: customers, per-installation idempotency
-- keys, the API version of each event, refunds one by one (a refund can
-- still fail after it was made) and the dispute state of an order.

-- One random id per installation. It prefixes every idempotency key and
-- tags what this shop creates at the provider, so a database restored or
-- reset on the same Stripe account is never handed another's objects.
CREATE TABLE installation (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    installation_id TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
INSERT INTO installation (id, installation_id, created_at)
VALUES (1, lower(hex(randomblob(8))), strftime('%Y-%m-%d %H:%M:%f', 'now'));

-- The student's Customer at the provider, created at their first checkout.
ALTER TABLE users ADD COLUMN stripe_customer_id TEXT;
CREATE UNIQUE INDEX users_stripe_customer ON users (stripe_customer_id);

-- The API version Stripe rendered the event with.
ALTER TABLE webhook_events ADD COLUMN api_version TEXT;

-- The charge that paid the order, for events that name only the charge.
ALTER TABLE orders ADD COLUMN charge_id TEXT;
-- The order's dispute, as the last dispute event left it.
ALTER TABLE orders ADD COLUMN dispute_id TEXT;
ALTER TABLE orders ADD COLUMN dispute_status TEXT;
-- When the charge snapshot that set refunded_cents was taken (the event's
-- `created`): a refund that fails later was counted in it, or not.
ALTER TABLE orders ADD COLUMN refunds_as_of TIMESTAMP;

-- Each refund the provider told us about. Its status can still move to
-- failed or canceled after it succeeded; the order's refunded amount then
-- goes back down, with a journal row saying so.
CREATE TABLE refunds (
    id                  INTEGER PRIMARY KEY,
    provider_refund_id  TEXT NOT NULL UNIQUE,
    order_id            BIGINT NOT NULL REFERENCES orders (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL,
    -- The refund's own `created` at the provider.
    provider_created_at TIMESTAMP NOT NULL,
    -- The `created` of the event that said it failed or was canceled.
    reversed_as_of      TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id);

-- The sandbox provider's refunds, one per idempotency key, as Stripe keeps
-- them: a retried refund request returns the first refund.
CREATE TABLE sandbox_refunds (
    id                TEXT PRIMARY KEY,
    payment_intent_id TEXT NOT NULL REFERENCES sandbox_payment_intents (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    idempotency_key   TEXT NOT NULL UNIQUE,
    created_at        TIMESTAMP NOT NULL
);
