DROP TABLE password_resets;
DROP TABLE mail_outbox;
ALTER TABLE users DROP COLUMN locale;
