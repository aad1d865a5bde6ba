use diesel::prelude::*;

use super::{CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{courses, user_courses};
use crate::models::course::Course;

/// Access grants: a user owns a course while a grant is not revoked.
pub struct UserCourse;

impl UserCourse {
    pub fn owns(
        conn: &mut DbConnection,
        user_id: UserId,
        course_id: CourseId,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            user_courses::table
                .filter(user_courses::user_id.eq(user_id))
                .filter(user_courses::course_id.eq(course_id))
                .filter(user_courses::revoked_at.is_null()),
        ))
        .get_result(conn)
    }

    pub fn owned_course_ids(
        conn: &mut DbConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<CourseId>> {
        user_courses::table
            .filter(user_courses::user_id.eq(user_id))
            .filter(user_courses::revoked_at.is_null())
            .select(user_courses::course_id)
            .load(conn)
    }

    /// The courses the user has access to now, most recently granted first.
    pub fn active_courses(
        conn: &mut DbConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<(Course, chrono::NaiveDateTime)>> {
        user_courses::table
            .inner_join(courses::table)
            .filter(user_courses::user_id.eq(user_id))
            .filter(user_courses::revoked_at.is_null())
            .order(user_courses::granted_at.desc())
            .select((Course::as_select(), user_courses::granted_at))
            .load(conn)
    }
}
