//! The record of what staff changed on a course.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{course_changes, users};

/// One save of a course: who, when, and one line per field that changed.
#[derive(Clone, Debug)]
pub struct CourseChange {
    pub changed_at: NaiveDateTime,
    /// The staff member's email; none for changes made outside the back
    /// office.
    pub staff_email: Option<String>,
    pub changes: Vec<String>,
}

impl CourseChange {
    pub fn record(
        conn: &mut DbConnection,
        course: CourseId,
        staff: Option<UserId>,
        changes: &[String],
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(course_changes::table)
            .values((
                course_changes::course_id.eq(course),
                course_changes::staff_id.eq(staff),
                course_changes::changed_at.eq(at),
                course_changes::changes.eq(changes.join("\n")),
            ))
            .execute(conn)
            .map(drop)
    }

    /// The course's history, newest first.
    pub fn for_course(conn: &mut DbConnection, course: CourseId) -> QueryResult<Vec<Self>> {
        let rows: Vec<(NaiveDateTime, Option<String>, String)> = course_changes::table
            .left_join(users::table)
            .filter(course_changes::course_id.eq(course))
            .order(course_changes::id.desc())
            .select((
                course_changes::changed_at,
                users::email.nullable(),
                course_changes::changes,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(changed_at, staff_email, changes)| Self {
                changed_at,
                staff_email,
                changes: changes.lines().map(str::to_owned).collect(),
            })
            .collect())
    }
}
