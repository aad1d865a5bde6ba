-- Where a course is taken: its page in the learning platform, for the
-- student's "Start course" link (none: the shop's course page).
ALTER TABLE courses ADD COLUMN lms_url TEXT;
