DROP TABLE journal_seals;
DROP FUNCTION journal_seals_append_only();
