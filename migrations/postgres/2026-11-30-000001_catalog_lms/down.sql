DROP TABLE api_tokens;
DROP TABLE lms_outbox;
DROP INDEX user_courses_changed;
ALTER TABLE user_courses DROP COLUMN changed_at;
ALTER TABLE cart_items DROP COLUMN added_price_cents;
DROP TABLE course_changes;
ALTER TABLE courses DROP COLUMN cover_image;
