//! The record of what staff changed on a course.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{course_changes, users};
use crate::i18n::Message;

/// One save of a course: who, when, and one message per field that
/// changed (kept as messages, so each reader sees them in their language).
#[derive(Clone, Debug)]
pub struct CourseChange {
    pub changed_at: NaiveDateTime,
    /// The staff member's email; none for changes made outside the back
    /// office.
    pub staff_email: Option<String>,
    pub changes: Vec<Message>,
}

impl CourseChange {
    pub fn record(
        conn: &mut DbConnection,
        course: CourseId,
        staff: Option<UserId>,
        changes: &[Message],
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        let changes = serde_json::to_string(changes).expect("messages serialize");
        diesel::insert_into(course_changes::table)
            .values((
                course_changes::course_id.eq(course),
                course_changes::staff_id.eq(staff),
                course_changes::changed_at.eq(at),
                course_changes::changes.eq(changes),
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
                changes: serde_json::from_str(&changes)
                    .unwrap_or_else(|_| vec![Message::new("course-change-unreadable")]),
            })
            .collect())
    }
}
