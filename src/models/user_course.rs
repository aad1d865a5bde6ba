use diesel::prelude::*;

use super::{CourseId, OrderId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{courses, user_courses};
use crate::domain::AccessEnd;
use crate::models::course::Course;

/// Access grants: a user owns a course while a grant is not revoked.
pub struct UserCourse;

impl UserCourse {
    /// Grants access unless the user already has an active grant for the
    /// course (the partial unique index decides, with `ON CONFLICT DO
    /// NOTHING`: a caught violation would abort a PostgreSQL transaction);
    /// returns the new grant's id, `None` when it was there already.
    pub fn grant(
        conn: &mut DbConnection,
        user_id: UserId,
        course_id: CourseId,
        order_id: OrderId,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<Option<i64>> {
        crate::db::per_engine!(conn, c => diesel::insert_into(user_courses::table)
            .values((
                user_courses::user_id.eq(user_id),
                user_courses::course_id.eq(course_id),
                user_courses::order_id.eq(order_id),
                user_courses::granted_at.eq(now),
                user_courses::changed_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .returning(user_courses::id)
            .get_result(c)
            .optional())
    }

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

    /// Revokes the active grants that came from this order; returns the
    /// courses whose access ended.
    pub fn revoke_for_order(
        conn: &mut DbConnection,
        order_id: OrderId,
        reason: AccessEnd,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<Vec<(UserId, CourseId)>> {
        let revoked: Vec<(UserId, CourseId)> = user_courses::table
            .filter(user_courses::order_id.eq(order_id))
            .filter(user_courses::revoked_at.is_null())
            .select((user_courses::user_id, user_courses::course_id))
            .load(conn)?;
        diesel::update(
            user_courses::table
                .filter(user_courses::order_id.eq(order_id))
                .filter(user_courses::revoked_at.is_null()),
        )
        .set((
            user_courses::revoked_at.eq(now),
            user_courses::revoke_reason.eq(reason),
            user_courses::changed_at.eq(now),
        ))
        .execute(conn)?;
        Ok(revoked)
    }
}
