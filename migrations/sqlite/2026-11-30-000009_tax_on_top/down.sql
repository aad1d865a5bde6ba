-- Back to prices that always include the tax; fails (the CHECK) while an
-- order with tax on top exists, rather than lose what it was sold under.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE orders_before AS SELECT * FROM orders;
DROP TABLE orders;

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    user_id           BIGINT NOT NULL REFERENCES users (id),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'paid', 'partially_refunded', 'refunded', 'canceled')),
    subtotal_cents    BIGINT NOT NULL CHECK (subtotal_cents >= 0),
    discount_cents    BIGINT NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
    total_cents       BIGINT NOT NULL CHECK (total_cents >= 0),
    refunded_cents    BIGINT NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    currency          TEXT NOT NULL,
    promo_code_id     BIGINT REFERENCES promo_codes (id),
    promo_code        TEXT,
    promo_snapshot    TEXT,
    provider          TEXT NOT NULL,
    payment_intent_id TEXT UNIQUE,
    paid_at           TIMESTAMP,
    canceled_at       TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    cart_fingerprint  TEXT,
    review_note       TEXT,
    charge_id         TEXT,
    dispute_id        TEXT,
    dispute_status    TEXT,
    refunds_as_of     TIMESTAMP,
    invoice_number    TEXT,
    legacy_number     TEXT,
    seller_details    TEXT,
    buyer_company     TEXT,
    buyer_address     TEXT,
    buyer_tax_id      TEXT,
    tax_cents         BIGINT NOT NULL DEFAULT 0 CHECK (tax_cents >= 0),
    CHECK (total_cents = subtotal_cents - discount_cents),
    CHECK (refunded_cents <= total_cents)
);

INSERT INTO orders (id, number, user_id, status, subtotal_cents, discount_cents, total_cents,
    refunded_cents, currency, promo_code_id, promo_code, promo_snapshot, provider,
    payment_intent_id, paid_at, canceled_at, created_at, updated_at, cart_fingerprint,
    review_note, charge_id, dispute_id, dispute_status, refunds_as_of, invoice_number,
    legacy_number, seller_details, buyer_company, buyer_address, buyer_tax_id, tax_cents)
SELECT id, number, user_id, status, subtotal_cents, discount_cents, total_cents,
    refunded_cents, currency, promo_code_id, promo_code, promo_snapshot, provider,
    payment_intent_id, paid_at, canceled_at, created_at, updated_at, cart_fingerprint,
    review_note, charge_id, dispute_id, dispute_status, refunds_as_of, invoice_number,
    legacy_number, seller_details, buyer_company, buyer_address, buyer_tax_id, tax_cents
FROM orders_before ORDER BY id;
DROP TABLE orders_before;

CREATE INDEX orders_user ON orders (user_id, created_at);
CREATE INDEX orders_status_created ON orders (status, created_at);
CREATE INDEX orders_user_pending ON orders (user_id, status);
CREATE UNIQUE INDEX orders_invoice_number ON orders (invoice_number);
CREATE UNIQUE INDEX orders_legacy_number ON orders (legacy_number);
