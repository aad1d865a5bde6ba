use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types as sql;

use crate::db::schema::webhook_events;
use crate::db::{DbConnection, kept_statement};

kept_statement! {
    /// [`WebhookEvent::receive`]'s statement: stored and claimed in one
    /// (a redelivery of an event not processed yet is claimed again).
    struct Receive<'a> {
        "INSERT INTO webhook_events (id, type, payload, api_version, received_at, processed_at, attempts) VALUES (" {id: sql::Text = &'a str}
        ", " {kind: sql::Text = &'a str}
        ", " {payload: sql::Text = &'a str}
        ", " {api_version: sql::Nullable<sql::Text> = Option<&'a str>}
        ", " {received_at: sql::Timestamp = NaiveDateTime}
        ", " {now: sql::Timestamp = NaiveDateTime}
        ", 1) ON CONFLICT (id) DO UPDATE SET attempts = webhook_events.attempts + 1, \
         processed_at = excluded.processed_at, last_error = NULL \
         WHERE webhook_events.processed_at IS NULL"
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

    /// Stores the event unless it is there already (a redelivery) and takes
    /// it for processing, in one statement: counts the attempt and marks it
    /// processed (the caller's transaction undoes both if the work fails).
    /// On PostgreSQL a concurrent delivery of the same event waits here for
    /// the first one's transaction, then finds it processed. False when it
    /// is processed already.
    pub fn receive(
        conn: &mut DbConnection,
        id: &str,
        kind: &str,
        payload: &str,
        api_version: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let claimed = Receive {
            id,
            kind,
            payload,
            api_version,
            received_at: now,
            now,
        }
        .execute(conn)?;
        Ok(claimed == 1)
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
