use diesel::prelude::*;

use super::{CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::user_courses;

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
}
