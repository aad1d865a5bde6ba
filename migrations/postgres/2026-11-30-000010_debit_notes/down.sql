-- Back to refund credit notes only; fails while other notes exist.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM credit_notes WHERE cause <> 'refund') THEN
        RAISE EXCEPTION 'not only refund credit notes';
    END IF;
END $$;
ALTER TABLE credit_notes
    DROP CONSTRAINT credit_notes_credited_not_negative,
    DROP CONSTRAINT credit_notes_tax_within_amount,
    DROP CONSTRAINT credit_notes_number_names_kind,
    DROP CONSTRAINT credit_notes_source_named,
    DROP CONSTRAINT credit_notes_one_per_source,
    DROP COLUMN source_id,
    DROP COLUMN cause;
ALTER TABLE credit_notes RENAME COLUMN credited_cents TO refunded_cents;
ALTER TABLE credit_notes ADD CHECK (refunded_cents >= amount_cents);
DELETE FROM document_sequences WHERE kind = 'debit_note';
