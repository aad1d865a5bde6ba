-- A refund staff asked for, written before the provider is asked: its
-- reason and author reach the journal row of the `charge.refunded` that
-- counts it, even when that event arrives before the provider's answer.
CREATE TABLE refund_requests (
    id                 BIGSERIAL PRIMARY KEY,
    order_id           BIGINT NOT NULL REFERENCES orders (id),
    amount_cents       BIGINT NOT NULL CHECK (amount_cents > 0),
    currency           TEXT NOT NULL,
    reason             TEXT NOT NULL,
    requested_by       BIGINT NOT NULL REFERENCES users (id),
    idempotency_key    TEXT NOT NULL UNIQUE,
    -- Set when the provider answered.
    provider_refund_id TEXT,
    -- Set when a journal row gave this reason.
    journalled_at      TIMESTAMP,
    created_at         TIMESTAMP NOT NULL
);
CREATE INDEX refund_requests_order ON refund_requests (order_id);
