ALTER TABLE courses DROP COLUMN lms_url;
