use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::login_attempts;

/// Failed logins, keyed by `email:<address>` or `ip:<address>`.
pub struct LoginAttempt;

impl LoginAttempt {
    pub fn record(
        conn: &mut DbConnection,
        throttle_key: &str,
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::throttle_key.eq(throttle_key),
                login_attempts::attempted_at.eq(at),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Failures for this key since `since`, and the oldest of them (which
    /// decides when the window frees up again).
    pub fn count_since(
        conn: &mut DbConnection,
        throttle_key: &str,
        since: NaiveDateTime,
    ) -> QueryResult<(i64, Option<NaiveDateTime>)> {
        login_attempts::table
            .filter(login_attempts::throttle_key.eq(throttle_key))
            .filter(login_attempts::attempted_at.gt(since))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(login_attempts::attempted_at),
            ))
            .first(conn)
    }

    pub fn clear(conn: &mut DbConnection, throttle_key: &str) -> QueryResult<usize> {
        diesel::delete(login_attempts::table.filter(login_attempts::throttle_key.eq(throttle_key)))
            .execute(conn)
    }

    /// Drops attempts too old to count toward any limit.
    pub fn prune_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.le(before)))
            .execute(conn)
    }
}
