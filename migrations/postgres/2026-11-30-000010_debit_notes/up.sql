-- The notes that correct an invoice after it was issued, each for one
-- cause, all immutable:
--   refund           credit note (CN-…): a refund was counted
--   dispute          credit note (CN-…): a chargeback took the money back
--   refund_reversed  debit note (DN-…): a counted refund failed or was
--                    canceled, so the money stayed with the shop
--   dispute_won      debit note (DN-…): the chargeback was decided for the
--                    shop and its money came back
-- `source_id` names the refund or dispute (none for refunds, which are
-- counted from the charge's total); one note per cause and source.
-- `credited_cents` (was `refunded_cents`) is the invoice's credited total
-- once the note counts: credit notes less debit notes.
DO $$
DECLARE
    c TEXT;
    dropped INT := 0;
BEGIN
    FOR c IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'credit_notes'::regclass AND contype = 'c'
          AND pg_get_constraintdef(oid) = 'CHECK ((refunded_cents >= amount_cents))'
    LOOP
        EXECUTE format('ALTER TABLE credit_notes DROP CONSTRAINT %I', c);
        dropped := dropped + 1;
    END LOOP;
    IF dropped = 0 THEN
        RAISE EXCEPTION 'credit_notes: the CHECK refunded_cents >= amount_cents was not found';
    END IF;
END $$;
ALTER TABLE credit_notes RENAME COLUMN refunded_cents TO credited_cents;
ALTER TABLE credit_notes
    ADD COLUMN cause TEXT NOT NULL DEFAULT 'refund'
        CHECK (cause IN ('refund', 'dispute', 'refund_reversed', 'dispute_won')),
    ADD COLUMN source_id TEXT,
    ADD CONSTRAINT credit_notes_credited_not_negative CHECK (credited_cents >= 0),
    ADD CONSTRAINT credit_notes_tax_within_amount CHECK (tax_cents <= amount_cents),
    ADD CONSTRAINT credit_notes_number_names_kind
        CHECK (number LIKE CASE WHEN cause IN ('refund', 'dispute') THEN 'CN-%' ELSE 'DN-%' END),
    ADD CONSTRAINT credit_notes_source_named CHECK (cause = 'refund' OR source_id IS NOT NULL),
    ADD CONSTRAINT credit_notes_one_per_source UNIQUE (cause, source_id);
