-- The seller's details as staff set them on /staff/settings: each field
-- that is set here wins over the configuration (SELLER_NAME, ...); NULL
-- falls back to it. One row. Orders copy the result when they are placed,
-- so a change here rewrites no issued document.
CREATE TABLE seller_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT,
    address     TEXT,
    tax_id      TEXT,
    footer      TEXT,
    updated_at  TIMESTAMP NOT NULL,
    updated_by  BIGINT REFERENCES users (id)
);
