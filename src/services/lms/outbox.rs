//! Writing the learning platform's events, in the transaction that
//! changed the access: the event exists exactly when the change committed.

use chrono::NaiveDateTime;
use rand::RngCore;
use serde::Serialize;

use super::enrollments::{self, Enrollment};
use crate::db::DbConnection;
use crate::domain::{EnrollmentReason, LmsEvent};
use crate::models::lms_outbox::NewOutboxEvent;
use crate::models::{CourseId, UserId};

/// What the receiver gets, as JSON (README: "The LMS hand-off").
#[derive(Serialize)]
struct Event<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: LmsEvent,
    /// Unix seconds.
    created: i64,
    data: EventData,
}

#[derive(Serialize)]
struct EventData {
    reason: EnrollmentReason,
    #[serde(flatten)]
    enrollment: Enrollment,
}

/// Queues the event saying the student's access to the course began or
/// ended. Call it inside the transaction that granted or revoked it.
pub fn record(
    conn: &mut DbConnection,
    kind: LmsEvent,
    reason: EnrollmentReason,
    user: UserId,
    course: CourseId,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let Some(enrollment) = enrollments::find(conn, user, course)? else {
        return Ok(());
    };
    record_enrollment(conn, kind, reason, enrollment, now)
}

/// [`record`] with the enrollment as it is now, known to the caller.
pub fn record_enrollment(
    conn: &mut DbConnection,
    kind: LmsEvent,
    reason: EnrollmentReason,
    enrollment: Enrollment,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let user = enrollment.student.id;
    let course = enrollment.course.id;
    let mut random = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let event_id = format!("evt_{}", hex::encode(random));
    let payload = serde_json::to_string(&Event {
        id: &event_id,
        kind,
        created: now.and_utc().timestamp(),
        data: EventData { reason, enrollment },
    })
    .expect("an event of plain fields serializes");
    NewOutboxEvent {
        event_id: &event_id,
        event_type: kind,
        user_id: user,
        course_id: course,
        payload: &payload,
        created_at: now,
        next_attempt_at: now,
    }
    .insert(conn)
}
