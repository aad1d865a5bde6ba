//! The outbox of events for the learning platform: rows written in the
//! transaction that changed a student's access, delivered after commit.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::lms_outbox;
use crate::domain::LmsEvent;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = lms_outbox)]
pub struct OutboxEvent {
    pub id: i64,
    pub event_id: String,
    pub event_type: LmsEvent,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = lms_outbox)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewOutboxEvent<'a> {
    pub event_id: &'a str,
    pub event_type: LmsEvent,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub payload: &'a str,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
}

impl NewOutboxEvent<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(lms_outbox::table)
            .values(self)
            .execute(conn)
            .map(drop)
    }
}

/// How the outbox stands, for the staff page.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutboxCounts {
    pub waiting: i64,
    pub failing: i64,
    pub delivered: i64,
}

impl OutboxEvent {
    super::outbox::outbox_rows!(lms_outbox);

    /// Leases up to `limit` events that are due to this worker until
    /// `lease_until`, oldest first. An event waits while an older one for
    /// the same student and course is undelivered, so a receiver sees an
    /// enrollment's events in the order they happened. Run it in a write
    /// transaction: on PostgreSQL the candidates are locked `SKIP LOCKED`,
    /// so two instances never lease the same event; SQLite has one writer.
    pub fn lease_due(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let earlier = diesel::alias!(lms_outbox as earlier);
        let due = lms_outbox::table
            .filter(lms_outbox::delivered_at.is_null())
            .filter(lms_outbox::next_attempt_at.le(now))
            .filter(
                lms_outbox::claimed_until
                    .is_null()
                    .or(lms_outbox::claimed_until.lt(now)),
            )
            .filter(diesel::dsl::not(diesel::dsl::exists(
                earlier
                    .filter(earlier.field(lms_outbox::user_id).eq(lms_outbox::user_id))
                    .filter(
                        earlier
                            .field(lms_outbox::course_id)
                            .eq(lms_outbox::course_id),
                    )
                    .filter(earlier.field(lms_outbox::id).lt(lms_outbox::id))
                    .filter(earlier.field(lms_outbox::delivered_at).is_null()),
            )))
            .order(lms_outbox::id.asc())
            .limit(limit)
            .select(lms_outbox::id);
        let ids = crate::db::lock_rows_skip_locked!(conn, due)?;
        Self::lease(conn, ids, lease_until)
    }

    pub fn mark_delivered(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
        diesel::update(lms_outbox::table.find(id))
            .set((
                lms_outbox::delivered_at.eq(now),
                lms_outbox::attempts.eq(lms_outbox::attempts + 1),
                lms_outbox::claimed_until.eq(None::<NaiveDateTime>),
                lms_outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)
            .map(drop)
    }

    /// Staff's "retry now": due at once (when undelivered); returns whether
    /// there was such an event.
    pub fn retry_now(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
        let updated = diesel::update(
            lms_outbox::table
                .find(id)
                .filter(lms_outbox::delivered_at.is_null()),
        )
        .set(lms_outbox::next_attempt_at.eq(now))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// The undelivered events, oldest first (at most `limit`).
    pub fn undelivered(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Self>> {
        lms_outbox::table
            .filter(lms_outbox::delivered_at.is_null())
            .order(lms_outbox::id.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    pub fn counts(conn: &mut DbConnection) -> QueryResult<OutboxCounts> {
        let undelivered = lms_outbox::table.filter(lms_outbox::delivered_at.is_null());
        Ok(OutboxCounts {
            waiting: undelivered.count().get_result(conn)?,
            failing: undelivered
                .filter(lms_outbox::attempts.gt(0))
                .count()
                .get_result(conn)?,
            delivered: lms_outbox::table
                .filter(lms_outbox::delivered_at.is_not_null())
                .count()
                .get_result(conn)?,
        })
    }
}
