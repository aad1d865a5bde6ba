DROP TABLE credit_notes;
DROP FUNCTION credit_notes_immutable();
DELETE FROM document_sequences WHERE kind = 'credit_note';
