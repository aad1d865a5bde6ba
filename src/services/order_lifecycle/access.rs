//! Access to courses, and the one rule of where it may come from: an order
//! that is paid or partly refunded, with no chargeback open or lost. A
//! refunded order, a disputed one, a canceled one never give access, and
//! never give it back. Each access that begins or ends queues its event
//! for the learning platform in the same transaction.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::{AccessEnd, EnrollmentReason, LmsEvent, OrderStatus};
use crate::models::order::Order;
use crate::models::user::User;
use crate::models::user_course::UserCourse;
use crate::models::{CourseId, UserId};
use crate::services::lms::enrollments::{self, Enrollment};
use crate::services::lms::outbox;

/// Whether this order may be the source of a student's access.
pub fn is_access_source(order: &Order) -> bool {
    matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::PartiallyRefunded
    ) && order.dispute_status.is_none_or(|s| s.allows_access())
}

/// Grants the order's courses to its student, except those they hold
/// already; returns the order's courses. The learning platform's event of
/// each new grant is written from what is known here (the student, the
/// courses, the grant just made), not read back.
pub fn grant_order_access(
    conn: &mut DbConnection,
    order: &Order,
    student: &User,
    now: NaiveDateTime,
) -> diesel::QueryResult<Vec<CourseId>> {
    let courses = enrollments::order_courses(conn, order.id)?;
    for course in &courses {
        if let Some(grant) = UserCourse::grant(conn, order.user_id, course.id, order.id, now)? {
            let enrollment =
                Enrollment::begun(student.into(), course.clone(), &order.number, grant, now);
            outbox::record_enrollment(
                conn,
                LmsEvent::EnrollmentGranted,
                EnrollmentReason::Purchase,
                enrollment,
                now,
            )?;
        }
    }
    Ok(courses.into_iter().map(|c| c.id).collect())
}

/// Gives back what this order had granted, when it may give access again
/// (a dispute won, a refund that failed) and the student lacks the course.
/// Returns how many courses came back.
pub fn restore_order_access(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<usize> {
    if !is_access_source(order) {
        return Ok(0);
    }
    let mut restored = 0;
    for item in order.items(conn)? {
        if UserCourse::grant(conn, order.user_id, item.course_id, order.id, now)?.is_some() {
            granted(
                conn,
                order.user_id,
                item.course_id,
                EnrollmentReason::Restored,
                now,
            )?;
            restored += 1;
        }
    }
    Ok(restored)
}

/// Ends the access this order granted, except where another order of the
/// student may give the course (then that order grants it). Returns how
/// many courses the student lost.
pub fn revoke_order_access(
    conn: &mut DbConnection,
    order: &Order,
    reason: AccessEnd,
    now: NaiveDateTime,
) -> diesel::QueryResult<usize> {
    let revoked = UserCourse::revoke_for_order(conn, order.id, reason, now)?;
    let mut ended = 0;
    for (user, course) in revoked {
        match Order::other_access_sources(conn, user, course, order.id)?.first() {
            // The access goes on, through the other order: nothing to tell.
            Some(other) => {
                UserCourse::grant(conn, user, course, *other, now)?;
            }
            None => {
                outbox::record(
                    conn,
                    LmsEvent::EnrollmentRevoked,
                    reason.into(),
                    user,
                    course,
                    now,
                )?;
                ended += 1;
            }
        }
    }
    Ok(ended)
}

fn granted(
    conn: &mut DbConnection,
    user: UserId,
    course: CourseId,
    reason: EnrollmentReason,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    outbox::record(conn, LmsEvent::EnrollmentGranted, reason, user, course, now)
}
