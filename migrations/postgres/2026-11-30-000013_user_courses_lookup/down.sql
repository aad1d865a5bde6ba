DROP INDEX user_courses_user_course;
