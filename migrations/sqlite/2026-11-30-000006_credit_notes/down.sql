DROP TRIGGER credit_notes_no_update;
DROP TRIGGER credit_notes_no_delete;
DROP TABLE credit_notes;
DELETE FROM document_sequences WHERE kind = 'credit_note';
