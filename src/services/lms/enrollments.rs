//! Enrollments as the learning platform sees them: one per student and
//! course, in its latest state (the newest grant row of the pair; a pair
//! has at most one active grant, so the newest row says whether access is
//! on).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::db::schema::{courses, order_items, orders, user_courses, users};
use crate::domain::{AccessEnd, EnrollmentReason};
use crate::models::user::User;
use crate::models::{CourseId, OrderId, UserId};

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Student {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct CourseRef {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    pub student: Student,
    pub course: CourseRef,
    pub active: bool,
    /// The order that gave (or last gave) the access.
    pub order_number: Option<String>,
    pub granted_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<EnrollmentReason>,
    /// When the enrollment last changed: what incremental sync orders by.
    pub changed_at: DateTime<Utc>,
    /// Where this row sits in the listing (for the cursor).
    #[serde(skip)]
    pub grant_id: i64,
}

impl From<&User> for Student {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
        }
    }
}

impl Enrollment {
    /// The enrollment a grant made just now (`grant_id`) begins: what
    /// [`find`] reads back for it, without the read.
    pub fn begun(
        student: Student,
        course: CourseRef,
        order_number: &str,
        grant_id: i64,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            student,
            course,
            active: true,
            order_number: Some(order_number.to_owned()),
            granted_at: now.and_utc(),
            revoked_at: None,
            revoke_reason: None,
            changed_at: now.and_utc(),
            grant_id,
        }
    }
}

/// The courses of an order, in its lines' order, as enrollments name them.
pub fn order_courses(conn: &mut DbConnection, order: OrderId) -> QueryResult<Vec<CourseRef>> {
    let rows: Vec<(CourseId, String, String)> = order_items::table
        .inner_join(courses::table)
        .filter(order_items::order_id.eq(order))
        .order(order_items::id.asc())
        .select((courses::id, courses::slug, courses::title))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, title)| CourseRef { id, slug, title })
        .collect())
}

type Row = (
    i64,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<AccessEnd>,
    (UserId, String, String),
    (CourseId, String, String),
    Option<String>,
);

impl From<Row> for Enrollment {
    fn from(row: Row) -> Self {
        let (grant_id, changed_at, granted_at, revoked_at, reason, user, course, order_number) =
            row;
        Self {
            student: Student {
                id: user.0,
                email: user.1,
                name: user.2,
            },
            course: CourseRef {
                id: course.0,
                slug: course.1,
                title: course.2,
            },
            active: revoked_at.is_none(),
            order_number,
            granted_at: granted_at.and_utc(),
            revoked_at: revoked_at.map(|t| t.and_utc()),
            revoke_reason: reason.map(EnrollmentReason::from),
            changed_at: changed_at.and_utc(),
            grant_id,
        }
    }
}

/// Which enrollments to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub email: Option<String>,
    pub course: Option<CourseId>,
    /// Only those changed after this.
    pub since: Option<NaiveDateTime>,
    /// Only those after this position (a cursor from the previous page).
    pub after: Option<(NaiveDateTime, i64)>,
    pub limit: i64,
}

/// Latest state per (student, course), ordered by when it changed.
macro_rules! latest_grants {
    () => {{
        let newer = diesel::alias!(user_courses as newer);
        user_courses::table
            .inner_join(users::table)
            .inner_join(courses::table)
            .left_join(orders::table)
            .filter(diesel::dsl::not(diesel::dsl::exists(
                newer
                    .filter(newer.field(user_courses::user_id).eq(user_courses::user_id))
                    .filter(
                        newer
                            .field(user_courses::course_id)
                            .eq(user_courses::course_id),
                    )
                    .filter(newer.field(user_courses::id).gt(user_courses::id)),
            )))
            .select((
                user_courses::id,
                user_courses::changed_at,
                user_courses::granted_at,
                user_courses::revoked_at,
                user_courses::revoke_reason,
                (users::id, users::email, users::name),
                (courses::id, courses::slug, courses::title),
                orders::number.nullable(),
            ))
            .into_boxed()
    }};
}

pub fn list(conn: &mut DbConnection, filter: &Filter) -> QueryResult<Vec<Enrollment>> {
    let mut query = latest_grants!();
    if let Some(email) = &filter.email {
        query = query.filter(users::email.eq(email.trim().to_lowercase()));
    }
    if let Some(course) = filter.course {
        query = query.filter(user_courses::course_id.eq(course));
    }
    if let Some(since) = filter.since {
        query = query.filter(user_courses::changed_at.gt(since));
    }
    if let Some((at, id)) = filter.after {
        query = query.filter(
            user_courses::changed_at
                .gt(at)
                .or(user_courses::changed_at.eq(at).and(user_courses::id.gt(id))),
        );
    }
    let rows: Vec<Row> = query
        .order((user_courses::changed_at.asc(), user_courses::id.asc()))
        .limit(filter.limit)
        .load(conn)?;
    Ok(rows.into_iter().map(Enrollment::from).collect())
}

/// The enrollment of one student in one course, if there ever was one.
pub fn find(
    conn: &mut DbConnection,
    user: UserId,
    course: CourseId,
) -> QueryResult<Option<Enrollment>> {
    let row: Option<Row> = latest_grants!()
        .filter(user_courses::user_id.eq(user))
        .filter(user_courses::course_id.eq(course))
        .first(conn)
        .optional()?;
    Ok(row.map(Enrollment::from))
}

/// Whether the student with this email has access to the course now.
pub fn is_active(conn: &mut DbConnection, email: &str, course: CourseId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_courses::table
            .inner_join(users::table)
            .filter(users::email.eq(email.trim().to_lowercase()))
            .filter(user_courses::course_id.eq(course))
            .filter(user_courses::revoked_at.is_null()),
    ))
    .get_result(conn)
}
