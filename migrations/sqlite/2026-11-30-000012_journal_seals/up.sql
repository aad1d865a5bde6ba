-- The journal's seals (DESIGN.md §2): payments append journal rows without
-- any chain work, and one sealer chains the committed rows in batches here.
-- `mac` is HMAC-SHA256 under JOURNAL_KEY, a key kept outside the database,
-- over the previous seal's MAC and the row's content: someone who can write
-- the database cannot compute a valid seal. `seq` is the order rows were
-- sealed in (gap-free, from 1); it, not the row id, is what "rows since"
-- follows. Rows chained before this change keep their SHA-256 hashes and are
-- sealed in their old order by the first sealer that runs.
CREATE TABLE journal_seals (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    journal_id BIGINT NOT NULL UNIQUE REFERENCES financial_journals (id),
    prev_mac   TEXT NOT NULL,
    mac        TEXT NOT NULL,
    sealed_at  TIMESTAMP NOT NULL
);

CREATE TRIGGER journal_seals_no_update
    BEFORE UPDATE ON journal_seals
BEGIN
    SELECT RAISE(ABORT, 'journal_seals is append-only: UPDATE is not allowed');
END;
CREATE TRIGGER journal_seals_no_delete
    BEFORE DELETE ON journal_seals
BEGIN
    SELECT RAISE(ABORT, 'journal_seals is append-only: DELETE is not allowed');
END;
