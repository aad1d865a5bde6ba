-- The whole data model of DESIGN.md §2. Money is BIGINT minor units beside a
-- currency code; times are UTC TIMESTAMP (no time zone) so the SQLite history
-- can mirror this one column for column.

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash   TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'staff')),
    -- Bumped at logout and password change: cookie sessions carry the
    -- version they were issued with and stop working once it moves on.
    session_version INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Failed logins, per account and per client address, so the limit holds
-- across every instance that shares the database.
CREATE TABLE login_attempts (
    id           BIGSERIAL PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_key_time ON login_attempts (throttle_key, attempted_at);

CREATE TABLE courses (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    published   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE carts (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT UNIQUE REFERENCES users (id),
    token      TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE cart_items (
    id        BIGSERIAL PRIMARY KEY,
    cart_id   BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    added_at  TIMESTAMP NOT NULL,
    UNIQUE (cart_id, course_id)
);

CREATE TABLE promo_codes (
    id                 BIGSERIAL PRIMARY KEY,
    -- Stored upper-cased, so the unique constraint is case-insensitive.
    code               TEXT NOT NULL UNIQUE CHECK (code = upper(code)),
    kind               TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_bps        INTEGER CHECK (percent_bps BETWEEN 1 AND 10000),
    amount_cents       BIGINT CHECK (amount_cents > 0),
    currency           TEXT,
    starts_at          TIMESTAMP,
    ends_at            TIMESTAMP,
    max_redemptions    BIGINT CHECK (max_redemptions >= 0),
    per_user_limit     BIGINT CHECK (per_user_limit >= 0),
    min_subtotal_cents BIGINT NOT NULL DEFAULT 0 CHECK (min_subtotal_cents >= 0),
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    CHECK ((kind = 'percent' AND percent_bps IS NOT NULL AND amount_cents IS NULL)
        OR (kind = 'fixed' AND amount_cents IS NOT NULL AND currency IS NOT NULL AND percent_bps IS NULL))
);

-- A code with rows here applies only to these courses.
CREATE TABLE promo_code_courses (
    promo_code_id BIGINT NOT NULL REFERENCES promo_codes (id) ON DELETE CASCADE,
    course_id     BIGINT NOT NULL REFERENCES courses (id),
    PRIMARY KEY (promo_code_id, course_id)
);

CREATE TABLE orders (
    id                BIGSERIAL PRIMARY KEY,
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
    -- The code and its terms as they were when the order was made (JSON).
    promo_code        TEXT,
    promo_snapshot    TEXT,
    provider          TEXT NOT NULL,
    payment_intent_id TEXT UNIQUE,
    paid_at           TIMESTAMP,
    canceled_at       TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    CHECK (total_cents = subtotal_cents - discount_cents),
    CHECK (refunded_cents <= total_cents)
);
CREATE INDEX orders_user ON orders (user_id, created_at);
CREATE INDEX orders_status_created ON orders (status, created_at);

CREATE TABLE order_items (
    id               BIGSERIAL PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (id),
    course_id        BIGINT NOT NULL REFERENCES courses (id),
    title            TEXT NOT NULL,
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    discount_cents   BIGINT NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
    total_cents      BIGINT NOT NULL CHECK (total_cents >= 0),
    UNIQUE (order_id, course_id),
    CHECK (total_cents = unit_price_cents - discount_cents)
);

CREATE TABLE promo_redemptions (
    id            BIGSERIAL PRIMARY KEY,
    promo_code_id BIGINT NOT NULL REFERENCES promo_codes (id),
    order_id      BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    user_id       BIGINT NOT NULL REFERENCES users (id),
    status        TEXT NOT NULL CHECK (status IN ('reserved', 'redeemed', 'released')),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX promo_redemptions_code_status ON promo_redemptions (promo_code_id, status);
CREATE INDEX promo_redemptions_user ON promo_redemptions (promo_code_id, user_id);

CREATE TABLE user_courses (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    course_id  BIGINT NOT NULL REFERENCES courses (id),
    order_id   BIGINT REFERENCES orders (id),
    granted_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoke_reason TEXT
);
-- One active grant per (user, course): a repeated fulfilment cannot grant twice.
CREATE UNIQUE INDEX user_courses_one_active ON user_courses (user_id, course_id) WHERE revoked_at IS NULL;
CREATE INDEX user_courses_order ON user_courses (order_id);

CREATE TABLE financial_journals (
    id                BIGSERIAL PRIMARY KEY,
    type              TEXT NOT NULL,
    amount_cents      BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL,
    description       TEXT NOT NULL,
    reference_id      BIGINT REFERENCES orders (id),
    -- The raw provider JSON, kept as text so both backends store it alike.
    metadata          TEXT NOT NULL DEFAULT '{}',
    provider_event_id TEXT,
    -- Derived from our own ids / the provider's event id: a retry cannot write twice.
    idempotency_key   TEXT NOT NULL UNIQUE,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX financial_journals_reference ON financial_journals (reference_id);
CREATE INDEX financial_journals_type_created ON financial_journals (type, created_at);

-- The journal is append-only: a correction is a new row, never an edit.
CREATE FUNCTION financial_journals_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'financial_journals is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER financial_journals_no_update_delete
    BEFORE UPDATE OR DELETE ON financial_journals
    FOR EACH ROW EXECUTE FUNCTION financial_journals_append_only();
CREATE TRIGGER financial_journals_no_truncate
    BEFORE TRUNCATE ON financial_journals
    FOR EACH STATEMENT EXECUTE FUNCTION financial_journals_append_only();

-- The webhook inbox: the provider's event id makes a redelivery harmless.
CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    processed_at TIMESTAMP,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX webhook_events_unprocessed ON webhook_events (processed_at, received_at);
