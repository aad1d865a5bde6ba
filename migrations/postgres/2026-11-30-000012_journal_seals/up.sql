-- The journal's seals (DESIGN.md §2): payments append journal rows without
-- any chain work, and one sealer (holding an advisory lock) chains the
-- committed rows in batches here. `mac` is HMAC-SHA256 under JOURNAL_KEY, a
-- key kept outside the database, over the previous seal's MAC and the row's
-- content: someone who can write the database cannot compute a valid seal.
-- `seq` is the order rows were sealed in (gap-free, from 1); it, not the row
-- id (ids are not commit order here), is what "rows since" follows. Rows
-- chained before this change keep their SHA-256 hashes and are sealed in
-- their old order by the first sealer that runs.
CREATE TABLE journal_seals (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    journal_id BIGINT NOT NULL UNIQUE REFERENCES financial_journals (id),
    prev_mac   TEXT NOT NULL,
    mac        TEXT NOT NULL,
    sealed_at  TIMESTAMP NOT NULL
);

CREATE FUNCTION journal_seals_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'journal_seals is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER journal_seals_no_update_delete
    BEFORE UPDATE OR DELETE ON journal_seals
    FOR EACH ROW EXECUTE FUNCTION journal_seals_append_only();
CREATE TRIGGER journal_seals_no_truncate
    BEFORE TRUNCATE ON journal_seals
    FOR EACH STATEMENT EXECUTE FUNCTION journal_seals_append_only();
