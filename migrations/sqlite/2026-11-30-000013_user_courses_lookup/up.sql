-- One student's grants of one course, newest first: the LMS outbox reads
-- the latest on every grant and revocation (inside the payment's
-- transaction). The partial unique index on active grants cannot serve a
-- query that also wants revoked ones, so each payment scanned every grant
-- (bench/results.md: 90 webhooks/s at 200,000 grants).
CREATE INDEX user_courses_user_course ON user_courses (user_id, course_id, id);
