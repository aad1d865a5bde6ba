DROP TABLE journal_seals;
