-- Students read their language, and kasir writes to them.

-- The language a user chose (`en`, `id`); none: the browser's.
ALTER TABLE users ADD COLUMN locale TEXT;

-- Mail waiting to be sent: queued in the transaction of what caused it
-- (a payment, a refund, a dispute, a reset request), sent after commit by
-- a worker, retried until the mail server takes it. A mail for an order is
-- rendered when sent, in its reader's language; a reset mail is rendered
-- when asked for (its link holds a token that is stored only hashed) and
-- its body is cleared once sent.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    user_id         BIGINT REFERENCES users (id),
    order_id        BIGINT REFERENCES orders (id),
    -- What the mail is about beyond the order (the refund's amount ...), JSON.
    details         TEXT NOT NULL DEFAULT '{}',
    subject         TEXT,
    text_body       TEXT,
    html_body       TEXT,
    message_id      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    sent_at         TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL;

-- Password reset tokens, kept as a SHA-256; single use, short-lived.
CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets (user_id);
