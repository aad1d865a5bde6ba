use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types as sql;

use crate::db::schema::webhook_events;
use crate::db::{DbConnection, kept_statement};

kept_statement! {
    /// [`WebhookEvent::claim`]'s statement.
    struct Claim<'a> {
        "UPDATE webhook_events SET attempts = attempts + 1, processed_at = " {now: sql::Timestamp = NaiveDateTime}
        ", last_error = NULL WHERE id = " {id: sql::Text = &'a str}
        " AND processed_at IS NULL"
    }
}

/// The webhook inbox: every verified event, keyed by the provider's id.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEvent {
    pub id: String,
    #[diesel(column_name = type_)]
    pub kind: String,
    pub payload: String,
    pub received_at: NaiveDateTime,
    pub processed_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The API version Stripe rendered the event with.
    pub api_version: Option<String>,
}

impl WebhookEvent {
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        webhook_events::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Stores the event unless it is there already (a redelivery).
    pub fn store(
        conn: &mut DbConnection,
        id: &str,
        kind: &str,
        payload: &str,
        api_version: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        // ON CONFLICT rather than catching the violation: inside a
        // PostgreSQL transaction a failed INSERT would abort the rest.
        crate::db::per_engine!(conn, c => diesel::insert_into(webhook_events::table)
            .values((
                webhook_events::id.eq(id),
                webhook_events::type_.eq(kind),
                webhook_events::payload.eq(payload),
                webhook_events::api_version.eq(api_version),
                webhook_events::received_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))
        .map(|_| ())
    }

    /// Takes the event for processing: counts the attempt and marks it
    /// processed, in one statement (the caller's transaction undoes both if
    /// the work fails); on PostgreSQL the row is held, so a concurrent
    /// delivery of the same event waits here, then finds it processed.
    /// False when it is processed already.
    pub fn claim(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
        let moved = Claim { now, id }.execute(conn)?;
        Ok(moved == 1)
    }

    /// Deletes processed events received before `before` (their effect is
    /// in the journal; the payload with its personal data goes). Events
    /// not processed yet are kept, for their redelivery.
    pub fn prune_processed_before(
        conn: &mut DbConnection,
        before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            webhook_events::table
                .filter(webhook_events::processed_at.is_not_null())
                .filter(webhook_events::received_at.lt(before)),
        )
        .execute(conn)
    }

    pub fn record_failure(conn: &mut DbConnection, id: &str, error: &str) -> QueryResult<usize> {
        diesel::update(webhook_events::table.find(id))
            .set((
                webhook_events::attempts.eq(webhook_events::attempts + 1),
                webhook_events::last_error.eq(error),
            ))
            .execute(conn)
    }
}
