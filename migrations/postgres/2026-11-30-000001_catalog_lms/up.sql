-- Staff run the catalog, and the learning platform learns who has access.

-- A course's cover image: a file name under data/uploads (random, with
-- the extension of the type its content was checked to be).
ALTER TABLE courses ADD COLUMN cover_image TEXT;

-- Every change staff made to a course: who, when, what (one line per field).
CREATE TABLE course_changes (
    id          BIGSERIAL PRIMARY KEY,
    course_id   BIGINT NOT NULL REFERENCES courses (id),
    staff_id    BIGINT REFERENCES users (id),
    changed_at  TIMESTAMP NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX course_changes_course ON course_changes (course_id, id);

-- The price a course had when it went into the cart: the cart says when
-- it changed since.
ALTER TABLE cart_items ADD COLUMN added_price_cents BIGINT;

-- When a grant last changed (granted, or revoked): the read API's
-- incremental sync orders by it.
ALTER TABLE user_courses ADD COLUMN changed_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE user_courses SET changed_at = COALESCE(revoked_at, granted_at);
CREATE INDEX user_courses_changed ON user_courses (changed_at, id);

-- Events for the learning platform, written in the transaction that
-- granted or revoked the access, delivered after commit by a worker
-- (at least once; the event id lets the receiver drop repeats).
CREATE TABLE lms_outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    course_id       BIGINT NOT NULL REFERENCES courses (id),
    payload         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker's lease: another instance leaves the event alone until then.
    claimed_until   TIMESTAMP,
    delivered_at    TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX lms_outbox_due ON lms_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX lms_outbox_enrollment ON lms_outbox (user_id, course_id, id) WHERE delivered_at IS NULL;

-- Bearer tokens of the read API; only a hash is kept.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart on the staff page.
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
